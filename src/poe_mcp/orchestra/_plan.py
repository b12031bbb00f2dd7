"""What the tiers exchange: tracks, tickets, worker reports, QA findings, and the DAG check.

Every value that drives the flow is structured output: a pydantic model whose JSON schema is sent
as the ``response_format`` and whose validation is the contract. Ticket dependencies form a DAG,
checked with the standard library's :mod:`graphlib` (a maintained topological sorter) rather than
a hand-written one.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import _constants as C

__all__ = [
    "Finding",
    "PlanError",
    "Ticket",
    "TicketPlan",
    "TicketStatus",
    "Track",
    "TrackPlan",
    "WorkerReport",
    "check_dag",
    "check_tracks",
    "json_text",
    "schema_format",
    "short_errors",
]

TicketStatus = Literal["todo", "in_progress", "completed", "blocked"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Track(_Strict):
    """An epic from tier 1: one goal with its acceptance criteria and where it may work."""

    id: str = Field(min_length=1, max_length=40)
    goal: str = Field(min_length=1, max_length=C.ORCH_TEXT_MAX)
    acceptance_criteria: list[str] = Field(default_factory=list, max_length=20)
    scope: list[str] = Field(
        default_factory=list, max_length=50, description="files or modules it may touch"
    )


class TrackPlan(_Strict):
    """Tier 1's answer."""

    tracks: list[Track] = Field(min_length=1)


class Ticket(_Strict):
    """A unit of work from tier 2, run by one tier-3 worker."""

    id: str = Field(min_length=1, max_length=40)
    target: str = Field(min_length=1, max_length=C.ORCH_TEXT_MAX)
    context: str = Field(default="", max_length=C.ORCH_TEXT_MAX)
    acceptance_criteria: list[str] = Field(default_factory=list, max_length=20)
    depends_on: list[str] = Field(default_factory=list, max_length=50)


class TicketPlan(_Strict):
    """Tier 2's answer for one track."""

    tickets: list[Ticket] = Field(min_length=1)


class WorkerReport(_Strict):
    """Tier 3's final answer for a ticket: ``failed`` when an acceptance criterion is not met."""

    status: Literal["done", "failed"]
    summary: str = Field(max_length=C.ORCH_TEXT_MAX)
    unmet_criteria: list[str] = Field(default_factory=list)


class Finding(_Strict):
    """Tier 4's compression of a failure: what went wrong and what to do differently."""

    finding: str = Field(min_length=1, max_length=1000)


class PlanError(ValueError):
    """A ticket plan that is not a DAG (cycle, unknown or duplicate id); the text is fed back."""


def check_dag(tickets: Sequence[Ticket], known: Iterable[str] = ()) -> list[str]:
    """The ticket ids in an order that runs every dependency first.

    Args:
        tickets: the new tickets.
        known: ids of tickets already planned (earlier tracks), which may be depended on.

    Raises:
        PlanError: duplicate ids, a dependency on an unknown id, or a cycle (the message names it).
    """
    known_ids = set(known)
    ids = [t.id for t in tickets]
    dupes = sorted({i for i in ids if ids.count(i) > 1} | (set(ids) & known_ids))
    if dupes:
        raise PlanError(f"duplicate ticket ids: {', '.join(dupes)}; give every ticket its own id")
    valid = set(ids) | known_ids
    for ticket in tickets:
        unknown = [d for d in ticket.depends_on if d not in valid]
        if unknown:
            raise PlanError(
                f"ticket {ticket.id} depends on unknown ticket(s) {', '.join(unknown)}; "
                f"known ids: {', '.join(sorted(valid))}"
            )
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for ticket in tickets:
        sorter.add(ticket.id, *(d for d in ticket.depends_on if d not in known_ids))
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(str(n) for n in exc.args[1])
        raise PlanError(f"the dependencies form a cycle: {cycle}; remove one edge") from None


def check_tracks(plan: TrackPlan) -> None:
    """Tier 1's tracks need distinct ids (tickets and stored progress refer to them).

    Raises:
        PlanError: duplicate ids (the message names them), fed back to tier 1.
    """
    ids = [t.id for t in plan.tracks]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise PlanError(f"duplicate track ids: {', '.join(dupes)}; give every track its own id")


def schema_format(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The OpenAI ``response_format`` for a pydantic model (``json_schema``, named)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": model.model_json_schema(), "strict": False},
    }


def json_text(text: str) -> str:
    """The JSON object in an answer, without a Markdown fence models sometimes add."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else stripped
    start, end = stripped.find("{"), stripped.rfind("}")
    return stripped[start : end + 1] if 0 <= start < end else stripped


def short_errors(exc: ValidationError) -> str:
    """The first few validation errors, one phrase each (fed back to the model)."""
    errors = exc.errors()[:3]
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in errors
    )
