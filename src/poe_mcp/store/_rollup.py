"""Ledger rollups: per hour and dimension, maintained on write, so dashboards never scan.

A busy key writes hundreds of thousands of ledger rows a day; totals and breakdowns over the raw
table grow with the ledger (~220 ms for totals, ~550 ms for a breakdown at 1,000,000 rows). Each
store therefore also keeps *cells*: one per UTC hour, dimension, value and simulated flag, for
the dimensions :data:`DIMENSIONS` (model, provider, tier, entry point, error kind). A cell holds
the sums :data:`SUMS` (calls, errors, tokens, cost of known prices, calls of unknown price,
estimated calls, latency sum) and a latency histogram (:data:`LATENCY_EDGES_MS`, for p50/p95).

Each ledger row adds to one cell per dimension (its model's, its provider's...), not to one
cell of every combination: the dashboard groups by one dimension at a time, and the cross
product of ten models, four entry points, five tiers and five error kinds would make thousands
of cells per hour where this keeps a few dozen. A query reads the cells of one dimension over
the hours it shows (totals read the provider dimension, which every row has exactly once), so
its time grows with the range, not with the ledger. Cells are written in the same transaction
(SQLite) or script (Redis) as the ledger row, so they never disagree with it; SQLite migration
8 rolled up the rows written before it.

Backends: SQLite aggregates cells in SQL (:func:`sqlite_query`); the memory store holds cells
as ``{(hour, dimension, value, simulated): sums}`` and aggregates here (:func:`summarise`);
Redis keeps them in hashes and aggregates in a script (``store._rollup_redis``). Each answers a
:class:`RollupQuery`, checked once when it is made.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from .. import _constants as C
from ..errors import InvalidRequestError
from ._common import sql_where
from .base import UsageRecord, UsageTotals

__all__ = [
    "DIMENSIONS",
    "LATENCY_EDGES_MS",
    "METRICS",
    "Bucket",
    "Cell",
    "RollupBy",
    "RollupGroup",
    "RollupQuery",
    "cells_of",
    "fold",
    "hour_of",
    "latency_bucket",
    "percentile",
    "sqlite_query",
    "sqlite_upsert",
    "summarise",
]

RollupBy = Literal["model", "provider", "tier", "entry_point", "simulated", "error_kind"]
Bucket = Literal["hour", "day"]
DIMENSIONS: tuple[str, ...] = ("model", "provider", "tier", "entry_point", "error_kind")
GROUPINGS: tuple[str, ...] = (*DIMENSIONS, "simulated")
TOTALS_DIMENSION = "provider"  # every row has exactly one provider: its cells sum to the totals
LATENCY_EDGES_MS: tuple[int, ...] = tuple(C.ROLLUP_LATENCY_EDGES_MS)
LATENCY_COLUMNS: tuple[str, ...] = tuple(f"lat_{i}" for i in range(len(LATENCY_EDGES_MS) + 1))
SUMS: tuple[str, ...] = (
    "calls",
    "errors",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cost",
    "unknown_cost_calls",
    "estimated_calls",
    "latency_sum",
)
METRICS: tuple[str, ...] = SUMS + LATENCY_COLUMNS
_LAT0 = len(SUMS)
NONE_KEY = "(none)"  # value of calls outside any run (tier) and of successful calls (error kind)

Cell = tuple[int, str, str, int]  # (hour start, dimension, value, simulated 0/1)


def hour_of(ts: float) -> int:
    """The start (epoch seconds, UTC) of the hour ``ts`` falls in."""
    return int(ts // C.ROLLUP_BUCKET_S) * C.ROLLUP_BUCKET_S


def latency_bucket(latency_s: float) -> int:
    """Index of the histogram bucket of a latency (the last one holds everything slower)."""
    return bisect.bisect_left(LATENCY_EDGES_MS, latency_s * 1000.0)


def values_of(record: UsageRecord) -> list[float]:
    """What one ledger row adds to each of its cells (:data:`METRICS` order)."""
    ok = record.outcome == "ok"
    values: list[float] = [0.0] * len(METRICS)
    values[0] = 1
    values[1] = 0 if ok else 1
    values[2] = record.input_tokens
    values[3] = record.output_tokens
    values[4] = record.reasoning_tokens
    values[5] = record.cached_tokens
    values[6] = record.cost or 0.0
    values[7] = 1 if ok and record.cost is None else 0
    values[8] = 1 if record.estimated else 0
    values[9] = max(record.latency_s, 0.0)
    values[_LAT0 + latency_bucket(record.latency_s)] = 1
    return values


def dimension_values(record: UsageRecord) -> tuple[str, ...]:
    """The row's value in each of :data:`DIMENSIONS`, as groups show them."""
    return (
        record.model,
        record.provider,
        NONE_KEY if record.tier is None else str(record.tier),
        record.entry_point,
        NONE_KEY if record.outcome == "ok" else (record.error_kind or "unknown"),
    )


