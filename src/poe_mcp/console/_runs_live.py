"""Orchestration runs started from the console: their tasks, live events and step approvals.

A run is the library's :class:`~poe_mcp.orchestra.Orchestrator` on the console's client (so its
ledger rows say ``entry_point="console"`` and carry their tier and run id); its state is saved
in the store after every change, which is what the run page shows (runs started by the CLI or
over MCP appear there the same way). In step mode the orchestrator's questions wait here until
someone presses Approve or Deny on the run page (or the approval timeout refuses them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import _constants as C

if TYPE_CHECKING:
    from ..orchestra import Approval, Orchestrator, RunEvent
    from ._context import ConsoleContext

__all__ = ["LiveRun", "RunManager"]

log = logging.getLogger(__name__)
_ids = itertools.count(1)


@dataclass(slots=True)
class Pending:
    id: str
    approval: Approval
    answer: asyncio.Future[bool]


@dataclass(slots=True)
class LiveRun:
    id: str
    orchestrator: Orchestrator
    task: asyncio.Task[Any] | None = None
    events: deque[RunEvent] = field(default_factory=lambda: deque(maxlen=C.CONSOLE_RUN_EVENTS_KEPT))
    pending: dict[str, Pending] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


@dataclass(frozen=True, slots=True)
class RunOptions:
    goal: str
    outline: str | None = None
    tiers: dict[str, str] = field(default_factory=dict)
    step: bool = False
    concurrency: int = C.ORCH_CONCURRENCY
    budget_usd: float | None = None


class RunManager:
    """Runs of this console process, by run id."""

    def __init__(self, context: ConsoleContext) -> None:
        self._context = context
        self._runs: dict[str, LiveRun] = {}

    def get(self, run_id: str) -> LiveRun | None:
        return self._runs.get(run_id)

    async def _orchestrator(self, options: RunOptions, holder: list[LiveRun]) -> Orchestrator:
        from ..orchestra import Orchestrator
        from ._tools import console_tools

        async def approver(question: Approval) -> bool:
            live = holder[0] if holder else None
            if live is None:
                return False
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            pending = Pending(f"a{next(_ids)}", question, future)
            live.pending[pending.id] = pending
            try:
                return await asyncio.wait_for(future, C.ORCH_APPROVAL_TIMEOUT_S)
            except TimeoutError:
                return False
            finally:
                live.pending.pop(pending.id, None)

        def on_event(event: RunEvent) -> None:
            if holder:
                holder[0].events.append(event)

        return Orchestrator(
            await self._context.client(),
            tiers=options.tiers or None,
            tools=await console_tools(self._context),
            concurrency=options.concurrency,
            budget_usd=options.budget_usd,
            step=options.step,
            approver=approver if options.step else None,
            on_event=on_event,
            store=await self._context.store(),
        )

    async def start(self, options: RunOptions) -> str:
        """Start a run; returns its id once it is stored (the run goes on in the background).

        Raises:
            PoeError: the orchestrator refused the options (an unknown tier, a bad goal...).
        """
        holder: list[LiveRun] = []
        orchestrator = await self._orchestrator(options, holder)
        first: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        original = orchestrator.on_event

        def on_event(event: RunEvent) -> None:
            if not first.done():
                live = LiveRun(event.run_id, orchestrator)
                holder.append(live)
                self._runs[event.run_id] = live
                first.set_result(event.run_id)
            if original is not None:
                original(event)

        orchestrator.on_event = on_event
        task = asyncio.create_task(
            self._go(orchestrator.run(options.goal, outline=options.outline), orchestrator)
        )
        done, _ = await asyncio.wait({first, task}, return_when=asyncio.FIRST_COMPLETED)
        if first in done:
            run_id = first.result()
            self._runs[run_id].task = task
            return run_id
        first.cancel()
        task.result()  # raises what stopped the run before it was stored
        raise RuntimeError("the run ended before it started")  # pragma: no cover

    async def resume(self, run_id: str) -> None:
        """Continue a stored run (completed tickets are not redone); returns once it goes on.

        Raises:
            PoeError: the run cannot be resumed (unknown, still worked on, nothing left to
                do, a tier model that cannot work): what the orchestrator said, for the page.
        """
        from ..errors import InvalidRequestError

        previous = self._runs.get(run_id)
        if previous is not None and previous.running:
            raise InvalidRequestError(f"run {run_id} is running: cancel it first")
        holder: list[LiveRun] = []
        orchestrator = await self._orchestrator(RunOptions(goal="-"), holder)
        live = LiveRun(run_id, orchestrator)
        holder.append(live)
        self._runs[run_id] = live
        first: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        original = orchestrator.on_event

        def on_event(event: RunEvent) -> None:
            if not first.done():
                first.set_result(True)
            if original is not None:
                original(event)

        orchestrator.on_event = on_event
        task = asyncio.create_task(self._go(orchestrator.resume(run_id), orchestrator))
        live.task = task
        done, _ = await asyncio.wait({first, task}, return_when=asyncio.FIRST_COMPLETED)
        if first in done:
            return
        first.cancel()
        # Refused before it went on: the page says why (an error only logged helps nobody).
        if previous is not None:
            self._runs[run_id] = previous
        else:
            self._runs.pop(run_id, None)
        task.result()

    async def _go(self, work: Any, orchestrator: Orchestrator) -> Any:
        try:
            return await work
        finally:
            await orchestrator.aclose()

    def cancel(self, run_id: str) -> bool:
        live = self._runs.get(run_id)
        if live is None or not live.running:
            return False
        live.orchestrator.cancel()
        return True

    def answer(self, run_id: str, approval_id: str, yes: bool) -> bool:
        live = self._runs.get(run_id)
        pending = live.pending.get(approval_id) if live else None
        if pending is None or pending.answer.done():
            return False
        pending.answer.set_result(yes)
        return True

    async def aclose(self) -> None:
        for live in self._runs.values():
            if live.running:
                live.orchestrator.cancel()
                assert live.task is not None
                live.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await live.task
