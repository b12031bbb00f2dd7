"""A run's state: the goal, its tracks and tickets, their status and outputs, usage per tier.

The whole state is one pydantic model, saved as a JSON document in the store's ``runs`` after
every change, so a run killed mid-way resumes from the last saved state: completed and blocked
tickets stay as they are, tickets that were in progress start again.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from .. import _constants as C
from .._money import format_usd
from ..errors import InvalidRequestError
from ..types import ChatResult, Usage
from ._plan import Ticket, TicketStatus, Track

__all__ = ["RunState", "RunStatus", "StopRun", "TicketState", "TierUsage"]

RunStatus = Literal["planning", "running", "completed", "blocked", "stopped", "cancelled", "failed"]
TIERS = (1, 2, 3, 4)


class StopRun(Exception):
    """Ends a run cleanly with a status and a reason (bounds, budget, an unusable plan)."""

    def __init__(self, status: RunStatus, reason: str) -> None:
        super().__init__(reason)
        self.status: RunStatus = status
        self.reason = reason


class TierUsage(BaseModel):
    """Tokens and estimated cost of one tier's calls in a run."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0  # USD over calls whose price is known
    unknown_cost_calls: int = 0  # calls whose price is unknown (never counted as $0)

    def add(self, usage: Usage, cost: float | None, calls: int = 1) -> None:
        """Count ``calls`` model requests with their summed usage and cost (None: unknown)."""
        self.calls += calls
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        if cost is None:
            self.unknown_cost_calls += calls
        else:
            self.cost += cost

    def add_result(self, result: ChatResult) -> None:
        self.add(result.usage, result.cost)


class TicketState(BaseModel):
    """A ticket and what happened to it."""

    ticket: Ticket
    track_id: str
    status: TicketStatus = "todo"
    attempts: int = 0
    model: str | None = None  # the model of the last attempt
    model_override: str | None = None  # set when the ticket escalated to a stronger model
    findings: list[str] = Field(default_factory=list)  # QA's notes, fed to the next attempt
    output: str | None = None
    blocked_reason: str | None = None
    tool_calls: int = 0


class RunState(BaseModel):
    """Everything a run knows; ``model_dump(mode="json")`` is what the store keeps."""

    id: str = Field(default_factory=lambda: f"run-{uuid.uuid4().hex[:12]}")
    goal: str
    outline: str | None = None
    status: RunStatus = "planning"
    stop_reason: str | None = None
    tiers: dict[str, str] = Field(default_factory=dict)  # "1" -> "[provider:]model"
    tracks: list[Track] = Field(default_factory=list)
    planned_tracks: list[str] = Field(default_factory=list)  # tracks whose tickets exist
    tickets: dict[str, TicketState] = Field(default_factory=dict)
    usage: dict[str, TierUsage] = Field(
        default_factory=lambda: {str(t): TierUsage() for t in TIERS}
    )
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)

    @property
    def total_cost(self) -> float:
        return sum(u.cost for u in self.usage.values())

    @property
    def total_tokens(self) -> int:
        return sum(u.input_tokens + u.output_tokens for u in self.usage.values())

    def counts(self) -> dict[str, int]:
        """Tickets by status."""
        out = {"todo": 0, "in_progress": 0, "completed": 0, "blocked": 0}
        for state in self.tickets.values():
            out[state.status] += 1
        return out

    def report_lines(self) -> list[str]:
        """The run in a few lines, as the CLI and the MCP tools print it."""
        counts = self.counts()
        why = f" ({self.stop_reason})" if self.stop_reason else ""
        lines = [
            f"run {self.id}: {self.status}{why}",
            f"tickets: {counts['completed']} completed, {counts['blocked']} blocked, "
            f"{counts['todo'] + counts['in_progress']} not done",
        ]
        for tier, usage in self.usage.items():
            unknown = f" + {usage.unknown_cost_calls} unpriced" if usage.unknown_cost_calls else ""
            lines.append(
                f"  tier {tier} ({self.tiers.get(tier, '?')}): {usage.calls} calls, "
                f"{usage.input_tokens + usage.output_tokens} tokens, "
                f"{format_usd(usage.cost)}{unknown}"
            )
        lines.append(f"  total: {format_usd(self.total_cost)}")
        lines += [
            f"  blocked {tid}: {s.blocked_reason}"
            for tid, s in self.tickets.items()
            if s.status == "blocked"
        ]
        return lines

    def summary(self) -> dict[str, Any]:
        """The short form tools and the CLI print: status, counts, cost per tier, blocked."""
        return {
            "run_id": self.id,
            "goal": self.goal,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "tickets": self.counts(),
            "tracks": len(self.tracks),
            "cost_by_tier": {t: u.model_dump() for t, u in self.usage.items()},
            "total_cost": round(self.total_cost, 10),
            "total_tokens": self.total_tokens,
            "blocked": {
                tid: s.blocked_reason for tid, s in self.tickets.items() if s.status == "blocked"
            },
        }

    def requeue(self) -> None:
        """A run that ended has no ticket in progress: one cut short is to do again."""
        for ticket in self.tickets.values():
            if ticket.status == "in_progress":
                ticket.status = "todo"

    def check_resumable(self) -> None:
        """Refuse a run another process works on (saved as running within
        ``ORCH_RUN_LIVE_S``), or one with nothing left to do.

        Raises:
            InvalidRequestError: saying which, and what to do.
        """
        age = time.time() - self.updated_at
        if self.status in ("planning", "running") and age < C.ORCH_RUN_LIVE_S:
            raise InvalidRequestError(
                f"run {self.id} is being worked on (its state was saved {age:.0f} s ago): stop "
                "it first (Ctrl-C where it runs, or cancel_run over MCP); if the process "
                f"running it died, it can be resumed {C.ORCH_RUN_LIVE_S:.0f} s after its last save"
            )
        planned = bool(self.tracks) and all(t.id in self.planned_tracks for t in self.tracks)
        if planned and all(t.status in ("completed", "blocked") for t in self.tickets.values()):
            counts = self.counts()
            raise InvalidRequestError(
                f"run {self.id} has nothing left to resume: it is {self.status} "
                f"({counts['completed']} ticket(s) completed, {counts['blocked']} blocked); "
                "blocked tickets stay blocked, so start a new run to try them again"
            )