def cells_of(record: UsageRecord) -> tuple[list[Cell], list[float]]:
    """The cells (one per dimension) a ledger row adds to, and what it adds to each."""
    hour, simulated = hour_of(record.ts), int(bool(record.simulated))
    cells = [
        (hour, dim, value, simulated)
        for dim, value in zip(DIMENSIONS, dimension_values(record), strict=True)
    ]
    return cells, values_of(record)


def fold(records: Iterable[UsageRecord]) -> dict[Cell, list[float]]:
    """A batch of ledger rows summed per cell (one write per cell instead of per row)."""
    out: dict[Cell, list[float]] = {}
    for record in records:
        cells, values = cells_of(record)
        for cell in cells:
            current = out.get(cell)
            if current is None:
                out[cell] = list(values)
            else:
                for i, v in enumerate(values):
                    current[i] += v
    return out


@dataclass(frozen=True, slots=True)
class RollupGroup:
    """One group of a rollup query.

    Attributes:
        start: the bucket's start (epoch seconds, UTC), or None when not bucketed.
        key: the group's value (a model, a provider, ``"3"`` for tier 3, ``"(none)"``,
            ``"real"``/``"simulated"``), or None when not grouped.
        totals: the sums, as the raw ledger's ``totals`` gives them.
        latency: calls per latency bucket (upper edges :data:`LATENCY_EDGES_MS`, then +inf);
            empty when the query asked for no histogram (``latency=False``).
        latency_sum_s: summed latency of the calls.
    """

    start: float | None
    key: str | None
    totals: UsageTotals
    latency: tuple[int, ...]
    latency_sum_s: float

    def percentile(self, q: float) -> float | None:
        """The ``q`` quantile (0..1) of latency in seconds, from the histogram; None if empty."""
        return percentile(self.latency, q)

    @property
    def mean_latency_s(self) -> float | None:
        calls = self.totals.calls
        return self.latency_sum_s / calls if calls else None


def percentile(histogram: tuple[int, ...] | list[int], q: float) -> float | None:
    """The ``q`` quantile in seconds, interpolated linearly inside its bucket.

    The open last bucket reports its lower edge (the histogram cannot say more).
    """
    total = sum(histogram)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for i, count in enumerate(histogram):
        if count and seen + count >= rank:
            low = LATENCY_EDGES_MS[i - 1] if i > 0 else 0
            if i >= len(LATENCY_EDGES_MS):
                return low / 1000.0
            high = LATENCY_EDGES_MS[i]
            fraction = (rank - seen) / count
            return (low + (high - low) * fraction) / 1000.0
        seen += count
    return LATENCY_EDGES_MS[-1] / 1000.0


@dataclass(frozen=True, slots=True)
class RollupQuery:
    """One question to the rollups (see :meth:`~poe_mcp.store.base.UsageLedger.rollup`).

    Raises:
        InvalidRequestError: on creation, for a grouping or bucket the rollups do not keep.
    """

    since: float | None = None
    until: float | None = None
    bucket: Bucket | None = None
    by: RollupBy | None = None
    simulated: bool | None = None
    latency: bool = True

    def __post_init__(self) -> None:
        if self.by is not None and self.by not in GROUPINGS:
            raise InvalidRequestError(
                f"cannot roll usage up by {self.by!r}: use one of {', '.join(GROUPINGS)}"
            )
        if self.bucket is not None and self.bucket not in ("hour", "day"):
            raise InvalidRequestError(f"rollup buckets are 'hour' or 'day', not {self.bucket!r}")

    @property
    def dimension(self) -> str:
        """The dimension whose cells answer it (totals and ``simulated``: the provider's)."""
        return self.by if self.by is not None and self.by != "simulated" else TOTALS_DIMENSION


def _bucket_start(hour: int, bucket: Bucket | None) -> float | None:
    if bucket is None:
        return None
    if bucket == "day":
        return float(hour - hour % 86_400)
    return float(hour)


