"""Conversation logic over a real store: ids, history, system prompt, trimming, expiry."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from poe_mcp.errors import InvalidRequestError, SessionNotFoundError, TooLargeError
from poe_mcp.sessions import Conversations
from poe_mcp.store import open_store


@pytest.fixture
async def conversations(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    yield Conversations(store.sessions, ttl_s=60)
    await store.aclose()


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


async def test_new_conversation_gets_a_uuid_and_keeps_the_system_prompt(
    conversations: Conversations,
) -> None:
    turn = await conversations.prepare(None, user("hi"), system="Be terse.")
    assert uuid.UUID(turn.session_id)
    assert turn.is_new
    assert turn.messages == [{"role": "system", "content": "Be terse."}, user("hi")]
    await conversations.commit(turn, {"role": "assistant", "content": "hello"})

    later = await conversations.prepare(turn.session_id, user("again"))
    assert [m["role"] for m in later.messages] == ["system", "user", "assistant", "user"]
    assert not later.is_new
    assert later.history_messages == 3


async def test_failed_turn_stores_nothing(conversations: Conversations) -> None:
    await conversations.prepare("abc", user("lost"), create=True)
    # no commit: the model call failed
    again = await conversations.prepare("abc", user("retry"), create=True)
    assert again.is_new
    assert again.messages == [user("retry")]


async def test_history_is_trimmed_to_the_context_window(conversations: Conversations) -> None:
    sid = "long-chat"
    for i in range(20):
        turn = await conversations.prepare(
            sid, user(f"question {i} " + "x" * 400), system="S", create=True
        )
        await conversations.commit(turn, {"role": "assistant", "content": "y" * 400})
    turn = await conversations.prepare(
        sid, user("newest"), context_window=1_000, max_output_tokens=200
    )
    assert turn.messages[0] == {"role": "system", "content": "S"}
    assert turn.messages[-1] == user("newest")
    assert turn.messages[1]["role"] == "user"  # never starts with an orphan answer
    assert turn.trimmed_messages > 0
    assert 0 < turn.history_messages < 41


async def test_a_message_larger_than_the_window_is_refused(conversations: Conversations) -> None:
    with pytest.raises(TooLargeError, match="context window"):
        await conversations.prepare(None, user("z" * 40_000), context_window=2_000)


async def test_changed_system_prompt_is_added_to_the_history(
    conversations: Conversations,
) -> None:
    turn = await conversations.prepare("s1", user("a"), system="old", create=True)
    await conversations.commit(turn, {"role": "assistant", "content": "b"})
    turn = await conversations.prepare("s1", user("c"), system="new")
    assert turn.messages[-2] == {"role": "system", "content": "new"}
    same = await conversations.prepare("s1", user("d"), system="old")
    assert same.new_messages == [user("d")]


async def test_expiry_and_bad_ids(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'e.db'}")
    conv = Conversations(store.sessions, ttl_s=0.2)
    try:
        turn = await conv.prepare(None, user("hi"))
        await conv.commit(turn, {"role": "assistant", "content": "yo"})
        assert [s.id for s in await conv.list()] == [turn.session_id]
        await asyncio.sleep(0.35)
        assert await conv.list() == []
        with pytest.raises(SessionNotFoundError):  # expired: an error, never a fresh start
            await conv.prepare(turn.session_id, user("back"))
        with pytest.raises(InvalidRequestError):
            await conv.prepare("has spaces", user("x"))
    finally:
        await store.aclose()


async def test_large_attachments_are_noted_not_kept(conversations: Conversations) -> None:
    big = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 400_000}}
    message = {"role": "user", "content": [{"type": "text", "text": "see"}, big]}
    turn = await conversations.prepare(None, message)
    assert turn.messages[-1] == message  # sent in full this turn
    await conversations.commit(turn, {"role": "assistant", "content": "ok"})
    later = await conversations.prepare(turn.session_id, user("and?"))
    kept = later.messages[0]["content"]
    assert kept[1]["type"] == "text"
    assert "earlier turn" in kept[1]["text"]
