"""Full logging of prompts and answers, per entry point (read back with ``poe-mcp logs``).

On by default for the CLI and the web console (a person reading their own history), off for the
MCP server and the library unless configured (an assistant's traffic, other people's programs).
``config.toml``::

    [logs]
    cli = true            # poe-mcp chat and the interactive chat
    console = true
    mcp = false           # tool calls of the MCP server
    library = false       # AsyncPoeClient / PoeClient in your own code
    retention_days = 90   # older entries are deleted (0 keeps them forever)

``POE_MCP_LOGS`` overrides the per-entry-point switches: ``all``, ``none``, or a comma list
(``cli,mcp``). ``poe-mcp chat --no-log`` turns it off for one command. Active keys and tokens
are redacted before anything is written.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _constants as C
from ._logging import redact
from ._messages import content_text
from .errors import ConfigError, PoeError

if TYPE_CHECKING:
    from .config import Settings
    from .store.base import Store
    from .types import ChatResult

__all__ = ["LOG_KEYS", "LogSettings", "logging_override", "parse_log_settings", "record_exchange"]

log = logging.getLogger(__name__)

ENTRY_POINTS = ("cli", "console", "mcp", "library")
_DEFAULT_ON = frozenset({"cli", "console"})
LOG_KEYS = (*ENTRY_POINTS, "retention_days")  # every key [logs] accepts
_OVERRIDE: ContextVar[bool | None] = ContextVar("poe_mcp_log_override", default=None)
_TRUE = {"1", "true", "yes", "on", "all"}
_FALSE = {"0", "false", "no", "off", "none"}
_last_purge: dict[str, float] = {}  # store URL -> when retention was last applied


@dataclass(frozen=True, slots=True)
class LogSettings:
    """Which entry points log, and how long entries are kept (None: forever)."""

    entry_points: frozenset[str]
    retention_days: float | None


def parse_log_settings(table: Mapping[str, Any], env: str | None) -> LogSettings:
    """The ``[logs]`` table with ``POE_MCP_LOGS`` (``env``) over it, validated
    (``settings.logs``).

    Raises:
        ConfigError: an unknown key or a value of the wrong type (naming the key).
    """
    unknown = sorted(set(table) - set(LOG_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key(s) in [logs] of config.toml: {', '.join(unknown)}; "
            f"known: {', '.join(LOG_KEYS)}"
        )
    enabled = set(_DEFAULT_ON)
    for name in ENTRY_POINTS:
        if name in table:
            if not isinstance(table[name], bool):
                raise ConfigError(f"[logs] {name} in config.toml must be true or false")
            (enabled.add if table[name] else enabled.discard)(name)
    env = (env or "").strip().lower()
    if env in _TRUE:
        enabled = set(ENTRY_POINTS)
    elif env in _FALSE:
        enabled = set()
    elif env:
        names = {n.strip() for n in env.split(",") if n.strip()}
        bad = sorted(names - set(ENTRY_POINTS))
        if bad:
            raise ConfigError(
                f"POE_MCP_LOGS: unknown entry point(s) {', '.join(bad)}; use all, none or a "
                f"comma list of {', '.join(ENTRY_POINTS)}"
            )
        enabled = names
    days = table.get("retention_days", C.LOGS_RETENTION_DAYS)
    if (
        isinstance(days, bool)
        or not isinstance(days, (int, float))
        or not math.isfinite(days)  # nan would purge nothing, silently; inf: use 0
        or days < 0
    ):
        raise ConfigError(
            "[logs] retention_days in config.toml must be a number of days >= 0 "
            f"(0 keeps entries forever), got {days!r}"
        )
    return LogSettings(frozenset(enabled), float(days) if days else None)


@contextlib.contextmanager
def logging_override(enabled: bool | None) -> Iterator[None]:
    """Within this block (and the tasks it starts), log everything or nothing; None: settings."""
    token = _OVERRIDE.set(enabled)
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


def _enabled(settings: Settings, entry_point: str) -> bool:
    override = _OVERRIDE.get()
    if override is not None:
        return override
    return entry_point in settings.logs.entry_points


def _attachment_names(content: Any) -> tuple[str, ...]:
    names: list[str] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") == "text":
                continue
            inner = part.get("file") if part.get("type") == "file" else None
            if isinstance(inner, Mapping) and inner.get("filename"):
                names.append(str(inner["filename"]))
            else:
                names.append(str(part.get("type", "attachment")))
    return tuple(names)


async def record_exchange(
    store: Store | None,
    settings: Settings,
    *,
    entry_point: str,
    provider: str,
    messages: Sequence[Mapping[str, Any]],
    result: ChatResult,
    session_id: str | None,
) -> None:
    """Log one answered call when logging is on for ``entry_point``; never raises a store error.

    Also applies the retention period, at most once an hour per store.
    """
    if store is None or getattr(store, "logs", None) is None:
        return
    try:
        enabled = _enabled(settings, entry_point)
    except ConfigError as exc:
        # The answer is paid for and in hand: a bad POE_MCP_LOGS must not turn it into an
        # error after the fact (entry points check the settings before sending).
        log.warning("prompt log not written: %s", exc)
        return
    if not enabled:
        return
    from .store._logs import LogEntry

    user: Mapping[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    system = next((m for m in messages if m.get("role") == "system"), None)
    entry = LogEntry(
        ts=time.time(),
        model=result.model,
        prompt=redact(content_text(user.get("content"))),
        response=redact(result.text),
        entry_point=entry_point,
        provider=provider,
        session_id=session_id,
        system=redact(content_text(system.get("content"))) if system else None,
        attachments=_attachment_names(user.get("content")),
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
        cost=result.cost,
        latency_s=result.latency_s,
        finish_reason=result.finish_reason,
        request_id=result.request_id,
    )
    try:
        await store.logs.add(entry)
        await _apply_retention(store, settings)
    except (PoeError, OSError) as exc:
        log.warning("could not write the prompt log: %s", exc)


async def _apply_retention(store: Store, settings: Settings) -> None:
    days = settings.logs.retention_days
    now = time.time()
    if days is None or now - _last_purge.get(store.url, 0.0) < C.LOGS_PURGE_INTERVAL_S:
        return
    _last_purge[store.url] = now
    removed = await store.logs.purge(before=now - days * 86_400)
    if removed:
        log.info("deleted %d log entries older than %g days", removed, days)
