"""Tiered orchestration: the orchestrator's own cost per ticket, and parallel tickets.

1. Overhead per ticket: a run of 8 tickets on a simulator that answers at once, against the
   same model requests made directly with the same client (tier 1's plan, tier 2's tickets,
   one worker answer per ticket). The difference divided by the tickets is what the
   orchestrator adds (state, DAG, stored saves, events, agent loop); the goal is under 2 ms.
2. Parallel tickets: on models answering in 200 ms, the working phase of a run with 8
   independent tickets at concurrency 8 against a run with one ticket (first ticket started to
   last ticket finished); the goal is within 1.2x.

The client's rate limiter, ledger and catalog are off so the numbers are the orchestrator's.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

from ._common import Options, Row

SECTION = "tiered orchestration"
TIERS = {"1": "GPT-4.1", "2": "GPT-4.1", "3": "GPT-4.1", "4": "GPT-4.1", "escalation": "GPT-4.1"}
EIGHT = "Do a, do b, do c and do d. Do e, do f, do g and do h."  # 2 tracks of 4 tickets
INDEPENDENT = " ".join(f"Task {n}." for n in range(1, 9))  # 8 tracks of one ticket each
LATENCY_MS = 200


def _client(base_url: str) -> Any:
    from poe_mcp import AsyncPoeClient

    return AsyncPoeClient(
        "bench-orchestra-key", base_url=base_url, store=False, catalog=False, budget=False, rpm=0
    )


async def _direct(client: Any, state: Any) -> None:
    """The model requests of a run, made directly, in the same order."""
    from poe_mcp.orchestra._plan import TicketPlan, TrackPlan, schema_format
    from poe_mcp.orchestra._tiers import tickets_prompt, tracks_prompt, worker_prompt

    await client.chat(
        "GPT-4.1",
        tracks_prompt(state.goal, None, 8),
        response_format=schema_format(TrackPlan, "poe_mcp_tracks"),
    )
    for track in state.tracks:
        await client.chat(
            "GPT-4.1",
            tickets_prompt(track, [], 40),
            response_format=schema_format(TicketPlan, "poe_mcp_tickets"),
        )
    for ticket in state.tickets.values():
        system, text = worker_prompt(ticket.ticket, {}, [])
        messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
        await client.chat("GPT-4.1", messages)


async def _overhead(opts: Options, base_url: str) -> list[Row]:
    from poe_mcp.orchestra import Orchestrator
    from poe_mcp.store import open_store

    client = _client(base_url)
    store = open_store("memory://")
    runs, direct = [], []
    n = 5 if opts.quick else 20
    state: Any = None
    for i in range(n + 2):
        orch = Orchestrator(client, tiers=TIERS, concurrency=1, store=store)
        began = time.perf_counter()
        state = await orch.run(EIGHT)
        took = time.perf_counter() - began
        began = time.perf_counter()
        await _direct(client, state)
        plain = time.perf_counter() - began
        if i >= 2:  # warm-up
            runs.append(took)
            direct.append(plain)
    await client.aclose()
    await store.aclose()
    tickets = len(state.tickets)
    per_ticket_ms = (statistics.median(runs) - statistics.median(direct)) * 1e3 / tickets
    return [
        Row(SECTION, "budget per ticket", 2.0, "ms", note="the goal"),
        Row(
            SECTION,
            "orchestrator overhead per ticket",
            max(per_ticket_ms, 0.0),
            "ms",
            "budget per ticket",
            1.0,
            f"{tickets} tickets; run {statistics.median(runs) * 1e3:.1f} ms vs direct calls "
            f"{statistics.median(direct) * 1e3:.1f} ms, medians of {n}",
        ),
    ]


async def _working_phase(client: Any, goal: str) -> float:
    from poe_mcp.orchestra import Orchestrator, RunEvent
    from poe_mcp.store import open_store

    marks: list[float] = []

    def on_event(event: RunEvent) -> None:
        if event.kind in ("ticket_started", "ticket_completed"):
            marks.append(time.perf_counter())

    store = open_store("memory://")
    orch = Orchestrator(client, tiers=TIERS, concurrency=8, on_event=on_event, store=store)
    state = await orch.run(goal)
    await store.aclose()
    if state.status != "completed":
        raise RuntimeError(f"bench run ended {state.status}: {state.stop_reason}")
    return marks[-1] - marks[0]


async def _parallel(opts: Options, base_url: str) -> list[Row]:
    client = _client(base_url)
    one, eight = [], []
    rounds = 2 if opts.quick else 5
    for _ in range(rounds):
        one.append(await _working_phase(client, "Task 1."))
        eight.append(await _working_phase(client, INDEPENDENT))
    await client.aclose()
    return [
        Row(SECTION, "1 ticket, 200 ms model", statistics.median(one) * 1e3, "ms"),
        Row(
            SECTION,
            "8 independent tickets, concurrency 8",
            statistics.median(eight) * 1e3,
            "ms",
            "1 ticket, 200 ms model",
            1.2,
            f"working phase, medians of {rounds}; in sequence it would be ~8x",
        ),
    ]


def run(opts: Options) -> list[Row]:
    from poe_mcp.simulator import Simulator

    home = tempfile.mkdtemp(prefix="poe-mcp-bench-")
    os.environ.setdefault("POE_MCP_HOME", home)
    os.environ.setdefault("POE_MCP_CONFIG_DIR", home)
    rows: list[Row] = []
    with Simulator(rpm=10**9) as sim:
        rows += asyncio.run(_overhead(opts, sim.base_url))
    with Simulator(rpm=10**9, latency_ms=LATENCY_MS) as sim:
        rows += asyncio.run(_parallel(opts, sim.base_url))
    return rows
