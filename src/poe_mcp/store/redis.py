"""``redis://host:port/db``: sessions, the usage ledger and the rate limit shared by instances.

For several ``poe-mcp serve`` processes (one machine or many) that must agree on one truth.
Behaves like the SQLite store:

- a session is a hash (model, backend, times, turn count) and a list of JSON messages, both with
  the same Redis TTL, renewed by every append; the hash also holds the expiry time, which reads
  check, so an expired session reads as absent (and its id starts afresh) by the store's clock,
  while Redis drops the keys itself;
- an append is one Lua script (check, RPUSH, renew TTLs, index), so concurrent appends from any
  number of tasks and processes never lose, split or double a turn; each write carries an id,
  so the client's reconnect-and-retry after a Redis restart cannot apply it twice;
- the ledger keeps each record as JSON, indexed by time (``since`` queries) and by arrival
  (``recent``); totals and breakdowns are aggregated by the rules every backend shares
  (unknown prices flagged, never added as 0);
- times are Redis's (``TIME``), so instances with drifting clocks agree on expiry, unless the
  store is given a ``clock`` (tests move a fake one).

Redis down: calls that need it raise :class:`~poe_mcp.errors.StoreError` naming the URL (never
its password) and what to check; ``health()`` says ``ok: False``; ledger records wait in memory
(bounded) and are written when Redis is back; the connection pool reconnects by itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from .. import _constants as C
from ..errors import StoreError
from ..ratelimit.redis import RedisRateLimiter
from . import _redis_scripts as lua
from . import _rollup
from . import _rollup_redis as rollup_redis
from ._backend import LedgerBase, SessionsBase, SessionWrite, decode_session
from ._common import RowFilter, group_records, storable_record
from ._logs import RedisLogs
from ._redis_conn import RedisLink
from ._runs import RedisRuns
from .base import Clock, GroupBy, Session, SessionInfo, StoreBase, UsageGroup, UsageRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript


__all__ = ["RedisLedger", "RedisSessions", "RedisStore", "open_store"]

log = logging.getLogger(__name__)


class _Scripts:
    """The Lua scripts, registered on one client (re-sent by redis-py after a Redis restart)."""

    def __init__(self, client: Redis) -> None:
        self.append: AsyncScript = client.register_script(lua.APPEND)
        self.list_sessions: AsyncScript = client.register_script(lua.LIST_SESSIONS)
        # The ledger write that also adds to the hourly rollups (store._rollup_redis).
        self.record_usage: AsyncScript = client.register_script(rollup_redis.RECORD_USAGE)
        self.rollup_query: AsyncScript = client.register_script(rollup_redis.QUERY)
        self.claim_layout: AsyncScript = client.register_script(rollup_redis.CLAIM_LAYOUT)
        self.add_cells: AsyncScript = client.register_script(rollup_redis.ADD_CELLS)


class _Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.index = f"{prefix}sessions"
        self.usage_records = f"{prefix}usage:records"
        self.usage_by_ts = f"{prefix}usage:by-ts"
        self.usage_by_order = f"{prefix}usage:by-order"
        self.usage_seq = f"{prefix}usage:seq"
        self.rollups = rollup_redis.RollupKeys(prefix)

    def meta(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    def messages(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}:messages"

    def mark(self, op_id: str) -> str:
        return f"{self.prefix}op:{op_id}"


def _session(session_id: str, meta: dict[str, str], raw: list[str]) -> Session:
    created = float(meta.get("created_at", 0.0))
    return decode_session(
        session_id, raw, meta.get("model"), meta.get("backend"), created,
        float(meta.get("updated_at", created)), meta.get("tools"),
    )  # fmt: skip


class RedisSessions(SessionsBase):
    """Conversations in Redis hashes and lists, expiring with Redis TTLs.

    ``clock`` None: times are the Redis server's (``TIME``); else the clock's, passed in.
    """

    def __init__(
        self, link: RedisLink, keys: _Keys, scripts: _Scripts, clock: Clock | None
    ) -> None:
        self._link = link
        self._keys = keys
        self._scripts = scripts
        self._clock = clock

    def _now(self, server_time: tuple[int, int]) -> float:
        """The clock's time, else Redis's (``TIME``, read in the same transaction)."""
        seconds, micros = server_time
        return self._clock() if self._clock is not None else seconds + micros / 1_000_000

    def _now_arg(self) -> str:
        """A script's ``now`` argument: '' lets the script read Redis's ``TIME``."""
        return "" if self._clock is None else repr(self._clock())

    async def get(self, session_id: str) -> Session | None:
        meta_key, list_key = self._keys.meta(session_id), self._keys.messages(session_id)

        async def work(r: Redis) -> list[Any]:
            async with r.pipeline(transaction=True) as pipe:  # one snapshot of both keys
                pipe.hgetall(meta_key)
                pipe.lrange(list_key, 0, -1)
                pipe.time()
                result: list[Any] = await pipe.execute()
            return result

        meta, raw, server_time = await self._link.run("reading a session", work)
        if not meta or float(meta.get("expires_at", math.inf)) <= self._now(server_time):
            return None
        return _session(session_id, meta, raw)

    async def _write(self, w: SessionWrite, *, load: bool = False) -> Session | None:
        sid = w.session_id
        keys = [
            self._keys.meta(sid), self._keys.messages(sid), self._keys.index,
            self._keys.mark(uuid.uuid4().hex),
        ]  # fmt: skip
        args: list[Any] = [
            sid,
            math.ceil(w.ttl_s * 1000) if w.ttl_s > 0 else 0,
            "" if w.model is None else "=" + w.model,
            "" if w.backend is None else "=" + w.backend,
            w.turns,
            C.REDIS_OP_MARK_TTL_S * 1000,
            "" if w.tools is None else "=" + w.tools,
            "1" if load else "0",
            self._now_arg(),
            *w.payloads,
        ]

        async def work(r: Redis) -> list[Any]:
            reply: list[Any] = await self._scripts.append(keys=keys, args=args, client=r)
            return reply

        meta, raw = await self._link.run("appending to a session", work)
        return _session(sid, dict(zip(meta[::2], meta[1::2], strict=True)), raw) if load else None

    async def delete(self, session_id: str) -> bool:
        meta_key, list_key = self._keys.meta(session_id), self._keys.messages(session_id)

        async def work(r: Redis) -> list[Any]:
            async with r.pipeline(transaction=True) as pipe:
                pipe.hget(meta_key, "expires_at")
                pipe.time()
                pipe.delete(meta_key, list_key)
                pipe.zrem(self._keys.index, session_id)
                result: list[Any] = await pipe.execute()
            return result

        expires, server_time, *_ = await self._link.run("deleting a session", work)
        return expires is not None and float(expires) > self._now(server_time)

    async def list(self) -> list[SessionInfo]:
        fields = ("model", "turns", "created_at", "updated_at", "expires_at")

        async def work(r: Redis) -> list[SessionInfo]:
            ids: list[str] = await self._scripts.list_sessions(
                keys=[self._keys.index], args=[self._now_arg()], client=r
            )  # the live ones, by the same clock
            async with r.pipeline(transaction=False) as pipe:
                for sid in ids:
                    pipe.hmget(self._keys.meta(sid), fields)
                rows: list[list[str | None]] = await pipe.execute()
            return [
                SessionInfo(sid, model, int(turns or 0), float(created), float(updated or created),
                            float(expires or 0.0))
                for sid, (model, turns, created, updated, expires) in zip(ids, rows, strict=True)
                if created is not None  # else expired or deleted since the index was read
            ]  # fmt: skip

        infos = await self._link.run("listing sessions", work)
        return sorted(infos, key=lambda i: i.updated_at, reverse=True)


@dataclasses.dataclass(frozen=True, slots=True)
class _Pending:
    op_id: str
    ts: float
    payload: str
    cell: tuple[list[str], list[Any]]  # rollup_redis.cell_args


def _decode(payload: str) -> UsageRecord:
    return UsageRecord(**json.loads(payload))


class RedisLedger(LedgerBase):
    """The usage ledger in Redis: JSON records indexed by time and by arrival.

    ``record()`` never raises: while Redis is unreachable, records wait in memory (at most
    ``USAGE_BUFFER_MAX``) and are written, in order and once each, as soon as it answers.
    """

    def __init__(self, link: RedisLink, keys: _Keys, scripts: _Scripts) -> None:
        self._link = link
        self._keys = keys
        self._scripts = scripts
        self._pending: list[_Pending] = []
        self._lock = asyncio.Lock()
        self._layout_ready = False  # rollup cells checked to follow rollup_redis.LAYOUT

    @property
    def pending(self) -> int:
        """Records not yet in Redis (waiting for it to come back)."""
        return len(self._pending)

    async def _ensure_layout(self) -> None:
        """Rebuild the rollups from the ledger once if they follow an older key layout."""
        if self._layout_ready:
            return
        k = self._keys
        ledger = (k.usage_records, k.usage_by_order, k.usage_seq)

        async def work(r: Redis) -> None:
            await rollup_redis.ensure_layout(r, self._scripts, k.rollups, ledger, _decode)

        await self._link.run("upgrading the usage rollups", work)
        self._layout_ready = True

    async def record(self, record: UsageRecord) -> None:
        record = storable_record(record)
        payload = json.dumps(dataclasses.asdict(record), ensure_ascii=False)
        cell = rollup_redis.cell_args(record)
        self._pending.append(_Pending(uuid.uuid4().hex, record.ts, payload, cell))
        if len(self._pending) > C.USAGE_BUFFER_MAX:
            del self._pending[: len(self._pending) - C.USAGE_BUFFER_MAX]
        if self._lock.locked():
            return  # the running flush loops until the queue is empty, this record included
        try:
            await self.flush()
        except StoreError as exc:
            log.warning("usage ledger: %d records not written yet: %s", len(self._pending), exc)

    async def flush(self) -> None:
        """Write every waiting record.

        Raises:
            StoreError: Redis is unreachable (the records keep waiting).
        """
        keys = [
            self._keys.usage_records,
            self._keys.usage_by_ts,
            self._keys.usage_by_order,
            self._keys.usage_seq,
        ]
        async with self._lock:
            if self._pending:
                await self._ensure_layout()
            while self._pending:
                item = self._pending[0]

                async def work(r: Redis, item: _Pending = item) -> None:
                    parts, args = item.cell
                    await self._scripts.record_usage(
                        keys=[*keys, *rollup_redis.record_keys(self._keys.rollups, parts)],
                        args=[item.op_id, repr(item.ts), item.payload, *args],
                        client=r,
                    )

                await self._link.run("recording usage", work)
                if self._pending and self._pending[0] is item:
                    del self._pending[0]

    async def _select(self, since: float | None) -> list[UsageRecord]:
        await self.flush()  # this instance's own records first, like SQLite's queue

        async def work(r: Redis) -> list[UsageRecord]:
            payloads: dict[str, str] = {}  # by record id: HSCAN may return an entry twice
            if since is None:
                cursor = 0
                while True:
                    reply: Any = await r.hscan(
                        self._keys.usage_records, cursor, count=C.REDIS_SCAN_BATCH
                    )
                    cursor, batch = reply
                    payloads.update(batch)
                    if cursor == 0:
                        break
            else:
                # All ids in one reply, so records written meanwhile cannot shift a page.
                ids: Any = await r.zrangebyscore(self._keys.usage_by_ts, since, "+inf")
                for start in range(0, len(ids), C.REDIS_SCAN_BATCH):
                    chunk = ids[start : start + C.REDIS_SCAN_BATCH]
                    values: Any = await r.hmget(self._keys.usage_records, chunk)
                    payloads.update((i, v) for i, v in zip(chunk, values, strict=True) if v)
            return [_decode(p) for p in payloads.values()]

        return await self._link.run("reading the usage ledger", work)

    async def _groups(self, by: GroupBy | None, rows: RowFilter) -> list[UsageGroup]:
        return group_records(rows.select(await self._select(rows.since)), by)

    async def _rollup(self, query: _rollup.RollupQuery) -> list[_rollup.RollupGroup]:
        await self.flush()
        await self._ensure_layout()
        keys, script = self._keys.rollups, self._scripts.rollup_query

        async def work(r: Redis) -> list[_rollup.RollupGroup]:
            return await rollup_redis.query(r, script, keys, query)

        return await self._link.run("reading the usage rollups", work)

    async def recent(
        self, limit: int = C.USAGE_RECENT_LIMIT, *, simulated: bool | None = None
    ) -> list[UsageRecord]:
        if limit <= 0:
            return []
        await self.flush()
        if simulated is not None:  # rare (a filtered listing): scan and sort
            records = RowFilter(simulated=simulated).select(await self._select(None))
            return sorted(records, key=lambda r: r.ts, reverse=True)[:limit]

        async def work(r: Redis) -> list[UsageRecord]:
            ids: Any = await r.zrevrange(self._keys.usage_by_order, 0, limit - 1)
            if not ids:
                return []
            payloads: Any = await r.hmget(self._keys.usage_records, ids)
            return [_decode(p) for p in payloads if p is not None]

        return await self._link.run("reading the usage ledger", work)


class RedisStore(StoreBase):
    """Sessions, the usage ledger and (through :meth:`rate_limiter`) the rate limit in Redis.

    Opening does no I/O: a Redis that is down shows up as :class:`StoreError` on the calls
    that need it and in :meth:`health`, and everything works again once it is back.

    Args:
        url: ``redis://[:password@]host[:port][/db]`` or ``rediss://...``.
        prefix: start of every key (several deployments can share one database).
        clock: the sessions' and runs' time; None (the default): Redis's own (``TIME``), so
            instances whose clocks drift agree on expiry (runs: ``time.time``).
    """

    def __init__(
        self, url: str, *, prefix: str = C.REDIS_KEY_PREFIX, clock: Clock | None = None
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._link = RedisLink(url)
        self.safe_url = self._link.safe_url
        keys = _Keys(prefix)
        scripts = _Scripts(self._link.client)  # creating the client does no I/O
        self._ledger = RedisLedger(self._link, keys, scripts)
        self.sessions = RedisSessions(self._link, keys, scripts, clock)
        self.usage = self._ledger
        self.runs = RedisRuns(self._link, prefix, clock or time.time)
        self.logs = RedisLogs(self._link, prefix)

    @property
    def link(self) -> RedisLink:
        """The shared connection (the rate limiter uses the same pool)."""
        return self._link

    def rate_limiter(
        self,
        rpm: int = C.POE_RPM,
        *,
        period_s: float = C.RATE_LIMIT_PERIOD_S,
        burst: int | None = None,
        max_wait_s: float | None = None,
    ) -> RedisRateLimiter:
        """A rate limiter shared by every process using this Redis (same connection pool).

        Args: as :class:`~poe_mcp.ratelimit.redis.RedisRateLimiter`.
        """
        wait = C.RATE_LIMIT_MAX_WAIT_S if max_wait_s is None else max_wait_s
        return RedisRateLimiter(
            self._link, rpm, period_s=period_s, burst=burst, max_wait_s=wait, prefix=self.prefix
        )

    async def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {"ok": False, "backend": "redis", "url": self.safe_url}
        try:

            async def work(r: Redis) -> dict[str, Any]:
                await r.ping()
                server: dict[str, Any] = await r.info("server")
                return server

            server = await self._link.run("checking health", work)
            info["redis_version"] = server.get("redis_version")
            info["ok"] = True
        except Exception as exc:  # noqa: BLE001 - health reports every failure, never raises
            info["error"] = str(exc)
        if self._ledger.pending:
            info["usage_records_waiting"] = self._ledger.pending
        return info

    async def flush(self) -> None:
        """Write ledger records kept while Redis was unreachable.

        Raises:
            StoreError: Redis is still unreachable.
        """
        await self._ledger.flush()

    async def aclose(self) -> None:
        """Write waiting ledger records if Redis answers, then close the pool. Safe twice."""
        if self._link.closed:
            return
        try:
            await self._ledger.flush()
        except StoreError as exc:
            log.warning("usage ledger: %d records lost at close: %s", self._ledger.pending, exc)
        finally:
            await self._link.aclose()


def open_store(url: str, *, clock: Clock | None = None) -> RedisStore:
    """Open the Redis store at ``url`` (no I/O until the first call; ``clock``: see
    :class:`RedisStore`).

    Raises:
        ConfigError: the URL is not a valid Redis URL.
    """
    return RedisStore(url, clock=clock)
