"""Read-only tools: models, usage and server information."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from ... import __version__
from ... import _constants as C
from ..._money import format_usd
from ..._redact import redact_url
from ..schemas import (
    ModelOut,
    ModelsResult,
    ServerInfo,
    UsageGroupOut,
    UsageResult,
    UsageTotalsOut,
)
from ._base import SIMULATED_MARK, ToolSpec, runtime, tool_result

if TYPE_CHECKING:
    from ..._model_info import ModelInfo
    from ...store.base import Store
    from ..runtime import ServerRuntime

__all__ = [
    "TOOLS",
    "get_server_info",
    "get_usage",
    "list_available_models",
    "list_available_models_v2",
]

Modality = Literal["text", "image", "video", "audio"]
GroupBy = Literal["model", "session", "day", "provider", "tier", "entry_point"]


def _per_mtok(price: float | None) -> float | None:
    return None if price is None else round(price * C.TOKENS_PER_MTOK, 6)


def _model_out(m: ModelInfo) -> ModelOut:
    return ModelOut(
        id=m.id,
        owned_by=m.provider,
        input_modalities=list(m.input_modalities),
        output_modalities=list(m.output_modalities),
        supports_tools=m.supports_tools,
        context_window=m.context_window,
        input_usd_per_mtok=_per_mtok(m.input_price),
        output_usd_per_mtok=_per_mtok(m.output_price),
        usd_per_request=m.request_price,
    )


def _model_line(m: ModelOut) -> str:
    bits = [m.id]
    if m.owned_by:
        bits.append(f"by {m.owned_by}")
    outs = "/".join(m.output_modalities)
    if outs != "text":
        bits.append(f"makes {outs}")
    if m.supports_tools:
        bits.append("tools")
    elif m.supports_tools is None:
        bits.append("tools unknown")
    if m.context_window:
        bits.append(f"{m.context_window // 1000}k ctx")
    if m.input_usd_per_mtok is not None or m.output_usd_per_mtok is not None:
        bits.append(
            f"{format_usd(m.input_usd_per_mtok)}/{format_usd(m.output_usd_per_mtok)} per Mtok"
        )
    elif m.usd_per_request is not None:
        bits.append(f"{format_usd(m.usd_per_request)}/call")
    else:
        bits.append("price unknown")
    return "- " + ", ".join(bits)


def _totals_line(t: UsageTotalsOut) -> str:
    unknown = f" + {t.unknown_cost_calls} call(s) of unknown price" if t.unknown_cost_calls else ""
    details = [f"{t.cached_tokens} cached in"] if t.cached_tokens else []
    details += [f"{t.reasoning_tokens} reasoning out"] if t.reasoning_tokens else []
    of_which = f" (of which {', '.join(details)})" if details else ""
    return (
        f"{t.calls} call(s), {t.errors} error(s), {t.input_tokens} in / {t.output_tokens} out "
        f"tokens{of_which}, {format_usd(t.cost)}{unknown}"
    )


_MISSING_KEY = (
    "MISSING: tools that call the API fail until one is set. Put POE_API_KEY in this MCP "
    "client's server entry (env) or in credentials.toml (`poe-mcp doctor` shows where), then "
    "restart the server"
)


async def _check_session(store: Store, session_id: str, ttl_s: float) -> None:
    """No call recorded for ``session_id``: a live session is fine, anything else an error."""
    from ...errors import SessionNotFoundError

    everything = await store.usage.totals(session_id=session_id)
    if everything.calls == 0 and await store.sessions.get(session_id) is None:
        raise SessionNotFoundError(session_id, ttl_s=ttl_s)


async def _models_result(rt: ServerRuntime, models: list[ModelInfo], header: str) -> CallToolResult:
    catalog = await rt.catalog()
    outs = [_model_out(m) for m in models[: C.LIST_MODELS_MAX]]
    source = catalog.source or "live"
    note = " (offline: the API could not be reached; the list may be stale)"
    lines = [f"{header}: {len(models)} model(s){note if source == 'offline' else ''}"]
    lines += [_model_line(m) for m in outs]
    simulated = rt.answers_simulated()
    if simulated:
        lines.append(SIMULATED_MARK)
    out = ModelsResult(models=outs, count=len(models), source=source, simulated=simulated)
    return tool_result("\n".join(lines), out)


async def list_available_models(ctx: Context) -> CallToolResult:
    rt = runtime(ctx)
    # search(): the models that can chat (OpenAI lists embeddings, speech... too)
    return await _models_result(rt, await (await rt.catalog()).search(), "Available models")


async def list_available_models_v2(
    ctx: Context,
    query: Annotated[str | None, Field(max_length=200, description="words to match")] = None,
    modality: Annotated[Modality | None, Field(description="output kind")] = None,
    supports_tools: bool | None = None,
) -> CallToolResult:
    rt = runtime(ctx)
    catalog = await rt.catalog()
    found = await catalog.search(query, modality=modality, supports_tools=supports_tools)
    return await _models_result(rt, found, "Matching models")


async def get_usage(
    ctx: Context,
    since_hours: Annotated[float | None, Field(gt=0, le=24 * 366)] = None,
    by: GroupBy | None = None,
    session_id: Annotated[str | None, Field(max_length=C.SESSION_ID_MAX_LEN)] = None,
    include_simulated: bool = False,
) -> CallToolResult:
    from ...sessions import validate_session_id

    if session_id is not None:  # a malformed id is refused as every session tool refuses it
        session_id = validate_session_id(session_id)
    rt = runtime(ctx)
    store = await rt.store()
    ledger = store.usage
    since = time.time() - since_hours * 3600 if since_hours else None
    # This server's own kind of call (real, or simulated under --simulate) unless asked.
    world = None if include_simulated else rt.simulated
    raw = await ledger.totals(since=since, session_id=session_id, simulated=world)
    if session_id and raw.calls == 0:
        await _check_session(store, session_id, rt.settings.session_ttl_s)
    # The store's totals field by field (its dataclasses have the schema's names).
    totals = UsageTotalsOut.model_validate(raw, from_attributes=True)
    groups: list[UsageGroupOut] = []
    if by is not None:
        groups = [
            UsageGroupOut.model_validate(g, from_attributes=True)
            for g in await ledger.breakdown(by, since=since, simulated=world)
        ]
    scope = f"session {session_id}" if session_id else "all calls"
    window = f" in the last {since_hours:g} h" if since_hours else ""
    lines = [f"Usage ({scope}{window}): {_totals_line(totals)}"]
    lines += [f"- {g.key}: {_totals_line(g.totals)}" for g in groups]
    if world is not None:
        other = await ledger.totals(since=since, session_id=session_id, simulated=not world)
        if other.calls:
            what = "real" if world else "simulated"
            lines.append(
                f"({other.calls} {what} call(s) not counted; include_simulated=true adds them)"
            )
    return tool_result("\n".join(lines), UsageResult(totals=totals, groups=groups, since=since))


async def get_server_info(ctx: Context) -> CallToolResult:
    rt = runtime(ctx)
    settings = rt.settings
    store = await (await rt.store()).health()
    store["url"] = redact_url(settings.store_url)
    rate: dict[str, object] = {"rpm": settings.rpm}
    if rt.has_client:
        rate.update(await (await rt.client()).rate_limit_status())
    balance = await rt.balance_points()  # an answer from a simulator says so (below)
    info = ServerInfo(
        name="poe-mcp",
        version=__version__,
        provider=settings.provider,
        base_url=redact_url(settings.effective_base_url),
        backend=settings.backend,
        simulated=rt.answers_simulated(),
        api_key_configured=bool(rt.api_key),
        store=store,
        session_ttl_s=settings.session_ttl_s,
        tools=list(rt.tools),
        rate_limit=rate,
        balance_points=balance,
        transport=rt.transport,
    )
    sim = " — SIMULATED: answers come from the built-in offline simulator" * info.simulated
    text = (
        f"poe-mcp {info.version} over {info.transport}{sim}\n"
        f"provider {info.provider} ({info.base_url}), backend {info.backend}, "
        f"API key {'configured' if info.api_key_configured else _MISSING_KEY}\n"
        f"store {store['url']} ({'ok' if store.get('ok') else 'NOT OK'}), "
        f"sessions expire after {info.session_ttl_s:g} s idle\n"
        f"tools: {', '.join(info.tools)}"
    )
    if info.balance_points is not None:
        text += f"\nPoe point balance: {info.balance_points}"
    return tool_result(text, info)


TOOLS = (
    ToolSpec(
        list_available_models,
        title="List Poe models",
        description="List every model the API offers now, with prices. Prefer the _v2 filters.",
        read_only=True,
        open_world=True,
    ),
    ToolSpec(
        list_available_models_v2,
        title="Find Poe models",
        description="Search models by words, output kind or tool support, to pick a bot.",
        read_only=True,
        open_world=True,
    ),
    ToolSpec(
        get_usage,
        title="Usage and cost",
        description="Calls, tokens and USD spent through poe-mcp, in total or grouped (by).",
        read_only=True,
    ),
    ToolSpec(
        get_server_info,
        title="Server info",
        description="poe-mcp version, provider, backend, store, rate limits, balance; whether "
        "answers are simulated.",
        read_only=True,
    ),
)