# Long series build thousands of groups per query; a frozen dataclass's __init__ sets each
# field through object.__setattr__, so these fill the slots directly (same objects, ~2x faster).
_NEW = object.__new__
_T_CALLS, _T_ERRORS, _T_IN, _T_OUT, _T_COST, _T_UNKNOWN, _T_EST, _T_REASON, _T_CACHED = (
    getattr(UsageTotals, f.name).__set__ for f in fields(UsageTotals)
)
_G_START, _G_KEY, _G_TOTALS, _G_LATENCY, _G_LATENCY_SUM = (
    getattr(RollupGroup, f.name).__set__ for f in fields(RollupGroup)
)


def _group(
    start: float | None,
    key: str | None,
    counts: tuple[Any, ...],
    cost: float,
    latency: tuple[int, ...],
    latency_sum: float,
) -> RollupGroup:
    """A group built slot by slot.

    ``counts``: calls, errors, input, output, reasoning and cached tokens, unknown-cost calls,
    estimated calls (each already an int).
    """
    totals = _NEW(UsageTotals)
    _T_CALLS(totals, counts[0])
    _T_ERRORS(totals, counts[1])
    _T_IN(totals, counts[2])
    _T_OUT(totals, counts[3])
    _T_REASON(totals, counts[4])
    _T_CACHED(totals, counts[5])
    _T_UNKNOWN(totals, counts[6])
    _T_EST(totals, counts[7])
    _T_COST(totals, cost)
    group: RollupGroup = _NEW(RollupGroup)
    _G_START(group, start)
    _G_KEY(group, key)
    _G_TOTALS(group, totals)
    _G_LATENCY(group, latency)
    _G_LATENCY_SUM(group, latency_sum)
    return group


def group_of(start: float | None, key: str | None, sums: list[float]) -> RollupGroup:
    """A :class:`RollupGroup` from summed :data:`METRICS` values (or only :data:`SUMS`).

    Args:
        start: the bucket's start, or None.
        key: the group's value, or None.
        sums: the summed values, in :data:`METRICS` order (the histogram may be left out).

    Returns:
        The group.
    """
    i = int
    counts = (
        i(sums[0]), i(sums[1]), i(sums[2]), i(sums[3]), i(sums[4]), i(sums[5]),
        i(sums[7]), i(sums[8]),
    )  # fmt: skip
    latency = tuple([i(v) for v in sums[_LAT0:]])
    return _group(start, key, counts, float(sums[6]), latency, float(sums[9]))


def summarise(
    cells: Mapping[Cell, list[float]] | Iterable[tuple[Cell, list[float]]], q: RollupQuery
) -> list[RollupGroup]:
    """Aggregate cells (the memory store); the same answer SQLite gives in SQL."""
    dimension, by = q.dimension, q.by
    width = len(METRICS) if q.latency else len(SUMS)
    low = hour_of(q.since) if q.since is not None else -math.inf
    high = q.until if q.until is not None else math.inf
    items = cells.items() if isinstance(cells, Mapping) else cells
    sums: dict[tuple[float | None, str | None], list[float]] = {}
    for (hour, dim, value, sim), values in items:
        if dim != dimension or hour < low or hour >= high:
            continue
        if q.simulated is not None and bool(sim) != q.simulated:
            continue
        key: str | None = None
        if by == "simulated":
            key = "simulated" if sim else "real"
        elif by is not None:
            key = value
        group = (_bucket_start(hour, q.bucket), key)
        current = sums.get(group)
        if current is None:
            sums[group] = list(values[:width])
        else:
            for i in range(width):
                current[i] += values[i]
    return sort_rollup([group_of(s, k, v) for (s, k), v in sums.items()])


def sort_rollup(groups: list[RollupGroup]) -> list[RollupGroup]:
    """Buckets in time order; inside one, biggest spender first, then busiest, then by key."""
    return sorted(
        groups,
        key=lambda g: (g.start or 0.0, -g.totals.cost, -g.totals.calls, g.key or ""),
    )


# --- SQLite ----------------------------------------------------------------------------------

TABLE = "usage_hourly"
_KEY_COLUMNS = ("dim", "hour", "value", "simulated")


def create_table_sql() -> str:
    """The rollup table (SQLite migration 8): one row per cell, found by dimension then hour."""
    metrics = ",\n".join(
        f"    {name} {'REAL' if name in ('cost', 'latency_sum') else 'INTEGER'} NOT NULL DEFAULT 0"
        for name in METRICS
    )
    return (
        f"CREATE TABLE {TABLE} (\n"
        "    dim TEXT NOT NULL,\n"
        "    hour INTEGER NOT NULL,\n"
        "    value TEXT NOT NULL,\n"
        "    simulated INTEGER NOT NULL,\n"
        f"{metrics},\n"
        f"    PRIMARY KEY ({', '.join(_KEY_COLUMNS)})\n"
        ") WITHOUT ROWID"
    )


