"""The storage contract: sessions (conversations) and the usage ledger.

Backends: ``memory://`` (tests, one process), ``sqlite:///path`` (default; survives restarts, safe
across processes on one machine) and ``redis://host:port/db`` (several instances sharing work).
All of them implement these protocols with the same behaviour; ``open_store(url)`` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self

from .. import _constants as C
from .._money import usd_repr

if TYPE_CHECKING:
    from ..ratelimit import RateLimiter
    from ._logs import LogStore
    from ._rollup import Bucket, RollupBy, RollupGroup

__all__ = [
    "Clock",
    "LocalRateLimits",
    "RunInfo",
    "RunStore",
    "Session",
    "SessionInfo",
    "SessionStore",
    "Store",
    "StoreBase",
    "UsageGroup",
    "UsageLedger",
    "UsageRecord",
    "UsageTotals",
]

Message = dict[str, Any]  # an OpenAI-format chat message (role, content, tool_calls, ...)
GroupBy = Literal["model", "session", "day", "provider", "tier", "entry_point"]
# A store's time, in seconds since the epoch: ``open_store(url, clock=...)`` injects one (tests
# move a fake one instead of sleeping). Sessions expire by it and runs are ordered by it; the
# default is ``time.time``, or on Redis the server's own time (instances whose clocks drift
# still agree on expiry). Ledger rows keep the ``ts`` their caller gave.
Clock = Callable[[], float]


@dataclass(slots=True)
class Session:
    """A conversation: its full history (system message first, if any) and bookkeeping.

    ``tools`` holds the tool definitions (OpenAI format) an agent's caller gave, so a later
    turn, in any process sharing the store, can offer them again without being given them.
    """

    id: str
    messages: list[Message] = field(default_factory=list)
    model: str | None = None
    backend: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    tools: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session's summary: its model, turn count and times (no messages)."""

    id: str
    model: str | None
    turns: int  # number of user messages
    created_at: float
    updated_at: float
    expires_at: float


class SessionStore(Protocol):
    """Conversation sessions by id, each expiring ``ttl_s`` after its last write."""

    async def get(self, session_id: str) -> Session | None:
        """The session, or None when it never existed or has expired."""
        ...

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
        """Atomically add messages (creating the session if needed) and renew its expiry.

        Concurrent appends to one session never lose or duplicate messages. ``model``,
        ``backend`` and ``tools`` replace the stored values when given (None keeps them).
        """
        ...

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
        """:meth:`append` without reading the session back: a conversation's turn already
        holds the history, so storing it never reads the whole session a second time."""
        ...

    async def delete(self, session_id: str) -> bool:
        """Forget a session; False when there was none."""
        ...

    async def list(self) -> list[SessionInfo]:
        """Live (unexpired) sessions, most recently used first."""
        ...


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One call, as the ledger keeps it. The prompt only when prompt logging is on."""

    ts: float
    provider: str
    backend: str
    model: str
    outcome: Literal["ok", "error"]
    session_id: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False
    cost: float | None = None  # USD; None = unknown price (never counted as 0)
    latency_s: float = 0.0
    error_kind: str | None = None
    request_id: str | None = None
    entry_point: str = "library"  # library | cli | mcp | console
    prompt: str | None = None
    tier: int | None = None  # orchestration tier (1-4) of the call, when it was part of a run
    run_id: str | None = None  # the orchestration run it belongs to
    reasoning_tokens: int = 0  # of output_tokens, spent thinking (when the provider says)
    cached_tokens: int = 0  # of input_tokens, read from the provider's prompt cache
    cache_write_tokens: int = 0  # of input_tokens, written to the provider's prompt cache
    simulated: bool = False  # answered by the built-in simulator, not a real model

    __repr__ = usd_repr


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Calls, tokens and cost summed over a set of ledger rows."""

    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0  # sum over calls whose price is known
    unknown_cost_calls: int = 0  # successful calls whose price is unknown (flagged, not added)
    estimated_calls: int = 0
    reasoning_tokens: int = 0  # of output_tokens
    cached_tokens: int = 0  # of input_tokens

    __repr__ = usd_repr


