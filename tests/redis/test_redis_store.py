"""What the Redis store adds: Redis TTLs, one truth for several processes, outages survived.

The behaviour every backend shares runs on Redis too, from ``tests/store`` (its ``store``
fixture has a Redis parameter).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from poe_mcp.errors import ConfigError, StoreError
from poe_mcp.sessions import Conversations
from poe_mcp.store import open_store
from poe_mcp.store.base import UsageRecord
from poe_mcp.store.redis import RedisStore

from ..conftest import FakeClock
from .redis_testlib import RedisServer


def usage(model: str = "GPT-4.1", **kw: object) -> UsageRecord:
    base: dict[str, object] = {
        "ts": time.time(), "provider": "poe", "backend": "openai", "model": model,
        "outcome": "ok", "input_tokens": 10, "output_tokens": 5, "cost": 0.01,
    }  # fmt: skip
    base.update(kw)
    return UsageRecord(**base)  # type: ignore[arg-type]


async def test_sessions_expire_through_redis_ttls(
    redis_store: RedisStore, redis_server: RedisServer
) -> None:
    store, raw = redis_store, redis_server.raw()
    await store.sessions.append("t", [{"role": "user", "content": "1"}], ttl_s=30)
    keys = sorted(raw.keys("poe-mcp:session:t*"))
    assert keys == ["poe-mcp:session:t", "poe-mcp:session:t:messages"]
    assert all(25_000 < raw.pttl(k) <= 30_000 for k in keys)
    await store.sessions.append("t", [{"role": "assistant", "content": "2"}], ttl_s=120)
    assert all(115_000 < raw.pttl(k) <= 120_000 for k in keys)  # renewed on append

    # Redis's own clock (no clock given): this waits for the server, no fake can stand in.
    await store.sessions.append("short", [{"role": "user", "content": "x"}], ttl_s=0.05)
    await asyncio.sleep(0.1)
    assert raw.keys("poe-mcp:session:short*") == []  # Redis itself dropped it: no purge needed
    assert [i.id for i in await store.sessions.list()] == ["t"]


async def test_an_injected_clock_rules_expiry_while_redis_still_holds_the_keys(
    redis_url: str, redis_server: RedisServer, clock: FakeClock
) -> None:
    raw = redis_server.raw()
    store = open_store(redis_url, clock=clock)
    try:
        await store.sessions.append("c", [{"role": "user", "content": "1"}], ttl_s=60)
        (info,) = await store.sessions.list()
        times = (info.created_at, info.expires_at)
        assert times == pytest.approx((clock.now, clock.now + 60), abs=1e-3)
        clock.advance(60)
        assert raw.exists("poe-mcp:session:c", "poe-mcp:session:c:messages") == 2  # kept by TTL
        assert await store.sessions.get("c") is None
        assert await store.sessions.list() == []
        again = await store.sessions.append("c", [{"role": "user", "content": "2"}], ttl_s=60)
        assert again.messages == [{"role": "user", "content": "2"}]  # afresh, not "1", "2"
        assert all(55_000 < raw.pttl(k) <= 60_000 for k in raw.keys("poe-mcp:session:c*"))
    finally:
        await store.aclose()


async def test_trimming_matches_sqlite(redis_store: RedisStore, tmp_path: Path) -> None:
    sqlite = open_store(f"sqlite:///{tmp_path / 'poe.db'}")
    try:
        results = []
        for backend in (redis_store, sqlite):
            conv = Conversations(backend.sessions, ttl_s=600)
            sid = "trim-me"
            for i in range(12):
                turn = await conv.prepare(
                    sid if i else None, {"role": "user", "content": f"question {i} " + "x" * 400},
                    system="be brief", context_window=1_000, max_output_tokens=200,
                )  # fmt: skip
                if i == 0:
                    sid = turn.session_id
                await conv.commit(
                    turn, {"role": "assistant", "content": f"answer {i} " + "y" * 300}
                )
            results.append(([m["content"][:12] for m in turn.messages], turn.trimmed_messages))
        assert results[0] == results[1]
        sent, trimmed = results[0]
        assert trimmed > 0
        assert sent[0] == "be brief"
        assert sent[-1].startswith("question 11")
    finally:
        await sqlite.aclose()


_WORKER = textwrap.dedent(
    """
    import asyncio, sys, time
    from poe_mcp.store import open_store
    from poe_mcp.store.base import UsageRecord

    async def main(url, tag, n):
        store = open_store(url)
        async def turn(i):
            await store.sessions.append(
                "shared",
                [{"role": "user", "content": f"{tag}-q{i}"},
                 {"role": "assistant", "content": f"{tag}-a{i}"}],
                ttl_s=600,
            )
            await store.usage.record(UsageRecord(
                ts=time.time(), provider="poe", backend="openai", model=tag, outcome="ok",
                session_id="shared", input_tokens=1, output_tokens=1, cost=0.001))
        await asyncio.gather(*(turn(i) for i in range(n)))
        await store.aclose()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


