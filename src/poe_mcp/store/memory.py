"""``memory://``: sessions and usage in this process only (tests, throwaway runs).

Every operation completes without awaiting anything, so on one event loop each is atomic; a
lock also makes the store safe for the threads a synchronous client may use.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import _constants as C
from . import _rollup
from ._backend import LedgerBase, SessionsBase, SessionWrite, decode_session
from ._common import RowFilter, group_records, storable_record
from ._logs import MemoryLogs
from ._runs import MemoryRuns
from .base import Clock, GroupBy, LocalRateLimits, Session, SessionInfo, UsageGroup, UsageRecord

__all__ = ["MemoryLedger", "MemorySessions", "MemoryStore", "open_store"]


@dataclass(slots=True)
class _Entry:
    created_at: float
    updated_at: float = 0.0
    expires_at: float = 0.0
    model: str | None = None
    backend: str | None = None
    tools: str | None = None  # JSON
    turns: int = 0
    payloads: list[str] = field(default_factory=list)  # JSON: a read is always a fresh copy

    def session(self, session_id: str) -> Session:
        return decode_session(
            session_id, self.payloads, self.model, self.backend, self.created_at,
            self.updated_at, self.tools,
        )  # fmt: skip


class MemorySessions(SessionsBase):
    """Conversations kept in a dict; expired ones vanish on the next access."""

    def __init__(self, clock: Clock) -> None:
        self._sessions: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _live(self, session_id: str, now: float) -> _Entry | None:
        entry = self._sessions.get(session_id)
        if entry is not None and entry.expires_at <= now:
            del self._sessions[session_id]
            return None
        return entry

    async def get(self, session_id: str) -> Session | None:
        with self._lock:
            entry = self._live(session_id, self._clock())
            return None if entry is None else entry.session(session_id)

    async def _write(self, w: SessionWrite, *, load: bool = False) -> Session | None:
        with self._lock:
            now = self._clock()
            entry = self._live(w.session_id, now) or _Entry(created_at=now)
            entry.payloads.extend(w.payloads)
            entry.model = entry.model if w.model is None else w.model
            entry.backend = entry.backend if w.backend is None else w.backend
            entry.tools = entry.tools if w.tools is None else w.tools
            entry.turns += w.turns
            entry.updated_at, entry.expires_at = now, now + w.ttl_s
            self._sessions[w.session_id] = entry
            return entry.session(w.session_id) if load else None

    async def delete(self, session_id: str) -> bool:
        with self._lock:
            if self._live(session_id, self._clock()) is None:
                return False
            del self._sessions[session_id]
            return True

    async def list(self) -> list[SessionInfo]:
        with self._lock:
            now = self._clock()
            infos = [
                SessionInfo(sid, e.model, e.turns, e.created_at, e.updated_at, e.expires_at)
                for sid, e in self._sessions.items()
                if e.expires_at > now
            ]
            self._sessions = {i.id: self._sessions[i.id] for i in infos}  # the expired go
        return sorted(infos, key=lambda i: i.updated_at, reverse=True)


class MemoryLedger(LedgerBase):
    """The usage ledger as a list; aggregation shares its rules with every backend."""

    def __init__(self) -> None:
        self._records: list[UsageRecord] = []
        self._cells: dict[_rollup.Cell, list[float]] = {}  # hourly rollups (store._rollup)
        self._lock = threading.Lock()

    async def record(self, record: UsageRecord) -> None:
        record = storable_record(record)
        cells, values = _rollup.cells_of(record)
        with self._lock:
            self._records.append(record)
            for cell in cells:
                current = self._cells.setdefault(cell, [0.0] * len(values))
                for i, v in enumerate(values):
                    current[i] += v

    async def _rollup(self, query: _rollup.RollupQuery) -> list[_rollup.RollupGroup]:
        with self._lock:
            cells = [(k, list(v)) for k, v in self._cells.items()]
        return _rollup.summarise(cells, query)

    async def _groups(self, by: GroupBy | None, rows: RowFilter) -> list[UsageGroup]:
        with self._lock:
            records = rows.select(self._records)
        return group_records(records, by)

    async def recent(
        self, limit: int = C.USAGE_RECENT_LIMIT, *, simulated: bool | None = None
    ) -> list[UsageRecord]:
        if limit <= 0:
            return []
        with self._lock:
            records = RowFilter(simulated=simulated).select(self._records)
        return list(reversed(records[-limit:]))


class MemoryStore(LocalRateLimits):
    """Both halves in memory. Nothing survives the process."""

    def __init__(self, url: str = "memory://", *, clock: Clock | None = None) -> None:
        self.url = url
        self.sessions = MemorySessions(clock or time.time)
        self.usage = MemoryLedger()
        self.runs = MemoryRuns()
        self.logs = MemoryLogs()

    async def health(self) -> dict[str, Any]:
        return {"ok": True, "backend": "memory", "url": self.url}


def open_store(url: str, *, clock: Clock | None = None) -> MemoryStore:
    """Open a fresh in-memory store (each call gets its own; ``clock``: see ``base.Clock``)."""
    return MemoryStore(url, clock=clock)
