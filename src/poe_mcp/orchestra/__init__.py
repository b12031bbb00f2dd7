"""Tiered orchestration: tier 1 plans, tier 2 breaks down, tier 3 works, tier 4 checks.

Example::

    from poe_mcp import AsyncPoeClient
    from poe_mcp.orchestra import Orchestrator

    async with AsyncPoeClient() as client:
        orch = Orchestrator(client, tiers={"1": "Claude-Opus-4.1", "3": "openai:gpt-4o-mini"})
        run = await orch.run("Write a parser. Add a CLI. Document both.")
        print(run.status, run.summary()["cost_by_tier"])

Each tier runs any model on any provider (``MODEL`` or ``PROVIDER:MODEL``). Plans (tracks and
tickets) and QA findings are structured output validated against their JSON schema; ticket
dependencies must form a DAG. Runs are stored (SQLite by default, Redis when shared) and
resumable with :meth:`Orchestrator.resume`; every ledger row carries its ``tier`` and ``run_id``.
"""

from __future__ import annotations

from ._orchestrator import Approval, Approver, Orchestrator, RunEvent
from ._plan import Finding, PlanError, Ticket, TicketPlan, Track, TrackPlan, WorkerReport, check_dag
from ._run import RunState, TicketState, TierUsage
from ._tiers import DEFAULT_TIERS, TierModel, resolve_tiers

__all__ = [
    "DEFAULT_TIERS",
    "Approval",
    "Approver",
    "Finding",
    "Orchestrator",
    "PlanError",
    "RunEvent",
    "RunState",
    "Ticket",
    "TicketPlan",
    "TicketState",
    "TierModel",
    "TierUsage",
    "Track",
    "TrackPlan",
    "WorkerReport",
    "check_dag",
    "resolve_tiers",
]
