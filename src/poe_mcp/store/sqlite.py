"""``sqlite:///path``: the default store, one file in the data dir.

Safe across tasks, threads and processes on one machine:

- WAL mode, so readers never wait for the writer, with a busy timeout so a writer waits for
  another process's write lock instead of failing;
- every write is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken before reading),
  so a session append reads the last message number and inserts after it atomically;
- all database work runs on one worker thread per store, never on the event loop.

``usage.record()`` is on every call's hot path, so it only queues the row: the worker writes
queued rows in batches, in order, before any later query it runs, and ``aclose()`` flushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .. import _constants as C
from .._sanitize import TextSafeConnection
from ..errors import ConfigError, InvalidRequestError, StoreError
from . import _rollup
from ._common import (
    NO_SESSION,
    count_user_turns,
    day_key,
    sort_groups,
    storable_messages,
    storable_record,
)
from ._logs import LogStore, SqliteLogs
from ._migrations import apply_migrations, schema_version
from ._runs import SqliteRuns
from .base import (
    GroupBy,
    LocalRateLimits,
    Message,
    RunStore,
    Session,
    SessionInfo,
    SessionStore,
    UsageGroup,
    UsageLedger,
    UsageRecord,
    UsageTotals,
)

__all__ = ["SqliteLedger", "SqliteSessions", "SqliteStore", "open_store", "path_from_url"]

log = logging.getLogger(__name__)
T = TypeVar("T")
Conn = sqlite3.Connection


def path_from_url(url: str) -> str:
    """``sqlite:///rel/path`` is relative, ``sqlite:////abs/path`` absolute (SQLAlchemy's rule)."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(
            f"bad SQLite store URL {url!r}: use sqlite:///relative/path.db or sqlite:////abs/path.db"
        )
    path = url[len("sqlite:///") :]
    if not path:
        raise ConfigError(f"the SQLite store URL {url!r} names no file")
    return path if path == ":memory:" else str(Path(path).expanduser())


