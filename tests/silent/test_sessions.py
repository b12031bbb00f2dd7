"""An unknown, expired or mistyped session_id is an error everywhere, never a fresh conversation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import AsyncPoeClient, Conversation, SessionNotFoundError
from poe_mcp.cli import cli
from poe_mcp.sessions import Conversations
from poe_mcp.simulator import Simulator
from poe_mcp.store.memory import MemoryStore

from .conftest import error_of, sent

USER = {"role": "user", "content": "hello"}


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("ask_poe", {"bot": "GPT-4.1", "prompt": "hi"}),
        ("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "hi"}),
        ("ask_with_attachment", {"bot": "GPT-4.1", "prompt": "hi", "attachment_paths": ["NOTE"]}),
        (
            "ask_poe_with_tools",
            {
                "bot": "GPT-4.1",
                "prompt": "hi",
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "f", "parameters": {"type": "object"}},
                    }
                ],
            },
        ),
        ("ask_poe_with_tools", {"bot": "GPT-4.1", "tool_results": {"call_1": "42"}}),
        ("get_usage", {}),
    ],
)
async def test_every_tool_refuses_an_unknown_session(
    make_server: Any, shared_dir: Path, simulator: Simulator, tool: str, arguments: dict[str, Any]
) -> None:
    note = shared_dir / "note.txt"
    note.write_text("x")
    if "attachment_paths" in arguments:
        arguments["attachment_paths"] = [str(note)]
    async with Client(make_server()) as client:
        result = await client.call_tool(tool, {**arguments, "session_id": "no-such-session"})
        listed = await client.call_tool("list_sessions", {})
    error = error_of(result)
    assert error["metadata"]["kind"] == "not_found"
    assert "session 'no-such-session' does not exist or has expired" in error["message"]
    assert 'give "new"' in error["message"]
    assert sent(simulator) == []
    assert listed.structured_content["sessions"] == []  # nothing was created under that id


async def test_new_starts_a_conversation_explicitly(server: Any, simulator: Simulator) -> None:
    async with Client(server) as client:
        first = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "one", "session_id": "new"}
        )
        sid = first.structured_content["session_id"]
        second = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "two", "session_id": sid}
        )
    assert sid != "new"
    assert first.structured_content["new_session"] is True
    assert second.structured_content["new_session"] is False
    assert second.structured_content["history_messages"] == 2


async def test_library_conversations_raise_a_typed_error() -> None:
    conversations = Conversations(MemoryStore().sessions, ttl_s=0.05)
    with pytest.raises(SessionNotFoundError) as info:
        await conversations.prepare("mistyped-id", USER)
    assert info.value.kind == "not_found"
    assert info.value.session_id == "mistyped-id"
    # an expired session is the same error
    turn = await conversations.prepare(None, USER)
    await conversations.commit(turn, {"role": "assistant", "content": "hi"})
    assert (await conversations.prepare(turn.session_id, USER)).is_new is False
    time.sleep(0.1)
    with pytest.raises(SessionNotFoundError, match="expire"):
        await conversations.prepare(turn.session_id, USER)
    assert (await conversations.prepare("new", USER)).is_new is True


async def test_a_named_session_is_created_only_when_asked() -> None:
    conversations = Conversations(MemoryStore().sessions)
    turn = await conversations.prepare("my-notes", USER, create=True)
    assert (turn.session_id, turn.is_new) == ("my-notes", True)
    await conversations.commit(turn, {"role": "assistant", "content": "hi"})
    again = await conversations.prepare("my-notes", USER)
    assert again.is_new is False
    assert again.history_messages == 2


async def test_library_conversation_object_refuses_an_unknown_id(
    simulator: Simulator, api_key: str
) -> None:
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        with pytest.raises(SessionNotFoundError):
            await Conversation("gone-away").ask(client, "GPT-4.1", "hi")
    assert sent(simulator) == []


def test_cli_session_that_does_not_exist_is_an_error(simulator: Simulator, api_key: str) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["chat", "-m", "GPT-4.1", "hi", "--session", "typo-id", "--base-url", simulator.base_url],
        env={"POE_API_KEY": api_key},
    )
    assert result.exit_code != 0
    assert "session 'typo-id' does not exist or has expired" in (
        result.stderr + str(result.exception)
    )
    assert sent(simulator) == []
    new = runner.invoke(
        cli,
        ["chat", "-m", "GPT-4.1", "hi", "--session", "new", "--base-url", simulator.base_url],
        env={"POE_API_KEY": api_key},
    )
    assert new.exit_code == 0, new.stderr
    assert "session: " in new.stderr
