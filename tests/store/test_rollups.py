"""Hourly ledger rollups: kept on write, equal to the raw ledger, answering by hour/day/dimension.

The same scenarios run on memory and SQLite (``store`` fixture) and on Redis
(tests/redis/test_store_contract.py imports this module's tests).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from poe_mcp.errors import InvalidRequestError
from poe_mcp.store import open_store
from poe_mcp.store._migrations import MIGRATIONS
from poe_mcp.store._rollup import percentile
from poe_mcp.store.base import Store, UsageRecord

DAY = 86_400.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % DAY)  # a UTC midnight


def _rec(ts: float, model: str = "Claude-Sonnet-4", **kw: object) -> UsageRecord:
    values: dict[str, object] = {
        "provider": "poe",
        "backend": "openai",
        "outcome": "ok",
        "input_tokens": 10,
        "output_tokens": 20,
        "cost": 0.5,
        "latency_s": 0.4,
    }
    values.update(kw)
    return UsageRecord(ts=ts, model=model, **values)  # type: ignore[arg-type]


RECORDS = [
    _rec(T0 + 60, latency_s=0.04),
    _rec(T0 + 120, "GPT-4o", cost=None, entry_point="console", latency_s=0.9),
    _rec(T0 + 3_700, outcome="error", error_kind="rate_limit", cost=None, input_tokens=0,
         output_tokens=0, latency_s=1.2),
    _rec(T0 + 3_800, tier=3, run_id="run-1", entry_point="mcp", latency_s=2.5),
    _rec(T0 + DAY + 10, "GPT-4o", simulated=True, provider="openai", latency_s=0.2),
    _rec(T0 + DAY + 7_300, cost=0.25, reasoning_tokens=5, cached_tokens=3, estimated=True,
         latency_s=200.0),
]  # fmt: skip


async def _fill(store: Store) -> None:
    for record in RECORDS:
        await store.usage.record(record)


async def test_rollup_totals_equal_the_raw_ledger(store: Store) -> None:
    await _fill(store)
    [whole] = await store.usage.rollup()
    assert whole.start is None
    assert whole.key is None
    assert whole.totals.calls == 6
    assert whole.totals.errors == 1
    assert whole.totals.unknown_cost_calls == 1  # the failed call's None cost is not "unknown"
    assert whole.totals.cost == pytest.approx(0.5 * 3 + 0.25)
    assert whole.totals.input_tokens == 50
    assert whole.totals.output_tokens == 100
    assert whole.totals.reasoning_tokens == 5
    assert whole.totals.cached_tokens == 3
    assert whole.totals.estimated_calls == 1
    assert sum(whole.latency) == 6
    assert whole.latency_sum_s == pytest.approx(0.04 + 0.9 + 1.2 + 2.5 + 0.2 + 200.0)


async def test_buckets_groups_and_filters(store: Store) -> None:
    await _fill(store)
    hours = await store.usage.rollup(bucket="hour")
    assert [(g.start, g.totals.calls) for g in hours] == [
        (T0, 2),
        (T0 + 3_600, 2),
        (T0 + DAY, 1),
        (T0 + DAY + 7_200, 1),
    ]
    days = await store.usage.rollup(bucket="day", by="model")
    assert [(g.start, g.key, g.totals.calls) for g in days] == [
        (T0, "Claude-Sonnet-4", 3),
        (T0, "GPT-4o", 1),
        (T0 + DAY, "GPT-4o", 1),  # biggest spender first inside a bucket
        (T0 + DAY, "Claude-Sonnet-4", 1),
    ]
    tiers = {g.key: g.totals.calls for g in await store.usage.rollup(by="tier")}
    assert tiers == {"(none)": 5, "3": 1}
    kinds = {g.key: g.totals.calls for g in await store.usage.rollup(by="error_kind")}
    assert kinds == {"(none)": 5, "rate_limit": 1}
    entry = {g.key for g in await store.usage.rollup(by="entry_point")}
    assert entry == {"library", "console", "mcp"}
    real = await store.usage.rollup(simulated=False)
    simulated = await store.usage.rollup(simulated=True, by="provider")
    assert real[0].totals.calls == 5
    assert [(g.key, g.totals.calls) for g in simulated] == [("openai", 1)]
    # since counts from the start of its hour; until is exclusive
    window = await store.usage.rollup(since=T0 + 3_650, until=T0 + DAY)
    assert window[0].totals.calls == 2


async def test_raw_queries_answered_from_rollups_agree(store: Store) -> None:
    await _fill(store)
    assert (await store.usage.totals(since=T0 + DAY)).calls == 2
    assert (await store.usage.totals(since=T0 + DAY, simulated=False)).calls == 1
    by_day = await store.usage.breakdown("day")
    assert [(g.key, g.totals.calls) for g in by_day] == [
        ("2023-11-14", 4),
        ("2023-11-15", 2),
    ]
    by_model = {g.key: g.totals.calls for g in await store.usage.breakdown("model")}
    assert by_model == {"Claude-Sonnet-4": 4, "GPT-4o": 2}
    # a filter the rollups cannot answer still counts the raw rows
    assert (await store.usage.totals(run_id="run-1")).calls == 1
    assert (await store.usage.totals(since=T0 + 3_750)).calls == 3


async def test_latency_percentiles_from_the_histogram(store: Store) -> None:
    for i in range(100):
        await store.usage.record(_rec(T0 + i, latency_s=(i + 1) / 100.0))  # 10 ms .. 1 s
    [group] = await store.usage.rollup()
    p50, p95 = group.percentile(0.5), group.percentile(0.95)
    assert p50 is not None
    assert p95 is not None
    assert 0.45 <= p50 <= 0.55
    assert 0.9 <= p95 <= 1.0
    assert percentile((), 0.5) is None


async def test_series_without_the_latency_histogram_keep_every_sum(store: Store) -> None:
    await _fill(store)
    full = await store.usage.rollup(bucket="day", by="model")
    lean = await store.usage.rollup(bucket="day", by="model", latency=False)
    assert [(g.start, g.key, g.totals) for g in lean] == [(g.start, g.key, g.totals) for g in full]
    assert all(g.latency == () for g in lean)
    assert lean[0].mean_latency_s == full[0].mean_latency_s


async def test_unknown_grouping_is_refused(store: Store) -> None:
    with pytest.raises(InvalidRequestError, match="cannot roll usage up by 'session'"):
        await store.usage.rollup(by="session")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="'hour' or 'day'"):
        await store.usage.rollup(bucket="week")  # type: ignore[arg-type]


async def test_migration_rolls_up_rows_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE _migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)"
    )
    for migration in MIGRATIONS:
        if migration.name == "usage_hourly":
            break
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO _migrations VALUES (?, ?, 0)", (migration.version, migration.name)
        )
    rows = [
        (T0 + 5, "GPT-4o", "ok", 0.5, 0.3, None),
        (T0 + 6, "GPT-4o", "error", None, 0.05, "timeout"),
        (T0 + 3_601, "GPT-4o", "ok", None, 9.0, None),
    ]
    conn.executemany(
        "INSERT INTO usage (ts, provider, backend, model, outcome, cost, latency_s, error_kind,"
        " input_tokens, output_tokens) VALUES (?, 'poe', 'openai', ?, ?, ?, ?, ?, 7, 3)",
        rows,
    )
    conn.close()
    store = open_store(f"sqlite:///{path}")
    try:
        hours = await store.usage.rollup(bucket="hour", by="error_kind")
        assert [(g.start, g.key, g.totals.calls) for g in hours] == [
            (T0, "(none)", 1),
            (T0, "timeout", 1),
            (T0 + 3_600, "(none)", 1),
        ]
        [whole] = await store.usage.rollup()
        assert whole.totals.cost == pytest.approx(0.5)
        assert whole.totals.unknown_cost_calls == 1
        assert whole.totals.input_tokens == 21
        # new rows add to the rolled-up ones
        await store.usage.record(_rec(T0 + 7, "GPT-4o"))
        [whole] = await store.usage.rollup()
        assert whole.totals.calls == 4
    finally:
        await store.aclose()
