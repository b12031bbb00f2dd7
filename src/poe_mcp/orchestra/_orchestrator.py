"""The run: plan (tier 1), break down (tier 2), work (tier 3) and check (tier 4), stored as it goes.

Flow of :meth:`Orchestrator.run`:

0. every tier's model is checked before anything is spent (``_preflight``): a provider
   without a key, an unknown model or a worker model without tools is refused.
1. tier 1 turns the goal into tracks; tier 2 turns each track into tickets. Both answers are
   structured output; tracks with duplicate ids, or a ticket plan that is not a DAG, are fed
   back once, then the run fails.
2. tickets run in dependency order, independent ones in parallel (``concurrency`` at most),
   each through the agent loop with only its ticket and the context it names.
3. a failed attempt (error, invalid report, unmet acceptance criterion) goes to tier 4, whose
   short finding is given to the next attempt; after ``max_retries`` retries the ticket
   escalates to the escalation model, then is blocked with its reason. Tickets that depend on
   a blocked ticket are blocked too.

The state is saved to the store after every change (and every ``ORCH_HEARTBEAT_S`` while
long calls run, so a live run is told from a dead one); :meth:`Orchestrator.resume` continues
a stored run, skipping completed tickets. Every model call is tagged with its tier and the run
id in the usage ledger, so cost per tier adds up to the run's total.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from .. import _constants as C
from .._call_tags import call_tags
from .._money import format_usd
from ..errors import InvalidRequestError, NotFoundError, PoeError
from ._plan import (
    Finding,
    PlanError,
    TicketPlan,
    TrackPlan,
    check_dag,
    check_tracks,
    json_text,
    schema_format,
    short_errors,
)
from ._preflight import check_tiers
from ._run import RunState, RunStatus, StopRun, TicketState
from ._step import Approval, Approver, gate_tools
from ._tiers import (
    TierModel,
    finding_prompt,
    resolve_tiers,
    tickets_prompt,
    tracks_prompt,
)
from ._worker import attempt as worker_attempt

if TYPE_CHECKING:
    from ..client import AsyncPoeClient
    from ..store.base import Store
    from ..tools import Tool
    from ..types import ChatResult

__all__ = ["Approval", "Approver", "Orchestrator", "RunEvent"]

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RunEvent:
    """Something that happened in a run, for live views (CLI, console, MCP progress).

    ``kind`` is one of ``run_started``, ``tracks``, ``tickets``, ``ticket_started``,
    ``ticket_completed``, ``ticket_failed``, ``finding``, ``escalated``, ``ticket_blocked``,
    ``tool_refused`` and ``run_finished``; ``cost`` is the run's total so far (USD, known prices).
    """

    kind: str
    run_id: str
    message: str
    ticket_id: str | None = None
    tier: int | None = None
    cost: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


EventHandler = Callable[[RunEvent], Awaitable[None] | None]


class Orchestrator:
    """Runs goals through the four tiers.

    Args:
        client: the client for tier models without a provider prefix (its store keeps the runs
            and the ledger).
        tiers: tier models by ``1``..``4`` and ``escalation`` (``MODEL`` or ``PROVIDER:MODEL``),
            over ``[tiers]`` in ``config.toml`` and the defaults.
        clients: clients for other providers named in tier models (``{"openai": client}``);
            a missing one is created from the environment and closed with the orchestrator.
        tools: tools the workers may use (file tools confined to their roots; mark a tool
            ``mutating`` to have step mode ask before each call).
        concurrency: tickets worked on at once.
        max_tracks / max_tickets: a plan larger than this stops the run before any work.
        max_retries: worker retries (each with a QA finding) before escalating.
        budget_usd / budget_tokens: the run stops before starting more work past these.
        step: ask ``approver`` before each ticket and each mutating tool call.
        approver: answers step-mode questions; without one, mutating tools are refused.
        on_event: called with every :class:`RunEvent` (sync or async).
        store: where runs are kept (default: the client's store).

    Raises:
        ConfigError: an unknown tier key or an unusable tier model.
        InvalidRequestError: a bound below 1, or a budget of 0 or less.
    """

    def __init__(
        self,
        client: AsyncPoeClient,
        *,
        tiers: Mapping[Any, str] | None = None,
        clients: Mapping[str, AsyncPoeClient] | None = None,
        tools: Iterable[Tool] = (),
        concurrency: int = C.ORCH_CONCURRENCY,
        max_tracks: int = C.ORCH_MAX_TRACKS,
        max_tickets: int = C.ORCH_MAX_TICKETS,
        max_retries: int = C.ORCH_MAX_RETRIES,
        budget_usd: float | None = None,
        budget_tokens: int | None = None,
        step: bool = False,
        approver: Approver | None = None,
        on_event: EventHandler | None = None,
        store: Store | None = None,
    ) -> None:
        for name, value in (
            ("concurrency", concurrency),
            ("max_tracks", max_tracks),
            ("max_tickets", max_tickets),
        ):
            if value < 1:
                raise InvalidRequestError(f"{name} must be at least 1, got {value}")
        if max_retries < 0:
            raise InvalidRequestError(f"max_retries must be 0 or more, got {max_retries}")
        if budget_usd is not None and not budget_usd > 0:
            raise InvalidRequestError(f"budget_usd must be more than 0, got {budget_usd}")
        if budget_tokens is not None and budget_tokens < 1:
            raise InvalidRequestError(f"budget_tokens must be at least 1, got {budget_tokens}")
        self.client = client
        configured = client.settings.section("tiers")
        # The caller's tiers also win over a resumed run's stored ones.
        self._given_tiers = {str(k): v for k, v in (tiers or {}).items()}
        self.tiers = resolve_tiers(configured, self._given_tiers)
        self._clients: dict[str, AsyncPoeClient] = dict(clients or {})
        self._owned: list[AsyncPoeClient] = []
        self.tools = list(tools)
        self.concurrency = concurrency
        self.max_tracks = max_tracks
        self.max_tickets = max_tickets
        self.max_retries = max_retries
        self.budget_usd = budget_usd
        self.budget_tokens = budget_tokens
        self.step = step
        self.approver = approver
        self.on_event = on_event
        self._store = store
        self._cancelled = asyncio.Event()
        self._asking = asyncio.Lock()  # one step-mode question at a time
        self._saving = asyncio.Lock()  # saves land in the order the state changed

    # -- public --------------------------------------------------------------------------------
    async def run(self, goal: str, *, outline: str | None = None) -> RunState:
        """Plan and work ``goal`` to the end (or a bound); returns the final state.

        Raises:
            InvalidRequestError: an empty or oversized goal.
            AuthError / NotFoundError / ConfigError: a tier model that cannot be called (no
                key for its provider, unknown to it, no text or no tools); nothing is spent.
            PoeError: the store failed (model failures end the run with status ``failed``).
        """
        text = goal.strip()
        if not text or len(text) > C.ORCH_TEXT_MAX:
            raise InvalidRequestError(
                f"goal must be 1-{C.ORCH_TEXT_MAX} characters, got {len(text)}"
            )
        await check_tiers(self.tiers, self._client, tools=bool(self.tools))
        state = RunState(goal=text, outline=outline, tiers=dict(self.tiers))
        return await self._execute(state)

    async def resume(self, run_id: str) -> RunState:
        """Continue a stored run: completed and blocked tickets stay, the rest run again.

        The run keeps its tier models, except those given to this orchestrator (``tiers=``).

        Raises:
            NotFoundError: no run with that id in the store.
            InvalidRequestError: the run is being worked on (saved as running in the last
                ``ORCH_RUN_LIVE_S`` seconds), or has nothing left to do.
        """
        store = await self._runs_store()
        doc = await store.runs.get(run_id)
        if doc is None:
            raise NotFoundError(f"no orchestration run {run_id!r} in {store.url}")
        state = RunState.model_validate(doc)
        state.check_resumable()
        self.tiers = resolve_tiers(state.tiers, self._given_tiers)
        await check_tiers(self.tiers, self._client, tools=bool(self.tools))
        for ticket in state.tickets.values():
            if ticket.status == "in_progress":
                ticket.status = "todo"
        state.status = "planning" if not state.tickets else "running"
        state.stop_reason = None
        state.tiers = dict(self.tiers)
        return await self._execute(state)

    def cancel(self) -> None:
        """Stop the runs of this orchestrator: tickets in flight are cancelled, the state saved."""
        self._cancelled.set()

    async def aclose(self) -> None:
        """Close the provider clients this orchestrator created."""
        owned, self._owned = self._owned, []
        for client in owned:
            await client.aclose()

    # -- the run -------------------------------------------------------------------------------
    async def _execute(self, state: RunState) -> RunState:
        self._cancelled.clear()
        await self._save(state)
        heartbeat = asyncio.create_task(self._heartbeat(state))
        try:
            return await self._steps(state)
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, state: RunState) -> None:
        """Save now and then while long calls run, so other processes see the run is live."""
        while True:
            await asyncio.sleep(C.ORCH_HEARTBEAT_S)
            try:
                await self._save(state)
            except PoeError as exc:  # the next real save reports a store that is down
                log.warning("could not save run %s: %s", state.id, exc)

    async def _steps(self, state: RunState) -> RunState:
        await self._emit(state, "run_started", f"run {state.id}: {state.goal}")
        try:
            with call_tags(run_id=state.id):
                await self._unless_cancelled(self._plan(state))
                state.status = "running"
                await self._save(state)
                await self._work(state)
            counts = state.counts()
            state.status = "blocked" if counts["blocked"] else "completed"
            if counts["blocked"]:
                state.stop_reason = f"{counts['blocked']} ticket(s) blocked"
        except StopRun as stop:
            state.status = stop.status
            state.stop_reason = stop.reason
        except PoeError as exc:
            state.status = "failed"
            state.stop_reason = f"{exc.kind}: {exc.message}"
        except asyncio.CancelledError:
            state.status = "cancelled"
            state.stop_reason = "cancelled"
            state.requeue()
            await asyncio.shield(self._save(state))
            raise
        state.requeue()
        await self._save(state)
        await self._emit(
            state,
            "run_finished",
            f"run {state.status}" + (f": {state.stop_reason}" if state.stop_reason else ""),
            data=state.summary(),
        )
        return state

    async def _plan(self, state: RunState) -> None:
        if not state.tracks:
            await self._plan_tracks(state)
        for track in state.tracks:
            if track.id not in state.planned_tracks:
                await self._plan_tickets(state, track.id)

    async def _unless_cancelled(self, work: Awaitable[None]) -> None:
        """Await ``work``, or stop it as soon as :meth:`cancel` is called (a planning call can
        take minutes on a strong model; a cancel must not wait for it)."""
        task = asyncio.ensure_future(work)
        waiter = asyncio.ensure_future(self._cancelled.wait())
        try:
            await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if task.cancelled():
            raise StopRun("cancelled", "cancelled by the user")
        task.result()

    async def _plan_tracks(self, state: RunState) -> None:
        self._check_bounds(state)
        messages = tracks_prompt(state.goal, state.outline, self.max_tracks)
        plan = await self._structured(state, 1, messages, TrackPlan, "poe_mcp_tracks", check_tracks)
        if len(plan.tracks) > self.max_tracks:
            raise StopRun(
                "stopped",
                f"tier 1 planned {len(plan.tracks)} tracks, more than max_tracks="
                f"{self.max_tracks}; raise the bound or narrow the goal",
            )
        ids = [t.id for t in plan.tracks]
        state.tracks = plan.tracks
        await self._save(state)
        await self._emit(
            state, "tracks", f"{len(plan.tracks)} track(s)", tier=1, data={"tracks": ids}
        )

    async def _plan_tickets(self, state: RunState, track_id: str) -> None:
        self._check_bounds(state)
        track = next(t for t in state.tracks if t.id == track_id)
        known = list(state.tickets)
        messages = tickets_prompt(track, known, self.max_tickets)

        def check(plan: TicketPlan) -> None:
            check_dag(plan.tickets, known)

        plan = await self._structured(state, 2, messages, TicketPlan, "poe_mcp_tickets", check)
        if len(state.tickets) + len(plan.tickets) > self.max_tickets:
            raise StopRun(
                "stopped",
                f"the plan has {len(state.tickets) + len(plan.tickets)} tickets, more than "
                f"max_tickets={self.max_tickets}; raise the bound or narrow the goal",
            )
        for ticket in plan.tickets:
            state.tickets[ticket.id] = TicketState(ticket=ticket, track_id=track.id)
        state.planned_tracks.append(track.id)
        await self._save(state)
        await self._emit(
            state,
            "tickets",
            f"track {track.id}: {len(plan.tickets)} ticket(s)",
            tier=2,
            data={"track": track.id, "tickets": [t.id for t in plan.tickets]},
        )

    async def _work(self, state: RunState) -> None:
        order = check_dag([s.ticket for s in state.tickets.values()])
        running: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                stop = self._stop_reason(state)
                for tid in order if stop is None else ():
                    ticket = state.tickets[tid]
                    if ticket.status != "todo" or tid in running:
                        continue
                    deps = [state.tickets[d] for d in ticket.ticket.depends_on]
                    blocked = [d.ticket.id for d in deps if d.status == "blocked"]
                    if blocked:
                        await self._block(state, ticket, f"depends on blocked {blocked[0]}")
                    elif len(running) < self.concurrency and all(
                        d.status == "completed" for d in deps
                    ):
                        running[tid] = asyncio.create_task(self._ticket(state, ticket))
                if not running:
                    if stop is not None:
                        raise StopRun(*stop)
                    return
                waiter = asyncio.create_task(self._cancelled.wait())
                done, _ = await asyncio.wait(
                    [*running.values(), waiter], return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                if self._cancelled.is_set():
                    raise StopRun("cancelled", "cancelled by the user")
                for tid, task in list(running.items()):
                    if task in done:
                        del running[tid]
                        task.result()  # our own bugs propagate
        finally:
            for task in running.values():
                task.cancel()
            if running:
                await asyncio.gather(*running.values(), return_exceptions=True)
                for tid in running:
                    if state.tickets[tid].status == "in_progress":
                        state.tickets[tid].status = "todo"

    # -- one ticket ----------------------------------------------------------------------------
    async def _ticket(self, state: RunState, ticket: TicketState) -> None:
        tid = ticket.ticket.id
        if self.step and not await self._approve(
            Approval("ticket", state.id, tid, f"run ticket {tid}: {ticket.ticket.target}"),
            tool=False,
        ):
            await self._block(state, ticket, "not approved in step mode")
            return
        ticket.status = "in_progress"
        await self._save(state)
        await self._emit(state, "ticket_started", ticket.ticket.target, ticket_id=tid, tier=3)
        tries = 0
        while True:
            tries += 1
            ticket.attempts += 1
            failure = await self._attempt(state, ticket)
            if failure is None:
                ticket.status = "completed"
                await self._save(state)
                await self._emit(
                    state, "ticket_completed", ticket.output or "", ticket_id=tid, tier=3
                )
                return
            await self._emit(state, "ticket_failed", failure, ticket_id=tid, tier=3)
            finding = await self._finding(state, ticket, failure)
            ticket.findings.append(finding)
            await self._save(state)
            await self._emit(state, "finding", finding, ticket_id=tid, tier=4)
            escalated = ticket.model_override is not None
            limit = C.ORCH_ESCALATION_ATTEMPTS if escalated else 1 + self.max_retries
            if tries < limit:
                continue
            escalation = self.tiers["escalation"]
            if not escalated and escalation != self.tiers["3"]:
                ticket.model_override = escalation
                tries = 0
                await self._save(state)
                await self._emit(
                    state, "escalated", f"escalated to {escalation}", ticket_id=tid, tier=3
                )
                continue
            await self._block(state, ticket, finding)
            return

    async def _attempt(self, state: RunState, ticket: TicketState) -> str | None:
        """One worker attempt; the failure text, or None when the ticket is done."""
        spec = TierModel.parse(ticket.model_override or self.tiers["3"])
        client = await self._client(spec)
        return await worker_attempt(client, spec, state, ticket, self._gated_tools(state, ticket))

    async def _finding(self, state: RunState, ticket: TicketState, failure: str) -> str:
        try:
            finding = await self._structured(
                state, 4, finding_prompt(ticket.ticket, failure), Finding, "poe_mcp_finding"
            )
        except (PoeError, StopRun) as exc:
            # QA is advice: without it the raw failure (shortened) is the finding.
            log.warning("QA could not summarise the failure of %s: %s", ticket.ticket.id, exc)
            return failure[:500]
        return finding.finding

    async def _block(self, state: RunState, ticket: TicketState, reason: str) -> None:
        ticket.status = "blocked"
        ticket.blocked_reason = reason
        await self._save(state)
        await self._emit(state, "ticket_blocked", reason, ticket_id=ticket.ticket.id)

    # -- tools and approvals -------------------------------------------------------------------
    def _gated_tools(self, state: RunState, ticket: TicketState) -> list[Tool]:
        if not self.step:
            return self.tools

        async def ask(tool: Tool, arguments: dict[str, Any]) -> bool:
            shown = json.dumps(arguments, default=str)[:300]
            tid = ticket.ticket.id
            text = f"{tool.name}({shown})"
            question = Approval("tool", state.id, tid, text, tool=tool.name, arguments=arguments)
            if await self._approve(question, tool=True):
                return True
            await self._emit(state, "tool_refused", question.text, ticket_id=tid)
            return False

        return gate_tools(self.tools, ask)

    async def _approve(self, question: Approval, *, tool: bool) -> bool:
        if self.approver is None:
            # No way to ask: tickets go ahead (the user started the run), changes do not.
            return not tool
        async with self._asking:  # a person answers one question at a time, in order
            answer = self.approver(question)
            if inspect.isawaitable(answer):
                answer = await answer
        return bool(answer)

    # -- model calls ---------------------------------------------------------------------------
    async def _structured(
        self,
        state: RunState,
        tier: int,
        messages: list[dict[str, Any]],
        schema: type[M],
        name: str,
        check: Callable[[M], None] | None = None,
    ) -> M:
        """Ask a tier for structured output; an invalid answer is fed back once, then fails."""
        spec = TierModel.parse(self.tiers[str(tier)])
        client = await self._client(spec)
        messages = list(messages)
        for attempt in range(C.ORCH_PLAN_REPAIRS + 1):
            self._check_bounds(state)
            with call_tags(tier=tier):
                result: ChatResult = await client.chat(
                    spec.model, messages, response_format=schema_format(schema, name)
                )
            state.usage[str(tier)].add_result(result)
            try:
                value = schema.model_validate_json(json_text(result.text))
                if check is not None:
                    check(value)
                return value
            except (ValidationError, PlanError) as exc:
                problem = short_errors(exc) if isinstance(exc, ValidationError) else str(exc)
                if attempt >= C.ORCH_PLAN_REPAIRS:
                    raise StopRun(
                        "failed", f"tier {tier} ({spec}) gave an unusable answer: {problem}"
                    ) from None
                messages += [
                    {"role": "assistant", "content": result.text},
                    {
                        "role": "user",
                        "content": f"That answer was refused: {problem}. Answer again with the "
                        "whole corrected JSON.",
                    },
                ]
        raise AssertionError("unreachable")  # pragma: no cover

    async def _client(self, spec: TierModel) -> AsyncPoeClient:
        if spec.provider is None or spec.provider == self.client.provider:
            return self.client
        client = self._clients.get(spec.provider)
        if client is None:
            from ..client import AsyncPoeClient

            store = await self._runs_store()
            client = AsyncPoeClient(
                provider=spec.provider, entry_point=self.client.entry_point, store=store
            )
            self._clients[spec.provider] = client
            self._owned.append(client)
        return client

    # -- bounds, state, events -----------------------------------------------------------------
    def _stop_reason(self, state: RunState) -> tuple[RunStatus, str] | None:
        if self._cancelled.is_set():
            return ("cancelled", "cancelled by the user")
        if self.budget_usd is not None and state.total_cost >= self.budget_usd:
            spent, limit = format_usd(state.total_cost), format_usd(self.budget_usd)
            return ("stopped", f"budget: {spent} of {limit} used")
        if self.budget_tokens is not None and state.total_tokens >= self.budget_tokens:
            return ("stopped", f"budget: {state.total_tokens} of {self.budget_tokens} tokens used")
        return None

    def _check_bounds(self, state: RunState) -> None:
        stop = self._stop_reason(state)
        if stop is not None:
            raise StopRun(*stop)

    async def _runs_store(self) -> Store:
        if self._store is None:
            store = await self.client.get_store()
            if store is None:
                from ..store import open_store

                store = open_store("memory://")
            self._store = store
        return self._store

    async def _save(self, state: RunState) -> None:
        store = await self._runs_store()
        # Serialised and dumped under the lock: a store that writes concurrently (Redis) must
        # not let an older snapshot land after a newer one.
        async with self._saving:
            state.updated_at = time.time()
            await store.runs.save(state.model_dump(mode="json"))

    async def _emit(
        self,
        state: RunState,
        kind: str,
        message: str,
        *,
        ticket_id: str | None = None,
        tier: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        if self.on_event is None:
            return
        event = RunEvent(kind, state.id, message, ticket_id, tier, state.total_cost, data or {})
        maybe = self.on_event(event)
        if inspect.isawaitable(maybe):
            await maybe
