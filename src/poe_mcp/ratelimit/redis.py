"""A rate limiter shared by every process that uses one Redis: one limit per API key, globally.

Several ``poe-mcp serve`` instances on one Poe key share the key's limit (500 requests per
minute). Each keeping its own in-process count would let N instances send N times the limit;
this limiter keeps the count in Redis instead. Same numbers and behaviour as
:class:`~poe_mcp.ratelimit.LocalRateLimiter` (GCRA, even spacing, a small burst, a bounded
wait), but every slot is taken by one atomic Lua script on Redis's clock, never by
read-modify-write, so instances cannot both take the last slot. Keys are the key's hash
(:func:`~poe_mcp.ratelimit.key_id`), never the key.

Redis unreachable: :meth:`RedisRateLimiter.acquire` raises
:class:`~poe_mcp.errors.StoreError` (the limit cannot be checked, so nothing is sent), and
works again as soon as Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING, Any

from .. import _constants as C
from ..errors import StoreError
from ..store._redis_conn import RedisLink
from ..store._redis_scripts import RATE_TAKE
from . import _Spaced

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisRateLimiter"]


class RedisRateLimiter(_Spaced):
    """GCRA limiter whose state lives in Redis (implements ``RateLimiter``).

    Args:
        link: a Redis URL, or the :class:`RedisLink` of a store (to share its pool).
        rpm: requests allowed per ``period_s`` for one key, across all processes.
        period_s: the provider's counting window.
        burst: requests that may go at once after an idle spell; default ``rpm // 20`` (>= 1).
        max_wait_s: longest expected wait for a slot before raising ``RateLimitError``.
        prefix: start of the Redis keys.
    """

    def __init__(
        self,
        link: str | RedisLink,
        rpm: int = C.POE_RPM,
        *,
        period_s: float = C.RATE_LIMIT_PERIOD_S,
        burst: int | None = None,
        max_wait_s: float = C.RATE_LIMIT_MAX_WAIT_S,
        prefix: str = C.REDIS_KEY_PREFIX,
    ) -> None:
        # Same spacing as the local limiter: no window of period_s holds more than rpm requests.
        super().__init__(rpm, period_s, burst, max_wait_s, C.RATE_LIMIT_MARGIN)
        self._owns_link = isinstance(link, str)
        self._link = RedisLink(link) if isinstance(link, str) else link
        self._prefix = prefix
        self._script: AsyncScript | None = None

    def __repr__(self) -> str:
        return f"RedisRateLimiter(url={self._link.safe_url!r}, rpm={self.rpm}, burst={self.burst})"

    def _keys(self, key_id: str) -> list[str]:
        tat = f"{self._prefix}ratelimit:{key_id}"
        return [tat, f"{tat}:waiting"]

    async def _take(self, key_id: str, waiter: str, *, queued: bool) -> tuple[float, str]:
        async def work(r: Redis) -> list[str]:
            if self._script is None:
                self._script = r.register_script(RATE_TAKE)
            reply: list[str] = await self._script(
                keys=self._keys(key_id),
                args=[
                    repr(self.interval_s),
                    repr(self._tolerance),
                    repr(self.max_wait_s),
                    waiter,
                    "1" if queued else "0",
                    repr(C.REDIS_RATE_WAITER_GRACE_S),
                ],
                client=r,
            )
            return reply

        seconds, state = await self._link.run("taking a rate-limit slot", work)
        return float(seconds), state

    async def acquire(self, key_id: str) -> None:
        """Return when a request for ``key_id`` may be sent (by any process sharing Redis).

        Raises:
            RateLimitError: the expected wait exceeds ``max_wait_s``.
            StoreError: Redis is unreachable.
        """
        waiter = uuid.uuid4().hex
        wait, state = await self._take(key_id, waiter, queued=False)
        if state == "ok":
            return
        if state == "refused":
            raise self._refusal(wait, " (shared through Redis by every instance)", limiter="redis")
        try:
            while state != "ok":
                await asyncio.sleep(wait)
                wait, state = await self._take(key_id, waiter, queued=True)
        except BaseException:
            with contextlib.suppress(Exception):  # best effort: it ages out anyway
                await self._forget(key_id, waiter)
            raise

    async def _forget(self, key_id: str, waiter: str) -> None:
        async def work(r: Redis) -> None:
            await r.zrem(self._keys(key_id)[1], waiter)

        await self._link.run("leaving the rate-limit queue", work)

    async def status(self, key_id: str) -> dict[str, Any]:
        """The shared state for ``key_id``; reports Redis errors instead of raising."""
        info: dict[str, Any] = {
            "kind": "redis",
            "url": self._link.safe_url,
            "rpm": self.rpm,
            "period_s": self.period_s,
            "burst": self.burst,
        }
        tat_key, waiting_key = self._keys(key_id)

        async def work(r: Redis) -> list[Any]:
            async with r.pipeline(transaction=True) as pipe:
                pipe.time()
                pipe.get(tat_key)
                pipe.zcard(waiting_key)
                result: list[Any] = await pipe.execute()
            return result

        try:
            (sec, usec), tat, waiting = await self._link.run("reading the rate limit", work)
        except StoreError as exc:
            info.update(ok=False, error=str(exc))
            return info
        now = sec + usec / 1e6
        tat_s = float(tat) if tat is not None else now
        info.update(
            ok=True,
            next_wait_s=round(max(0.0, tat_s - self._tolerance - now), 3),
            waiting=int(waiting),
        )
        return info

    async def aclose(self) -> None:
        """Close the connection pool when this limiter opened it (not a store's)."""
        if self._owns_link:
            await self._link.aclose()