@dataclass(frozen=True, slots=True)
class UsageGroup:
    """The totals of one group (a model, day, session, ...) of a breakdown."""

    key: str
    totals: UsageTotals


class UsageLedger(Protocol):
    """Every call, recorded; queries keep real and simulated calls apart when asked.

    ``simulated``: None counts every row, False only real calls, True only calls the built-in
    simulator answered. Budgets, ``poe-mcp usage`` and ``get_usage`` count real calls unless
    asked otherwise, so a simulator never spends a real budget.
    """

    async def record(self, record: UsageRecord) -> None:
        """Add one call's row."""

    async def totals(
        self,
        *,
        since: float | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        simulated: bool | None = None,
    ) -> UsageTotals:
        """The totals of the rows matching every filter given."""

    async def breakdown(
        self,
        by: GroupBy,
        *,
        since: float | None = None,
        run_id: str | None = None,
        simulated: bool | None = None,
    ) -> list[UsageGroup]:
        """The totals grouped by ``by`` (model, session, day, provider, tier or entry point)."""

    async def recent(self, limit: int = 50, *, simulated: bool | None = None) -> list[UsageRecord]:
        """The latest rows, newest first."""

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
        """Sums per hour or day (``bucket``) and dimension (``by``) from the hourly rollups
        kept on write (``store._rollup``): time grows with the range, not the ledger. Whole
        hours: ``since`` counts from the start of its hour; ``until`` is exclusive.
        ``latency=False`` leaves out the latency histogram (cheaper for long series)."""
        ...


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A stored orchestration run, as listings show it."""

    id: str
    goal: str
    status: str
    created_at: float
    updated_at: float


class RunStore(Protocol):
    """Orchestration runs as JSON documents (``doc["id"]`` is the key)."""

    async def save(self, doc: dict[str, Any]) -> None:
        """Create or replace the run ``doc["id"]``."""
        ...

    async def get(self, run_id: str) -> dict[str, Any] | None:
        """The run's document, or None."""

    async def list(self, limit: int = 50) -> list[RunInfo]:
        """The most recently updated runs first."""
        ...

    async def delete(self, run_id: str) -> bool:
        """Delete the run; whether it existed."""


class Store(Protocol):
    """Sessions, the usage ledger, orchestration runs and prompt logs behind one URL."""

    url: str
    sessions: SessionStore
    usage: UsageLedger
    runs: RunStore
    logs: LogStore

    async def health(self) -> dict[str, Any]:
        """``{"ok": bool, "backend": "sqlite"|..., ...}``; never raises."""
        ...

    def rate_limiter(
        self, rpm: int, *, burst: int | None = None, max_wait_s: float | None = None
    ) -> RateLimiter:
        """The rate limiter of the clients using this store: shared by every process using
        the same Redis, else this process's (see :mod:`poe_mcp.ratelimit`)."""
        ...

    async def aclose(self) -> None:
        """Close the store's connections."""


class StoreBase:
    """What every backend's store class shares: its parts' types, ``async with`` closing it."""

    url: str
    sessions: SessionStore
    usage: UsageLedger
    runs: RunStore
    logs: LogStore

    async def aclose(self) -> None:
        """Close the store's connections (none here)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class LocalRateLimits(StoreBase):
    """``Store.rate_limiter`` of the stores that live in one process or one file (memory,
    SQLite): the process-wide limiter for the numbers (clients sharing a key share it)."""

    def rate_limiter(
        self, rpm: int, *, burst: int | None = None, max_wait_s: float | None = None
    ) -> RateLimiter:
        """The process-wide limiter for ``rpm`` (see :meth:`Store.rate_limiter`)."""
        from ..ratelimit import shared_limiter

        wait = C.RATE_LIMIT_MAX_WAIT_S if max_wait_s is None else max_wait_s
        return shared_limiter(rpm, burst=burst, max_wait_s=wait)