@contextlib.contextmanager
def _write(conn: Conn) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class _Db:
    """One connection, touched only by one worker thread, so calls are serialised in order."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.closed = False
        self.version = 0
        if path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the directory for {path}: {exc}") from exc
        try:
            self.conn = sqlite3.connect(
                path,
                timeout=C.SQLITE_BUSY_TIMEOUT_S,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # opened here, then used only by the worker thread
                factory=TextSafeConnection,  # lone surrogates in parameters: U+FFFD, no crash
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite store {path}: {exc}") from exc
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits.
            # FULL would fsync on every ledger write, which the per-call budget cannot afford.
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.version = apply_migrations(self.conn, path=path)
        except sqlite3.Error as exc:
            self.conn.close()
            raise StoreError(f"cannot open the SQLite store {path}: {exc}") from exc
        except BaseException:
            self.conn.close()
            raise
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poe-mcp-sqlite")

    def _call(self, fn: Callable[[Conn], T]) -> T:
        try:
            return fn(self.conn)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path}: {exc}") from exc

    def submit(self, fn: Callable[[Conn], T]) -> Future[T]:
        if self.closed:
            raise StoreError(f"the SQLite store {self.path} is closed")
        return self._executor.submit(self._call, fn)

    async def run(self, fn: Callable[[Conn], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    async def close(self) -> None:
        if self.closed:
            return
        future = self.submit(lambda conn: conn.close())
        self.closed = True
        try:
            await asyncio.wrap_future(future)
        finally:
            self._executor.shutdown(wait=False)


class SqliteSessions:
    """Conversations in the ``sessions`` and ``messages`` tables."""

    def __init__(self, db: _Db) -> None:
        self._db = db
        self._last_purge = 0.0  # touched only on the worker thread

    def _purge(self, conn: Conn, now: float, *, force: bool = False) -> None:
        if not force and now - self._last_purge < C.SESSION_PURGE_INTERVAL_S:
            return
        self._last_purge = now
        conn.execute(
            "DELETE FROM messages WHERE session_id IN "
            "(SELECT id FROM sessions WHERE expires_at <= ?)",
            (now,),
        )
        conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))

    @staticmethod
    def _load(conn: Conn, session_id: str, now: float) -> Session | None:
        row = conn.execute(
            "SELECT model, backend, created_at, updated_at, tools FROM sessions "
            "WHERE id = ? AND expires_at > ?",
            (session_id, now),
        ).fetchone()
        if row is None:
            return None
        messages = [
            json.loads(text)
            for (text,) in conn.execute(
                "SELECT message FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)
            )
        ]
        tools = json.loads(row[4]) if row[4] else None
        return Session(session_id, messages, row[0], row[1], row[2], row[3], tools)

    async def get(self, session_id: str) -> Session | None:
        def work(conn: Conn) -> Session | None:
            conn.execute("BEGIN")  # one snapshot for the row and its messages
            try:
                return self._load(conn, session_id, time.time())
            finally:
                conn.execute("COMMIT")

        return await self._db.run(work)

    async def append(
        self,
        session_id: str,
        messages: list[Message],
        *,
        model: str | None = None,
        backend: str | None = None,
        ttl_s: float,
        tools: list[dict[str, Any]] | None = None,
    ) -> Session:
        session = await self._add(session_id, messages, model, backend, ttl_s, tools, load=True)
        assert session is not None
        return session

    async def extend(
        self,
        session_id: str,
        messages: list[Message],
        *,
        model: str | None = None,
        backend: str | None = None,
        ttl_s: float,
        tools: list[dict[str, Any]] | None = None,
    ) -> None:
        await self._add(session_id, messages, model, backend, ttl_s, tools, load=False)

    async def _add(
        self,
        session_id: str,
        messages: list[Message],
        model: str | None,
        backend: str | None,
        ttl_s: float,
        tools: list[dict[str, Any]] | None,
        *,
        load: bool,
    ) -> Session | None:
        messages = storable_messages(messages)
        try:
            payloads = [json.dumps(m, ensure_ascii=False, separators=(",", ":")) for m in messages]
            tools_json = None if tools is None else json.dumps(storable_messages(tools))
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(f"session messages must be JSON-serialisable: {exc}") from exc
        user_turns = count_user_turns(messages)

        def work(conn: Conn) -> Session | None:
            now = time.time()
            with _write(conn):
                self._purge(conn, now)
                row = conn.execute(
                    "SELECT expires_at FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
                if row is not None and row[0] <= now:  # expired: the id starts afresh
                    conn.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
                    conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
                    row = None
                if row is None:
                    conn.execute(
                        "INSERT INTO sessions (id, model, backend, created_at, updated_at, "
                        "expires_at, turns, tools) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (session_id, model, backend, now, now, now + ttl_s, user_turns,
                         tools_json),
                    )  # fmt: skip
                    start = 0
                else:
                    conn.execute(
                        "UPDATE sessions SET model = COALESCE(?, model), "
                        "backend = COALESCE(?, backend), tools = COALESCE(?, tools), "
                        "updated_at = ?, expires_at = ?, turns = turns + ? WHERE id = ?",
                        (model, backend, tools_json, now, now + ttl_s, user_turns, session_id),
                    )
                    start = conn.execute(
                        "SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE session_id = ?",
                        (session_id,),
                    ).fetchone()[0]
                conn.executemany(
                    "INSERT INTO messages (session_id, seq, message) VALUES (?, ?, ?)",
                    [(session_id, start + i, p) for i, p in enumerate(payloads)],
                )
                if not load:
                    return None
                return self._load(conn, session_id, -math.inf)  # even with ttl_s <= 0

        return await self._db.run(work)

    async def delete(self, session_id: str) -> bool:
        def work(conn: Conn) -> bool:
            now = time.time()
            with _write(conn):
                row = conn.execute(
                    "SELECT expires_at FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
                conn.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
                conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            return row is not None and row[0] > now

        return await self._db.run(work)

    async def list(self) -> list[SessionInfo]:
        def work(conn: Conn) -> list[SessionInfo]:
            now = time.time()
            with _write(conn):
                self._purge(conn, now, force=True)
            rows = conn.execute(
                "SELECT id, model, turns, created_at, updated_at, expires_at FROM sessions "
                "WHERE expires_at > ? ORDER BY updated_at DESC",
                (now,),
            ).fetchall()
            return [SessionInfo(*row) for row in rows]

        return await self._db.run(work)


# Columns follow UsageRecord's fields by name, so a new field needs only its migration.
_USAGE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(UsageRecord))
_USAGE_COLUMNS = ", ".join(_USAGE_FIELDS)
_INSERT_USAGE = (
    f"INSERT INTO usage ({_USAGE_COLUMNS}) "  # noqa: S608 - names come from the dataclass
    f"VALUES ({', '.join('?' for _ in _USAGE_FIELDS)})"
)
_TOTALS = (
    "COUNT(*), COALESCE(SUM(outcome = 'error'), 0), COALESCE(SUM(input_tokens), 0), "
    "COALESCE(SUM(output_tokens), 0), TOTAL(cost), "
    "COALESCE(SUM(outcome = 'ok' AND cost IS NULL), 0), COALESCE(SUM(estimated), 0), "
    "COALESCE(SUM(reasoning_tokens), 0), COALESCE(SUM(cached_tokens), 0)"
)
_GROUP_KEYS: dict[str, str] = {
    "model": "model",
    "provider": "provider",
    "session": f"COALESCE(session_id, '{NO_SESSION}')",
    "day": "strftime('%Y-%m-%d', ts, 'unixepoch')",
    "tier": "COALESCE(CAST(tier AS TEXT), '(none)')",
    "entry_point": "entry_point",
}
_UPSERT_ROLLUP = _rollup.sqlite_upsert()
Row = tuple[Any, ...]


def _totals(row: Row) -> UsageTotals:
    return UsageTotals(
        calls=int(row[0]),
        errors=int(row[1]),
        input_tokens=int(row[2]),
        output_tokens=int(row[3]),
        cost=float(row[4]),
        unknown_cost_calls=int(row[5]),
        estimated_calls=int(row[6]),
        reasoning_tokens=int(row[7]),
        cached_tokens=int(row[8]),
    )


def _row(r: UsageRecord) -> Row:
    return tuple(
        int(v) if isinstance(v, bool) else v for v in (getattr(r, f) for f in _USAGE_FIELDS)
    )


def _record(row: Row) -> UsageRecord:
    values = dict(zip(_USAGE_FIELDS, row, strict=True))
    values["estimated"] = bool(values["estimated"])
    values["simulated"] = bool(values["simulated"])
    return UsageRecord(**values)


class SqliteLedger:
    """The usage ledger in the ``usage`` table, written in batches off the event loop."""

    def __init__(self, db: _Db) -> None:
        self._db = db
        self._pending: list[Row] = []
        self._scheduled = False
        self._lock = threading.Lock()  # _pending is shared by the loop and the worker thread

    async def record(self, record: UsageRecord) -> None:
        """Queue one call's row; the worker writes it before any query submitted later."""
        row = _row(storable_record(record))
        with self._lock:
            self._pending.append(row)
            if self._scheduled:
                return
            self._scheduled = True
        self._db.submit(self._flush)

    async def flush(self) -> None:
        """Wait until every queued row is written."""
        await self._db.run(self._flush)

    def _flush(self, conn: Conn) -> None:
        with self._lock:
            rows, self._pending = self._pending, []
            self._scheduled = False
        for start in range(0, len(rows), C.USAGE_FLUSH_BATCH):
            chunk = rows[start : start + C.USAGE_FLUSH_BATCH]
            try:
                with _write(conn):
                    conn.executemany(_INSERT_USAGE, chunk)
                    # The hourly rollups change in the same transaction: never out of step.
                    cells = _rollup.fold(_record(row) for row in chunk)
                    conn.executemany(_UPSERT_ROLLUP, _rollup.upsert_rows(cells))
            except sqlite3.Error as exc:
                unwritten = rows[start:]
                with self._lock:  # keep them for the next flush, newest first to go if over cap
                    self._pending[:0] = unwritten
                    del self._pending[C.USAGE_BUFFER_MAX :]
                log.warning("usage ledger: %d rows not written yet: %s", len(unwritten), exc)
                return

    async def totals(
        self,
        *,
        since: float | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        simulated: bool | None = None,
    ) -> UsageTotals:
        if session_id is None and run_id is None and _whole_hours(since):
            groups = await self.rollup(since=since, simulated=simulated)
            return groups[0].totals if groups else UsageTotals()
        where, args = _where(since, session_id, run_id, simulated)

        def work(conn: Conn) -> UsageTotals:
            return _totals(conn.execute(f"SELECT {_TOTALS} FROM usage{where}", args).fetchone())  # noqa: S608

        return await self._db.run(work)

    async def rollup(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        bucket: _rollup.Bucket | None = None,
        by: _rollup.RollupBy | None = None,
        simulated: bool | None = None,
        latency: bool = True,
    ) -> list[_rollup.RollupGroup]:
        """Sums per time bucket and group from the hourly rollups (see ``store._rollup``)."""
        sql, args = _rollup.sqlite_query(
            since=since, until=until, bucket=bucket, by=by, simulated=simulated, latency=latency
        )

        def work(conn: Conn) -> list[_rollup.RollupGroup]:
            return _rollup.from_sql_rows(conn.execute(sql, args))

        return await self._db.run(work)

    async def breakdown(
        self,
        by: GroupBy,
        *,
        since: float | None = None,
        run_id: str | None = None,
        simulated: bool | None = None,
    ) -> list[UsageGroup]:
        key = _GROUP_KEYS.get(by)
        if key is None:
            raise InvalidRequestError(
                f"cannot group usage by {by!r}: use one of {', '.join(_GROUP_KEYS)}"
            )
        if run_id is None and by in _ROLLUP_GROUPS and _whole_hours(since):
            if by == "day":
                days = await self.rollup(since=since, bucket="day", simulated=simulated)
                return [UsageGroup(day_key(g.start or 0.0), g.totals) for g in days]
            groups = await self.rollup(since=since, by=_ROLLUP_GROUPS[by], simulated=simulated)
            return sort_groups([UsageGroup(g.key or "", g.totals) for g in groups], by)
        where, args = _where(since, None, run_id, simulated)
        sql = f"SELECT {key} AS k, {_TOTALS} FROM usage{where} GROUP BY k"  # noqa: S608

        def work(conn: Conn) -> list[UsageGroup]:
            return [UsageGroup(str(r[0]), _totals(r[1:])) for r in conn.execute(sql, args)]

        return sort_groups(await self._db.run(work), by)

    async def recent(
        self, limit: int = C.USAGE_RECENT_LIMIT, *, simulated: bool | None = None
    ) -> list[UsageRecord]:
        where, args = _where(None, None, None, simulated)

        def work(conn: Conn) -> list[UsageRecord]:
            rows = conn.execute(
                f"SELECT {_USAGE_COLUMNS} FROM usage{where} ORDER BY id DESC LIMIT ?",  # noqa: S608
                (*args, max(limit, 0)),
            ).fetchall()
            return [_record(r) for r in rows]

        return await self._db.run(work)


