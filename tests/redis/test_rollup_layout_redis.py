"""Redis rollup key layout: cells of an older layout are rebuilt from the ledger, once."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from poe_mcp.store import open_store
from poe_mcp.store._rollup_redis import LAYOUT
from poe_mcp.store.redis import RedisStore

from ..store.test_rollups import RECORDS, T0


async def _raw(url: str) -> Any:
    return Redis.from_url(url, decode_responses=True)


async def test_cells_of_an_older_layout_are_rebuilt_from_the_ledger(redis_url: str) -> None:
    first = open_store(redis_url)
    assert isinstance(first, RedisStore)
    for record in RECORDS:
        await first.usage.record(record)
    await first.aclose()
    r = await _raw(redis_url)
    # What an older poe-mcp leaves: no layout key, one hash per hour and dimension.
    prefix = first.prefix
    new_cells = [k async for k in r.scan_iter(f"{prefix}usage:sums:*")]
    new_cells += [k async for k in r.scan_iter(f"{prefix}usage:lat:*")]
    await r.delete(f"{prefix}usage:rollup-layout", *new_cells)
    stale = f"{prefix}usage:hour:{int(T0)}:model"
    await r.hset(stale, "0\x1fClaude-Sonnet-4", "stale")

    second = open_store(redis_url)
    [whole] = await second.usage.rollup()
    assert whole.totals.calls == len(RECORDS)
    assert whole.totals.cost == pytest.approx(0.5 * 3 + 0.25)
    assert sum(whole.latency) == len(RECORDS)
    by_model = {g.key: g.totals.calls for g in await second.usage.rollup(by="model")}
    assert by_model == {"Claude-Sonnet-4": 4, "GPT-4o": 2}
    assert await r.exists(stale) == 0
    assert await r.get(f"{prefix}usage:rollup-layout") == LAYOUT
    # Records written after the upgrade are rolled up on write, and counted once.
    await second.usage.record(RECORDS[0])
    third = open_store(redis_url)
    [whole] = await third.usage.rollup()
    assert whole.totals.calls == len(RECORDS) + 1
    await second.aclose()
    await third.aclose()
    await r.aclose()


async def test_two_instances_writing_count_every_record_once(redis_url: str) -> None:
    a, b = open_store(redis_url), open_store(redis_url)
    for i, record in enumerate(RECORDS):
        await (a if i % 2 else b).usage.record(record)
    for store in (a, b):
        hours = await store.usage.rollup(bucket="hour", simulated=False, latency=False)
        assert sum(g.totals.calls for g in hours) == len(RECORDS) - 1  # one is simulated
    await a.aclose()
    await b.aclose()


async def test_queries_survive_redis_forgetting_its_scripts(redis_url: str) -> None:
    store = open_store(redis_url)
    for record in RECORDS:
        await store.usage.record(record)
    r = await _raw(redis_url)
    await r.script_flush()  # what a Redis restart does to the script cache
    days = await store.usage.rollup(bucket="day", by="model", simulated=False)
    assert [(g.key, g.totals.calls) for g in days] == [
        ("Claude-Sonnet-4", 3),
        ("GPT-4o", 1),
        ("Claude-Sonnet-4", 1),
    ]
    assert await store.usage.rollup(since=T0 + 30 * 86_400.0) == []
    await store.aclose()
    await r.aclose()
