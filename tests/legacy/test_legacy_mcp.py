"""The same MCP tool answered through both backends, one session switching between them."""

from __future__ import annotations

import pytest
from mcp import Client

from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .conftest import KEY, bot_calls


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_ask_poe_v2_over_both_backends_in_one_session(
    simulator: Simulator, mode: str
) -> None:
    settings = Settings.load(store="memory://", base_url=simulator.base_url, backend="legacy")
    runtime = ServerRuntime(settings, api_key=KEY, simulated=True, tools=available_tools())
    try:
        async with Client(build_server(runtime), mode=mode) as client:
            rest = await client.call_tool(
                "ask_poe_v2",
                {"bot": "Claude-Sonnet-4", "prompt": "remember 42", "use_openai_client": True},
            )
            assert not rest.is_error
            first = rest.structured_content
            assert first is not None
            assert first["backend"] == "openai"
            bot = await client.call_tool(
                "ask_poe_v2",
                {
                    "bot": "Claude-Sonnet-4",
                    "prompt": "what number?",
                    "session_id": first["session_id"],
                    "use_openai_client": False,
                    "params": {"thinking_budget": 512},
                },
            )
    finally:
        await runtime.aclose()
    assert not bot.is_error, bot.content
    second = bot.structured_content
    assert second is not None
    assert second["backend"] == "legacy"
    assert second["usage"]["estimated"] is True
    assert 'You said: "what number?"' in second["text"]
    assert "received 3 messages" in second["text"]
    assert "Parameters: thinking_budget=512" in second["text"]
    assert "Thinking" not in second["text"]
    sent = bot_calls(simulator)[-1]["body"]["query"]
    assert [m["role"] for m in sent] == ["user", "bot", "user"]
    assert sent[0]["content"] == "remember 42"
