"""``Conversation``: load, fit, call, store as one unit, through the library alone."""

from __future__ import annotations

import pytest

from poe_mcp import AsyncPoeClient, Conversation, NotFoundError, PoeError, TooLargeError
from poe_mcp.simulator import Simulator
from poe_mcp.store.memory import MemoryStore


def _roles(messages: list[dict[str, object]]) -> list[object]:
    return [m["role"] for m in messages]


async def test_three_turns_with_two_models_share_one_stored_history(
    client: AsyncPoeClient, store: MemoryStore
) -> None:
    conversation = Conversation(system="You are terse")
    first = await conversation.ask(client, "Claude-Sonnet-4", "Write a haiku about the sea")
    assert "received 2 messages (system prompt: yes)" in first.text
    session_id = conversation.session_id
    assert session_id is not None
    assert first.session_id == session_id

    second = await conversation.ask(client, "GPT-4.1", "Now translate it to French")
    assert "GPT-4.1 received 4 messages" in second.text
    third = await conversation.ask(client, "Claude-Sonnet-4", "Shorter")
    assert 'You said: "Shorter"' in third.text
    assert "received 6 messages" in third.text
    assert conversation.session_id == session_id

    stored = await store.sessions.get(session_id)
    assert stored is not None
    assert _roles(stored.messages) == ["system", *["user", "assistant"] * 3]
    assert stored.messages[-1]["content"] == third.text
    # a second object on the same id continues it (another process would do the same)
    again = Conversation(session_id)
    fourth = await again.ask(client, "GPT-4.1", "Once more")
    assert "received 8 messages" in fourth.text


async def test_a_failed_call_stores_nothing(
    client: AsyncPoeClient, simulator: Simulator, store: MemoryStore
) -> None:
    conversation = Conversation()
    await conversation.ask(client, "GPT-4.1", "one")
    assert conversation.session_id is not None
    simulator.add_fault("status", status=400, model="GPT-4.1")
    with pytest.raises(PoeError):
        await conversation.ask(client, "GPT-4.1", "two")
    history = await conversation.history()
    assert _roles(history) == ["user", "assistant"]
    assert "received 3 messages" in (await conversation.ask(client, "GPT-4.1", "three")).text


async def test_an_unknown_session_is_an_error_not_a_fresh_start(client: AsyncPoeClient) -> None:
    conversation = Conversation("no-such-session")
    with pytest.raises(NotFoundError, match="does not exist or has expired"):
        await conversation.ask(client, "GPT-4.1", "hello?")
    assert await client.get_store() is not None
    with pytest.raises(NotFoundError, match="does not exist"):  # nothing made under that id
        await conversation.history()


async def test_reset_forgets_and_starts_a_new_session(
    client: AsyncPoeClient, store: MemoryStore
) -> None:
    conversation = Conversation()
    await conversation.ask(client, "GPT-4.1", "one")
    old = conversation.session_id
    assert old is not None
    await conversation.reset()
    assert conversation.session_id is None
    assert await store.sessions.get(old) is None
    answer = await conversation.ask(client, "GPT-4.1", "fresh")
    assert "received 1 messages" in answer.text
    assert conversation.session_id not in (None, old)


async def test_stream_stores_the_assembled_answer_once_complete(client: AsyncPoeClient) -> None:
    conversation = Conversation()
    pieces: list[str] = []
    final = None
    async for delta in conversation.stream(client, "GPT-4.1", "stream me a reply"):
        if delta.result is not None:
            final = delta.result
            # stored before the final delta reaches the caller
            assert _roles(await conversation.history()) == ["user", "assistant"]
        else:
            pieces.append(delta.text)
    assert final is not None
    assert len(pieces) > 1
    assert "".join(pieces) == final.text
    assert (await conversation.history())[-1]["content"] == final.text


async def test_an_abandoned_stream_stores_nothing(client: AsyncPoeClient) -> None:
    conversation = Conversation()
    await conversation.ask(client, "GPT-4.1", "one")
    stream = conversation.stream(client, "GPT-4.1", "two")
    async for _ in stream:
        break  # the user pressed Ctrl-C after the first piece
    await stream.aclose()
    assert _roles(await conversation.history()) == ["user", "assistant"]


async def test_replace_events_never_reach_the_stored_history(
    simulator: Simulator, api_key: str, store: MemoryStore
) -> None:
    # The bot protocol's reasoning models send "Thinking…" and then replace it.
    async with AsyncPoeClient(
        api_key, base_url=simulator.base_url, store=store, rpm=0, backend="legacy"
    ) as client:
        conversation = Conversation()
        saw_replace = False
        async for delta in conversation.stream(client, "Claude-Sonnet-4", "think first"):
            saw_replace = saw_replace or delta.replace
        assert saw_replace
        answer = (await conversation.history())[-1]["content"]
        assert isinstance(answer, str)
        assert "Thinking" not in answer
        assert answer.startswith('You said: "think first"')


async def test_history_is_fitted_to_each_models_context_window(client: AsyncPoeClient) -> None:
    conversation = Conversation()
    for n in range(3):  # ~30k tokens a message, echoed back: ~180k tokens of history
        await conversation.ask(client, "GPT-4.1", f"turn {n} " + "word " * 24_000)
    assert len(await conversation.history()) == 6
    # Llama-3.1-405B's window is 128k: the oldest turns are left out, the newest kept
    small = await conversation.ask(client, "Llama-3.1-405B", "short one")
    received = int(small.text.split(" received ")[1].split()[0])
    assert 1 < received < 7
    assert received % 2 == 1
    # GPT-4.1's window (1M) holds the whole history
    big = await conversation.ask(client, "GPT-4.1", "and again")
    assert "received 9 messages" in big.text
    with pytest.raises(TooLargeError):
        await conversation.ask(client, "Llama-3.1-405B", "x" * 600_000)
