"""``ask_poe_with_tools`` over MCP (the SDK's in-memory client) against the simulator."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from poe_mcp.server.app import build_server
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

FIXTURE = Path(__file__).parents[1] / "agent" / "mcp_fixture_server.py"
TOOL_MODEL = "Claude-Sonnet-4"
NO_TOOLS_MODEL = "Llama-3.1-405B"
OPEN_EDITOR = {
    "type": "function",
    "function": {
        "name": "open_editor",
        "description": "Open a file in the user's editor (runs on the caller's side).",
        "parameters": {
            "type": "object",
            "properties": {"file": {"type": "string"}},
            "required": ["file"],
        },
    },
}


def error_json(result: Any) -> dict[str, Any]:
    """The OpenAI-format error JSON that ends every tool error text."""
    assert result.is_error
    return json.loads(result.content[0].text.rsplit("\n", 1)[-1])["error"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_client_executed_tools_round_trip_over_mcp(server: Any, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        first = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "prompt": "open_editor file=notes.md", "tools": [OPEN_EDITOR]},
        )
        assert not first.is_error, first.content[0].text
        data = first.structured_content
        assert data["finish_reason"] == "tool_calls"
        (pending,) = data["pending_tool_calls"]
        assert (pending["name"], pending["arguments"]) == ("open_editor", {"file": "notes.md"})
        session_id = data["session_id"]
        text = first.content[0].text
        assert pending["id"] in text
        assert session_id in text
        assert "tool_results" in text

        # The caller ran the tool; the server kept the conversation (tools are remembered too).
        done = await client.call_tool(
            "ask_poe_with_tools",
            {
                "bot": TOOL_MODEL,
                "session_id": session_id,
                "tool_results": {pending["id"]: {"opened": True}},
            },
        )
        assert not done.is_error, done.content[0].text
        answer = done.structured_content
        assert answer["finish_reason"] == "stop"
        assert answer["session_id"] == session_id
        assert answer["pending_tool_calls"] == []
        assert 'open_editor -> "{"opened":true}"' in answer["text"]
        assert [(t["name"], t["executed_by"]) for t in answer["trace"]] == [
            ("open_editor", "client")
        ]
        assert answer["usage"]["input_tokens"] > 0
        assert "SIMULATED" in done.content[0].text

        # The whole exchange is in the session: user, call, result, answer, and the new message.
        later = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "prompt": "and now?", "session_id": session_id},
        )
    assert "received 5 messages" in later.structured_content["text"]
    assert later.structured_content["trace"] == []


async def test_continuation_mistakes_are_clear_errors(server: Any) -> None:
    async with Client(server) as client:
        first = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "prompt": "open_editor file=a.md", "tools": [OPEN_EDITOR]},
        )
        sid = first.structured_content["session_id"]
        call_id = first.structured_content["pending_tool_calls"][0]["id"]

        wrong_id = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "session_id": sid, "tool_results": {"call_nope": "x"}},
        )
        new_prompt = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "session_id": sid, "prompt": "something else"},
        )
        both = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "session_id": sid, "prompt": "x", "tool_results": {call_id: 1}},
        )
        no_session = await client.call_tool(
            "ask_poe_with_tools", {"bot": TOOL_MODEL, "tool_results": {call_id: 1}}
        )
        gone = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "session_id": "never-was", "tool_results": {"c": 1}},
        )
        no_tools = await client.call_tool(
            "ask_poe_with_tools", {"bot": TOOL_MODEL, "prompt": "hello"}
        )
        bad_definition = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "prompt": "hello", "tools": [{"function": {"description": "?"}}]},
        )
        # After all that, the pending call can still be answered.
        done = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "session_id": sid, "tool_results": {call_id: "opened"}},
        )
    assert "did not ask for: call_nope" in error_json(wrong_id)["message"]
    assert f"is waiting for tool_results for {call_id}" in error_json(new_prompt)["message"]
    assert "not both" in error_json(both)["message"]
    assert "needs the session_id" in error_json(no_session)["message"]
    assert "does not exist or has expired" in error_json(gone)["message"]
    assert "no tools to offer" in error_json(no_tools)["message"]
    assert "a tool definition needs" in error_json(bad_definition)["message"]
    for failed in (wrong_id, new_prompt, both, no_session, no_tools, bad_definition):
        assert error_json(failed)["metadata"]["kind"] == "invalid_request"
    assert error_json(gone)["metadata"]["kind"] == "not_found"  # like every tool's
    assert not done.is_error
    assert 'open_editor -> "opened"' in done.structured_content["text"]


async def test_built_in_file_tools_run_on_the_server_confined_to_their_root(
    make_runtime: Callable[..., ServerRuntime], tmp_path: Path
) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "todo.txt").write_text("water the plants")
    (tmp_path / "secret.txt").write_text("the launch code")
    (root / "shortcut").symlink_to(tmp_path / "secret.txt")
    server = build_server(make_runtime(file={"tools": {"roots": [str(root)]}}))

    async with Client(server) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        fine = await client.call_tool(
            "ask_poe_with_tools", {"bot": TOOL_MODEL, "prompt": "read_file path=todo.txt"}
        )
        escapes = [
            await client.call_tool(
                "ask_poe_with_tools", {"bot": TOOL_MODEL, "prompt": f"read_file path={path}"}
            )
            for path in ("../secret.txt", str(tmp_path / "secret.txt"), "shortcut")
        ]

    assert "ask_poe_with_tools" in listed
    assert not fine.is_error
    data = fine.structured_content
    assert data["finish_reason"] == "stop"
    (call,) = data["trace"]
    assert (call["name"], call["executed_by"], call["result"]) == (
        "read_file",
        "agent",
        "water the plants",
    )
    assert 'read_file -> "water the plants"' in data["text"]
    assert "read_file" in fine.content[0].text

    dotdot, absolute, link = (e.structured_content["trace"][0]["error"] for e in escapes)
    assert "leads outside the allowed folder" in dotdot
    assert "absolute paths are not allowed" in absolute
    assert "leads outside the allowed folder" in link
    for escape in escapes:
        assert not escape.is_error  # the model got the refusal and answered
        assert "the launch code" not in json.dumps(escape.structured_content)
        assert "the launch code" not in escape.content[0].text


async def test_a_downstream_mcp_servers_tools_are_used_with_the_callers_own(
    make_runtime: Callable[..., ServerRuntime],
) -> None:
    servers = {"fixture": {"command": sys.executable, "args": [str(FIXTURE)], "prefix": "fx_"}}
    server = build_server(make_runtime(file={"mcp_servers": servers}))

    async with Client(server) as client:
        both = await client.call_tool(
            "ask_poe_with_tools",
            {
                "bot": TOOL_MODEL,
                "prompt": "fx_lookup_capital country=Japan and fx_multiply a=6 b=7",
            },
        )
        mixed = await client.call_tool(
            "ask_poe_with_tools",
            {
                "bot": TOOL_MODEL,
                "prompt": "fx_multiply a=2 b=21, then open_editor file=result.md",
                "tools": [OPEN_EDITOR],
            },
        )
        sid = mixed.structured_content["session_id"]
        (pending,) = mixed.structured_content["pending_tool_calls"]
        done = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "session_id": sid, "tool_results": {pending["id"]: "ok"}},
        )

    assert not both.is_error, both.content[0].text
    trace = both.structured_content["trace"]
    assert [(t["name"], t["result"]) for t in trace] == [
        ("fx_lookup_capital", "Tokyo"),
        ("fx_multiply", "42"),
    ]
    assert 'fx_lookup_capital -> "Tokyo"; fx_multiply -> "42"' in both.structured_content["text"]

    # The server's tool ran at once; the caller's waited for the caller.
    assert [
        (t["name"], t["executed_by"], t["result"]) for t in mixed.structured_content["trace"]
    ] == [
        ("fx_multiply", "agent", "42"),
        ("open_editor", "pending", None),
    ]
    assert done.structured_content["finish_reason"] == "stop"
    assert 'fx_multiply -> "42"; open_editor -> "ok"' in done.structured_content["text"]


async def test_a_model_without_tool_support_is_refused_before_any_request(
    server: Any, simulator: Simulator
) -> None:
    simulator.clear_requests()
    async with Client(server) as client:
        refused = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": NO_TOOLS_MODEL, "prompt": "open_editor file=a.md", "tools": [OPEN_EDITOR]},
        )
    err = error_json(refused)
    assert err["metadata"]["kind"] == "invalid_request"
    assert f"{NO_TOOLS_MODEL} does not support tools" in err["message"]
    assert "Claude-Sonnet-4" in err["message"]  # it says what to use instead
    chats = [r for r in simulator.requests() if r.get("path", "").endswith("/chat/completions")]
    assert chats == []


async def test_choice_parallelism_and_turn_bound_reach_the_loop(
    make_runtime: Callable[..., ServerRuntime], simulator: Simulator, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("A")
    server = build_server(make_runtime(file={"tools": {"roots": [str(tmp_path)]}}))
    close_editor = {"type": "function", "function": {"name": "close_editor", "parameters": {}}}
    simulator.clear_requests()
    async with Client(server) as client:
        forced = await client.call_tool(
            "ask_poe_with_tools",
            {
                "bot": TOOL_MODEL,
                "prompt": "open_editor file=a.txt and list_directory",
                "tools": [OPEN_EDITOR, close_editor],
                "tool_choice": "close_editor",
                "parallel_tool_calls": False,
            },
        )
        bounded = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": TOOL_MODEL, "prompt": "read_file path=a.txt", "max_turns": 1},
        )
    (first, second) = (
        r["body"] for r in simulator.requests() if r.get("path", "").endswith("/chat/completions")
    )
    assert first["tool_choice"] == {"type": "function", "function": {"name": "close_editor"}}
    assert first["parallel_tool_calls"] is False
    assert [c["name"] for c in forced.structured_content["pending_tool_calls"]] == ["close_editor"]
    assert {t["function"]["name"] for t in first["tools"]} == {
        "read_file",
        "list_directory",
        "search_files",
        "open_editor",
        "close_editor",
    }
    assert second["parallel_tool_calls"] is True
    data = bounded.structured_content
    assert data["finish_reason"] == "max_turns"
    assert [t["result"] for t in data["trace"]] == ["A"]
    assert "finish_reason: max_turns" in bounded.content[0].text
