"""The global rate limiter: one limit per key across processes, kept in Redis atomically."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import uuid

import pytest

from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings
from poe_mcp.errors import RateLimitError, StoreError
from poe_mcp.ratelimit import LocalRateLimiter, key_id
from poe_mcp.ratelimit.redis import RedisRateLimiter
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store

from .redis_testlib import RedisServer

# Each worker takes n slots at once and prints, as JSON, when each slot was granted (or refused).
_SLOTS = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from poe_mcp.errors import RateLimitError
    from poe_mcp.ratelimit.redis import RedisRateLimiter

    async def main(url, key, n, rpm, period, burst):
        limiter = RedisRateLimiter(url, rpm, period_s=period, burst=burst)
        async def one():
            try:
                await limiter.acquire(key)
                return time.time()
            except RateLimitError as exc:
                return exc.metadata["source"]
        print(json.dumps(await asyncio.gather(*(one() for _ in range(n)))))
        await limiter.aclose()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                     float(sys.argv[5]), int(sys.argv[6])))
    """
)


async def run_workers(script: str, *argv: str, count: int = 2) -> list[list[object]]:
    procs = [
        subprocess.Popen([sys.executable, "-c", script, *argv], stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    outs = []
    for p in procs:
        out, _ = await asyncio.to_thread(p.communicate, timeout=40)
        assert p.returncode == 0
        outs.append(json.loads(out))
    return outs


async def test_two_processes_share_one_limit(redis_url: str) -> None:
    rpm, period, burst, n = 10, 1.0, 2, 8
    results = await run_workers(
        _SLOTS, redis_url, key_id(f"k-{uuid.uuid4()}"), str(n), str(rpm), str(period), str(burst)
    )
    times = sorted(t for out in results for t in out if isinstance(t, float))
    assert len(times) == 2 * n  # nobody refused: every wait was within the bound
    # No window of `period` holds more than rpm requests from both processes together,
    # though each process alone would have been allowed its own rpm.
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t - start < period) <= rpm
    assert times[-1] - times[0] >= (2 * n - burst) * period / (rpm - burst + 1) * 0.9


async def test_refusals_are_counted_across_processes(redis_url: str) -> None:
    # A full burst then a 63 s gap: beyond the 30 s bound, so the rest is refused at once.
    results = await run_workers(_SLOTS, redis_url, key_id(f"k-{uuid.uuid4()}"), "5", "6", "60", "6")
    flat = [r for out in results for r in out]
    assert sum(isinstance(r, float) for r in flat) == 6
    assert flat.count("client") == 4


_CLIENT = textwrap.dedent(
    """
    import asyncio, json, sys
    from poe_mcp.client import AsyncPoeClient
    from poe_mcp.errors import PoeError
    from poe_mcp.ratelimit.redis import RedisRateLimiter

    async def main(url, base_url, key, n, rpm):
        limiter = RedisRateLimiter(url, rpm, burst=rpm)
        client = AsyncPoeClient(key, base_url=base_url, limiter=limiter, store=False,
                                catalog=False, max_retries=0, budget=False)
        async def one(i):
            try:
                await client.chat("GPT-4.1", f"hello {i}")
                return "ok"
            except PoeError as exc:
                return exc.metadata.get("source") or exc.status
        print(json.dumps(await asyncio.gather(*(one(i) for i in range(n)))))
        await client.aclose()
        await limiter.aclose()

    asyncio.run(main(*sys.argv[1:4], int(sys.argv[4]), int(sys.argv[5])))
    """
)


async def test_clients_in_two_processes_never_draw_a_429(
    redis_url: str, redis_server: RedisServer
) -> None:
    rpm = 8
    key = f"test-{uuid.uuid4().hex}"
    with Simulator(rpm=rpm) as sim:
        results = await run_workers(_CLIENT, redis_url, sim.base_url, key, "6", str(rpm))
        statuses = [r["status"] for r in sim.state.requests() if r["path"].endswith("/completions")]
    flat = [r for out in results for r in out]
    assert flat.count("ok") == rpm
    assert flat.count("client") == 12 - rpm
    assert 429 not in statuses
    assert len(statuses) == rpm
    names = redis_server.raw().keys("*")
    assert f"poe-mcp:ratelimit:{key_id(key)}" in names
    assert not any(key in name for name in names)  # keyed by the hash, never the key


async def test_status_and_store_factory(redis_url: str) -> None:
    store = open_store(redis_url)
    settings = Settings.load(rpm=100).with_(file={"rate_limit": {"burst": 3, "max_wait_s": 5}})
    try:
        # A client on a Redis store takes the shared limiter from it, [rate_limit] applied.
        client = AsyncPoeClient("k", settings=settings, store=store, catalog=False)
        limiter = await client.rate_limiter()
        assert isinstance(limiter, RedisRateLimiter)
        assert (limiter.rpm, limiter.burst, limiter.max_wait_s) == (100, 3, 5.0)
        kid = key_id("status-key")
        for _ in range(3):
            await limiter.acquire(kid)
        status = await limiter.status(kid)
        assert status["kind"] == "redis"
        assert status["ok"] is True
        assert status["waiting"] == 0
        assert 0 < status["next_wait_s"] <= limiter.interval_s
        assert "status-key" not in json.dumps(status)
        assert (await client.rate_limit_status())["client"]["kind"] == "redis"
        off = AsyncPoeClient("k", settings=settings, store=store, catalog=False, rpm=0)
        assert await off.rate_limiter() is None
    finally:
        await store.aclose()
    # A store of one process keeps the limit in the process, with the same numbers.
    memory = open_store("memory://")
    local = await AsyncPoeClient("k", settings=settings, store=memory).rate_limiter()
    assert isinstance(local, LocalRateLimiter)
    assert (local.rpm, local.burst, local.max_wait_s) == (100, 3, 5.0)


async def test_redis_down_then_back(own_redis: RedisServer) -> None:
    limiter = RedisRateLimiter(own_redis.url(), 60, burst=5)
    kid = key_id("down-key")
    try:
        await limiter.acquire(kid)
        own_redis.stop()
        with pytest.raises(StoreError, match="rate-limit slot") as caught:
            await limiter.acquire(kid)
        assert "Check that redis-server is running" in str(caught.value)
        status = await limiter.status(kid)
        assert status["ok"] is False
        assert "unavailable" in status["error"]
        own_redis.start()
        await limiter.acquire(kid)
        assert (await limiter.status(kid))["ok"] is True
    finally:
        await limiter.aclose()


async def test_waiters_queue_and_cancelled_waiters_leave(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, 10, period_s=1.0, burst=1, max_wait_s=0.5)
    kid = key_id("queue-key")
    await limiter.acquire(kid)
    waiter = asyncio.ensure_future(limiter.acquire(kid))
    await asyncio.sleep(0.02)
    assert (await limiter.status(kid))["waiting"] == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (await limiter.status(kid))["waiting"] == 0
    await limiter.acquire(kid)  # waits ~0.1 s for the next slot
    burst = asyncio.gather(*(limiter.acquire(kid) for _ in range(12)))  # 1.2 s > 0.5 s bound
    with pytest.raises(RateLimitError) as caught:
        await burst
    assert caught.value.metadata == {"source": "client", "limiter": "redis"}
    await limiter.aclose()
