"""Pieces every store backend shares: ledger aggregation, day keys, cleaning, SQL filters.

The SQLite store aggregates in SQL; the memory and Redis stores (backends without a query engine
over raw rows) aggregate here, so the rules (unknown prices flagged, never added as 0) live in
one place.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import _constants as C
from .._sanitize import for_storage
from .base import GroupBy, Message, UsageGroup, UsageRecord, UsageTotals

if TYPE_CHECKING:
    from ._rollup import RollupBy

__all__ = [
    "GROUPS",
    "NO_SESSION",
    "ROLLUP_GROUPS",
    "RowFilter",
    "aggregate",
    "day_key",
    "group_key",
    "group_records",
    "sort_groups",
    "sql_where",
    "storable_messages",
    "storable_record",
    "whole_hours",
]

GROUPS = ("model", "session", "day", "provider", "tier", "entry_point")
NO_SESSION = "(none)"  # breakdown key of calls made outside any session
# Breakdowns the hourly rollups answer (by session, and per run, need the raw rows).
ROLLUP_GROUPS: dict[str, RollupBy | None] = {
    "model": "model",
    "provider": "provider",
    "tier": "tier",
    "entry_point": "entry_point",
    "day": None,  # days are buckets
}


def day_key(ts: float) -> str:
    """The UTC calendar day of a timestamp (budgets and breakdowns count days in UTC)."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def group_key(record: UsageRecord, by: GroupBy) -> str:
    if by == "model":
        return record.model
    if by == "provider":
        return record.provider
    if by == "session":
        return record.session_id or NO_SESSION
    if by == "tier":
        return NO_SESSION if record.tier is None else str(record.tier)
    if by == "entry_point":
        return record.entry_point
    return day_key(record.ts)


def aggregate(records: Iterable[UsageRecord]) -> UsageTotals:
    """Totals over ``records``: cost sums known prices only; unknown ones are counted apart."""
    calls = errors = tokens_in = tokens_out = unknown = estimated = reasoning = cached = 0
    cost = 0.0
    for r in records:
        calls += 1
        tokens_in += r.input_tokens
        tokens_out += r.output_tokens
        reasoning += r.reasoning_tokens
        cached += r.cached_tokens
        if r.outcome == "error":
            errors += 1
        if r.cost is not None:
            cost += r.cost
        elif r.outcome == "ok":
            unknown += 1
        if r.estimated:
            estimated += 1
    return UsageTotals(
        calls=calls,
        errors=errors,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost=cost,
        unknown_cost_calls=unknown,
        estimated_calls=estimated,
        reasoning_tokens=reasoning,
        cached_tokens=cached,
    )


def sort_groups(groups: list[UsageGroup], by: GroupBy) -> list[UsageGroup]:
    """Days in calendar order; everything else biggest spender first, then busiest."""
    if by == "day":
        return sorted(groups, key=lambda g: g.key)
    return sorted(groups, key=lambda g: (-g.totals.cost, -g.totals.calls, g.key))


def group_records(records: Iterable[UsageRecord], by: GroupBy | None) -> list[UsageGroup]:
    """The totals of ``records`` per group of ``by`` (unsorted); one group (key ``""``) for
    None, none when there are no records."""
    buckets: dict[str, list[UsageRecord]] = {}
    for r in records:
        buckets.setdefault("" if by is None else group_key(r, by), []).append(r)
    return [UsageGroup(key, aggregate(rs)) for key, rs in buckets.items()]


@dataclass(frozen=True, slots=True)
class RowFilter:
    """Which ledger rows a query over the raw rows counts: all the filters given (None: any)."""

    since: float | None = None
    session_id: str | None = None
    run_id: str | None = None
    simulated: bool | None = None

    def select(self, records: Iterable[UsageRecord]) -> list[UsageRecord]:
        """The records that pass (backends without a query engine)."""
        return [
            r
            for r in records
            if (self.since is None or r.ts >= self.since)
            and (self.session_id is None or r.session_id == self.session_id)
            and (self.run_id is None or r.run_id == self.run_id)
            and (self.simulated is None or r.simulated == self.simulated)
        ]

    def sql(self) -> tuple[str, tuple[Any, ...]]:
        """The same as a ``WHERE`` clause over the ``usage`` table, and its parameters."""
        return sql_where(
            ("simulated = ?", None if self.simulated is None else int(self.simulated)),
            ("run_id = ?", self.run_id),
            ("session_id = ?", self.session_id),
            ("ts >= ?", self.since),
        )


def whole_hours(since: float | None) -> bool:
    """Whether a query from ``since`` can be answered from hourly rollups exactly."""
    return since is None or since % C.ROLLUP_BUCKET_S == 0


def sql_where(*conditions: tuple[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """`` WHERE a AND b`` (or nothing) and its parameters, from ``("column = ?", value)``
    pairs; a pair whose value is None is left out."""
    kept = [(clause, value) for clause, value in conditions if value is not None]
    where = " WHERE " + " AND ".join(clause for clause, _ in kept) if kept else ""
    return where, tuple(value for _, value in kept)


def storable_messages(messages: list[Message]) -> list[Message]:
    """What every store keeps of a session's messages: no key or bearer token, no lone
    surrogate (UTF-8 stores refuse them; the answer was paid for and must be kept)."""
    return [for_storage(m) for m in messages]


def storable_record(record: UsageRecord) -> UsageRecord:
    """A ledger row with the same cleaning applied to its text fields (the prompt, when
    prompt logging is on, and whatever a provider named the model or request)."""
    changes: dict[str, Any] = {}
    for item in dataclasses.fields(record):
        value = getattr(record, item.name)
        if isinstance(value, str):
            cleaned = for_storage(value)
            if cleaned != value:
                changes[item.name] = cleaned
    return dataclasses.replace(record, **changes) if changes else record
