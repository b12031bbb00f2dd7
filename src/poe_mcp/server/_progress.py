"""Progress notifications for long tool calls.

MCP clients cancel a call that stays silent for about a minute, and slow models or media bots can
take longer. :class:`Progress` sends a heartbeat at least every ``PROGRESS_INTERVAL_S`` while the
call waits, and, for streamed answers, the partial text as it arrives (throttled). Progress values
only ever increase, as the protocol requires. Without a progress token from the client every
report is a no-op inside the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from .. import _constants as C
from .._redact import redact

__all__ = ["Progress", "progress"]

log = logging.getLogger(__name__)


class Progress:
    """Reports for one call. Use through :func:`progress`."""

    def __init__(self, ctx: Any, label: str) -> None:
        self._ctx = ctx
        self._label = label
        self._count = 0
        self._started = time.monotonic()
        self._last = 0.0
        self._partial: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._beat: asyncio.Task[None] | None = None

    async def _send(self, message: str) -> None:
        self._count += 1
        self._last = time.monotonic()
        try:
            # Notifications bypass the result scrubber of app.py: no key in a label either.
            await self._ctx.report_progress(self._count, None, redact(message))
        except anyio.get_cancelled_exc_class():
            raise
        except Exception:
            log.debug("progress notification failed", exc_info=True)

    def _due(self) -> None:
        """Timer callback: send a heartbeat if nothing else was sent for a while."""
        wait = C.PROGRESS_INTERVAL_S - (time.monotonic() - self._last)
        loop = asyncio.get_running_loop()
        if wait <= 0 and (self._beat is None or self._beat.done()):
            elapsed = int(time.monotonic() - self._started)
            message = self._partial or f"{self._label}: waiting for the answer ({elapsed} s)"
            self._beat = loop.create_task(self._send(message))
            wait = C.PROGRESS_INTERVAL_S
        self._timer = loop.call_later(max(wait, 0.0), self._due)

    def start(self) -> None:
        """Arm the heartbeat: a timer, not a task, so a quick call costs next to nothing."""
        self._timer = asyncio.get_running_loop().call_later(C.PROGRESS_INTERVAL_S, self._due)

    async def stop(self) -> None:
        """Disarm the heartbeat and end a heartbeat being sent."""
        if self._timer is not None:
            self._timer.cancel()
        if self._beat is not None and not self._beat.done():
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat

    async def step(self, message: str) -> None:
        """Report one step of a multi-part call (e.g. a model of a comparison that answered)."""
        await self._send(message[: C.PROGRESS_TEXT_MAX_CHARS])

    async def timed(self, elapsed_s: float, message: str) -> None:
        """Report a phase of a library call that says how long it has run (media bots)."""
        await self._send(f"{message} ({int(elapsed_s)} s)")

    async def text(self, partial: str) -> None:
        """Report the partial answer, at most every ``STREAM_PROGRESS_MIN_INTERVAL_S``."""
        first = self._partial is None
        self._partial = partial[-C.PROGRESS_TEXT_MAX_CHARS :]
        if first or time.monotonic() - self._last >= C.STREAM_PROGRESS_MIN_INTERVAL_S:
            await self._send(self._partial)


@asynccontextmanager
async def progress(ctx: Any, label: str) -> AsyncIterator[Progress]:
    """Heartbeats for the duration of the block; yields the reporter for partial text."""
    reporter = Progress(ctx, label)
    await reporter._send(f"{label}: sent")
    reporter.start()
    try:
        yield reporter
    finally:
        await reporter.stop()
