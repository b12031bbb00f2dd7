"""Tiered orchestration through the library, on the simulator's deterministic tier behaviour."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from poe_mcp import AsyncPoeClient
from poe_mcp.orchestra import Orchestrator, RunEvent
from poe_mcp.store.base import Store
from poe_mcp.tools import tool

from .conftest import GOAL, TIERS

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Recorder:
    """Collects events and tracks how many tickets were in progress at once."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []
        self.running: set[str] = set()
        self.max_parallel = 0

    def __call__(self, event: RunEvent) -> None:
        self.events.append(event)
        if event.kind == "ticket_started" and event.ticket_id:
            self.running.add(event.ticket_id)
            self.max_parallel = max(self.max_parallel, len(self.running))
        elif event.kind in ("ticket_completed", "ticket_blocked") and event.ticket_id:
            self.running.discard(event.ticket_id)

    def kinds(self, ticket_id: str) -> list[str]:
        return [e.kind for e in self.events if e.ticket_id == ticket_id]

    def index(self, kind: str, ticket_id: str) -> int:
        return next(
            i for i, e in enumerate(self.events) if e.kind == kind and e.ticket_id == ticket_id
        )


async def test_a_goal_runs_in_dependency_order_with_independent_tickets_in_parallel(
    client: AsyncPoeClient,
) -> None:
    rec = Recorder()
    orch = Orchestrator(client, tiers=TIERS, concurrency=8, on_event=rec)
    state = await orch.run(GOAL)

    assert state.status == "completed", state.stop_reason
    assert [t.id for t in state.tracks] == ["T1", "T2", "T3"]
    assert len(state.tickets) == 8
    assert all(t.status == "completed" for t in state.tickets.values())
    # Every ticket ran after the ticket it depends on had finished.
    for tid, ticket in state.tickets.items():
        for dep in ticket.ticket.depends_on:
            assert rec.index("ticket_completed", dep) < rec.index("ticket_started", tid)
    # Independent tickets (across tracks, and the parts after each track's first) overlapped.
    assert rec.max_parallel >= 3
    assert state.tickets["T1.2"].output == "done: T1.2: add token kinds"


async def test_a_failing_ticket_goes_through_qa_retry_and_escalation(
    client: AsyncPoeClient,
) -> None:
    rec = Recorder()
    orch = Orchestrator(client, tiers=TIERS, max_retries=2, on_event=rec)
    goal = "Fix the flaky step [fail-once]. Port the module [fail-3]. Rewrite it all [fail-always]."
    state = await orch.run(goal)

    once = state.tickets["T1.1"]
    assert once.status == "completed"
    assert once.attempts == 2
    assert once.findings
    assert once.findings[0].startswith("QA: acceptance check failed")
    assert rec.kinds("T1.1") == [
        "ticket_started",
        "ticket_failed",
        "finding",
        "ticket_completed",
    ]

    escalated = state.tickets["T2.1"]  # fails 3 times: 1 try + 2 retries, then the strong model
    assert escalated.status == "completed"
    assert escalated.attempts == 4
    assert escalated.model_override == TIERS["escalation"]
    assert escalated.model == TIERS["escalation"]
    assert "escalated" in rec.kinds("T2.1")

    blocked = state.tickets["T3.1"]
    assert blocked.status == "blocked"
    assert blocked.blocked_reason
    assert blocked.blocked_reason.startswith("QA:")
    assert state.status == "blocked"
    assert state.stop_reason == "1 ticket(s) blocked"
    # QA ran once per failure: 1 + 3 + (3 + 1 escalated) = 8 calls of tier 4.
    assert state.usage["4"].calls == 8


async def test_dependents_of_a_blocked_ticket_are_blocked_not_run(client: AsyncPoeClient) -> None:
    orch = Orchestrator(client, tiers={**TIERS, "escalation": TIERS["3"]}, max_retries=0)
    state = await orch.run("Set up the base [fail-always], add the rest and add more.")
    assert state.tickets["T1.1"].status == "blocked"
    for tid in ("T1.2", "T1.3"):
        assert state.tickets[tid].status == "blocked"
        assert state.tickets[tid].blocked_reason == "depends on blocked T1.1"
        assert state.tickets[tid].attempts == 0


async def test_a_cyclic_plan_is_repaired_once_with_the_error_fed_back(
    client: AsyncPoeClient, simulator: Any
) -> None:
    simulator.clear_requests()
    orch = Orchestrator(client, tiers=TIERS)
    state = await orch.run("Build the core [cyclic], add the shell and add the tests.")
    assert state.status == "completed"
    assert state.usage["2"].calls == 2  # the cyclic answer, then the repaired one
    assert state.tickets["T1.1"].ticket.depends_on == []
    # Chat completions carry "messages", the Responses API "input": either way the refusal
    # naming the cycle went back to tier 2.
    bodies = [r.get("body") or {} for r in simulator.requests()]
    repaired = [
        b
        for b in bodies
        if "the dependencies form a cycle" in str(b.get("messages", b.get("input")))
    ]
    assert repaired, "the cycle error was not fed back to tier 2"


