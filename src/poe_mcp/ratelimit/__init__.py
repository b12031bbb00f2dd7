"""Client-side rate limiting per API key: wait for a slot rather than collect 429s.

The in-process limiter is a GCRA (generic cell rate algorithm, the token bucket written as one
timestamp per key): requests are spaced evenly, a small burst passes at once, and a request
that would wait longer than a bound fails with ``rate_limit`` instead of hanging.

The spacing is chosen so that *no* window of ``period_s`` holds more than ``rpm`` requests,
burst included, so a provider counting with a sliding window, a fixed window or a token bucket
of the same limit never answers 429. Limiters are keyed by :func:`key_id` (a hash), never by
the API key itself. A Redis-backed limiter shared by several processes
(:class:`poe_mcp.ratelimit.redis.RedisRateLimiter`) implements the same :class:`RateLimiter`
protocol. The client takes its limiter from its store (``store.rate_limiter(...)``): memory and
SQLite stores give this process's limiter, a Redis store the shared one.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import time
from typing import Any, Protocol

from .. import _constants as C
from ..errors import RateLimitError

__all__ = ["LocalRateLimiter", "RateLimiter", "key_id", "shared_limiter", "spacing"]


def key_id(api_key: str) -> str:
    """A stable, non-reversible name for an API key (limiter keys, logs, metrics)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def spacing(
    rpm: int, period_s: float, burst: int | None, margin: float = C.RATE_LIMIT_MARGIN
) -> tuple[int, float, float]:
    """The GCRA numbers for ``rpm`` requests per ``period_s``: ``(burst, interval_s,
    tolerance_s)``; the burst defaults to ``rpm // 20`` (>= 1).

    With b requests at once then one per T, a window of length W holds at most
    b - 1 + ceil(W / T) requests; T = W / (rpm - b + 1) keeps that at rpm. W is ``period_s``
    made ``margin`` longer, so that delays between our clock and the provider's do not bunch
    requests.

    Raises:
        ValueError: ``rpm`` below 1.
    """
    if rpm < 1:
        raise ValueError("rpm must be at least 1")
    burst = max(1, min(rpm, burst if burst is not None else rpm // C.RATE_LIMIT_BURST_DIV))
    interval = period_s * (1.0 + margin) / (rpm - burst + 1)
    return burst, interval, (burst - 1) * interval


def _check_numbers(rpm: object, period_s: object, burst: object, max_wait_s: object) -> None:
    """Refuse numbers a limiter cannot work with, naming them (``[rate_limit]`` is checked
    when the settings load; these come from code: ``store.rate_limiter(...)``, a limiter).

    Raises:
        TypeError: a count that is not an int, or a duration that is not a number.
        ValueError: ``rpm`` or ``burst`` below 1, ``period_s`` not above 0, ``max_wait_s``
            below 0, or a duration that is not finite.
    """
    for name, value in (("rpm", rpm), ("burst", burst)):
        if value is None and name == "burst":
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} takes a whole number (int), not {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    for name, value, zero_ok in (("period_s", period_s, False), ("max_wait_s", max_wait_s, True)):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError(f"{name} takes a number of seconds, not {type(value).__name__}")
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
            least = "0 or more" if zero_ok else "greater than 0"
            raise ValueError(f"{name} must be a finite number of seconds, {least}, got {value}")


class RateLimiter(Protocol):
    """What the client needs from a limiter."""

    async def acquire(self, key_id: str) -> None:
        """Return when a request for ``key_id`` may be sent.

        Raises:
            RateLimitError: the wait would exceed the limiter's bound.
        """
        ...

    async def status(self, key_id: str) -> dict[str, Any]:
        """The limiter's state for ``key_id`` (for diagnostics; never the key)."""
        ...


class _Spaced:
    """The numbers and the refusal every GCRA limiter shares: no window of ``period_s`` holds
    more than ``rpm`` requests (see :func:`spacing`), and no wait exceeds ``max_wait_s``."""

    def __init__(
        self, rpm: int, period_s: float, burst: int | None, max_wait_s: float, margin: float
    ) -> None:
        _check_numbers(rpm, period_s, burst, max_wait_s)
        self.rpm = rpm
        self.period_s = period_s
        self.burst, self.interval_s, self._tolerance = spacing(rpm, period_s, burst, margin)
        self.max_wait_s = max_wait_s

    def _refusal(self, wait: float, shared: str = "", **metadata: str) -> RateLimitError:
        return RateLimitError(
            f"client-side rate limit{shared}: {self.rpm} requests per {self.period_s:g} s for "
            f"this API key; the next slot is {wait:.1f} s away (bound {self.max_wait_s:g} s). "
            "Send fewer requests at once, or raise the limit (POE_MCP_RPM) if your plan allows "
            "more.",
            retry_after=wait,
            metadata={"source": "client", **metadata},
        )


class LocalRateLimiter(_Spaced):
    """GCRA limiter for one process (thread-safe, usable from several event loops).

    Args:
        rpm: requests allowed per ``period_s``.
        period_s: the provider's counting window (60 s for "per minute").
        burst: requests that may go at once after an idle spell; default ``rpm // 20`` (>= 1).
        max_wait_s: longest wait for a slot before raising ``RateLimitError``.
        margin: the spacing is computed on a window this fraction longer than ``period_s``,
            so that delays between our clock and the provider's do not bunch requests.
    """

    def __init__(
        self,
        rpm: int = C.POE_RPM,
        *,
        period_s: float = C.RATE_LIMIT_PERIOD_S,
        burst: int | None = None,
        max_wait_s: float = C.RATE_LIMIT_MAX_WAIT_S,
        margin: float = C.RATE_LIMIT_MARGIN,
    ) -> None:
        super().__init__(rpm, period_s, burst, max_wait_s, margin)
        self._tat: dict[str, float] = {}
        self._waiting: dict[str, int] = {}
        self._lock = threading.Lock()

    def _try_take(self, key: str, waiting: bool) -> float:
        """Take a slot for ``key`` now and return 0, or return how long to wait for one.

        Slots are taken at the moment a request really goes, never reserved ahead: if the
        event loop stalls, waiters that wake together are still let through one by one.
        """
        with self._lock:
            now = time.monotonic()
            tat = max(self._tat.get(key, now), now)
            wait = tat - self._tolerance - now
            if wait <= 0:
                self._tat[key] = tat + self.interval_s
                if waiting:
                    self._waiting[key] -= 1
                return 0.0
            if not waiting:
                # Those already queued go first: this request's wait includes theirs.
                queued = self._waiting.get(key, 0)
                expected = wait + queued * self.interval_s
                if expected > self.max_wait_s:
                    raise self._refusal(expected)
                self._waiting[key] = queued + 1
            return wait

    async def acquire(self, key_id: str) -> None:
        """Wait for a request slot of the key; RateLimitError when the wait exceeds the bound."""
        wait = self._try_take(key_id, waiting=False)
        if wait <= 0:
            return
        try:
            while wait > 0:
                await asyncio.sleep(wait)
                wait = self._try_take(key_id, waiting=True)
        except BaseException:
            with self._lock:
                self._waiting[key_id] -= 1
            raise

    async def status(self, key_id: str) -> dict[str, Any]:
        """The key's limit, remaining requests and reset time, as a dict."""
        with self._lock:
            now = time.monotonic()
            tat = self._tat.get(key_id, now)
        return {
            "kind": "local",
            "rpm": self.rpm,
            "period_s": self.period_s,
            "burst": self.burst,
            "next_wait_s": round(max(0.0, tat - self._tolerance - now), 3),
            "waiting": self._waiting.get(key_id, 0),
        }


_shared: dict[tuple[int, float, int | None, float], LocalRateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(
    rpm: int,
    *,
    period_s: float = C.RATE_LIMIT_PERIOD_S,
    burst: int | None = None,
    max_wait_s: float = C.RATE_LIMIT_MAX_WAIT_S,
) -> LocalRateLimiter:
    """The process-wide limiter for these numbers, so that clients sharing a key share limits."""
    spec = (rpm, period_s, burst, max_wait_s)
    with _shared_lock:
        limiter = _shared.get(spec)
        if limiter is None:
            limiter = LocalRateLimiter(rpm, period_s=period_s, burst=burst, max_wait_s=max_wait_s)
            _shared[spec] = limiter
        return limiter
