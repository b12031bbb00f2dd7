"""What the three backends' session stores and ledgers share, written once: each backend
subclasses these and holds only its storage.

- :class:`SessionsBase`: ``append``/``extend`` clean and encode the messages once
  (:class:`SessionWrite`) and hand them to the backend's ``_write``;
- :class:`LedgerBase`: totals and breakdowns come from the hourly rollups whenever those answer
  exactly (whole hours, no session or run filter), else from the backend's raw rows
  (``_groups``); ``rollup`` makes one checked :class:`~._rollup.RollupQuery`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequestError
from ._common import (
    GROUPS,
    ROLLUP_GROUPS,
    RowFilter,
    day_key,
    sort_groups,
    storable_messages,
    whole_hours,
)
from ._rollup import Bucket, RollupBy, RollupGroup, RollupQuery
from .base import GroupBy, Message, Session, UsageGroup, UsageTotals

__all__ = ["LedgerBase", "SessionWrite", "SessionsBase", "decode_session"]


@dataclass(frozen=True, slots=True)
class SessionWrite:
    """One append, cleaned (no key, no lone surrogate) and encoded as JSON.

    ``model``, ``backend`` and ``tools`` (JSON) are None to keep the stored values.
    """

    session_id: str
    payloads: list[str]  # one JSON text per message
    model: str | None
    backend: str | None
    tools: str | None
    ttl_s: float
    turns: int  # user messages among them

    @classmethod
    def of(
        cls,
        session_id: str,
        messages: list[Message],
        model: str | None,
        backend: str | None,
        ttl_s: float,
        tools: list[dict[str, Any]] | None,
    ) -> SessionWrite:
        """Clean and encode an append's arguments.

        Raises:
            InvalidRequestError: a message or tool definition is not JSON-serialisable.
        """
        messages = storable_messages(messages)
        try:
            payloads = [_compact(m) for m in messages]
            tools_json = None if tools is None else _compact(storable_messages(tools))
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(f"session messages must be JSON-serialisable: {exc}") from exc
        turns = sum(1 for m in messages if m.get("role") == "user")
        return cls(session_id, payloads, model, backend, tools_json, ttl_s, turns)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def decode_session(
    session_id: str,
    payloads: Iterable[str],
    model: str | None,
    backend: str | None,
    created_at: float,
    updated_at: float,
    tools: str | None,
) -> Session:
    """A :class:`Session` from what a backend stored (a fresh copy every time)."""
    messages = json.loads(f"[{','.join(payloads)}]")  # one parse: faster than one per message
    return Session(
        session_id, messages, model, backend, created_at, updated_at,
        json.loads(tools) if tools else None,
    )  # fmt: skip


class SessionsBase(ABC):
    """The write half of :class:`~poe_mcp.store.base.SessionStore` every backend shares."""

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
        """See :meth:`~poe_mcp.store.base.SessionStore.append`."""
        write = SessionWrite.of(session_id, messages, model, backend, ttl_s, tools)
        session = await self._write(write, load=True)
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
        """See :meth:`~poe_mcp.store.base.SessionStore.extend`."""
        await self._write(SessionWrite.of(session_id, messages, model, backend, ttl_s, tools))

    @abstractmethod
    async def _write(self, w: SessionWrite, *, load: bool = False) -> Session | None:
        """Apply ``w`` atomically (an expired session starts afresh) and renew the expiry;
        with ``load``, return the session as it is then (even when ``ttl_s <= 0``)."""


class LedgerBase(ABC):
    """The query half of :class:`~poe_mcp.store.base.UsageLedger` every backend shares."""

    async def totals(
        self,
        *,
        since: float | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        simulated: bool | None = None,
    ) -> UsageTotals:
        """See :meth:`~poe_mcp.store.base.UsageLedger.totals`."""
        if session_id is None and run_id is None and whole_hours(since):
            cells = await self._rollup(RollupQuery(since, simulated=simulated, latency=False))
            return cells[0].totals if cells else UsageTotals()
        rows = await self._groups(None, RowFilter(since, session_id, run_id, simulated))
        return rows[0].totals if rows else UsageTotals()

    async def breakdown(
        self,
        by: GroupBy,
        *,
        since: float | None = None,
        run_id: str | None = None,
        simulated: bool | None = None,
    ) -> list[UsageGroup]:
        """See :meth:`~poe_mcp.store.base.UsageLedger.breakdown`."""
        if by not in GROUPS:
            raise InvalidRequestError(
                f"cannot group usage by {by!r}: use one of {', '.join(GROUPS)}"
            )
        if run_id is None and by in ROLLUP_GROUPS and whole_hours(since):
            bucket: Bucket | None = "day" if by == "day" else None
            q = RollupQuery(since, None, bucket, ROLLUP_GROUPS[by], simulated, latency=False)
            cells = await self._rollup(q)
            if by == "day":  # buckets, already in calendar order
                return [UsageGroup(day_key(g.start or 0.0), g.totals) for g in cells]
            groups = [UsageGroup(g.key or "", g.totals) for g in cells]
        else:
            groups = await self._groups(by, RowFilter(since, None, run_id, simulated))
        return sort_groups(groups, by)

    async def rollup(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        bucket: Bucket | None = None,
        by: RollupBy | None = None,
        simulated: bool | None = None,
        latency: bool = True,
    ) -> list[RollupGroup]:
        """See :meth:`~poe_mcp.store.base.UsageLedger.rollup`."""
        return await self._rollup(RollupQuery(since, until, bucket, by, simulated, latency))

    @abstractmethod
    async def _rollup(self, query: RollupQuery) -> list[RollupGroup]:
        """The rollups' answer to ``query``, sorted (``store._rollup.sort_rollup``)."""

    @abstractmethod
    async def _groups(self, by: GroupBy | None, rows: RowFilter) -> list[UsageGroup]:
        """Totals of the raw rows that pass ``rows``, per group of ``by`` (one group for None;
        none when no row passes), in any order."""
