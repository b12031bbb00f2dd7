"""``sqlite:///path``: the default store, one file in the data dir.

Safe across tasks, threads and processes on one machine:

- WAL mode, so readers never wait for the writer, with a busy timeout so a writer waits for
  another process's write lock instead of failing;
- every write is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken before reading),
  so a session append reads the last message number and inserts after it atomically;
- database work runs on one worker thread per store, in order; the one exception is a turn's
  session read or write while that worker is idle: a few statements on a second connection,
  run on the event loop itself, that never wait for a lock (a busy file sends the job to the
  worker) and never checkpoint the log (the worker's commits do). That saves a thread hop per
  turn without ever holding the loop for longer than those statements.

``usage.record()`` is on every call's hot path, so it only queues the row: rows are written in
batches (every ``USAGE_FLUSH_DELAY_S``), always before a later query of the same store, and
``aclose()`` or the end of the process writes what is left.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
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
from ..errors import ConfigError, StoreError
from . import _rollup
from ._backend import LedgerBase, SessionsBase, SessionWrite, decode_session
from ._common import NO_SESSION, RowFilter, storable_record
from ._logs import SqliteLogs
from ._migrations import apply_migrations, schema_version
from ._runs import SqliteRuns
from .base import (
    Clock,
    GroupBy,
    LocalRateLimits,
    Session,
    SessionInfo,
    UsageGroup,
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
def _transaction(conn: Conn) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)  # another writer holds the file


class _Db:
    """One connection touched only by one worker thread, so jobs run in order; plus, for the
    sessions, an inline connection used on the loop while no job is queued (``session_job``)."""

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
        # The ledger's queued rows, written before a job that may read them (SqliteLedger.record).
        self.pending_rows: Callable[[Conn], None] | None = None
        self._queued = 0  # jobs submitted and not finished
        self._count_lock = threading.Lock()  # changed on the loop and on the worker
        self.inline = self._inline_connection()

    def _inline_connection(self) -> Conn | None:
        """A second connection for a turn's small session reads and writes, used on the event
        loop itself when the worker is idle: no thread hop. It never waits for a lock
        (``timeout=0``: a busy file sends the job to the worker, which waits) and never
        checkpoints the write-ahead log (the worker's commits do), so it never blocks the loop
        for more than its own few statements."""
        if self.path == ":memory:":
            return None  # a second connection would open another, empty database
        try:
            conn = sqlite3.connect(
                self.path, timeout=0, isolation_level=None, check_same_thread=False,
                factory=TextSafeConnection,
            )  # fmt: skip
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error:
            return None  # the worker's connection serves every job
        return conn

    def _call(self, fn: Callable[[Conn], T], rows_first: bool) -> T:
        try:
            if rows_first and self.pending_rows is not None:
                self.pending_rows(self.conn)
            return fn(self.conn)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path}: {exc}") from exc

    def submit(self, fn: Callable[[Conn], T], *, rows_first: bool = True) -> Future[T]:
        """Queue ``fn`` for the worker; with ``rows_first`` queued ledger rows are written
        before it (every job but the session reads and writes, which never read the ledger)."""
        if self.closed:
            raise StoreError(f"the SQLite store {self.path} is closed")
        with self._count_lock:
            self._queued += 1
        future = self._executor.submit(self._call, fn, rows_first)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[Any]) -> None:
        with self._count_lock:
            self._queued -= 1

    async def run(self, fn: Callable[[Conn], T], *, rows_first: bool = True) -> T:
        return await asyncio.wrap_future(self.submit(fn, rows_first=rows_first))

    async def session_job(self, fn: Callable[[Conn], T]) -> T:
        """A session read or write: on the inline connection when no job is queued (so it
        cannot overtake one), else, or when the file is busy, on the worker in order."""
        conn = self.inline
        if conn is not None and self._queued == 0 and not self.closed:
            try:
                return fn(conn)
            except sqlite3.Error as exc:
                if getattr(exc, "sqlite_errorcode", None) not in _BUSY_CODES:
                    raise StoreError(f"SQLite store {self.path}: {exc}") from exc
        return await self.run(fn, rows_first=False)

    async def close(self) -> None:
        if self.closed:
            return
        future = self.submit(lambda conn: conn.close())
        self.closed = True
        if self.inline is not None:
            self.inline.close()
        try:
            await asyncio.wrap_future(future)
        finally:
            self._executor.shutdown(wait=False)


class SqliteSessions(SessionsBase):
    """Conversations in the ``sessions`` and ``messages`` tables."""

    def __init__(self, db: _Db, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._last_purge = -math.inf  # set by the write that purges (always on the worker)

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
        messages = conn.execute(
            "SELECT message FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)
        )
        return decode_session(session_id, (m for (m,) in messages), *row)

    async def get(self, session_id: str) -> Session | None:
        def work(conn: Conn) -> Session | None:
            conn.execute("BEGIN")  # one snapshot for the row and its messages
            try:
                return self._load(conn, session_id, self._clock())
            finally:
                conn.execute("COMMIT")

        return await self._db.session_job(work)

    async def _write(self, w: SessionWrite, *, load: bool = False) -> Session | None:
        session_id = w.session_id

        def work(conn: Conn) -> Session | None:
            now = self._clock()
            with _transaction(conn):
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
                        (session_id, w.model, w.backend, now, now, now + w.ttl_s, w.turns,
                         w.tools),
                    )  # fmt: skip
                    start = 0
                else:
                    conn.execute(
                        "UPDATE sessions SET model = COALESCE(?, model), "
                        "backend = COALESCE(?, backend), tools = COALESCE(?, tools), "
                        "updated_at = ?, expires_at = ?, turns = turns + ? WHERE id = ?",
                        (w.model, w.backend, w.tools, now, now + w.ttl_s, w.turns, session_id),
                    )
                    start = conn.execute(
                        "SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE session_id = ?",
                        (session_id,),
                    ).fetchone()[0]
                conn.executemany(
                    "INSERT INTO messages (session_id, seq, message) VALUES (?, ?, ?)",
                    [(session_id, start + i, p) for i, p in enumerate(w.payloads)],
                )
                if not load:
                    return None
                return self._load(conn, session_id, -math.inf)  # even with ttl_s <= 0

        if self._clock() - self._last_purge >= C.SESSION_PURGE_INTERVAL_S:
            return await self._db.run(work, rows_first=False)  # a purge may be long: not inline
        return await self._db.session_job(work)

    async def delete(self, session_id: str) -> bool:
        def work(conn: Conn) -> bool:
            now = self._clock()
            with _transaction(conn):
                row = conn.execute(
                    "SELECT expires_at FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
                conn.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
                conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            return row is not None and row[0] > now

        return await self._db.run(work)

    async def list(self) -> list[SessionInfo]:
        def work(conn: Conn) -> list[SessionInfo]:
            now = self._clock()
            with _transaction(conn):
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


class SqliteLedger(LedgerBase):
    """The usage ledger in the ``usage`` table, written in batches off the event loop."""

    def __init__(self, db: _Db) -> None:
        self._db = db
        self._pending: list[Row] = []
        self._scheduled = False
        self._lock = threading.Lock()  # _pending is shared by the loop and the worker thread
        db.pending_rows = self._drain

    async def record(self, record: UsageRecord) -> None:
        """Queue one call's row.

        Rows are written in one transaction per ``USAGE_FLUSH_DELAY_S`` (with their hourly
        rollups), not one per call: a query of this store writes the queued rows first, so
        it always sees them; other processes see them within that delay; ``flush()``,
        ``aclose()`` and the end of the process write what is left.
        """
        if self._db.closed:
            raise StoreError(f"the SQLite store {self._db.path} is closed")
        row = _row(storable_record(record))
        with self._lock:
            self._pending.append(row)
            if self._scheduled:
                return
            self._scheduled = True
            _WAITING.add(self)
        asyncio.get_running_loop().call_later(C.USAGE_FLUSH_DELAY_S, self._kick)

    def _kick(self) -> None:
        if self._pending and not self._db.closed:  # else a job already took the rows
            with contextlib.suppress(RuntimeError):  # the interpreter is exiting: atexit writes
                self._db.submit(self._flush)

    async def flush(self) -> None:
        """Wait until every queued row is written."""
        await self._db.run(self._flush)

    def _drain(self, conn: Conn) -> None:
        if self._pending:  # a racy peek is fine: a row added meanwhile has its own _kick
            self._flush(conn)

    def _flush(self, conn: Conn) -> None:
        with self._lock:
            rows, self._pending = self._pending, []
            self._scheduled = False
            _WAITING.discard(self)
        for start in range(0, len(rows), C.USAGE_FLUSH_BATCH):
            chunk = rows[start : start + C.USAGE_FLUSH_BATCH]
            try:
                with _transaction(conn):
                    conn.executemany(_INSERT_USAGE, chunk)
                    # The hourly rollups change in the same transaction: never out of step.
                    cells = _rollup.fold(_record(row) for row in chunk)
                    conn.executemany(_UPSERT_ROLLUP, _rollup.upsert_rows(cells))
            except sqlite3.Error as exc:
                unwritten = rows[start:]
                with self._lock:  # keep them for the next flush, newest first to go if over cap
                    self._pending[:0] = unwritten
                    del self._pending[C.USAGE_BUFFER_MAX :]
                    _WAITING.add(self)
                log.warning("usage ledger: %d rows not written yet: %s", len(unwritten), exc)
                return

    def write_leftovers(self) -> None:
        """Write queued rows from the calling thread (at exit, once the worker has stopped)."""
        if self._pending and not self._db.closed:
            self._flush(self._db.conn)

    async def _rollup(self, query: _rollup.RollupQuery) -> list[_rollup.RollupGroup]:
        sql, args = _rollup.sqlite_query(query)

        def work(conn: Conn) -> list[_rollup.RollupGroup]:
            return _rollup.from_sql_rows(conn.execute(sql, args))

        return await self._db.run(work)

    async def _groups(self, by: GroupBy | None, rows: RowFilter) -> list[UsageGroup]:
        where, args = rows.sql()
        key = "''" if by is None else _GROUP_KEYS[by]
        sql = f"SELECT {key} AS k, {_TOTALS} FROM usage{where} GROUP BY k"  # noqa: S608

        def work(conn: Conn) -> list[UsageGroup]:
            return [UsageGroup(str(r[0]), _totals(r[1:])) for r in conn.execute(sql, args)]

        return await self._db.run(work)

    async def recent(
        self, limit: int = C.USAGE_RECENT_LIMIT, *, simulated: bool | None = None
    ) -> list[UsageRecord]:
        where, args = RowFilter(simulated=simulated).sql()

        def work(conn: Conn) -> list[UsageRecord]:
            rows = conn.execute(
                f"SELECT {_USAGE_COLUMNS} FROM usage{where} ORDER BY id DESC LIMIT ?",  # noqa: S608
                (*args, max(limit, 0)),
            ).fetchall()
            return [_record(r) for r in rows]

        return await self._db.run(work)


# Ledgers holding rows not written yet. Python joins the stores' worker threads before it
# runs atexit handlers, so this one may use their connections.
_WAITING: set[SqliteLedger] = set()


@atexit.register
def _write_leftovers() -> None:
    for ledger in list(_WAITING):
        try:
            ledger.write_leftovers()
        except Exception:
            log.warning("usage ledger: rows lost at exit", exc_info=True)


class SqliteStore(LocalRateLimits):
    """Sessions and the usage ledger in one SQLite file."""

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        self.url = url
        self.path = path_from_url(url)
        self._db = _Db(self.path)
        self._ledger = SqliteLedger(self._db)
        self.sessions = SqliteSessions(self._db, clock or time.time)
        self.usage = self._ledger
        self.runs = SqliteRuns(self._db, clock or time.time)
        self.logs = SqliteLogs(self._db)

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


def open_store(url: str, *, clock: Clock | None = None) -> SqliteStore:
    """Open (creating it and its directory if needed) and migrate the database at ``url``;
    ``clock``: the sessions' and runs' time (default ``time.time``; see ``base.Clock``)."""
    return SqliteStore(url, clock=clock)
