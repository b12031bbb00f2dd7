"""Every MCP tool refuses arguments it does not take, and maps the names that mean ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from poe_mcp.simulator import Simulator

from .conftest import error_of, sent


async def test_a_misspelt_argument_is_refused_with_did_you_mean(
    server: Any, simulator: Simulator
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "hi", "temprature": 0.5}
        )
    error = error_of(result)
    assert error["metadata"]["kind"] == "invalid_request"
    assert "unknown argument 'temprature'" in error["message"]
    assert "did you mean 'temperature'" in error["message"]
    assert error["metadata"]["unknown_arguments"] == ["temprature"]
    assert sent(simulator) == []  # nothing was sent, nothing was charged


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("generate_image", {"prompt": "a fox", "stream": False}, "taken by ask_poe_v2"),
        ("ask_poe", {"bot": "GPT-4.1", "prompt": "x", "temperature": 1}, "taken by ask_poe_v2"),
        ("list_sessions", {"limit": 5}, "list_sessions takes: no arguments"),
        ("get_usage", {"since": "7d"}, "did you mean 'since_hours'"),
        ("clear_session", {"session_id": "s", "force": True}, "unknown argument 'force'"),
        ("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "x", "seed": 1}, "does not support seed"),
        ("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "x", "web_search": True}, "put it in params"),
        ("generate_video", {"prompt": "waves", "session_id": "s"}, "keeps no conversation"),
        ("list_available_models_v2", {"q": "claude"}, "list_available_models_v2 takes: query"),
        ("ask_poe_with_tools", {"bot": "GPT-4.1", "prompt": "x", "functions": []}, "unknown"),
        ("get_server_info", {"verbose": True}, "unknown argument 'verbose'"),
    ],
)
async def test_every_tool_refuses_unknown_arguments(
    server: Any, simulator: Simulator, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(tool, arguments)
    error = error_of(result)
    assert expected in error["message"]
    assert error["metadata"]["kind"] == "invalid_request"
    assert sent(simulator) == []


async def test_every_schema_says_no_additional_properties(server: Any) -> None:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    assert len(tools) >= 13
    assert all(t.input_schema.get("additionalProperties") is False for t in tools)


async def test_openai_names_that_mean_ours_are_mapped(server: Any, simulator: Simulator) -> None:
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_poe_v2",
            {
                "model": "GPT-4.1",
                "prompt": "count to ten",
                "max_completion_tokens": 5,
                "stop_sequences": "zzz",
            },
        )
    assert not result.is_error, result.content[0].text
    (request,) = sent(simulator)
    assert request["body"]["max_tokens"] == 5
    assert request["body"]["stop"] == ["zzz"]
    assert result.structured_content["finish_reason"] == "length"


async def test_both_names_for_one_argument_are_refused(server: Any, simulator: Simulator) -> None:
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_poe_v2",
            {"bot": "GPT-4.1", "prompt": "x", "max_tokens": 5, "max_completion_tokens": 9},
        )
    assert (
        "'max_completion_tokens' and 'max_tokens' are the same argument"
        in (error_of(result)["message"])
    )
    assert sent(simulator) == []


async def test_earlier_servers_forms_work(
    make_server: Any, shared_dir: Path, simulator: Simulator
) -> None:
    note = shared_dir / "note.txt"
    note.write_text("the password is swordfish")
    async with Client(make_server()) as client:
        attached = await client.call_tool(
            "ask_with_attachment",
            {"bot": "Claude-Sonnet-4", "prompt": "read it", "attachment_path": str(note)},
        )
        thought = await client.call_tool(
            "ask_poe",
            {"bot": "Claude-Sonnet-4", "prompt": "think", "thinking": {"budget_tokens": 2048}},
        )
        bad = await client.call_tool(
            "ask_poe", {"bot": "Claude-Sonnet-4", "prompt": "x", "thinking": {"depth": 3}}
        )
    assert not attached.is_error, attached.content[0].text
    assert "note.txt" in attached.structured_content["text"]
    assert not thought.is_error, thought.content[0].text
    assert "thinking_budget" in thought.structured_content["text"]
    assert "thinking has unknown key(s) depth" in error_of(bad)["message"]
