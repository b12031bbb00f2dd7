"""``poe-mcp logs``: past prompts and answers, searched, filtered, exported as Markdown.

Written where full logging is on (the CLI and the console by default; MCP and the library when
``[logs]`` in config.toml says so). See :mod:`poe_mcp._logbook` for the settings.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import _constants as C
from ..errors import NotFoundError

if TYPE_CHECKING:
    from ..store._logs import LogEntry
    from ..store.base import Store

__all__ = ["logs"]

T = TypeVar("T")

_store_option = click.option(
    "--store", "store_url", help="Store URL (default: POE_MCP_STORE or the data dir)."
)


async def _with_store(store_url: str | None, action: Callable[[Store], Awaitable[T]]) -> T:
    from ..config import Settings
    from ..store import open_store

    store = open_store(Settings.load(store=store_url).store_url)
    try:
        return await action(store)
    finally:
        await store.aclose()


def _preview(text: str, width: int = C.LOGS_PREVIEW_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


@click.group(invoke_without_command=True)
@click.option(
    "-q",
    "--query",
    help='Full-text search of prompts and answers (words, "a phrase", OR, prefix*).',
)
@click.option("-m", "--model", help="Only this model's answers.")
@click.option("--session", "session_id", help="Only this conversation.")
@click.option("--since", help="Only since: 30m, 24h, 7d, today, or an ISO date (UTC).")
@click.option("--until", help="Only before: same forms as --since.")
@click.option(
    "-n",
    "--count",
    type=click.IntRange(min=0),
    default=C.LOGS_LIST_DEFAULT,
    show_default=True,
    help="How many entries (0: all).",
)
@click.option("--full", is_flag=True, help="Whole prompts and answers, not one-line previews.")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@_store_option
@click.pass_context
def logs(
    ctx: click.Context,
    query: str | None,
    model: str | None,
    session_id: str | None,
    since: str | None,
    until: str | None,
    count: int,
    full: bool,
    as_json: bool,
    store_url: str | None,
) -> None:
    """Past prompts and answers, newest first (subcommands: export, clear).

    Logging is on for the CLI and the console, off for the MCP server and the library unless
    `[logs]` in config.toml (or POE_MCP_LOGS=all|none|cli,mcp,...) says otherwise; entries
    older than `[logs] retention_days` (default 90) are deleted.

    \b
    Examples:
      poe-mcp logs                       # the last 20 exchanges
      poe-mcp logs -q "context window"   # full-text search
      poe-mcp logs -m GPT-4.1 --since 7d --json
      poe-mcp logs export                # the last conversation as Markdown
    """
    ctx.obj = store_url
    if ctx.invoked_subcommand is not None:
        return
    from ..store._logs import LogQuery
    from .usage import parse_since

    search = LogQuery(
        text=query,
        model=model,
        session_id=session_id,
        since=parse_since(since) if since else None,
        until=parse_since(until, option="--until") if until else None,
        limit=count or 2**31,
    )
    entries = asyncio.run(_with_store(store_url, lambda s: s.logs.search(search)))
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2, ensure_ascii=False))
        return
    if not entries:
        filtered = any(v is not None for v in (query, model, session_id, since, until))
        click.echo("no logged prompts match" if filtered else "no prompts logged yet", err=True)
        return
    from ._term import for_terminal

    click.echo(for_terminal(_full(entries) if full else _table(entries)))  # stored text: inert


def _table(entries: list[LogEntry]) -> str:
    from ._format import table

    rows = [
        [
            str(e.id),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(e.ts)),
            e.model,
            (e.session_id or "-")[:8],
            _preview(e.prompt, 40),
            _preview(e.response, 50),
        ]
        for e in entries
    ]
    return table(["ID", "TIME", "MODEL", "SESSION", "PROMPT", "ANSWER"], rows, right={0})


def _full(entries: list[LogEntry]) -> str:
    from .._money import format_usd

    blocks = []
    for e in entries:
        cost = "cost unknown" if e.cost is None else format_usd(e.cost)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.ts))
        head = f"#{e.id} {when} · {e.model} · session {e.session_id or '-'} · {cost}"
        blocks.append(f"{head}\n> {e.prompt}\n\n{e.response}")
    return "\n\n".join(blocks)


@logs.command("export")
@click.argument("session_id", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write this file (default: standard output).",
)
@click.option("--json", "as_json", is_flag=True, help="The entries as JSON instead of Markdown.")
@click.pass_context
def export(ctx: click.Context, session_id: str | None, output: Path | None, as_json: bool) -> None:
    """A conversation as Markdown (default: the CLI's most recent one)."""
    from ..config import Settings
    from ..store._logs import LogQuery
    from ._transcript import entries_markdown
    from .chat import last_session

    store_url = ctx.obj
    if session_id is None:
        session_id = last_session(Settings.load(store=store_url))
        if session_id is None:
            raise click.UsageError("give a SESSION_ID (see `poe-mcp logs`): no recent conversation")
    search = LogQuery(session_id=session_id, limit=2**31, oldest_first=True)
    entries = asyncio.run(_with_store(store_url, lambda s: s.logs.search(search)))
    if not entries:
        raise NotFoundError(
            f"no logged exchanges for session {session_id!r} (logging may have been off)"
        )
    if as_json:
        text = json.dumps([e.to_dict() for e in entries], indent=2, ensure_ascii=False) + "\n"
    else:
        text = entries_markdown(f"Conversation {session_id}", entries)
    if output is None:
        from ._term import for_terminal

        click.echo(for_terminal(text), nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.FileError(str(output), hint=exc.strerror or str(exc)) from None
    click.echo(f"wrote {len(entries)} exchanges to {output}", err=True)


@logs.command("clear")
@click.option(
    "--older-than",
    help="Only entries older than this: 30d, 12h, 2w... (default: every entry).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the count as JSON.")
@click.pass_context
def clear(ctx: click.Context, older_than: str | None, yes: bool, as_json: bool) -> None:
    """Delete logged prompts and answers."""
    from .usage import parse_since

    before = parse_since(older_than, option="--older-than") if older_than else None
    if not yes and not click.confirm(
        "Delete every logged prompt and answer?"
        if before is None
        else f"Delete logged prompts and answers older than {older_than}?"
    ):
        raise click.Abort
    removed = asyncio.run(_with_store(ctx.obj, lambda s: s.logs.purge(before=before)))
    result: dict[str, Any] = {"deleted": removed}
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"deleted {removed} log entries")
