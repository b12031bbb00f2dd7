"""The one retry policy of the project, shared by every backend.

The SDKs' own retries are switched off so that this is the only layer deciding whether a
failed request is sent again and after how long.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from . import _constants as C
from .errors import PoeError

__all__ = [
    "accepted_timeout",
    "backoff_delay",
    "no_retry_once_accepted",
    "retry_delay",
    "retryable_status",
]

_ONCE_ACCEPTED: ContextVar[bool] = ContextVar("poe_mcp_no_retry_once_accepted", default=False)


def retryable_status(status: int) -> bool:
    """HTTP statuses whose cause can change by itself: 408, 409, 425, 429 and every 5xx."""
    return status in C.RETRYABLE_STATUSES or 500 <= status <= 599


def accepted_timeout(error: PoeError) -> bool:
    """A timeout after the provider took the request (not while connecting)."""
    return error.kind == "timeout" and error.metadata.get("accepted") is not False


@contextlib.contextmanager
def no_retry_once_accepted() -> Iterator[None]:
    """Within this block, timeouts of accepted requests are not retried (media generations:
    the bot may still be working, and a second request would be charged again)."""
    token = _ONCE_ACCEPTED.set(True)
    try:
        yield
    finally:
        _ONCE_ACCEPTED.reset(token)


def backoff_delay(attempt: int, *, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff for retry number ``attempt + 1`` (``attempt`` counts from 0).

    Starts at ``RETRY_BASE_DELAY_S`` (Poe advises 250 ms), doubles each time, is capped at
    ``RETRY_MAX_DELAY_S`` and loses up to ``RETRY_JITTER`` of itself at random so that many
    clients failing together do not come back together.
    """
    delay = min(C.RETRY_BASE_DELAY_S * (2.0**attempt), C.RETRY_MAX_DELAY_S)
    return delay * (1.0 - C.RETRY_JITTER * rand())


def retry_delay(
    error: BaseException,
    attempt: int,
    max_retries: int,
    *,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait before sending again, or None when ``error`` must be raised now.

    Rules (retry only what can change):
        - at most ``max_retries`` retries (``attempt`` is the number already made);
        - retried: HTTP 408, 409, 425, 429 (except ``insufficient_quota``, which is a
          ``QuotaError``), every 5xx, connection errors, timeouts, and Poe's bot errors that
          allow a retry;
        - never retried: other 4xx, an error that says it cannot change (``retryable=False``:
          a 200 whose body is an error or cannot be parsed, an answer that breaks the
          protocol), and anything that is not a ``PoeError`` (our own bugs propagate);
        - inside :func:`no_retry_once_accepted` (media generations), a timeout after the
          provider accepted the request is not retried: a second request could charge twice;
        - a ``retry-after-ms`` / ``Retry-After`` the server sent is honoured exactly; one
          longer than ``RETRY_AFTER_MAX_S`` is not waited for (the error is raised instead).
    """
    if attempt >= max_retries or not isinstance(error, PoeError) or not error.retryable:
        return None
    # Status-less errors (connection refused, client-side timeout) are retryable by kind;
    # HTTP answers only when their status is in the list or a 5xx.
    if error.status is not None and not retryable_status(error.status):
        return None
    if _ONCE_ACCEPTED.get() and accepted_timeout(error):
        return None
    if error.retry_after is not None:
        if error.retry_after > C.RETRY_AFTER_MAX_S:
            return None
        return error.retry_after
    return backoff_delay(attempt, rand=rand)
