"""Pieces every store backend shares: ledger aggregation, day keys, message copying.

The SQLite store aggregates in SQL; the memory store (and any backend without a query engine)
aggregates here, so the rules (unknown prices flagged, never added as 0) live in one place.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Iterable
from typing import Any

from .._sanitize import for_storage
from ..errors import InvalidRequestError
from .base import GroupBy, Message, UsageGroup, UsageRecord, UsageTotals

__all__ = [
    "GROUPS",
    "NO_SESSION",
    "aggregate",
    "breakdown",
    "copy_messages",
    "count_user_turns",
    "day_key",
    "group_key",
    "sort_groups",
    "storable_messages",
    "storable_record",
]

GROUPS = ("model", "session", "day", "provider", "tier", "entry_point")
NO_SESSION = "(none)"  # breakdown key of calls made outside any session


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


def breakdown(records: Iterable[UsageRecord], by: GroupBy) -> list[UsageGroup]:
    if by not in GROUPS:
        raise InvalidRequestError(f"cannot group usage by {by!r}: use one of {', '.join(GROUPS)}")
    buckets: dict[str, list[UsageRecord]] = {}
    for r in records:
        buckets.setdefault(group_key(r, by), []).append(r)
    groups = [UsageGroup(key, aggregate(rs)) for key, rs in buckets.items()]
    return sort_groups(groups, by)


def copy_messages(messages: list[Message]) -> list[Message]:
    """A deep copy, so callers mutating a returned history never change the stored one."""
    return copy.deepcopy(messages)


def count_user_turns(messages: Iterable[dict[str, Any]]) -> int:
    return sum(1 for m in messages if m.get("role") == "user")


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
