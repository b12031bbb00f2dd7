"""Sessions: history kept in order, expiry, listing, deletion, on every backend.

Expiry runs on the store's ``clock`` (a fake one the tests move), so no test waits for it.
"""

from __future__ import annotations

import asyncio

import pytest

from poe_mcp.errors import InvalidRequestError
from poe_mcp.store.base import Store

from ..conftest import FakeClock


async def test_append_creates_and_extends_in_order(store: Store) -> None:
    first = await store.sessions.append(
        "s1",
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        model="Claude-Sonnet-4",
        backend="openai",
        ttl_s=60,
    )
    assert [m["content"] for m in first.messages] == ["be brief", "hi"]
    second = await store.sessions.append(
        "s1", [{"role": "assistant", "content": "hello"}], ttl_s=60
    )
    assert [m["role"] for m in second.messages] == ["system", "user", "assistant"]
    assert second.model == "Claude-Sonnet-4"  # kept when the append names no model
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at

    got = await store.sessions.get("s1")
    assert got is not None
    assert got.messages == second.messages
    assert got.backend == "openai"


async def test_returned_history_is_a_copy(store: Store) -> None:
    await store.sessions.append("s", [{"role": "user", "content": "a"}], ttl_s=60)
    got = await store.sessions.get("s")
    assert got is not None
    got.messages.append({"role": "user", "content": "sneaky"})
    got.messages[0]["content"] = "changed"
    again = await store.sessions.get("s")
    assert again is not None
    assert again.messages == [{"role": "user", "content": "a"}]


async def test_unicode_and_structured_messages_round_trip(store: Store) -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": "é"}'}}
        ],
    }
    await store.sessions.append("u", [{"role": "user", "content": "héllo 世界"}, message], ttl_s=60)
    got = await store.sessions.get("u")
    assert got is not None
    assert got.messages[0]["content"] == "héllo 世界"
    assert got.messages[1] == message


async def test_unknown_session_is_none_and_delete_says_so(store: Store) -> None:
    assert await store.sessions.get("nope") is None
    assert await store.sessions.delete("nope") is False
    await store.sessions.append("x", [{"role": "user", "content": "a"}], ttl_s=60)
    assert await store.sessions.delete("x") is True
    assert await store.sessions.get("x") is None
    assert await store.sessions.delete("x") is False


async def test_list_most_recent_first_with_turns(store: Store, clock: FakeClock) -> None:
    await store.sessions.append("old", [{"role": "user", "content": "1"}], model="m1", ttl_s=60)
    clock.advance(1)
    await store.sessions.append(
        "new",
        [
            {"role": "user", "content": "1"},
            {"role": "assistant", "content": "2"},
            {"role": "user", "content": "3"},
        ],
        model="m2",
        ttl_s=60,
    )
    infos = await store.sessions.list()
    assert [i.id for i in infos] == ["new", "old"]
    assert infos[0].turns == 2
    assert infos[0].model == "m2"
    assert infos[0].expires_at == pytest.approx(infos[0].updated_at + 60, abs=1e-3)
    assert infos[1].updated_at == pytest.approx(infos[0].updated_at - 1, abs=1e-3)


async def test_idle_session_expires_and_restarts_empty(store: Store, clock: FakeClock) -> None:
    await store.sessions.append("e", [{"role": "user", "content": "old"}], ttl_s=30)
    await store.sessions.append("keep", [{"role": "user", "content": "k"}], ttl_s=60)
    clock.advance(29)
    assert await store.sessions.get("e") is not None  # not yet
    clock.advance(1)  # 30 s idle: gone (Redis has not dropped its keys yet: the clock rules)
    assert await store.sessions.get("e") is None
    assert [i.id for i in await store.sessions.list()] == ["keep"]
    assert await store.sessions.delete("e") is False
    fresh = await store.sessions.append("e", [{"role": "user", "content": "new"}], ttl_s=60)
    assert fresh.messages == [{"role": "user", "content": "new"}]
    assert fresh.created_at == pytest.approx(clock.now, abs=1e-3)
    (info,) = [i for i in await store.sessions.list() if i.id == "e"]
    assert info.turns == 1  # the expired session's turns are not carried over


async def test_append_renews_expiry(store: Store, clock: FakeClock) -> None:
    await store.sessions.append("r", [{"role": "user", "content": "1"}], ttl_s=30)
    clock.advance(20)
    await store.sessions.append("r", [{"role": "assistant", "content": "2"}], ttl_s=30)
    clock.advance(20)  # 40 s after creation, 20 s after the last append
    got = await store.sessions.get("r")
    assert got is not None
    assert len(got.messages) == 2
    clock.advance(10)  # 30 s after the last append
    assert await store.sessions.get("r") is None


async def test_a_session_written_with_no_time_to_live_is_gone_at_once(store: Store) -> None:
    written = await store.sessions.append("z", [{"role": "user", "content": "1"}], ttl_s=0)
    assert written.messages == [{"role": "user", "content": "1"}]  # the append still answers
    assert await store.sessions.get("z") is None
    assert await store.sessions.list() == []


async def test_concurrent_appends_lose_and_duplicate_nothing(store: Store) -> None:
    async def turn(i: int) -> None:
        await store.sessions.append(
            "busy",
            [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
            ttl_s=60,
        )

    await asyncio.gather(*(turn(i) for i in range(40)))
    got = await store.sessions.get("busy")
    assert got is not None
    contents = [m["content"] for m in got.messages]
    assert len(contents) == 80
    # each turn's pair stays together, and every turn is there exactly once
    pairs = list(zip(contents[::2], contents[1::2], strict=True))
    assert sorted(pairs) == sorted((f"q{i}", f"a{i}") for i in range(40))
    (info,) = await store.sessions.list()
    assert info.turns == 40


async def test_a_message_that_is_not_json_is_refused_and_nothing_is_stored(store: Store) -> None:
    await store.sessions.append("j", [{"role": "user", "content": "1"}], ttl_s=60)
    with pytest.raises(InvalidRequestError, match="JSON-serialisable"):
        await store.sessions.append("j", [{"role": "user", "content": object()}], ttl_s=60)
    with pytest.raises(InvalidRequestError, match="JSON-serialisable"):
        await store.sessions.extend("j", [], ttl_s=60, tools=[{"x": {1, 2}}])
    got = await store.sessions.get("j")
    assert got is not None
    assert got.messages == [{"role": "user", "content": "1"}]
    assert got.tools is None
