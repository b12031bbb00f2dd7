"""The Runs pages: stored orchestration runs, a run's ticket DAG live, starting and steering runs.

The run page draws the tickets as a left-to-right DAG (a ticket's column is the length of its
longest chain of dependencies), coloured by status, with per-tier tokens and cost. It follows
the stored run (``store.runs``), pushed as server-sent events whenever the run is saved, so a
run started by the CLI or over MCP is followed as well as one started here.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from .. import _constants as C
from .._money import format_usd
from ..errors import ConfigError, InvalidRequestError, PoeError
from ._inputs import check_model
from ._runs_live import RunOptions
from ._web import TEMPLATES, Routes, base_path, console_of, render

__all__ = ["dag_layout", "routes"]

routes = Routes()

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 200, 58, 56, 14, 12
TIER_NAMES = {"1": "Orchestrator", "2": "Tech lead", "3": "Workers", "4": "QA"}
TIER_KEYS = ("1", "2", "3", "4", "escalation")


def dag_layout(tickets: dict[str, Any]) -> dict[str, Any]:
    """Node boxes and edge paths of the ticket DAG (SVG coordinates)."""
    level: dict[str, int] = {}

    def depth(tid: str, seen: frozenset[str] = frozenset()) -> int:
        if tid in level:
            return level[tid]
        deps = [d for d in tickets[tid]["ticket"].get("depends_on", []) if d in tickets]
        value = 0 if not deps or tid in seen else 1 + max(depth(d, seen | {tid}) for d in deps)
        level[tid] = value
        return value

    for tid in tickets:
        depth(tid)
    columns: dict[int, list[str]] = {}
    for tid in tickets:
        columns.setdefault(level[tid], []).append(tid)
    nodes: dict[str, dict[str, Any]] = {}
    for col, ids in columns.items():
        for row, tid in enumerate(ids):
            state = tickets[tid]
            nodes[tid] = {
                "id": tid,
                "x": PAD + col * (NODE_W + GAP_X),
                "y": PAD + row * (NODE_H + GAP_Y),
                "status": state.get("status", "todo"),
                "target": str(state["ticket"].get("target", ""))[:60],
                "attempts": state.get("attempts", 0),
                "model": state.get("model_override") or state.get("model") or "",
                "track": state.get("track_id", ""),
            }
    edges = []
    for tid, node in nodes.items():
        for dep in tickets[tid]["ticket"].get("depends_on", []):
            src = nodes.get(dep)
            if src is None:
                continue
            x1, y1 = src["x"] + NODE_W, src["y"] + NODE_H / 2
            x2, y2 = node["x"], node["y"] + NODE_H / 2
            mid = (x1 + x2) / 2
            edges.append(
                {
                    "d": f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}",
                    "done": src["status"] == "completed",
                }
            )
    width = PAD * 2 + (max(columns) + 1 if columns else 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max((len(v) for v in columns.values()), default=1) * (NODE_H + GAP_Y)
    return {
        "nodes": list(nodes.values()),
        "edges": edges,
        "width": width,
        "height": height - GAP_Y,
        "w": NODE_W,
        "h": NODE_H,
    }


def _tiers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for tier, usage in sorted((doc.get("usage") or {}).items()):
        rows.append(
            {
                "tier": tier,
                "name": TIER_NAMES.get(tier, tier),
                "model": (doc.get("tiers") or {}).get(tier, ""),
                "calls": usage.get("calls", 0),
                "tokens": usage.get("input_tokens", 0) + usage.get("output_tokens", 0),
                "cost": format_usd(usage.get("cost", 0.0)),
                "unknown": usage.get("unknown_cost_calls", 0),
            }
        )
    return rows


def _resumable(doc: dict[str, Any], running: bool) -> bool:
    """Whether Resume can do anything: the orchestrator's own rule (a run another process
    works on, or with nothing left to do, is refused), so the button is shown only then; a
    run left "running" by a process that died becomes resumable once its state is stale."""
    from ..orchestra import RunState

    if running:
        return False
    try:
        RunState.model_validate(doc).check_resumable()
    except (InvalidRequestError, ValueError):
        return False
    return True


def _live_context(request: Request, doc: dict[str, Any]) -> dict[str, Any]:
    console = console_of(request)
    live = console.runs.get(doc["id"])
    counts = {"todo": 0, "in_progress": 0, "completed": 0, "blocked": 0}
    for state in (doc.get("tickets") or {}).values():
        counts[state.get("status", "todo")] = counts.get(state.get("status", "todo"), 0) + 1
    total = sum((u or {}).get("cost", 0.0) for u in (doc.get("usage") or {}).values())
    return {
        "base": base_path(request),
        "run": doc,
        "dag": dag_layout(doc.get("tickets") or {}),
        "tiers": _tiers(doc),
        "counts": counts,
        "total_cost": format_usd(total),
        "running": bool(live and live.running),
        "resumable": _resumable(doc, bool(live and live.running)),
        "pending": list(live.pending.values()) if live else [],
        "events": list(live.events)[-12:] if live else [],
        "csrf": request.scope["poe_console_session"].csrf,
        "blocked": {
            tid: s.get("blocked_reason")
            for tid, s in (doc.get("tickets") or {}).items()
            if s.get("status") == "blocked"
        },
    }


@routes.page("/runs")
async def runs_page(request: Request) -> Response:
    ctx = console_of(request).context
    store = await ctx.store()
    runs = await store.runs.list(limit=50)
    from ..orchestra import resolve_tiers

    try:
        tiers = resolve_tiers(ctx.configured.section("tiers"))
    except ConfigError:
        tiers = resolve_tiers()
    return await render(
        request,
        "runs.html",
        page_name="runs",
        runs=runs,
        tiers=tiers,
        concurrency=C.ORCH_CONCURRENCY,
    )


@routes.action("/runs")
async def start_run(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    goal = str(form.get("goal") or "").strip()
    tiers = {k: str(form.get(f"tier_{k}") or "").strip() for k in TIER_KEYS}
    try:
        if not goal:
            raise InvalidRequestError("write the goal of the run")
        for key, name in tiers.items():
            if name:
                check_model(name, f"the tier {key} model")
        budget_raw = str(form.get("budget_usd") or "").strip()
        concurrency_raw = str(form.get("concurrency") or "").strip()
        try:
            budget = float(budget_raw) if budget_raw else None
            concurrency = int(concurrency_raw) if concurrency_raw else C.ORCH_CONCURRENCY
        except ValueError:
            raise InvalidRequestError("budget and concurrency must be numbers") from None
        run_id = await console.runs.start(
            RunOptions(
                goal=goal,
                outline=str(form.get("outline") or "").strip() or None,
                tiers={k: v for k, v in tiers.items() if v},
                step=str(form.get("step") or "") in ("1", "on"),
                concurrency=concurrency,
                budget_usd=budget,
            )
        )
    except PoeError as exc:
        store = await console.context.store()
        return await render(
            request,
            "runs.html",
            status_code=422,
            page_name="runs",
            runs=await store.runs.list(limit=50),
            tiers=tiers,
            goal=goal,
            error=exc.message,
            concurrency=C.ORCH_CONCURRENCY,
        )
    return RedirectResponse(f"{base_path(request)}/runs/{run_id}", status_code=303)


async def _doc(request: Request) -> dict[str, Any] | None:
    store = await console_of(request).context.store()
    return await store.runs.get(request.path_params["run_id"])


@routes.page("/runs/{run_id}")
async def run_page(request: Request) -> Response:
    doc = await _doc(request)
    if doc is None:
        return await render(
            request,
            "error.html",
            status_code=404,
            page_name="runs",
            message="No such run in the store.",
        )
    return await render(request, "run.html", page_name="runs", **_live_context(request, doc))


@routes.page("/runs/{run_id}/events")
async def run_events(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    store = await console_of(request).context.store()
    template = TEMPLATES.get_template("_run_live.html")

    async def events() -> Any:
        last: str | None = None
        idle = 0.0
        while True:
            doc = await store.runs.get(run_id)
            if doc is None:
                return
            ctx = _live_context(request, doc)
            stamp = json.dumps(
                [doc.get("updated_at"), len(ctx["pending"]), len(ctx["events"]), ctx["running"]]
            )
            if stamp != last:
                last = stamp
                idle = 0.0
                yield {"event": "state", "data": template.render(ctx)}
            elif idle >= C.CONSOLE_SSE_PING_S:
                idle = 0.0
                yield {"comment": "ping"}
            finished = doc.get("status") not in ("planning", "running")
            if (finished or ctx["resumable"]) and not ctx["running"]:
                # Over, or left "running" by a process that died: nothing more will change.
                yield {"event": "finished", "data": doc.get("status", "")}
                return
            await asyncio.sleep(0.3)
            idle += 0.3

    return EventSourceResponse(events(), ping=None, headers={"Cache-Control": "no-store"})


@routes.action("/runs/{run_id}/{verb}")
async def run_control(request: Request) -> Response:
    console = console_of(request)
    run_id = request.path_params["run_id"]
    verb = request.path_params["verb"]
    form = await request.form()
    if verb == "cancel":
        console.runs.cancel(run_id)
    elif verb == "resume":
        try:
            await console.runs.resume(run_id)
        except PoeError as exc:
            doc = await _doc(request)
            if doc is None:
                return await render(
                    request, "error.html", status_code=404, page_name="runs", message=exc.message
                )
            return await render(
                request,
                "run.html",
                status_code=409,
                page_name="runs",
                error=f"Not resumed: {exc.message}",
                **_live_context(request, doc),
            )
    elif verb in ("approve", "deny"):
        console.runs.answer(run_id, str(form.get("approval") or ""), verb == "approve")
    else:
        return JSONResponse({"error": {"kind": "not_found", "message": "unknown action"}}, 404)
    return RedirectResponse(f"{base_path(request)}/runs/{run_id}", status_code=303)
