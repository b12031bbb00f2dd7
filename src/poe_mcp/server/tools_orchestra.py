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
import contextlib
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.shared.exceptions import NoBackChannelError
from mcp_types import CallToolResult, ClientCapabilities, ElicitationCapability, TextContent
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from .. import _constants as C
from .._money import format_usd
from ..errors import InvalidRequestError, NotFoundError

if TYPE_CHECKING:
    from ..client import AsyncPoeClient
    from ..orchestra import Approval, Orchestrator, RunEvent, RunState
    from .registry import ToolRegistry

__all__ = ["register"]

# The first protocol revision without server-to-client requests inside a call (stateless).
_STATELESS_VERSION = "2026-07-28"
_RUN_ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class _Confirm(BaseModel):
    approve: bool = Field(description="Allow this step?")


def _summary_text(state: RunState, simulated: bool) -> str:
    summary = state.summary()
    counts = summary["tickets"]
    lines = [
        f"run {state.id}: {state.status}"
        + (f" ({state.stop_reason})" if state.stop_reason else ""),
        f"tickets: {counts['completed']} completed, {counts['blocked']} blocked, "
        f"{counts['todo'] + counts['in_progress']} not done; total {format_usd(state.total_cost)}",
    ]
    for tier, usage in state.usage.items():
        lines.append(
            f"tier {tier} ({state.tiers.get(tier, '?')}): {usage.calls} calls, "
            f"{usage.input_tokens + usage.output_tokens} tokens, {format_usd(usage.cost)}"
        )
    lines += [f"blocked {tid}: {why}" for tid, why in summary["blocked"].items()]
    if simulated:
        lines.append("SIMULATED (offline Poe simulator, not real models)")
    return "\n".join(lines)


def _result(state: RunState, simulated: bool, unasked: bool = False) -> CallToolResult:
    summary = state.summary()
    summary["simulated"] = simulated
    summary["outputs"] = {tid: t.output for tid, t in state.tickets.items() if t.output is not None}
    text = _summary_text(state, simulated)
    if unasked:
        summary["step_questions"] = "unavailable"
        text += (
            "\nstep mode: this client cannot answer questions during a call (no elicitation "
            "mid-call), so tools that change things were refused, not run"
        )
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=summary,
        is_error=state.status == "failed",
    )


def register(reg: ToolRegistry) -> None:
    """Add the orchestration tools the registry wants."""
    runtime = reg.runtime
    active: dict[str, Orchestrator] = {}
    resuming: set[str] = set()  # claimed before the first await, so two resumes cannot race

    async def _orchestrator(
        ctx: Any, tiers: dict[str, str] | None, step: bool, budget_usd: float | None
    ) -> tuple[Orchestrator, list[str], list[AsyncPoeClient]]:
        from .._paths import denied_paths
        from ..builtin_tools import builtin_tools_from_config
        from ..orchestra import Orchestrator

        client = await runtime.client()
        store = await runtime.store()
        ids: list[str] = []
        progress = {"n": 0}

        async def on_event(event: RunEvent) -> None:
            if event.kind == "run_started":
                ids.append(event.run_id)
                active[event.run_id] = orch
            progress["n"] += 1
            who = f"[{event.ticket_id}] " if event.ticket_id else ""
            message = f"{who}{event.kind}: {event.message}"[: C.PROGRESS_TEXT_MAX_CHARS]
            with contextlib.suppress(Exception):  # progress is best effort, never fails a run
                await ctx.report_progress(progress["n"], None, message)

        extra = _simulated_clients(runtime, client, store) if runtime.simulated else {}
        try:
            orch = Orchestrator(
                client,
                tiers=tiers,
                clients=extra,
                tools=builtin_tools_from_config(
                    runtime.settings.section("tools"), denied=denied_paths(runtime.settings)
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
        orch: Orchestrator, ids: list[str], extra: list[AsyncPoeClient], work: Any
    ) -> CallToolResult:
        try:
            state = await work
        finally:
            for run_id in ids:
                active.pop(run_id, None)
            await orch.aclose()
            for other in extra:  # the simulator's clients made for this run
                await other.aclose()
        return _result(state, runtime.simulated, unasked=orch.step and orch.approver is None)

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
    ) -> CallToolResult:
        orch, ids, extra = await _orchestrator(ctx, tiers, step, budget_usd)
        return await _drive(orch, ids, extra, orch.run(goal, outline=outline))

    async def resume_run(
        run_id: Annotated[str, _RUN_ID],
        ctx: Context,
        step: bool = False,
    ) -> CallToolResult:
        if run_id in active or run_id in resuming:
            raise InvalidRequestError(f"run {run_id} is running; cancel_run it first")
        resuming.add(run_id)
        try:
            orch, ids, extra = await _orchestrator(ctx, None, step, None)
            return await _drive(orch, ids, extra, orch.resume(run_id))
        finally:
            resuming.discard(run_id)

    async def get_run(run_id: Annotated[str, _RUN_ID]) -> CallToolResult:
        from ..orchestra import RunState

        store = await runtime.store()
        doc = await store.runs.get(run_id)
        if doc is None:
            raise NotFoundError(
                f"no orchestration run {run_id!r} (the id is in orchestrate's result)"
            )
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
        out = {**state.summary(), "running": run_id in active, "ticket_states": tickets}
        return CallToolResult(
            content=[TextContent(type="text", text=_summary_text(state, runtime.simulated))],
            structured_content=out,
        )

    async def cancel_run(run_id: Annotated[str, _RUN_ID]) -> CallToolResult:
        orch = active.get(run_id)
        if orch is None:
            raise NotFoundError(f"run {run_id} is not running on this server")
        orch.cancel()
        text = f"run {run_id}: cancelling; resume_run continues it later"
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content={"run_id": run_id, "cancelled": True},
        )

    reg.add(
        orchestrate,
        title="Orchestrate a goal across tiers of models",
        description="Tier 1 plans tracks, tier 2 breaks them into tickets (a DAG), tier 3 "
        "workers do them (in parallel), tier 4 QA reviews failures. Returns status, cost per "
        "tier and blocked tickets. Long: reports progress.",
        open_world=True,
    )
    reg.add(
        get_run,
        title="Get an orchestration run",
        description="A run's status, tickets and cost per tier.",
        read_only=True,
    )
    reg.add(
        resume_run,
        title="Resume an orchestration run",
        description="Continue a stored run; completed tickets are not redone.",
        open_world=True,
    )
    reg.add(
        cancel_run,
        title="Cancel an orchestration run",
        description="Stop a running run; its state is kept for resume_run.",
        destructive=True,
    )


def _simulated_clients(runtime: Any, client: AsyncPoeClient, store: Any) -> dict[str, Any]:
    """Clients for the other providers, all answered by the simulator the server runs."""
    from ..client import AsyncPoeClient

    return {
        name: AsyncPoeClient(
            runtime.api_key,
            settings=runtime.settings.with_(provider=name),
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
