"""Prompt and answer logs: what was asked and answered, searchable (``poe-mcp logs``).

Separate from the usage ledger (which counts every call and keeps no text unless prompt logging
is on): a log entry holds the prompt, the system prompt, the answer and the call's figures, and
is written only where full logging is on (the CLI and the console by default, see
``poe_mcp._logbook``). SQLite searches with FTS5; the memory and Redis stores match substrings.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from .. import _constants as C
from ._common import sql_where

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._redis_conn import RedisLink
    from .sqlite import Conn, _Db

__all__ = ["LogEntry", "LogQuery", "LogStore", "MemoryLogs", "RedisLogs", "SqliteLogs"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One logged exchange. ``id`` is set by the store."""

    ts: float
    model: str
    prompt: str
    response: str
    entry_point: str = "library"
    provider: str = "poe"
    session_id: str | None = None
    system: str | None = None
    attachments: tuple[str, ...] = ()  # file names or media types, never the data
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    latency_s: float = 0.0
    finish_reason: str | None = None
    request_id: str | None = None
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["attachments"] = list(self.attachments)
        return data


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Filters of :meth:`LogStore.search`; every one that is set must match.

    ``text`` is a full-text query (SQLite FTS5 syntax on SQLite: words, ``"a phrase"``,
    ``OR``, ``prefix*``); other stores match each word as a case-insensitive substring.
    """

    text: str | None = None
    model: str | None = None
    session_id: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = C.LOGS_LIST_DEFAULT
    oldest_first: bool = False


class LogStore(Protocol):
    async def add(self, entry: LogEntry) -> None: ...

    async def search(self, query: LogQuery) -> list[LogEntry]:
        """Matching entries, newest first (oldest first with ``oldest_first``)."""
        ...

    async def purge(self, *, before: float | None = None) -> int:
        """Delete entries older than ``before`` (every entry when None); how many."""
        ...


def _matches(entry: LogEntry, q: LogQuery) -> bool:
    if q.model is not None and entry.model.lower() != q.model.lower():
        return False
    if q.session_id is not None and entry.session_id != q.session_id:
        return False
    if q.since is not None and entry.ts < q.since:
        return False
    if q.until is not None and entry.ts >= q.until:
        return False
    if q.text:
        haystack = f"{entry.prompt}\n{entry.response}".lower()
        words = [w.strip('"*') for w in q.text.lower().split() if w not in ("and", "or", "not")]
        words = [w for w in words if w]
        # Only quotes or stars: nothing to look for, so nothing matches (as on SQLite).
        return bool(words) and all(w in haystack for w in words)
    return True


def _select(entries: list[LogEntry], q: LogQuery) -> list[LogEntry]:
    found = [e for e in entries if _matches(e, q)]
    found.sort(key=lambda e: (e.ts, e.id or 0), reverse=not q.oldest_first)
    return found[: max(q.limit, 0)]


class MemoryLogs:
    """Logs in a list (this process only)."""

    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()

    async def add(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(replace(entry, id=len(self._entries) + 1))

    async def search(self, query: LogQuery) -> list[LogEntry]:
        with self._lock:
            entries = list(self._entries)
        return _select(entries, query)

    async def purge(self, *, before: float | None = None) -> int:
        with self._lock:
            keep = [e for e in self._entries if before is not None and e.ts >= before]
            removed = len(self._entries) - len(keep)
            self._entries = keep
        return removed


_COLUMNS = (
    "ts, model, prompt, response, entry_point, provider, session_id, system, attachments, "
    "input_tokens, output_tokens, cost, latency_s, finish_reason, request_id"
)


def _row(e: LogEntry) -> tuple[Any, ...]:
    return (
        e.ts, e.model, e.prompt, e.response, e.entry_point, e.provider, e.session_id, e.system,
        json.dumps(list(e.attachments), ensure_ascii=False), e.input_tokens, e.output_tokens,
        e.cost, e.latency_s, e.finish_reason, e.request_id,
    )  # fmt: skip


def _entry(r: tuple[Any, ...]) -> LogEntry:
    return LogEntry(
        ts=r[0], model=r[1], prompt=r[2], response=r[3], entry_point=r[4], provider=r[5],
        session_id=r[6], system=r[7], attachments=tuple(json.loads(r[8] or "[]")),
        input_tokens=r[9], output_tokens=r[10], cost=r[11], latency_s=r[12],
        finish_reason=r[13], request_id=r[14], id=r[15],
    )  # fmt: skip


def _fts_query(text: str) -> str:
    """The user's words as an FTS5 query; anything FTS5 would choke on is quoted.

    Words and ``"phrases"`` match anywhere; ``OR`` / ``AND`` / ``NOT`` between two words and
    ``prefix*`` keep their FTS5 meaning.
    """
    words = _phrases(text)
    operators = {"AND", "OR", "NOT"}
    out: list[str] = []
    for i, word in enumerate(words):
        joins = 0 < i < len(words) - 1 and out[-1] not in operators
        operator = word in operators and joins and words[i + 1] not in operators
        stem = word.rstrip("*")
        if operator:
            out.append(word)
        elif stem != word and stem.strip('"'):
            # A quoted stem keeps ``OR*`` / ``a-b*`` from being read as syntax.
            out.append(_fts_string(stem) + "*")
        else:
            out.append(_fts_string(word))
    # Nothing to look for (only quotes or blanks): an empty phrase, which matches nothing,
    # where an empty MATCH would be a syntax error.
    return " ".join(out) or '""'


def _fts_string(word: str) -> str:
    return '"' + word.strip('"').replace('"', '""') + '"'


def _phrases(text: str) -> list[str]:
    """Words, with ``"quoted phrases"`` kept whole (an unclosed quote runs to the end)."""
    out: list[str] = []
    rest = text.strip()
    while rest:
        if rest.startswith('"'):
            end = rest.find('"', 1)
            end = len(rest) if end < 0 else end + 1
            phrase, rest = rest[:end], rest[end:].lstrip()
            if phrase.strip('"').strip():
                out.append(phrase)
        else:
            word, _, rest = rest.partition(" ")
            rest = rest.lstrip()
            out.append(word)
    return out


class SqliteLogs:
    """Logs in the ``logs`` table, searched through its FTS5 index ``logs_fts`` (migration 6)."""

    def __init__(self, db: _Db) -> None:
        self._db = db

    async def add(self, entry: LogEntry) -> None:
        row = _row(entry)

        def work(conn: Conn) -> None:
            conn.execute(f"INSERT INTO logs ({_COLUMNS}) VALUES ({', '.join('?' * 15)})", row)  # noqa: S608

        await self._db.run(work)

    async def search(self, query: LogQuery) -> list[LogEntry]:
        text = _fts_query(query.text) if query.text and query.text.strip() else None
        where, args = sql_where(
            ("id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)", text),
            ("session_id = ?", query.session_id),
            ("model = ? COLLATE NOCASE", query.model),
            ("ts >= ?", query.since),
            ("ts < ?", query.until),
        )
        order = "ASC" if query.oldest_first else "DESC"
        sql = f"SELECT {_COLUMNS}, id FROM logs{where} ORDER BY ts {order}, id {order} LIMIT ?"  # noqa: S608

        def work(conn: Conn) -> list[LogEntry]:
            return [_entry(r) for r in conn.execute(sql, (*args, max(query.limit, 0)))]

        return await self._db.run(work)

    async def purge(self, *, before: float | None = None) -> int:
        def work(conn: Conn) -> int:
            if before is None:
                return conn.execute("DELETE FROM logs").rowcount
            return conn.execute("DELETE FROM logs WHERE ts < ?", (before,)).rowcount

        return int(await self._db.run(work))


class RedisLogs:
    """Logs as a capped Redis list of JSON entries (newest first); searched in this process."""

    def __init__(self, link: RedisLink, prefix: str) -> None:
        self._link = link
        self._key = f"{prefix}logs"
        self._seq = f"{prefix}logs:seq"

    async def add(self, entry: LogEntry) -> None:
        async def work(r: Redis) -> None:
            number = int(await r.incr(self._seq))
            text = json.dumps(replace(entry, id=number).to_dict(), ensure_ascii=False)
            pipe = r.pipeline(transaction=True)
            pipe.lpush(self._key, text)
            pipe.ltrim(self._key, 0, C.LOGS_REDIS_MAX - 1)
            await pipe.execute()

        await self._link.run("writing a log entry", work)

    async def _raw(self) -> list[Any]:
        async def work(r: Redis) -> list[Any]:
            values: Any = await r.lrange(self._key, 0, -1)
            return list(values)

        return list(await self._link.run("reading the logs", work))

    @staticmethod
    def _parse(text: Any) -> LogEntry:
        data = json.loads(text)
        data["attachments"] = tuple(data.get("attachments") or ())
        return LogEntry(**data)

    async def _all(self) -> list[LogEntry]:
        return [self._parse(text) for text in await self._raw()]

    async def search(self, query: LogQuery) -> list[LogEntry]:
        return _select(await self._all(), query)

    async def purge(self, *, before: float | None = None) -> int:
        raw = await self._raw()
        old = [text for text in raw if before is None or self._parse(text).ts < before]

        async def work(r: Redis) -> None:
            # Each old entry is removed by value (from the tail, where the oldest are): an
            # entry another instance adds meanwhile is never lost, as a rewrite would lose it.
            pipe = r.pipeline(transaction=True)
            for text in old:
                pipe.lrem(self._key, -1, text)
            await pipe.execute()

        if old:
            await self._link.run("purging the logs", work)
        return len(old)
