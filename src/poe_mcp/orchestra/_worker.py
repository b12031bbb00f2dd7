"""One tier-3 attempt at a ticket: the agent loop on the ticket alone, then its JSON report.

The worker sees only its ticket, the outputs of the tickets it depends on and QA's findings
from earlier attempts ("context amnesia"). What comes back is the failure text QA reviews, or
None when the report says done. Faults that another attempt cannot fix end the run instead
of going through QA, retries and escalation: a missing or refused key, an unknown model, a
configuration error (the run fails, resumable once fixed), and an exhausted balance or budget
(the run stops).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from .. import _constants as C
from .._call_tags import call_tags
from ..errors import (
    AuthError,
    BalanceError,
    ConfigError,
    NotFoundError,
    PoeError,
    QuotaError,
)
from ..types import Usage
from ._plan import WorkerReport, json_text, short_errors
from ._run import RunState, StopRun, TicketState
from ._tiers import TierModel, worker_prompt

if TYPE_CHECKING:
    from ..client import AsyncPoeClient
    from ..tools import Tool

__all__ = ["attempt"]


async def attempt(
    client: AsyncPoeClient,
    spec: TierModel,
    state: RunState,
    ticket: TicketState,
    tools: list[Tool],
) -> str | None:
    """Run one attempt of ``ticket`` with ``spec``'s model; the failure, or None when done.

    Raises:
        StopRun: the balance or a budget is exhausted.
        AuthError / ConfigError / NotFoundError: a fault no retry fixes (named with the tier).
    """
    from ..agent import Agent

    ticket.model = str(spec)
    deps = {d: (state.tickets[d].output or "")[: C.ORCH_TEXT_MAX] for d in ticket.ticket.depends_on}
    system, text = worker_prompt(ticket.ticket, deps, ticket.findings)
    agent = Agent(client, spec.model, tools=tools, system=system, max_turns=C.ORCH_WORKER_MAX_TURNS)
    try:
        with call_tags(tier=3):
            result = await agent.run(text)
    except PoeError as exc:
        state.usage["3"].add(Usage(), None)
        if isinstance(exc, BalanceError | QuotaError):
            raise StopRun("stopped", f"tier 3 ({spec}): {exc.kind}: {exc.message}") from None
        if isinstance(exc, AuthError | ConfigError | NotFoundError):
            raise type(exc)(f"tier 3 ({spec}): {exc.message}", status=exc.status) from None
        return f"{exc.kind}: {exc.message}"
    state.usage["3"].add(result.usage, result.cost, calls=result.turns)
    ticket.tool_calls += len(result.trace)
    tool_errors = [f"{t.name}: {t.error}" for t in result.trace if t.error]
    if result.stopped_reason != "final":
        return f"the worker stopped before answering ({result.stopped_reason})"
    try:
        report = WorkerReport.model_validate_json(json_text(result.text))
    except ValidationError as exc:
        got = result.text[:300]
        return f"invalid output (not the report JSON): {short_errors(exc)}; got {got!r}"
    ticket.output = report.summary[: C.ORCH_OUTPUT_MAX]
    if report.status == "failed" or report.unmet_criteria:
        unmet = "; ".join(report.unmet_criteria) or "not stated"
        details = f" Tool errors: {'; '.join(tool_errors)}." if tool_errors else ""
        return f"acceptance check failed (unmet: {unmet}): {report.summary}{details}"
    return None
