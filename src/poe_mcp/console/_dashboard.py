"""The Dashboard page: tokens, cost, errors and latency over time, from the ledger's rollups.

Every figure comes from ``usage.rollup`` (hourly rollups kept on write, see
``poe_mcp.store._rollup``), so the page costs the same at ten rows or ten million: about a
dozen small queries over the hours shown. Real and simulated calls are never mixed: the page
shows one kind (real by default, simulated when the console runs on the simulator) and the
other kind's totals apart. Charts (uPlot) read the same numbers the tables show.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

from .. import _constants as C
from .._money import format_usd
from ..budget import BudgetLimits, start_of_utc_day
from ..errors import ConfigError
from ..store._rollup import Bucket, RollupBy, RollupGroup, hour_of
from ._inputs import short_label
from ._web import Routes, console_of, render

__all__ = ["routes"]

routes = Routes()

GROUPS = (
    ("model", "Model"),
    ("provider", "Provider"),
    ("entry_point", "Entry point"),
    ("tier", "Tier"),
)
SERIES_MAX = 8  # groups drawn one by one; the rest are summed as "other"


def _choice(value: str | None, allowed: tuple[str, ...], default: str) -> str:
    return value if value in allowed else default


def _row(group: RollupGroup) -> dict[str, Any]:
    t = group.totals
    return {
        "key": group.key,
        "label": short_label(str(group.key)),  # a 100,000-character model name fits the page
        "calls": t.calls,
        "errors": t.errors,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cost": t.cost,
        "cost_text": format_usd(t.cost),
        "unknown": t.unknown_cost_calls,
        "p50": group.percentile(0.5),
        "p95": group.percentile(0.95),
    }


def _chart(series: list[RollupGroup], starts: list[float]) -> dict[str, Any]:
    """Columns for uPlot: x (bucket starts) and one cost and token column per group."""
    spend: dict[str, float] = {}
    for g in series:
        spend[g.key or ""] = spend.get(g.key or "", 0.0) + g.totals.cost + g.totals.calls * 1e-12
    ranked = sorted(spend, key=lambda k: -spend[k])
    shown = ranked[:SERIES_MAX]
    names = shown + (["other"] if len(ranked) > SERIES_MAX else [])
    index = {s: i for i, s in enumerate(starts)}
    cost = {n: [0.0] * len(starts) for n in names}
    tokens = {n: [0] * len(starts) for n in names}
    for g in series:
        name = g.key or "" if (g.key or "") in shown else "other"
        i = index.get(g.start or 0.0)
        if i is None:
            continue
        cost[name][i] += g.totals.cost
        tokens[name][i] += g.totals.input_tokens + g.totals.output_tokens
    return {
        "x": starts,
        "names": [short_label(n) for n in names],
        "cost": [cost[n] for n in names],
        "tokens": [tokens[n] for n in names],
    }


def _budgets(settings: Any, today: RollupGroup | None) -> tuple[list[dict[str, Any]], str | None]:
    try:
        limits = BudgetLimits.from_settings(settings)
    except ConfigError as exc:
        return [], exc.message
    used_usd = today.totals.cost if today else 0.0
    used_tokens = (today.totals.input_tokens + today.totals.output_tokens) if today else 0
    rows = []
    for name, limit, used, text in (
        ("Today, USD", limits.daily_usd, used_usd, format_usd),
        ("Today, tokens", limits.daily_tokens, used_tokens, lambda v: f"{int(v):,}"),
    ):
        if limit is not None:
            share = min(1.0, used / limit) if limit else 1.0
            rows.append(
                {
                    "name": name,
                    "used": text(used),
                    "limit": text(limit),
                    "percent": round(share * 100, 1),
                }
            )
    for name, limit, text in (
        ("Per conversation, USD", limits.session_usd, format_usd),
        ("Per conversation, tokens", limits.session_tokens, lambda v: f"{int(v):,}"),
    ):
        if limit is not None:
            rows.append({"name": name, "used": None, "limit": text(limit), "percent": None})
    return rows, None


@routes.page("/dashboard")
async def dashboard(request: Request) -> Response:
    ctx = console_of(request).context
    q = request.query_params
    span = _choice(q.get("range"), tuple(C.CONSOLE_DASHBOARD_RANGES_H), "24h")
    hours = C.CONSOLE_DASHBOARD_RANGES_H[span]
    bucket = _choice(q.get("bucket"), ("hour", "day"), "hour" if hours <= 48 else "day")
    by = _choice(q.get("by"), tuple(g for g, _ in GROUPS), "model")
    now = time.time()
    until = hour_of(now) + C.ROLLUP_BUCKET_S
    since = float(until - hours * C.ROLLUP_BUCKET_S)
    step = C.ROLLUP_BUCKET_S if bucket == "hour" else 86_400
    first = since if bucket == "hour" else since - since % 86_400
    starts = [float(s) for s in range(int(first), int(until), step)]

    usage = (await ctx.store()).usage
    started = time.perf_counter()
    real = await usage.rollup(since=since, simulated=False)
    sim = await usage.rollup(since=since, simulated=True)
    # Real calls unless the console runs on the simulator or only simulated calls exist.
    default_view = "simulated" if ctx.simulated or (sim and not real) else "real"
    view = _choice(q.get("view"), ("real", "simulated"), default_view)
    simulated = view == "simulated"
    totals, other = (sim, real) if simulated else (real, sim)
    grouping = cast("RollupBy", by)
    series = await usage.rollup(
        since=since, bucket=cast("Bucket", bucket), by=grouping, simulated=simulated, latency=False
    )
    groups = await usage.rollup(since=since, by=grouping, simulated=simulated)
    errors = await usage.rollup(since=since, by="error_kind", simulated=simulated)
    today = await usage.rollup(since=start_of_utc_day(now), simulated=simulated)
    query_ms = (time.perf_counter() - started) * 1000
    budgets, budget_error = _budgets(ctx.configured, today[0] if today else None)
    balance, balance_why = await ctx.balance()
    total = _row(totals[0]) if totals else None
    chart = _chart(series, starts)
    return await render(
        request,
        "dashboard.html",
        page_name="dashboard",
        span=span,
        spans=tuple(C.CONSOLE_DASHBOARD_RANGES_H),
        bucket=bucket,
        by=by,
        by_label=dict(GROUPS)[by],
        groups_choices=GROUPS,
        view=view,
        total=total,
        other=_row(other[0]) if other else None,
        groups=[_row(g) for g in groups],
        errors=[_row(g) for g in errors if g.key != "(none)"],
        budgets=budgets,
        budget_error=budget_error,
        balance=balance,
        balance_why=balance_why,
        chart_json=json.dumps(chart),
        query_ms=query_ms,
        has_data=bool(totals),
    )
