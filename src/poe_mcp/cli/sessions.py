"""``poe-mcp sessions``: list, show and clear stored conversations (thin, over the store)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Any

import click

from ..errors import NotFoundError
from ._options import Decorator, options

__all__ = ["sessions"]

_store_option = click.option(
    "--store", "store_url", help="Store URL (default: POE_MCP_STORE or the data dir)."
)


@click.group(invoke_without_command=True)
@_store_option
@click.option(
    "--simulated",
    is_flag=True,
    help="The sessions of `serve --simulate` (kept apart, in <data dir>/simulator/poe-mcp.db).",
)
@click.pass_context
def sessions(ctx: click.Context, store_url: str | None, simulated: bool) -> None:
    """Conversations kept for `poe-mcp chat --session` and the MCP tools (default: list).

    Sessions expire after the configured idle time (POE_MCP_SESSION_TTL, 60 minutes by default).
    """
    if simulated and store_url is None:
        from ..config import Settings
        from .serve import simulator_store_url

        store_url = simulator_store_url(Settings.load())
    ctx.obj = store_url
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_sessions, store_url=store_url)


def _subcommand(name: str, json_help: str, *arguments: str) -> Decorator:
    """A ``sessions`` subcommand: its ``arguments``, ``--json``, ``--store`` (else the group's)."""
    json_option = click.option("--json", "as_json", is_flag=True, help=json_help)
    args = (click.argument(a) for a in arguments)
    return options(sessions.command(name), *args, json_option, _store_option, click.pass_context)


@_subcommand("list", "Print as JSON.")
def list_sessions(ctx: click.Context, as_json: bool = False, store_url: str | None = None) -> None:
    """Live sessions, most recently used first."""
    infos = asyncio.run(_with_store(store_url or ctx.obj, lambda s: s.sessions.list()))
    if as_json:
        click.echo(json.dumps([asdict(i) for i in infos], indent=2))
        return
    if not infos:
        click.echo("no live sessions", err=True)
        return
    from ._format import ago, table

    rows = [
        [
            i.id,
            i.model or "-",
            str(i.turns),
            ago(i.updated_at),
            ago(i.expires_at).replace("in ", ""),
        ]
        for i in infos
    ]
    click.echo(table(["SESSION", "MODEL", "TURNS", "LAST USED", "EXPIRES IN"], rows, right={2}))


@_subcommand("show", "Print the whole session as JSON.", "session_id")
def show(ctx: click.Context, session_id: str, as_json: bool, store_url: str | None) -> None:
    """Print the history of SESSION_ID."""
    session = asyncio.run(_with_store(store_url or ctx.obj, lambda s: s.sessions.get(session_id)))
    if session is None:
        raise NotFoundError(f"no live session {session_id!r} (it never existed or has expired)")
    if as_json:
        click.echo(json.dumps(asdict(session), indent=2, ensure_ascii=False))
        return
    click.echo(
        f"session {session.id} · model {session.model or '-'} · {len(session.messages)} messages"
    )
    from ._term import for_terminal

    for message in session.messages:
        click.echo(f"\n[{message.get('role', '?')}]")
        click.echo(for_terminal(_content_text(message)))  # stored text: shown, not obeyed


@_subcommand("clear", "Print the outcome as JSON.", "session_id")
def clear(ctx: click.Context, session_id: str, as_json: bool, store_url: str | None) -> None:
    """Forget SESSION_ID."""
    deleted = asyncio.run(
        _with_store(store_url or ctx.obj, lambda s: s.sessions.delete(session_id))
    )
    if not deleted:
        raise NotFoundError(f"no live session {session_id!r} to clear")
    if as_json:
        click.echo(json.dumps({"cleared": session_id}))
        return
    from ._term import ok, symbol

    click.echo(ok(f"{symbol('ok')} cleared session {session_id}"))


async def _with_store(store_url: str | None, action: Any) -> Any:
    from ..config import Settings
    from ..store import open_store

    store = open_store(Settings.load(store=store_url).store_url)
    try:
        return await action(store)
    finally:
        await store.aclose()


def _content_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):  # multi-part: text parts verbatim, files as a note
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, dict):
                parts.append(f"<{part.get('type', 'part')}>")
        text = "\n".join(parts)
    else:
        text = ""
    for call in message.get("tool_calls") or []:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        text += f"\n-> {function.get('name')}({function.get('arguments', '')})"
    return text.strip()
