"""Stored orchestration runs: one JSON document per run, in the same store as the sessions.

The orchestrator saves a run after every ticket state change, so a process killed mid-way
loses at most the tickets that were in flight; a resumed run re-reads the document and skips
completed tickets. Each backend keeps the document whole (a run is small: tracks, tickets,
outputs and per-tier usage), listed by last update.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from .base import Clock, RunInfo

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._redis_conn import RedisLink
    from .sqlite import Conn, _Db

__all__ = ["MemoryRuns", "RedisRuns", "SqliteRuns"]


def _info(doc: dict[str, Any]) -> RunInfo:
    return RunInfo(
        id=str(doc["id"]),
        goal=str(doc.get("goal", "")),
        status=str(doc.get("status", "")),
        created_at=float(doc.get("created_at", 0.0)),
        updated_at=float(doc.get("updated_at", 0.0)),
    )


class MemoryRuns:
    """Runs in a dict (this process only)."""

    def __init__(self) -> None:
        self._docs: dict[str, str] = {}
        self._lock = threading.Lock()

    async def save(self, doc: dict[str, Any]) -> None:
        text = json.dumps(doc, ensure_ascii=False)
        with self._lock:
            self._docs[str(doc["id"])] = text

    async def get(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            text = self._docs.get(run_id)
        return None if text is None else json.loads(text)

    async def list(self, limit: int = 50) -> list[RunInfo]:
        with self._lock:
            docs = [json.loads(t) for t in self._docs.values()]
        infos = sorted((_info(d) for d in docs), key=lambda i: i.updated_at, reverse=True)
        return infos[: max(limit, 0)]

    async def delete(self, run_id: str) -> bool:
        with self._lock:
            return self._docs.pop(run_id, None) is not None


class SqliteRuns:
    """Runs in the ``runs`` table (migration 4), ordered by save time (``clock``)."""

    def __init__(self, db: _Db, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def save(self, doc: dict[str, Any]) -> None:
        text = json.dumps(doc, ensure_ascii=False)
        now = self._clock()
        row = (str(doc["id"]), str(doc.get("status", "")), doc.get("created_at", now), now, text)

        def work(conn: Conn) -> None:
            conn.execute(
                "INSERT INTO runs (id, status, created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET status = excluded.status, "
                "updated_at = excluded.updated_at, doc = excluded.doc",
                row,
            )

        await self._db.run(work)

    async def get(self, run_id: str) -> dict[str, Any] | None:
        def work(conn: Conn) -> str | None:
            row = conn.execute("SELECT doc FROM runs WHERE id = ?", (run_id,)).fetchone()
            return None if row is None else str(row[0])

        text = await self._db.run(work)
        return None if text is None else json.loads(text)

    async def list(self, limit: int = 50) -> list[RunInfo]:
        def work(conn: Conn) -> list[str]:
            rows = conn.execute(
                "SELECT doc FROM runs ORDER BY updated_at DESC LIMIT ?", (max(limit, 0),)
            ).fetchall()
            return [str(r[0]) for r in rows]

        return [_info(json.loads(t)) for t in await self._db.run(work)]

    async def delete(self, run_id: str) -> bool:
        def work(conn: Conn) -> bool:
            return conn.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount > 0

        return await self._db.run(work)


class RedisRuns:
    """Runs as JSON strings under ``<prefix>run:<id>``, indexed by save time (``clock``)."""

    def __init__(self, link: RedisLink, prefix: str, clock: Clock) -> None:
        self._link = link
        self._clock = clock
        self._index = f"{prefix}runs"
        self._prefix = f"{prefix}run:"

    async def save(self, doc: dict[str, Any]) -> None:
        run_id = str(doc["id"])
        text = json.dumps(doc, ensure_ascii=False)

        async def work(r: Redis) -> None:
            pipe = r.pipeline(transaction=True)
            pipe.set(self._prefix + run_id, text)
            pipe.zadd(self._index, {run_id: self._clock()})
            await pipe.execute()

        await self._link.run("saving a run", work)

    async def get(self, run_id: str) -> dict[str, Any] | None:
        async def work(r: Redis) -> Any:
            return await r.get(self._prefix + run_id)

        text = await self._link.run("reading a run", work)
        return None if text is None else json.loads(text)

    async def list(self, limit: int = 50) -> list[RunInfo]:
        async def work(r: Redis) -> list[Any]:
            ids: Any = await r.zrevrange(self._index, 0, max(limit, 1) - 1)
            if not ids:
                return []
            values: Any = await r.mget([self._prefix + i for i in ids])
            return [v for v in values if v is not None]

        if limit <= 0:
            return []
        return [_info(json.loads(t)) for t in await self._link.run("listing runs", work)]

    async def delete(self, run_id: str) -> bool:
        async def work(r: Redis) -> int:
            pipe = r.pipeline(transaction=True)
            pipe.delete(self._prefix + run_id)
            pipe.zrem(self._index, run_id)
            deleted, _ = await pipe.execute()
            return int(deleted)

        return bool(await self._link.run("deleting a run", work))
