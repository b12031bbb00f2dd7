"""One conversation, three entry points: turns made through the library alone continue over
MCP (the SDK's in-memory client) and with ``poe-mcp chat --session``, in the default store
(SQLite), because all three are the same :class:`~poe_mcp.Conversation`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
from click.testing import CliRunner
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient, Conversation
from poe_mcp.cli import cli
from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

OPEN_EDITOR = {
    "type": "function",
    "function": {
        "name": "open_editor",
        "description": "Open a file in the user's editor.",
        "parameters": {"type": "object", "properties": {"file": {"type": "string"}}},
    },
}


def _settings(simulator: Simulator, store: str) -> Settings:
    return Settings.load(store=store, base_url=simulator.base_url)


async def test_three_library_turns_continue_over_mcp_and_the_cli(
    simulator: Simulator,
    api_key: str,
    poe_home: Path,
    make_runtime: Callable[..., ServerRuntime],
) -> None:
    store = f"sqlite:///{poe_home / 'shared.db'}"
    async with AsyncPoeClient(api_key, settings=_settings(simulator, store)) as client:
        conversation = Conversation(system="Be brief.")
        for prompt in ("one", "two", "three"):
            answer = await conversation.ask(client, "GPT-4.1", prompt)
        assert "received 6 messages (system prompt: yes)" in answer.text
    sid = conversation.session_id
    assert sid is not None

    async with Client(build_server(make_runtime(store=store))) as mcp:
        over_mcp = await mcp.call_tool(
            "ask_poe_v2", {"bot": "Claude-Sonnet-4", "prompt": "four", "session_id": sid}
        )
    data = over_mcp.structured_content
    assert not over_mcp.is_error, over_mcp.content
    assert (data["session_id"], data["new_session"], data["history_messages"]) == (sid, False, 7)
    assert "received 8 messages" in data["text"]

    cli_env = {"POE_API_KEY": api_key, "POE_MCP_STORE": store}
    args = ["chat", "-m", "GPT-4.1", "--session", sid, "five", "--base-url", simulator.base_url]
    # The CLI runs its own event loop: in a worker thread, as from another terminal.
    out = await anyio.to_thread.run_sync(lambda: CliRunner().invoke(cli, args, env=cli_env))
    assert out.exit_code == 0, out.output
    assert "received 10 messages" in out.stdout

    async with AsyncPoeClient(api_key, settings=_settings(simulator, store)) as client:
        history = await Conversation(sid).history(client)
    assert [m["content"] for m in history if m["role"] == "user"] == [
        "one", "two", "three", "four", "five",
    ]  # fmt: skip
    assert history[0] == {"role": "system", "content": "Be brief."}


async def test_an_agent_conversation_continues_in_another_server_process(
    simulator: Simulator,
    api_key: str,
    poe_home: Path,
    make_runtime: Callable[..., ServerRuntime],
) -> None:
    store = f"sqlite:///{poe_home / 'agent.db'}"
    async with AsyncPoeClient(api_key, settings=_settings(simulator, store)) as client:
        conversation = Conversation()
        first = await Agent(client, "Claude-Sonnet-4", tools=[OPEN_EDITOR]).run(
            "open_editor file=notes.md", conversation=conversation
        )
    (call,) = first.pending_tool_calls
    # A server that never saw the definitions (another process, or after a restart): the
    # caller sends only the results, and later a new prompt without tools.
    async with Client(build_server(make_runtime(store=store))) as mcp:
        done = await mcp.call_tool(
            "ask_poe_with_tools",
            {
                "bot": "Claude-Sonnet-4",
                "session_id": conversation.session_id,
                "tool_results": {call.id: "opened"},
            },
        )
        again = await mcp.call_tool(
            "ask_poe_with_tools",
            {
                "bot": "Claude-Sonnet-4",
                "session_id": conversation.session_id,
                "prompt": "open_editor file=other.md",
            },
        )
    assert not done.is_error, done.content
    assert done.structured_content["finish_reason"] == "stop"
    assert 'open_editor -> "opened"' in done.structured_content["text"]
    assert not again.is_error, again.content
    (pending,) = again.structured_content["pending_tool_calls"]
    assert (pending["name"], pending["arguments"]) == ("open_editor", {"file": "other.md"})
