"""``memory://``: sessions and usage in this process only (tests, throwaway runs).

Every operation completes without awaiting anything, so on one event loop each is atomic; a
lock also makes the store safe for the threads a synchronous client may use.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .. import _constants as C
from . import _rollup
from ._common import (
    aggregate,
    breakdown,
    copy_messages,
    count_user_turns,
    storable_messages,
    storable_record,
)
from ._logs import LogStore, MemoryLogs
from ._runs import MemoryRuns
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

__all__ = ["MemoryLedger", "MemorySessions", "MemoryStore", "open_store"]


class MemorySessions:
    """Conversations kept in a dict; expired ones vanish on the next access."""

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[Session, float]] = {}  # id -> (session, expires_at)
        self._lock = threading.Lock()

    def _live(self, session_id: str, now: float) -> tuple[Session, float] | None:
        entry = self._sessions.get(session_id)
        if entry is not None and entry[1] <= now:
            del self._sessions[session_id]
            return None
        return entry

    async def get(self, session_id: str) -> Session | None:
        with self._lock:
            entry = self._live(session_id, time.time())
            if entry is None:
                return None
            return _copy(entry[0])

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
        added = copy_messages(storable_messages(messages))
        kept_tools = copy_messages(storable_messages(tools)) if tools is not None else None
        with self._lock:
            now = time.time()
            entry = self._live(session_id, now)
            session = entry[0] if entry else Session(id=session_id, created_at=now)
            session.messages.extend(added)
            session.model = model or session.model
            session.backend = backend or session.backend
            session.tools = kept_tools if kept_tools is not None else session.tools
            session.updated_at = now
            self._sessions[session_id] = (session, now + ttl_s)
            return _copy(session)

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
        await self.append(
            session_id, messages, model=model, backend=backend, ttl_s=ttl_s, tools=tools
        )  # in memory, reading back is a copy, not a read

    async def delete(self, session_id: str) -> bool:
        with self._lock:
            if self._live(session_id, time.time()) is None:
                return False
            del self._sessions[session_id]
            return True

    async def list(self) -> list[SessionInfo]:
        with self._lock:
            now = time.time()
            for sid in [sid for sid, (_, exp) in self._sessions.items() if exp <= now]:
                del self._sessions[sid]
            infos = [
                SessionInfo(
                    id=s.id,
                    model=s.model,
                    turns=count_user_turns(s.messages),
                    created_at=s.created_at,
                    updated_at=s.updated_at,
                    expires_at=exp,
                )
                for s, exp in self._sessions.values()
            ]
        return sorted(infos, key=lambda i: i.updated_at, reverse=True)


class MemoryLedger:
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
        with self._lock:
            cells = [(k, list(v)) for k, v in self._cells.items()]
        return _rollup.summarise(
            cells,
            since=since,
            until=until,
            bucket=bucket,
            by=by,
            simulated=simulated,
            latency=latency,
        )

    def _select(
        self,
        since: float | None,
        session_id: str | None = None,
        run_id: str | None = None,
        simulated: bool | None = None,
    ) -> list[UsageRecord]:
        with self._lock:
            return [
                r
                for r in self._records
                if (since is None or r.ts >= since)
                and (session_id is None or r.session_id == session_id)
                and (run_id is None or r.run_id == run_id)
                and (simulated is None or r.simulated == simulated)
            ]

    async def totals(
        self,
        *,
        since: float | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        simulated: bool | None = None,
    ) -> UsageTotals:
        return aggregate(self._select(since, session_id, run_id, simulated))

    async def breakdown(
        self,
        by: GroupBy,
        *,
        since: float | None = None,
        run_id: str | None = None,
        simulated: bool | None = None,
    ) -> list[UsageGroup]:
        return breakdown(self._select(since, run_id=run_id, simulated=simulated), by)

    async def recent(
        self, limit: int = C.USAGE_RECENT_LIMIT, *, simulated: bool | None = None
    ) -> list[UsageRecord]:
        if limit <= 0:
            return []
        return list(reversed(self._select(None, simulated=simulated)[-limit:]))


class MemoryStore(LocalRateLimits):
    """Both halves in memory. Nothing survives the process."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self.sessions: SessionStore = MemorySessions()
        self.usage: UsageLedger = MemoryLedger()
        self.runs: RunStore = MemoryRuns()
        self.logs: LogStore = MemoryLogs()

    async def health(self) -> dict[str, Any]:
        return {"ok": True, "backend": "memory", "url": self.url}

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> MemoryStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def open_store(url: str) -> MemoryStore:
    """Open a fresh in-memory store (each call gets its own)."""
    return MemoryStore(url)


def _copy(session: Session) -> Session:
    return Session(
        id=session.id,
        messages=copy_messages(session.messages),
        model=session.model,
        backend=session.backend,
        created_at=session.created_at,
        updated_at=session.updated_at,
        tools=copy_messages(session.tools) if session.tools is not None else None,
    )