async def test_two_processes_and_many_tasks_lose_nothing(redis_url: str) -> None:
    n = 100
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, redis_url, tag, str(n)])
        for tag in ("A", "B")
    ]
    for p in procs:
        assert await asyncio.to_thread(p.wait, 30) == 0

    store = open_store(redis_url)
    try:
        got = await store.sessions.get("shared")
        assert got is not None
        contents = [m["content"] for m in got.messages]
        assert len(contents) == 4 * n
        pairs = set(zip(contents[::2], contents[1::2], strict=True))
        assert pairs == {(f"{t}-q{i}", f"{t}-a{i}") for t in "AB" for i in range(n)}
        (info,) = await store.sessions.list()
        assert info.turns == 2 * n
        totals = await store.usage.totals(session_id="shared")
        assert totals.calls == 2 * n
        assert totals.cost == pytest.approx(2 * n * 0.001)
        by_model = {g.key: g.totals.calls for g in await store.usage.breakdown("model")}
        assert by_model == {"A": n, "B": n}
    finally:
        await store.aclose()


async def test_instances_see_each_others_writes_at_once(redis_url: str) -> None:
    a, b = open_store(redis_url), open_store(redis_url)
    try:
        await a.sessions.append("x", [{"role": "user", "content": "from a"}], ttl_s=60)
        await a.usage.record(usage())
        got = await b.sessions.get("x")
        assert got is not None
        assert got.messages == [{"role": "user", "content": "from a"}]
        assert (await b.usage.totals()).calls == 1
        assert await b.sessions.delete("x") is True
        assert await a.sessions.get("x") is None
    finally:
        await a.aclose()
        await b.aclose()


async def test_redis_down_is_a_clear_error_then_recovers(own_redis: RedisServer) -> None:
    store = open_store(own_redis.url(3))
    assert isinstance(store, RedisStore)
    try:
        await store.sessions.append("s", [{"role": "user", "content": "before"}], ttl_s=600)
        assert (await store.health())["ok"] is True

        own_redis.stop()
        with pytest.raises(StoreError) as caught:
            await store.sessions.get("s")
        message = str(caught.value)
        assert own_redis.url(3) in message
        assert "Check that redis-server is running" in message
        assert caught.value.kind == "store"
        with pytest.raises(StoreError):
            await store.sessions.append("s", [{"role": "user", "content": "lost"}], ttl_s=600)
        await store.usage.record(usage(model="while-down"))  # kept, not raised
        health = await store.health()
        assert health["ok"] is False
        assert health["backend"] == "redis"
        assert "unavailable" in health["error"]
        assert health["usage_records_waiting"] == 1

        own_redis.start()  # empty again: no persistence in tests
        await store.sessions.append("s", [{"role": "user", "content": "after"}], ttl_s=600)
        got = await store.sessions.get("s")
        assert got is not None
        assert got.messages == [{"role": "user", "content": "after"}]
        assert (await store.health())["ok"] is True
        # the record made during the outage reached Redis once it was back
        assert [g.key for g in await store.usage.breakdown("model")] == ["while-down"]
    finally:
        await store.aclose()


async def test_password_never_shown(tmp_path: Path) -> None:
    port = RedisServer(tmp_path).port  # nothing listens there
    store = open_store(f"redis://:sekret-pw@127.0.0.1:{port}/0")
    try:
        with pytest.raises(StoreError) as caught:
            await store.sessions.list()
        assert "sekret-pw" not in str(caught.value)
        assert f"redis://***@127.0.0.1:{port}/0" in str(caught.value)
        health = await store.health()
        assert "sekret-pw" not in repr(health)
        assert health["ok"] is False
    finally:
        await store.aclose()


async def test_closed_store_and_bad_urls(redis_url: str) -> None:
    store = open_store(redis_url)
    await store.aclose()
    await store.aclose()
    with pytest.raises(StoreError, match="closed"):
        await store.sessions.get("s")
    assert (await store.health())["ok"] is False
    with pytest.raises(ConfigError, match="bad Redis store URL"):
        open_store("redis://")
    assert isinstance(open_store("rediss://127.0.0.1:1/0"), RedisStore)
