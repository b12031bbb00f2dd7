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

    async def heartbeat(self) -> None:
        """Run until cancelled, reporting whenever nothing else was sent for a while."""
        while True:
            wait = C.PROGRESS_INTERVAL_S - (time.monotonic() - self._last)
            if wait > 0:
                await anyio.sleep(wait)
                continue
            elapsed = int(time.monotonic() - self._started)
            if self._partial:
                await self._send(self._partial)
            else:
                await self._send(f"{self._label}: waiting for the answer ({elapsed} s)")

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
    # A plain task, not a task group: errors of the block must reach the caller unwrapped.
    beat = asyncio.create_task(reporter.heartbeat())
    try:
        yield reporter
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
