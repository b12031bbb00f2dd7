"""What the client tells its caller while it works: waits, retries, answers cut short.

A waiting command line looks hung and a cut answer looks complete, so the client reports both
through one hook, ``AsyncPoeClient(on_event=...)`` (or ``client.on_event = ...``)::

    def show(event: ClientEvent) -> None:
        print(event.message, file=sys.stderr)

    async with AsyncPoeClient(on_event=show) as client: ...

Events (``event.kind``):

- ``rate_limit_wait``: the client-side limiter holds the call for a slot (after
  ``RATE_WAIT_NOTICE_S``);
- ``retry``: an attempt failed with something that may pass (429, 5xx, a dropped connection)
  and the client waits ``delay_s`` before the next one;
- ``truncated``: the answer stopped at ``max_tokens`` (``finish_reason: length``), including
  when poe-mcp cut it itself on a backend without ``max_tokens``.

The command line prints each event as a ``poe-mcp: ...`` line on stderr. A hook that raises is
logged and ignored: reporting never breaks a call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from . import _constants as C

if TYPE_CHECKING:
    from .errors import PoeError
    from .types import ChatResult

__all__ = [
    "ClientEvent",
    "EventHook",
    "acquire_with_notice",
    "emit",
    "retry_event",
    "truncated_event",
]

log = logging.getLogger("poe_mcp.client")

EventKind = Literal["rate_limit_wait", "retry", "truncated"]


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """One thing worth telling the person waiting.

    Attributes:
        kind: ``rate_limit_wait``, ``retry`` or ``truncated``.
        message: one human sentence, ready to print.
        model: the model of the call, when known.
        delay_s: seconds the client is about to wait (``retry``), when known.
        attempt: the retry number, 1 for the first retry (``retry``).
        error_kind: the error that caused the retry (``rate_limit``, ``upstream``...).
    """

    kind: EventKind
    message: str
    model: str | None = None
    delay_s: float | None = None
    attempt: int | None = None
    error_kind: str | None = None


EventHook = Callable[[ClientEvent], Any]


def emit(hook: EventHook | None, event: ClientEvent) -> None:
    """Call ``hook`` with ``event``; a failing hook is logged, never raised."""
    log.info("%s", event.message)
    if hook is None:
        return
    try:
        hook(event)
    except Exception:
        log.warning("on_event hook failed", exc_info=True)


async def acquire_with_notice(
    acquire: Callable[[], Awaitable[Any]], hook: EventHook | None, model: str | None
) -> None:
    """Take a rate-limit slot; if that takes a while, say so once (then keep waiting).

    The notice is a timer, not a task: a free slot (the usual case) costs no extra turn of the
    event loop.
    """
    event = ClientEvent(
        "rate_limit_wait",
        "waiting for a rate-limit slot (client-side limit of requests per minute; "
        "--rpm / POE_MCP_RPM sets it)",
        model=model,
    )
    notice = asyncio.get_running_loop().call_later(C.RATE_WAIT_NOTICE_S, emit, hook, event)
    try:
        await acquire()
    finally:
        notice.cancel()


def retry_event(exc: PoeError, attempt: int, max_retries: int, delay: float) -> ClientEvent:
    """The event of one retry: what failed, which attempt, how long the wait."""
    what = {
        "rate_limit": "rate limited by the provider",
        "overloaded": "the provider is overloaded",
        "upstream": "the provider failed",
        "network": "the connection failed",
        "timeout": "the request timed out",
        "incomplete_stream": "the answer broke off",
    }.get(exc.kind, exc.kind)
    status = f" ({exc.status})" if exc.status else ""
    return ClientEvent(
        "retry",
        f"{what}{status}; retry {attempt}/{max_retries} in {delay:.1f} s",
        delay_s=delay,
        attempt=attempt,
        error_kind=exc.kind,
    )


def truncated_event(result: ChatResult, max_tokens: Any) -> ClientEvent:
    """The event of an answer that stopped at its token limit."""
    limit = f"max_tokens={max_tokens}" if max_tokens else "the model's output limit"
    cut_here = any("by poe-mcp" in note for note in result.notes)
    how = " (cut by poe-mcp: the backend has no max_tokens)" if cut_here else ""
    return ClientEvent(
        "truncated",
        f"the answer from {result.model} was cut at the token limit ({limit}){how}; "
        "raise max_tokens for more",
        model=result.model,
    )
