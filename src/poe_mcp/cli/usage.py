"""``poe-mcp usage``: what calls cost, from the usage ledger (thin, over the store)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..config import Settings
    from ..store.base import UsageGroup, UsageTotals

__all__ = ["parse_since", "usage"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_since(value: str, now: float | None = None, *, option: str = "--since") -> float:
    """``24h``, ``7d``, ``30m``, ``2w``, ``today`` (since 00:00 UTC) or an ISO date/time.

    ISO times without a zone are read as UTC, like the ledger's day breakdown. ``option``
    names the option in the error (``--until``, ``--older-than``).
    """
    from ..budget import start_of_utc_day

    now = time.time() if now is None else now
    text = value.strip()
    if text.lower() == "today":
        return start_of_utc_day(now)
    match = _DURATION.match(text)
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2).lower()]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: use a duration (30m, 24h, 7d, 2w), 'today', or an ISO date (2026-01-31)",
            param_hint=option,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@click.command()
@click.option("--since", help="Only calls since: 30m, 24h, 7d, 2w, today, or an ISO date (UTC).")
@click.option(
    "--by",
    type=click.Choice(["model", "session", "day", "provider", "tier", "entry_point"]),
    default="model",
    show_default=True,
    help="Break the totals down by this.",
)
@click.option("--recent", type=int, default=0, help="Also list the last N calls.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@click.option("--balance", is_flag=True, help="Also show the Poe account's point balance.")
@click.option("--store", "store_url", help="Store URL (default: POE_MCP_STORE or the data dir).")
@click.option(
    "--include-simulated",
    is_flag=True,
    help="Also count calls the built-in simulator answered (by default only real calls count).",
)
@click.option(
    "--simulated",
    "simulated_only",
    is_flag=True,
    help="Only simulated calls, from the store `serve --simulate` uses "
    "(<data dir>/simulator/poe-mcp.db unless --store names one).",
)
def usage(
    since: str | None,
    by: str,
    recent: int,
    as_json: bool,
    balance: bool,
    store_url: str | None,
    include_simulated: bool,
    simulated_only: bool,
) -> None:
    """Totals and a breakdown of every recorded call (library, CLI and MCP server).

    Calls whose price is unknown are counted and flagged ("+ N unpriced"), never added as $0.
    Days are UTC days. Calls the built-in simulator answered are recorded as simulated and left
    out unless --include-simulated (or --simulated for them alone).

    \b
    Examples:
      poe-mcp usage --since 7d --by day
      poe-mcp usage --by session --json
      poe-mcp usage --balance
    """
    start = parse_since(since) if since else None
    if include_simulated and simulated_only:
        raise click.UsageError("--include-simulated and --simulated exclude each other")
    world: bool | None = True if simulated_only else None if include_simulated else False
    asyncio.run(_run(start, by, recent, as_json, balance, store_url, world))


async def _run(
    since: float | None,
    by: Any,
    recent: int,
    as_json: bool,
    balance: bool,
    store_url: str | None,
    simulated: bool | None = False,
) -> None:
    from ..config import Settings
    from ..store import open_store

    settings = Settings.load(store=store_url)
    if simulated and store_url is None:
        from .serve import simulator_store_url

        settings = settings.with_(store=simulator_store_url(settings))
    store = open_store(settings.store_url)
    try:
        totals = await store.usage.totals(since=since, simulated=simulated)
        groups = await store.usage.breakdown(by, since=since, simulated=simulated)
        calls = await store.usage.recent(recent, simulated=simulated) if recent > 0 else []
        left_out = (
            await store.usage.totals(since=since, simulated=True) if simulated is False else None
        )
    finally:
        await store.aclose()
    points = await _balance(settings) if balance else None

    if as_json:
        payload: dict[str, Any] = {
            "since": since,
            "totals": asdict(totals),
            "by": by,
            "groups": [{"key": g.key, **asdict(g.totals)} for g in groups],
            "simulated": {True: "only", False: "excluded", None: "included"}[simulated],
        }
        if recent > 0:
            payload["recent"] = [asdict(r) for r in calls]
        if balance:
            payload["balance_points"] = points
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    click.echo(_report(since, totals, by, groups))
    if left_out is not None and left_out.calls:
        click.echo(
            f"({_calls(left_out.calls)} answered by the simulator not counted; "
            "--include-simulated adds them)",
            err=True,
        )
    if calls:
        click.echo("\n" + _recent_table(calls))
    if balance:
        click.echo(f"\nPoe point balance: {points:,}")


async def _balance(settings: Settings) -> int:
    """The point balance, through the client (its connection, retries and rate limit)."""
    from ..client import AsyncPoeClient

    async with AsyncPoeClient(
        settings=settings, store=False, catalog=False, entry_point="cli"
    ) as client:
        return await client.balance()


def _report(since: float | None, totals: UsageTotals, by: str, groups: list[UsageGroup]) -> str:
    from ._format import money, table, utc

    when = f"since {utc(since)}" if since is not None else "all time"
    lines = [
        f"Usage ({when}): {totals.calls:,} calls, {totals.errors:,} failed; "
        f"{totals.input_tokens:,} tokens in, {totals.output_tokens:,} out; "
        f"cost {money(totals.cost, totals.unknown_cost_calls)}"
    ]
    if totals.unknown_cost_calls:
        lines.append(
            f"  {_calls(totals.unknown_cost_calls)} without a known price, not in the cost "
            "(set prices under [prices] in config.toml)"
        )
    if totals.estimated_calls:
        lines.append(f"  {_calls(totals.estimated_calls)} with estimated token counts")
    if totals.cached_tokens or totals.reasoning_tokens:
        lines.append(
            f"  of these, {totals.cached_tokens:,} input tokens came from the prompt cache and "
            f"{totals.reasoning_tokens:,} output tokens were reasoning"
        )
    if not groups:
        return "\n".join([*lines, "", "no calls recorded"])
    # The cache and reasoning columns appear once any call reported such tokens.
    details = any(g.totals.cached_tokens or g.totals.reasoning_tokens for g in groups)
    rows = [
        [
            g.key,
            f"{g.totals.calls:,}",
            f"{g.totals.errors:,}",
            f"{g.totals.input_tokens:,}",
            f"{g.totals.output_tokens:,}",
            *([f"{g.totals.cached_tokens:,}", f"{g.totals.reasoning_tokens:,}"] * details),
            money(g.totals.cost, g.totals.unknown_cost_calls),
        ]
        for g in groups
    ]
    headers = [by.upper(), "CALLS", "FAILED", "TOKENS IN", "TOKENS OUT"]
    headers += ["CACHED IN", "REASONING"] * details + ["COST"]
    right = {1, 2, 3, 4, 5, 6} if details else {1, 2, 3, 4}
    return "\n".join([*lines, "", table(headers, rows, right=right)])


def _details(record: Any) -> str:
    """`` [cached, reasoning]`` token counts of one call, when it had any."""
    cached, reasoning = record.cached_tokens, record.reasoning_tokens
    if not (cached or reasoning):
        return ""
    return f" [{cached:,} cached, {reasoning:,} reasoning]"


def _calls(n: int) -> str:
    return f"{n:,} call" if n == 1 else f"{n:,} calls"


def _recent_table(calls: list[Any]) -> str:
    from ._format import money, table, utc

    rows = [
        [
            utc(r.ts),
            r.model,
            r.outcome if r.outcome == "ok" else f"error:{r.error_kind}",
            f"{r.input_tokens:,}/{r.output_tokens:,}{'~' if r.estimated else ''}{_details(r)}",
            money(r.cost),
            f"{r.latency_s:.2f}s",
            r.entry_point,
            r.session_id or "-",
        ]
        for r in calls
    ]
    headers = ["TIME", "MODEL", "OUTCOME", "TOKENS", "COST", "LATENCY", "VIA", "SESSION"]
    return table(headers, rows)
