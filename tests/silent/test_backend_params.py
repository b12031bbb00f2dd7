"""Every parameter on every backend takes effect or is refused: the bot protocol's gaps."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import AsyncPoeClient, InvalidRequestError
from poe_mcp._events import ClientEvent
from poe_mcp._honour import LOCALLY_ENFORCED, UNSUPPORTED
from poe_mcp.cli import cli
from poe_mcp.simulator import Simulator

from .conftest import error_of, said, sent

PROMPT = "please count from one to fifty in words"


async def test_legacy_max_tokens_is_enforced_and_said(simulator: Simulator, api_key: str) -> None:
    events: list[ClientEvent] = []
    async with AsyncPoeClient(
        api_key, base_url=simulator.base_url, store=False, on_event=events.append
    ) as client:
        whole = await client.chat("Claude-Sonnet-4", PROMPT, backend="legacy")
        cut = await client.chat("Claude-Sonnet-4", PROMPT, max_tokens=3, backend="legacy")
        streamed = ""
        async for delta in client.stream("Claude-Sonnet-4", PROMPT, max_tokens=3, backend="legacy"):
            if delta.result is not None:
                result = delta.result
            else:
                streamed = delta.text if delta.replace else streamed + delta.text
    assert len(whole.text) > 12
    assert whole.finish_reason == "stop"
    assert cut.text == whole.text[:12]  # 3 tokens, estimated at 4 characters each
    assert cut.finish_reason == "length"
    assert any("no max_tokens" in note for note in cut.notes)
    assert streamed == result.text == whole.text[:12]
    assert result.finish_reason == "length"
    assert [e.kind for e in events] == ["truncated", "truncated"]
    assert "cut at the token limit (max_tokens=3)" in events[0].message


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"top_p": 0.5}, "top_p"),
        (
            {
                "parallel_tool_calls": False,
                "tools": [{"type": "function", "function": {"name": "f"}}],
            },
            "parallel_tool_calls=false",
        ),
        (
            {"tool_choice": "required", "tools": [{"type": "function", "function": {"name": "f"}}]},
            "tool_choice other than auto or none",
        ),
    ],
)
async def test_what_the_bot_protocol_lacks_is_refused_unsent(
    simulator: Simulator, api_key: str, options: dict[str, Any], named: str
) -> None:
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.chat("Claude-Sonnet-4", "hi", backend="legacy", **options)
        with pytest.raises(InvalidRequestError):
            async for _ in client.stream("Claude-Sonnet-4", "hi", backend="legacy", **options):
                pass
        # the REST backend honours it
        ok = await client.chat("Claude-Sonnet-4", "hi", backend="openai", **options)
    assert f"has no {named}" in str(info.value)
    assert "backend='openai'" in str(info.value)
    assert info.value.metadata["use_backend"] == "openai"
    assert [r["path"] for r in sent(simulator)] == ["/v1/chat/completions"]
    assert ok.finish_reason in ("stop", "tool_calls")


def test_every_legacy_gap_is_declared() -> None:
    # The bot-protocol mapping documents what it cannot send; each must be handled here.
    from poe_mcp.backends._legacy_messages import _IGNORED_PARAMS

    handled = set(UNSUPPORTED["legacy"]) | set(LOCALLY_ENFORCED["legacy"])
    assert set(_IGNORED_PARAMS) <= handled


async def test_mcp_bot_protocol_cuts_and_refuses(server: Any, simulator: Simulator) -> None:
    async with Client(server) as client:
        cut = await client.call_tool(
            "ask_poe_v2",
            {"bot": "Claude-Sonnet-4", "prompt": PROMPT, "max_tokens": 2,
             "use_openai_client": False},
        )  # fmt: skip
        refused = await client.call_tool(
            "ask_poe_v2",
            {"bot": "Claude-Sonnet-4", "prompt": PROMPT, "top_p": 0.3,
             "use_openai_client": False},
        )  # fmt: skip
    assert cut.structured_content["finish_reason"] == "length"
    assert len(cut.structured_content["text"]) == 8
    assert "no max_tokens" in cut.content[0].text  # the footer says what happened
    assert "use_openai_client=true" in error_of(refused)["message"]
    assert len(sent(simulator)) == 1


def test_cli_refuses_and_reports_the_cut(simulator: Simulator, api_key: str) -> None:
    runner = CliRunner()
    base = ["chat", "-m", "Claude-Sonnet-4", PROMPT, "--backend", "legacy", "--base-url"]
    refused = runner.invoke(
        cli, [*base, simulator.base_url, "--top-p", "0.2"], env={"POE_API_KEY": api_key}
    )
    cut = runner.invoke(
        cli,
        [*base, simulator.base_url, "--max-tokens", "2", "--no-stream"],
        env={"POE_API_KEY": api_key},
    )
    assert refused.exit_code == 1
    assert "has no top_p" in said(refused)
    assert "--backend openai" in said(refused)
    assert cut.exit_code == 0, cut.stderr
    assert cut.stdout.strip() == "You said"
    assert "cut at the token limit" in cut.stderr


async def test_use_openai_client_means_what_it_says(make_server: Any, simulator: Simulator) -> None:
    legacy_default = make_server(backend="legacy")
    openai_provider = make_server(provider="openai")
    async with Client(legacy_default) as client:
        default = await client.call_tool("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "hi"})
        rest = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "hi", "use_openai_client": True}
        )
    async with Client(openai_provider) as client:
        refused = await client.call_tool(
            "ask_poe", {"bot": "gpt-4o", "prompt": "hi", "use_openai_client": False}
        )
    assert default.structured_content["backend"] == "legacy"  # the configured backend
    assert rest.structured_content["backend"] == "openai"
    assert "provider 'openai' does not have" in error_of(refused)["message"]
