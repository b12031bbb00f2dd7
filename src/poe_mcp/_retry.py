"""The one retry policy of the project, shared by every backend.

The SDKs' own retries are switched off so that this is the only layer deciding whether a
failed request is sent again and after how long.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from . import _constants as C
from .errors import PoeError

__all__ = ["backoff_delay", "retry_delay"]


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

    Rules:
        - at most ``max_retries`` retries (``attempt`` is the number already made);
        - retried: HTTP 408, 429 (except ``insufficient_quota``, which is a ``QuotaError``),
          500, 502, 503, 529, connection errors and timeouts;
        - never retried: 400, 401, 402, 403, 404, 413 and anything that is not a ``PoeError``;
        - a ``retry-after-ms`` / ``Retry-After`` the server sent is honoured exactly; one
          longer than ``RETRY_AFTER_MAX_S`` is not waited for (the error is raised instead).
    """
    if attempt >= max_retries or not isinstance(error, PoeError) or not error.retryable:
        return None
    # Status-less errors (connection refused, client-side timeout) are retryable by kind;
    # HTTP answers only when their status is in the list (504 maps to timeout, not retried).
    if error.status is not None and error.status not in C.RETRYABLE_STATUSES:
        return None
    if error.retry_after is not None:
        if error.retry_after > C.RETRY_AFTER_MAX_S:
            return None
        return error.retry_after
    return backoff_delay(attempt, rand=rand)