# Breakdowns the hourly rollups answer (by session, and per run, need the raw rows).
_ROLLUP_GROUPS: dict[str, _rollup.RollupBy] = {
    "model": "model",
    "provider": "provider",
    "tier": "tier",
    "entry_point": "entry_point",
    "day": "model",  # any: days are buckets
}


def _whole_hours(since: float | None) -> bool:
    """Whether a query from ``since`` can be answered from hourly rollups exactly."""
    return since is None or since % C.ROLLUP_BUCKET_S == 0


def _where(
    since: float | None,
    session_id: str | None,
    run_id: str | None = None,
    simulated: bool | None = None,
) -> tuple[str, tuple[Any, ...]]:
    clauses: list[str] = []
    args: list[Any] = []
    if simulated is not None:
        clauses.append("simulated = ?")
        args.append(int(simulated))
    if run_id is not None:
        clauses.append("run_id = ?")
        args.append(run_id)
    if session_id is not None:
        clauses.append("session_id = ?")
        args.append(session_id)
    if since is not None:
        clauses.append("ts >= ?")
        args.append(since)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)


class SqliteStore(LocalRateLimits):
    """Sessions and the usage ledger in one SQLite file."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = path_from_url(url)
        self._db = _Db(self.path)
        self._ledger = SqliteLedger(self._db)
        self.sessions: SessionStore = SqliteSessions(self._db)
        self.usage: UsageLedger = self._ledger
        self.runs: RunStore = SqliteRuns(self._db)
        self.logs: LogStore = SqliteLogs(self._db)

    async def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "ok": False,
            "backend": "sqlite",
            "url": self.url,
            "path": self.path,
        }
        try:
            info["schema_version"] = await self._db.run(schema_version)
            info["ok"] = True
        except Exception as exc:  # noqa: BLE001 - health reports every failure, never raises
            info["error"] = str(exc)
        return info

    async def flush(self) -> None:
        """Wait until every queued ledger row is in the file (other processes can see it)."""
        await self._ledger.flush()

    async def aclose(self) -> None:
        """Write queued ledger rows, then close the file. Safe to call twice."""
        if self._db.closed:
            return
        try:
            await self._ledger.flush()
        finally:
            await self._db.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def open_store(url: str) -> SqliteStore:
    """Open (creating it and its directory if needed) and migrate the database at ``url``."""
    return SqliteStore(url)
