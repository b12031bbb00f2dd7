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


def parse_since(value: str, now: float | None = None) -> float:
    """``24h``, ``7d``, ``30m``, ``2w``, ``today`` (since 00:00 UTC) or an ISO date/time.

    ISO times without a zone are read as UTC, like the ledger's day breakdown.
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
            param_hint="--since",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@click.command()
@click.option("--since", help="Only calls since: 30m, 24h, 7d, 2w, today, or an ISO date (UTC).")
@click.option(
    "--by",
    type=click.Choice(["model", "session", "day", "provider"]),
    default="model",
    show_default=True,
    help="Break the totals down by this.",
)
@click.option("--recent", type=int, default=0, help="Also list the last N calls.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@click.option("--balance", is_flag=True, help="Also show the Poe account's point balance.")
@click.option("--store", "store_url", help="Store URL (default: POE_MCP_STORE or the data dir).")
def usage(
    since: str | None, by: str, recent: int, as_json: bool, balance: bool, store_url: str | None
) -> None:
    """Totals and a breakdown of every recorded call (library, CLI and MCP server).

    Calls whose price is unknown are counted and flagged ("+ N unpriced"), never added as $0.
    Days are UTC days.

    \b
    Examples:
      poe-mcp usage --since 7d --by day
      poe-mcp usage --by session --json
      poe-mcp usage --balance
    """
    start = parse_since(since) if since else None
    asyncio.run(_run(start, by, recent, as_json, balance, store_url))


async def _run(
    since: float | None,
    by: Any,
    recent: int,
    as_json: bool,
    balance: bool,
    store_url: str | None,
) -> None:
    from ..config import Settings
    from ..store import open_store

    settings = Settings.load(store=store_url)
    store = open_store(settings.store_url)
    try:
        totals = await store.usage.totals(since=since)
        groups = await store.usage.breakdown(by, since=since)
        calls = await store.usage.recent(recent) if recent > 0 else []
    finally:
        await store.aclose()
    points = await _balance(settings) if balance else None

    if as_json:
        payload: dict[str, Any] = {
            "since": since,
            "totals": asdict(totals),
            "by": by,
            "groups": [{"key": g.key, **asdict(g.totals)} for g in groups],
        }
        if recent > 0:
            payload["recent"] = [asdict(r) for r in calls]
        if balance:
            payload["balance_points"] = points
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    click.echo(_report(since, totals, by, groups))
    if calls:
        click.echo("\n" + _recent_table(calls))
    if balance:
        click.echo(f"\nPoe point balance: {points:,}")


async def _balance(settings: Settings) -> int:
    """The point balance through the client when it offers it, else the account endpoint."""
    from ..catalog import fetch_point_balance
    from ..client import AsyncPoeClient
    from ..config import resolve_api_key

    async with AsyncPoeClient(settings=settings, store=False, entry_point="cli") as client:
        method = getattr(client, "balance", None)
        if method is not None:
            return int(await method())
    return await fetch_point_balance(settings, resolve_api_key(settings.provider))


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
    if not groups:
        return "\n".join([*lines, "", "no calls recorded"])
    rows = [
        [
            g.key,
            f"{g.totals.calls:,}",
            f"{g.totals.errors:,}",
            f"{g.totals.input_tokens:,}",
            f"{g.totals.output_tokens:,}",
            money(g.totals.cost, g.totals.unknown_cost_calls),
        ]
        for g in groups
    ]
    headers = [by.upper(), "CALLS", "FAILED", "TOKENS IN", "TOKENS OUT", "COST"]
    return "\n".join([*lines, "", table(headers, rows, right={1, 2, 3, 4})])


def _calls(n: int) -> str:
    return f"{n:,} call" if n == 1 else f"{n:,} calls"


def _recent_table(calls: list[Any]) -> str:
    from ._format import money, table, utc

    rows = [
        [
            utc(r.ts),
            r.model,
            r.outcome if r.outcome == "ok" else f"error:{r.error_kind}",
            f"{r.input_tokens:,}/{r.output_tokens:,}{'~' if r.estimated else ''}",
            money(r.cost),
            f"{r.latency_s:.2f}s",
            r.entry_point,
            r.session_id or "-",
        ]
        for r in calls
    ]
    headers = ["TIME", "MODEL", "OUTCOME", "TOKENS", "COST", "LATENCY", "VIA", "SESSION"]
    return table(headers, rows)
