"""Orchestration under attack: bad tiers, broken plans, faults mid-run, resume races, step mode.

Each test names the fault a user ran into and checks what they see instead: one clear error
before anything is spent, a run that ends with its reason, state that stays resumable.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from poe_mcp import AsyncPoeClient
from poe_mcp.errors import AuthError, ConfigError, InvalidRequestError, NotFoundError
from poe_mcp.orchestra import Orchestrator, RunEvent
from poe_mcp.simulator import Simulator
from poe_mcp.store.base import Store
from poe_mcp.tools import builtin_tools_from_config

from .conftest import TIERS

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _model_calls(sim: Simulator) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if "/chat/completions" in str(r.get("path"))]


@pytest.mark.parametrize(
    ("tiers", "error", "said"),
    [
        ({"3": "No-Such-Model"}, NotFoundError, "tier 3 (worker) model 'No-Such-Model'"),
        ({"1": "nosuch:gpt"}, NotFoundError, "tier 1 (orchestrator) model 'nosuch:gpt'"),
        ({"4": "GPT-Image-1"}, ConfigError, "not text: tiers need a chat model"),
    ],
)
async def test_an_unusable_tier_model_is_refused_before_anything_is_spent(
    client: AsyncPoeClient,
    store: Store,
    simulator: Simulator,
    tiers: dict[str, str],
    error: Any,
    said: str,
) -> None:
    simulator.clear_requests()
    orch = Orchestrator(client, tiers={**TIERS, **tiers})
    with pytest.raises(error) as caught:
        await orch.run("Build the lexer, add tests.")
    assert said in str(caught.value)
    assert _model_calls(simulator) == [], "a tier was paid for before the bad model was found"
    assert await store.runs.list() == []


async def test_an_unknown_model_names_close_ones(client: AsyncPoeClient) -> None:
    with pytest.raises(NotFoundError, match=r"Did you mean: GPT-4\.1"):
        await Orchestrator(client, tiers={**TIERS, "3": "GPT-4.11"}).run("Do it.")


async def test_a_worker_model_without_tools_is_refused_when_workers_have_tools(
    client: AsyncPoeClient, tmp_path: Path
) -> None:
    tools = builtin_tools_from_config({"roots": [str(tmp_path)]})
    for tier in ("3", "escalation"):
        orch = Orchestrator(client, tiers={**TIERS, tier: "Llama-3.1-405B"}, tools=tools)
        with pytest.raises(ConfigError, match="cannot call tools"):
            await orch.run("Read the notes.")
    # Without tools the same model may work tickets.
    state = await Orchestrator(client, tiers={**TIERS, "3": "Llama-3.1-405B"}).run("Do it.")
    assert state.status == "completed"


async def test_a_provider_without_a_key_is_refused_before_planning(
    client: AsyncPoeClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    orch = Orchestrator(client, tiers={**TIERS, "3": "openai:gpt-4o-mini"})
    with pytest.raises(AuthError) as caught:
        await orch.run("Build the lexer.")
    assert str(caught.value).startswith("tier 3 (worker) model 'openai:gpt-4o-mini': No API key")
    assert "OPENAI_API_KEY" in str(caught.value)
    assert await store.runs.list() == []


async def test_a_key_fault_mid_run_ends_the_run_and_resume_takes_new_tiers(
    client: AsyncPoeClient, store: Store, simulator: Simulator
) -> None:
    events: list[RunEvent] = []
    simulator.add_fault("status", status=401, model="GPT-4.1", times=0)
    try:
        state = await Orchestrator(client, tiers=TIERS, on_event=events.append).run(
            "Build the lexer, add tests."
        )
    finally:
        simulator.clear_faults()
    # Not QA'd, retried and escalated to another model: the run fails and says why.
    assert state.status == "failed"
    assert (state.stop_reason or "").startswith("auth: tier 3 (GPT-4.1)")
    assert not any(e.kind in ("finding", "escalated") for e in events)
    assert state.usage["4"].calls == 0
    assert all(t.status == "todo" for t in state.tickets.values()), "a ticket stayed in progress"
    saved = await store.runs.get(state.id)
    assert saved is not None
    assert saved["tickets"]["T1.1"]["status"] == "todo"

    # Resumed with another worker model: the tiers given now win over the stored ones.
    again = await Orchestrator(client, tiers={"3": "GPT-4o-mini"}).resume(state.id)
    assert again.status == "completed"
    assert again.tiers["3"] == "GPT-4o-mini"
    assert {t.model for t in again.tickets.values()} == {"GPT-4o-mini"}


async def test_an_exhausted_balance_mid_run_stops_it_cleanly(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=402, model="GPT-4.1", times=0)
    try:
        state = await Orchestrator(client, tiers=TIERS).run("Build the lexer.")
    finally:
        simulator.clear_faults()
    assert state.status == "stopped"
    assert "balance" in (state.stop_reason or "")
    assert state.tickets["T1.1"].status == "todo"


@pytest.mark.parametrize(
    "bound", [{"budget_usd": 0}, {"budget_usd": -1.0}, {"budget_tokens": 0}, {"concurrency": 0}]
)
async def test_budgets_and_bounds_below_their_minimum_are_refused(
    client: AsyncPoeClient, bound: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRequestError, match=next(iter(bound))):
        Orchestrator(client, tiers=TIERS, **bound)


async def test_duplicate_track_ids_are_fed_back_to_tier_1_once(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.clear_requests()
    state = await Orchestrator(client, tiers=TIERS).run("Write A [dup-tracks]. Write B.")
    assert state.status == "completed"
    assert [t.id for t in state.tracks] == ["T1", "T2"]
    assert state.usage["1"].calls == 2
    assert any("duplicate track ids: T1" in str(r.get("body")) for r in simulator.requests())


async def test_a_plan_still_cyclic_after_its_repair_fails_the_run_with_the_reason(
    client: AsyncPoeClient,
) -> None:
    state = await Orchestrator(client, tiers=TIERS).run("Build core [cyclic-always], add shell.")
    assert state.status == "failed"
    assert "the dependencies form a cycle" in (state.stop_reason or "")
    assert state.usage["2"].calls == 2
    assert state.usage["3"].calls == 0


async def test_cross_track_dependencies_run_after_the_earlier_track(
    client: AsyncPoeClient,
) -> None:
    order: list[tuple[str, str]] = []

    def record(event: RunEvent) -> None:
        if event.ticket_id and event.kind in ("ticket_started", "ticket_completed"):
            order.append((event.kind, event.ticket_id))

    goal = "Build the core, add the parser. Ship it [after-previous], add docs."
    state = await Orchestrator(client, tiers=TIERS, concurrency=8, on_event=record).run(goal)
    assert state.status == "completed"
    assert state.tickets["T2.1"].ticket.depends_on == ["T1.1", "T1.2"]
    started = order.index(("ticket_started", "T2.1"))
    for dep in ("T1.1", "T1.2"):
        assert order.index(("ticket_completed", dep)) < started


async def test_hundreds_of_sentences_stop_at_max_tracks_before_any_work(
    client: AsyncPoeClient,
) -> None:
    goal = " ".join(f"Step {n}." for n in range(300))
    state = await Orchestrator(client, tiers=TIERS).run(goal)
    assert state.status == "stopped"
    assert "tier 1 planned 300 tracks, more than max_tracks=8" in (state.stop_reason or "")
    assert state.usage["2"].calls == state.usage["3"].calls == 0


async def test_step_mode_asks_one_question_at_a_time(client: AsyncPoeClient) -> None:
    asking = {"now": 0, "most": 0, "asked": 0}

    async def approver(question: Any) -> bool:
        asking["now"] += 1
        asking["asked"] += 1
        asking["most"] = max(asking["most"], asking["now"])
        await asyncio.sleep(0.01)  # a person takes a moment to answer
        asking["now"] -= 1
        return True

    orch = Orchestrator(client, tiers=TIERS, step=True, approver=approver, concurrency=4)
    state = await orch.run("Do A. Do B. Do C. Do D.")
    assert state.status == "completed"
    assert asking["asked"] == 4
    assert asking["most"] == 1, "two questions were on screen at once"


async def test_step_mode_gates_the_built_in_run_command(
    client: AsyncPoeClient, tmp_path: Path
) -> None:
    tools = builtin_tools_from_config({"roots": [str(tmp_path)], "commands": ["true"]})
    events: list[RunEvent] = []
    orch = Orchestrator(client, tiers=TIERS, tools=tools, step=True, on_event=events.append)
    state = await orch.run("Call run_command program=true.")
    assert any(e.kind == "tool_refused" and "run_command" in e.message for e in events)
    assert "exit code" not in (state.tickets["T1.1"].output or "")

    allowed = Orchestrator(client, tiers=TIERS, tools=tools, step=True, approver=lambda q: True)
    state = await allowed.run("Call run_command program=true.")
    assert "exit code: 0" in (state.tickets["T1.1"].output or "")


async def test_resume_refuses_a_finished_run_and_a_live_one(
    client: AsyncPoeClient, store: Store
) -> None:
    done = await Orchestrator(client, tiers=TIERS).run("Build the lexer.")
    with pytest.raises(InvalidRequestError, match="nothing left to resume: it is completed"):
        await Orchestrator(client).resume(done.id)

    stopped = await Orchestrator(client, tiers=TIERS, budget_tokens=1).run("Build the lexer.")
    doc = await store.runs.get(stopped.id)
    assert doc is not None
    doc["status"] = "running"  # as another process working on it leaves it
    await store.runs.save(doc)
    with pytest.raises(InvalidRequestError, match="is being worked on"):
        await Orchestrator(client).resume(stopped.id)
    unchanged = await store.runs.get(stopped.id)
    assert unchanged is not None
    assert unchanged["status"] == "running", "a refused resume must not touch the state"

    unchanged["updated_at"] = time.time() - 60  # that process died a minute ago
    await store.runs.save(unchanged)
    assert (await Orchestrator(client).resume(stopped.id)).status == "completed"


async def test_cancel_stops_a_run_stuck_in_a_long_planning_call_at_once(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    started = asyncio.Event()

    def on_event(event: RunEvent) -> None:
        if event.kind == "run_started":
            started.set()

    orch = Orchestrator(client, tiers=TIERS, on_event=on_event)
    simulator.add_fault("delay", delay_s=30, model=TIERS["1"])  # a strong model thinking for long
    try:
        task = asyncio.create_task(orch.run("Build the lexer."))
        await asyncio.wait_for(started.wait(), 5)
        began = time.monotonic()
        orch.cancel()  # what cancel_run does from another request
        state = await asyncio.wait_for(task, 5)
    finally:
        simulator.clear_faults()
    assert time.monotonic() - began < 1.0, "cancel waited for the planning call to finish"
    assert state.status == "cancelled"
    assert state.stop_reason == "cancelled by the user"
    resumed = await Orchestrator(client).resume(state.id)
    assert resumed.status == "completed"


class _SlowRuns:
    """A run store whose saves take a moment and may overlap (as Redis pipelines can)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.saving = 0
        self.overlaps = 0

    async def save(self, doc: dict[str, Any]) -> None:
        self.saving += 1
        self.overlaps += self.saving > 1
        await asyncio.sleep(0.002)
        await self.inner.save(doc)
        self.saving -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Store:
    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.runs = _SlowRuns(inner.runs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_saves_never_overlap_so_the_last_one_is_the_newest_state(
    client: AsyncPoeClient, store: Store
) -> None:
    slow = _Store(store)
    orch = Orchestrator(client, tiers=TIERS, concurrency=8, store=slow)  # type: ignore[arg-type]
    state = await orch.run("Do a, do b, do c and do d. Do e and do f.")
    assert state.status == "completed"
    assert slow.runs.overlaps == 0
    saved = await store.runs.get(state.id)
    assert saved is not None
    assert saved["status"] == "completed"
    assert all(t["status"] == "completed" for t in saved["tickets"].values())