_RAW_VALUES: dict[str, str] = {
    "model": "model",
    "provider": "provider",
    "tier": f"COALESCE(CAST(tier AS TEXT), '{NONE_KEY}')",
    "entry_point": "entry_point",
    "error_kind": f"CASE WHEN outcome = 'ok' THEN '{NONE_KEY}' "
    "ELSE COALESCE(error_kind, 'unknown') END",
}


def backfill_sql() -> list[str]:
    """Roll up the rows the ledger already holds, one statement per dimension (migration 8)."""
    whens = " ".join(
        f"WHEN latency_s * 1000.0 <= {edge} THEN {i}" for i, edge in enumerate(LATENCY_EDGES_MS)
    )
    bucket = f"CASE {whens} ELSE {len(LATENCY_EDGES_MS)} END"
    lat = ", ".join(f"SUM(b = {i})" for i in range(len(LATENCY_COLUMNS)))
    hour = f"CAST(ts / {C.ROLLUP_BUCKET_S} AS INTEGER) * {C.ROLLUP_BUCKET_S}"
    return [
        f"INSERT INTO {TABLE} ({', '.join(_KEY_COLUMNS)}, {', '.join(METRICS)}) "  # noqa: S608
        f"SELECT '{dim}', {hour} AS h, {expr} AS v, simulated AS s, "
        "COUNT(*), SUM(outcome != 'ok'), SUM(input_tokens), SUM(output_tokens), "
        "SUM(reasoning_tokens), SUM(cached_tokens), TOTAL(cost), "
        "SUM(outcome = 'ok' AND cost IS NULL), SUM(estimated), TOTAL(MAX(latency_s, 0)), "
        f"{lat} FROM (SELECT *, {bucket} AS b FROM usage) GROUP BY h, v, s"
        for dim, expr in _RAW_VALUES.items()
    ]


def sqlite_upsert() -> str:
    """Add one folded cell: ``(dim, hour, value, simulated, *values)`` parameters."""
    columns = (*_KEY_COLUMNS, *METRICS)
    updates = ", ".join(f"{m} = {m} + excluded.{m}" for m in METRICS)
    return (
        f"INSERT INTO {TABLE} ({', '.join(columns)}) "  # noqa: S608 - names are constants
        f"VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT ({', '.join(_KEY_COLUMNS)}) DO UPDATE SET {updates}"
    )


def upsert_rows(cells: Mapping[Cell, list[float]]) -> list[tuple[Any, ...]]:
    return [(dim, hour, value, sim, *values) for (hour, dim, value, sim), values in cells.items()]


_BUCKET_STARTS = {None: "NULL", "hour": "hour", "day": "hour - hour % 86400"}


def sqlite_query(q: RollupQuery) -> tuple[str, tuple[Any, ...]]:
    """SQL (and parameters) answering :func:`summarise`'s question from the rollup table."""
    key = "NULL"
    if q.by == "simulated":
        key = "CASE WHEN simulated THEN 'simulated' ELSE 'real' END"
    elif q.by is not None:
        key = "value"
    sums = ", ".join(
        f"TOTAL({m})" if m in ("cost", "latency_sum") else f"SUM({m})"
        for m in (METRICS if q.latency else SUMS)
    )
    where, args = sql_where(
        ("dim = ?", q.dimension),
        ("hour >= ?", None if q.since is None else hour_of(q.since)),
        ("hour < ?", q.until),
        ("simulated = ?", None if q.simulated is None else int(q.simulated)),
    )
    sql = (
        f"SELECT {_BUCKET_STARTS[q.bucket]} AS b, {key} AS k, {sums} "  # noqa: S608
        f"FROM {TABLE}{where} GROUP BY b, k"
    )
    return sql, args


def from_sql_rows(rows: Iterable[tuple[Any, ...]]) -> list[RollupGroup]:
    """Groups from :func:`sqlite_query` rows (``b, k, *sums``).

    Built slot by slot: long series return thousands of rows and this loop is most of their cost.
    """
    groups: list[RollupGroup] = []
    append = groups.append
    lat0 = _LAT0 + 2
    group = _group
    for r in rows:
        if not r[2]:
            continue
        start = None if r[0] is None else float(r[0])
        append(group(start, r[1], r[2:8] + r[9:11], r[8], r[lat0:], r[11]))
    return sort_rollup(groups)