async def test_an_invalid_worker_report_is_a_failure_that_qa_reviews(
    client: AsyncPoeClient,
) -> None:
    orch = Orchestrator(client, tiers=TIERS)
    state = await orch.run("Summarise the notes [bad-output-once].")
    ticket = state.tickets["T1.1"]
    assert ticket.status == "completed"
    assert ticket.attempts == 2
    assert "invalid output" in ticket.findings[0]


def _writer(log: list[str]) -> Any:
    @tool
    def save_note(text: str = "note") -> str:
        """Save a note to disk.

        Args:
            text: what to save.
        """
        log.append(text)
        return "saved"

    return dataclasses.replace(save_note, mutating=True)


async def test_step_mode_runs_a_mutating_tool_only_once_approved(client: AsyncPoeClient) -> None:
    saved: list[str] = []
    questions: list[Any] = []

    async def approver(question: Any) -> bool:
        questions.append(question)
        return question.kind == "ticket" or len(questions) > 2

    orch = Orchestrator(
        client, tiers=TIERS, tools=[_writer(saved)], step=True, approver=approver, concurrency=1
    )
    # The worker calls save_note because its ticket names it; the first call is refused.
    state = await orch.run("Call save_note text=first. Call save_note text=second.")
    kinds = [q.kind for q in questions]
    assert kinds[0] == "ticket"
    assert "tool" in kinds
    assert saved == ["second"], "the refused call must not have run"
    assert state.status == "completed"


async def test_without_a_way_to_ask_step_mode_refuses_mutating_tools(
    client: AsyncPoeClient,
) -> None:
    saved: list[str] = []
    events: list[RunEvent] = []
    orch = Orchestrator(
        client, tiers=TIERS, tools=[_writer(saved)], step=True, on_event=events.append
    )
    await orch.run("Call save_note text=x.")
    assert saved == []
    assert any(e.kind == "tool_refused" for e in events)


async def test_a_run_killed_mid_way_resumes_without_repeating_completed_tickets(
    client: AsyncPoeClient, store: Store
) -> None:
    completed: list[str] = []
    run_task: asyncio.Task[Any] | None = None

    def kill_after_two(event: RunEvent) -> None:
        if event.kind == "ticket_completed" and event.ticket_id:
            completed.append(event.ticket_id)
            if len(completed) == 2 and run_task is not None:
                run_task.cancel()  # as if the process died here

    first = Orchestrator(client, tiers=TIERS, concurrency=1, on_event=kill_after_two)
    run_task = asyncio.create_task(first.run(GOAL))
    with pytest.raises(asyncio.CancelledError):
        await run_task
    runs = await store.runs.list()
    run_id = runs[0].id
    saved = await store.runs.get(run_id)
    assert saved is not None
    assert saved["status"] == "cancelled"

    again: list[str] = []
    second = Orchestrator(
        client,
        tiers=TIERS,
        on_event=lambda e: again.append(e.ticket_id or "") if e.kind == "ticket_started" else None,
    )
    state = await second.resume(run_id)
    assert state.status == "completed"
    assert len(state.tickets) == 8
    assert not set(completed) & set(again), "completed tickets were run again"
    assert set(completed) | set(again) == set(state.tickets)


async def test_per_tier_usage_and_cost_add_up_to_the_run_total_in_the_ledger(
    client: AsyncPoeClient, store: Store
) -> None:
    orch = Orchestrator(client, tiers=TIERS)
    state = await orch.run("Write the spec [fail-once]. Review it.")
    flush = getattr(store, "flush", None)
    if flush is not None:
        await flush()
    total = await store.usage.totals(run_id=state.id)
    by_tier = {g.key: g.totals for g in await store.usage.breakdown("tier", run_id=state.id)}

    assert set(by_tier) == {"1", "2", "3", "4"}
    assert total.cost > 0
    assert total.cost == pytest.approx(state.total_cost)
    assert sum(t.cost for t in by_tier.values()) == pytest.approx(total.cost)
    for tier, usage in state.usage.items():
        assert by_tier[tier].calls == usage.calls
        assert by_tier[tier].cost == pytest.approx(usage.cost)
        assert by_tier[tier].input_tokens == usage.input_tokens


async def test_a_budget_stops_the_run_cleanly_and_says_why(client: AsyncPoeClient) -> None:
    orch = Orchestrator(client, tiers=TIERS, budget_tokens=1)
    state = await orch.run(GOAL)
    assert state.status == "stopped"
    assert state.stop_reason
    assert state.stop_reason.startswith("budget:")
    assert all(t.status != "in_progress" for t in state.tickets.values())


async def test_a_plan_over_max_tickets_stops_before_any_work(client: AsyncPoeClient) -> None:
    orch = Orchestrator(client, tiers=TIERS, max_tickets=4)
    state = await orch.run(GOAL)
    assert state.status == "stopped"
    assert "max_tickets=4" in (state.stop_reason or "")
    assert state.usage["3"].calls == 0
