"""Tiered orchestration over MCP: ``orchestrate``, ``get_run``, ``resume_run``, ``cancel_run``.

A run works inside the ``orchestrate`` (or ``resume_run``) call, reporting each ticket as
progress; the result is the summary: status, tickets, cost per tier, blocked tickets and why.
``cancel_run`` stops a run of this server from another request (the state is kept, so
``resume_run`` can continue it). In step mode the server asks the user through MCP elicitation
when the client supports it mid-call (sessions of the ``initialize`` era, as Claude Desktop,
Claude Code, Cursor and the Inspector open them); otherwise, as on the stateless 2026-07-28
protocol, which has no server-to-client requests inside a call, tools that change things are
refused and the result says so. A server started
with ``--simulate`` answers every tier from the simulator, whatever provider a tier names: a
simulated run never reaches a real provider or needs its key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.shared.exceptions import NoBackChannelError
from mcp_types import CallToolResult, ClientCapabilities, ElicitationCapability
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from ... import _constants as C
from ..._money import format_usd
from ...errors import InvalidRequestError, NotFoundError
from .._progress import Progress, progress
from .._roots import ClientRoots, declared_roots
from ._base import ToolSpec, render, runtime, tool_result

if TYPE_CHECKING:
    from mcp_types import ListRootsResult

    from ...client import AsyncPoeClient
    from ...orchestra import Approval, Orchestrator, RunEvent, RunState
    from ..runtime import ServerRuntime

__all__ = ["TOOLS", "cancel_run", "get_run", "orchestrate", "resume_run"]

# The first protocol revision without server-to-client requests inside a call (stateless).
_STATELESS_VERSION = "2026-07-28"
_RUN_ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class _Confirm(BaseModel):
    approve: bool = Field(description="Allow this step?")


def _summary_text(state: RunState, simulated: bool, more: str = "") -> str:
    lines = state.report_lines()
    lines += [more] if more else []
    facts = [f"run_id: {state.id}", f"total {format_usd(state.total_cost)}"]
    return render("\n".join(lines), facts, simulated=simulated)


def _result(state: RunState, simulated: bool, unasked: bool = False) -> CallToolResult:
    summary = state.summary()
    summary["simulated"] = simulated
    summary["outputs"] = {tid: t.output for tid, t in state.tickets.items() if t.output is not None}
    more = ""
    if unasked:
        summary["step_questions"] = "unavailable"
        more = (
            "step mode: this client cannot answer questions during a call (no elicitation "
            "mid-call), so tools that change things were refused, not run"
        )
    text = _summary_text(state, simulated, more)
    return tool_result(text, summary, is_error=state.status == "failed")


class _Runs:
    """The runs this server is working on (one per runtime): ``cancel_run`` finds them here."""

    def __init__(self, rt: ServerRuntime) -> None:
        self.active: dict[str, Orchestrator] = {}
        self.resuming: set[str] = set()  # claimed before the first await: no two resumes race


async def _orchestrator(
    rt: ServerRuntime,
    ctx: Any,
    reporter: Progress,
    tiers: dict[str, str] | None,
    step: bool,
    budget_usd: float | None,
) -> tuple[Orchestrator, list[str], list[AsyncPoeClient]]:
    from ..._paths import denied_paths
    from ...orchestra import Orchestrator
    from ...tools._builtin import builtin_tools_from_config

    client = await rt.client()
    store = await rt.store()
    runs = rt.shared(_Runs)
    ids: list[str] = []

    async def on_event(event: RunEvent) -> None:
        if event.kind == "run_started":
            ids.append(event.run_id)
            runs.active[event.run_id] = orch
        who = f"[{event.ticket_id}] " if event.ticket_id else ""
        await reporter.step(f"{who}{event.kind}: {event.message}")

    extra = _simulated_clients(rt, client, store) if rt.simulated else {}
    try:
        orch = Orchestrator(
            client,
            tiers=tiers,
            clients=extra,
            tools=builtin_tools_from_config(
                rt.settings.section("tools"), denied=denied_paths(rt.settings)
            ),
            step=step,
            approver=_elicitor(ctx) if step else None,
            on_event=on_event,
            budget_usd=budget_usd,
            store=store,
        )
    except BaseException:
        for other in extra.values():
            await other.aclose()
        raise
    return orch, ids, list(extra.values())


async def _drive(
    ctx: Context,
    tiers: dict[str, str] | None,
    step: bool,
    budget_usd: float | None,
    work: Any,
    client_roots: ListRootsResult | None = None,
) -> CallToolResult:
    """Build an orchestrator, let ``work(orch)`` run it with progress, and clean up."""
    from ..._paths import using_client_roots

    rt = runtime(ctx)
    runs = rt.shared(_Runs)
    async with progress(ctx, "orchestrate") as reporter:
        orch, ids, extra = await _orchestrator(rt, ctx, reporter, tiers, step, budget_usd)
        try:
            # The workers' file tools and run_command stay inside the client's roots too.
            with using_client_roots(declared_roots(client_roots)):
                state = await work(orch)
        finally:
            for run_id in ids:
                runs.active.pop(run_id, None)
            await orch.aclose()
            for other in extra:  # the simulator's clients made for this run
                await other.aclose()
    return _result(state, rt.simulated, unasked=orch.step and orch.approver is None)


async def orchestrate(
    goal: Annotated[str, Field(min_length=1, max_length=C.ORCH_TEXT_MAX)],
    ctx: Context,
    outline: Annotated[str | None, Field(max_length=C.ORCH_TEXT_MAX)] = None,
    tiers: Annotated[
        dict[str, Annotated[str, Field(min_length=1, max_length=200)]] | None,
        Field(description='Tier models: {"1": "Claude-Opus-4.1", "3": "openai:gpt-4o-mini"}'),
    ] = None,
    step: Annotated[bool, Field(description="Ask before each ticket and change")] = False,
    budget_usd: Annotated[float | None, Field(gt=0)] = None,
    client_roots: ClientRoots = None,
) -> CallToolResult:
    def work(orch: Orchestrator) -> Awaitable[RunState]:
        return orch.run(goal, outline=outline)

    return await _drive(ctx, tiers, step, budget_usd, work, client_roots)


async def resume_run(
    run_id: Annotated[str, _RUN_ID],
    ctx: Context,
    step: bool = False,
    client_roots: ClientRoots = None,
) -> CallToolResult:
    runs = runtime(ctx).shared(_Runs)
    if run_id in runs.active or run_id in runs.resuming:
        raise InvalidRequestError(f"run {run_id} is running; cancel_run it first")
    runs.resuming.add(run_id)
    try:
        return await _drive(ctx, None, step, None, lambda orch: orch.resume(run_id), client_roots)
    finally:
        runs.resuming.discard(run_id)


async def get_run(run_id: Annotated[str, _RUN_ID], ctx: Context) -> CallToolResult:
    from ...orchestra import RunState

    rt = runtime(ctx)
    doc = await (await rt.store()).runs.get(run_id)
    if doc is None:
        raise NotFoundError(f"no orchestration run {run_id!r} (the id is in orchestrate's result)")
    state = RunState.model_validate(doc)
    tickets = {
        tid: {
            "status": t.status,
            "attempts": t.attempts,
            "model": t.model,
            "depends_on": t.ticket.depends_on,
            "blocked_reason": t.blocked_reason,
        }
        for tid, t in state.tickets.items()
    }
    running = run_id in rt.shared(_Runs).active
    out = {**state.summary(), "running": running, "ticket_states": tickets}
    return tool_result(_summary_text(state, rt.simulated), out)


async def cancel_run(run_id: Annotated[str, _RUN_ID], ctx: Context) -> CallToolResult:
    orch = runtime(ctx).shared(_Runs).active.get(run_id)
    if orch is None:
        raise NotFoundError(f"run {run_id} is not running on this server")
    orch.cancel()
    text = f"run {run_id}: cancelling; resume_run continues it later"
    return tool_result(text, {"run_id": run_id, "cancelled": True})


TOOLS = (
    ToolSpec(
        orchestrate,
        title="Orchestrate a goal across tiers of models",
        description="Tier 1 plans tracks, tier 2 breaks them into tickets (a DAG), tier 3 "
        "workers do them (in parallel), tier 4 QA reviews failures. Returns status, cost per "
        "tier and blocked tickets. Long: reports progress.",
        open_world=True,
    ),
    ToolSpec(
        get_run,
        title="Get an orchestration run",
        description="A run's status, tickets and cost per tier.",
        read_only=True,
    ),
    ToolSpec(
        resume_run,
        title="Resume an orchestration run",
        description="Continue a stored run; completed tickets are not redone.",
        open_world=True,
    ),
    ToolSpec(
        cancel_run,
        title="Cancel an orchestration run",
        description="Stop a running run; its state is kept for resume_run.",
        destructive=True,
    ),
)


def _simulated_clients(rt: ServerRuntime, client: AsyncPoeClient, store: Any) -> dict[str, Any]:
    """Clients for the other providers, all answered by the simulator the server runs."""
    from ...client import AsyncPoeClient

    return {
        name: AsyncPoeClient(
            rt.api_key,
            settings=rt.settings.with_(provider=name),
            store=store,
            entry_point="mcp",
        )
        for name in C.PROVIDERS
        if name != client.provider
    }


def _can_elicit(ctx: Any) -> bool:
    """Whether this call can ask the user mid-way (elicitation over a back-channel)."""
    version = getattr(ctx, "protocol_version", None)
    if version is not None and is_version_at_least(version, _STATELESS_VERSION):
        return False  # the stateless protocol sends no server-to-client request inside a call
    try:
        return bool(
            ctx.session.check_client_capability(
                ClientCapabilities(elicitation=ElicitationCapability())
            )
        )
    except Exception:  # noqa: BLE001 - an old or odd client: no way to ask
        return False


def _elicitor(ctx: Any) -> Any:
    """An approver that asks the user through MCP elicitation, or None when it cannot."""
    if not _can_elicit(ctx):
        return None

    async def ask(question: Approval) -> bool:
        try:
            answer = await asyncio.wait_for(
                ctx.elicit(f"[{question.ticket_id}] {question.text}", _Confirm),
                C.ORCH_APPROVAL_TIMEOUT_S,
            )
        except NoBackChannelError:
            # No way to ask after all: as without an approver, tickets go ahead and tools
            # that change things are refused.
            return question.kind != "tool"
        except (TimeoutError, Exception):  # noqa: BLE001 - no answer is a refusal
            return False
        return answer.action == "accept" and bool(getattr(answer.data, "approve", False))

    return ask
