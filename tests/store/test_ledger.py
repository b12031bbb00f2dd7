"""The usage ledger: totals, breakdowns, unknown prices flagged, prompts only when given."""

from __future__ import annotations

import time

import pytest

from poe_mcp.errors import InvalidRequestError
from poe_mcp.store.base import Store, UsageRecord

DAY = 86_400.0


def rec(**kw: object) -> UsageRecord:
    base: dict[str, object] = {
        "ts": time.time(),
        "provider": "poe",
        "backend": "openai",
        "model": "GPT-4.1",
        "outcome": "ok",
        "input_tokens": 10,
        "output_tokens": 5,
        "cost": 0.25,
    }
    base.update(kw)
    return UsageRecord(**base)  # type: ignore[arg-type]


async def test_totals_count_errors_and_flag_unknown_prices(store: Store) -> None:
    await store.usage.record(rec())
    await store.usage.record(rec(model="Assistant", cost=None))  # price unknown
    await store.usage.record(rec(outcome="error", error_kind="rate_limit", cost=None,
                                 input_tokens=0, output_tokens=0))  # fmt: skip
    await store.usage.record(rec(estimated=True, backend="legacy", cost=0.5))
    t = await store.usage.totals()
    assert t.calls == 4
    assert t.errors == 1
    assert t.input_tokens == 30
    assert t.output_tokens == 15
    assert t.cost == pytest.approx(0.75)
    assert t.unknown_cost_calls == 1  # the failed call is an error, not an unknown price
    assert t.estimated_calls == 1


async def test_empty_ledger_totals_are_zero(store: Store) -> None:
    t = await store.usage.totals()
    assert (t.calls, t.cost, t.unknown_cost_calls) == (0, 0.0, 0)
    assert await store.usage.breakdown("model") == []
    assert await store.usage.recent() == []


async def test_since_and_session_filters(store: Store) -> None:
    now = time.time()
    await store.usage.record(rec(ts=now - 2 * DAY, session_id="a"))
    await store.usage.record(rec(ts=now - 60, session_id="a"))
    await store.usage.record(rec(ts=now - 30, session_id="b"))
    assert (await store.usage.totals(since=now - DAY)).calls == 2
    assert (await store.usage.totals(session_id="a")).calls == 2
    assert (await store.usage.totals(since=now - DAY, session_id="a")).calls == 1


async def test_breakdowns(store: Store) -> None:
    now = time.time()
    await store.usage.record(rec(model="GPT-4.1", cost=1.0, session_id="s1"))
    await store.usage.record(rec(model="GPT-4.1", cost=1.0))
    await store.usage.record(rec(model="Claude-Sonnet-4", cost=3.0, session_id="s1"))
    await store.usage.record(rec(model="Assistant", cost=None, provider="openai"))
    await store.usage.record(rec(ts=now - 3 * DAY, model="Grok-4", cost=0.5))

    by_model = await store.usage.breakdown("model")
    assert [g.key for g in by_model] == ["Claude-Sonnet-4", "GPT-4.1", "Grok-4", "Assistant"]
    assistant = by_model[-1].totals
    assert (assistant.calls, assistant.cost, assistant.unknown_cost_calls) == (1, 0.0, 1)

    by_session = {g.key: g.totals.calls for g in await store.usage.breakdown("session")}
    assert by_session == {"s1": 2, "(none)": 3}

    by_provider = {g.key: g.totals.calls for g in await store.usage.breakdown("provider")}
    assert by_provider == {"poe": 4, "openai": 1}

    by_day = await store.usage.breakdown("day")
    assert [g.totals.calls for g in by_day] == [1, 4]  # oldest day first
    assert by_day[1].key == time.strftime("%Y-%m-%d", time.gmtime(now))

    recent_only = await store.usage.breakdown("model", since=now - DAY)
    assert "Grok-4" not in [g.key for g in recent_only]


async def test_bad_group_is_refused(store: Store) -> None:
    with pytest.raises(InvalidRequestError, match="cannot group usage by"):
        await store.usage.breakdown("colour")  # type: ignore[arg-type]


async def test_recent_newest_first_with_every_field(store: Store) -> None:
    first = rec(prompt=None, request_id="req-1")
    full = rec(
        model="Claude-Sonnet-4",
        session_id="s9",
        input_tokens=123,
        output_tokens=45,
        estimated=True,
        cost=None,
        latency_s=1.5,
        outcome="error",
        error_kind="timeout",
        request_id="req-2",
        entry_point="mcp",
        prompt="what is 2+2?",
        backend="legacy",
    )
    await store.usage.record(first)
    await store.usage.record(full)
    got = await store.usage.recent(limit=10)
    assert got == [full, first]
    assert got[1].prompt is None
    assert len(await store.usage.recent(limit=1)) == 1
