"""``Agent.run(conversation=...)``: the loop in a stored conversation, and retries counted by
the typed error (``ToolArgumentsError``), not by the words of an error."""

from __future__ import annotations

from typing import Any

import pytest

from poe_mcp import (
    Agent,
    AsyncPoeClient,
    Conversation,
    InvalidRequestError,
    SessionNotFoundError,
    tool,
)
from poe_mcp.store.memory import MemoryStore

from .conftest import TOOL_MODEL

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


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city name.
    """
    return f"sunny in {city}"


async def test_a_stored_agent_conversation_keeps_pending_calls_and_the_callers_tools(
    client: AsyncPoeClient,
) -> None:
    store = MemoryStore()
    conversation = Conversation(store=store)
    first = await Agent(client, TOOL_MODEL, tools=[OPEN_EDITOR]).run(
        "open_editor file=notes.md", conversation=conversation
    )
    assert first.stopped_reason == "pending_tool_calls"
    (call,) = first.pending_tool_calls
    sid = conversation.session_id
    assert sid is not None
    stored = await store.sessions.get(sid)
    assert stored is not None
    assert [m["role"] for m in stored.messages] == ["user", "assistant"]
    assert stored.messages[-1]["tool_calls"][0]["id"] == call.id
    assert stored.tools == [OPEN_EDITOR]

    # Another process: a fresh Agent without the definitions, the conversation by its id.
    later = Conversation(sid, store=store)
    done = await Agent(client, TOOL_MODEL).run(tool_results={call.id: "opened"}, conversation=later)
    assert done.stopped_reason == "final"
    assert [(t.name, t.executed_by) for t in done.trace] == [("open_editor", "client")]
    assert 'open_editor -> "opened"' in done.text

    # A new message: the whole exchange is history, and the stored tools are offered again.
    third = await Agent(client, TOOL_MODEL).run("open_editor file=b.md", conversation=later)
    assert third.stopped_reason == "pending_tool_calls"
    assert third.pending_tool_calls[0].name == "open_editor"
    sent = third.messages[:-1]  # what the model saw: the stored exchange, then the message
    assert [m["role"] for m in sent] == [
        "user", "assistant", "tool", "assistant", "user",
    ]  # fmt: skip


async def test_a_conversation_waiting_for_results_refuses_a_new_message(
    client: AsyncPoeClient,
) -> None:
    store = MemoryStore()
    conversation = Conversation(store=store)
    agent = Agent(client, TOOL_MODEL, tools=[OPEN_EDITOR])
    first = await agent.run("open_editor file=a.md", conversation=conversation)
    (call,) = first.pending_tool_calls
    with pytest.raises(InvalidRequestError, match=f"waiting for tool_results for {call.id}"):
        await agent.run("something else", conversation=conversation)
    with pytest.raises(InvalidRequestError, match="not both"):
        await agent.run("x", tool_results={call.id: 1}, conversation=conversation)
    with pytest.raises(SessionNotFoundError):
        await agent.run(tool_results={"c": 1}, conversation=Conversation("gone", store=store))
    # Refused calls stored nothing: the pending call can still be answered.
    stored = await store.sessions.get(conversation.session_id or "")
    assert stored is not None
    assert len(stored.messages) == 2
    done = await agent.run(tool_results={call.id: "ok"}, conversation=conversation)
    assert done.stopped_reason == "final"


async def test_an_agent_turn_and_a_chat_turn_share_one_history(client: AsyncPoeClient) -> None:
    conversation = Conversation(store=MemoryStore(), system="Be brief.")
    ran = await Agent(client, TOOL_MODEL, tools=[get_weather]).run(
        "get_weather city=Lisbon", conversation=conversation
    )
    assert ran.trace[0].result == "sunny in Lisbon"
    chat = await conversation.ask(client, "GPT-4.1", "And tomorrow?")
    # system, user, assistant (call), tool, assistant (answer), and the new user message
    assert "received 6 messages" in chat.text
    assert conversation.last_turn is not None
    assert conversation.last_turn.history_messages == 5


async def test_only_schema_failures_count_as_argument_retries(client: AsyncPoeClient) -> None:
    ran: list[str] = []

    # The tool's own failure reads like an argument error (and the simulated model retries
    # it as one), but the arguments fit the schema: the run goes on to its turn bound.
    @tool
    def book(room: str) -> str:
        """Book a room."""
        ran.append(room)
        raise InvalidRequestError(f"Invalid arguments for book: {room} is closed today")

    result = await Agent(client, TOOL_MODEL, tools=[book], max_turns=5).run("book room=lobby")
    assert result.stopped_reason == "max_turns"
    assert ran == ["lobby"] * 5
    assert not any(t.bad_arguments for t in result.trace)

    @tool
    def count(n: int) -> str:
        """Count to n."""
        return str(n)

    bad: Any = await Agent(client, TOOL_MODEL, tools=[count]).run("count n=many")
    assert bad.trace[0].bad_arguments
