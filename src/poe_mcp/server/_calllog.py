"""One log line per tool call on the HTTP server: tool, outcome, model, tokens, cost, latency.

``guarded`` (every tool) opens a record for the call; :meth:`Metrics.usage` adds what the model
calls used to it; the line is written when the tool returns, at INFO on ``poe_mcp.calls``
(``serve --transport http`` shows it without ``-v``; ``--log-format json`` makes it a JSON
object with the same fields). Never the key; the prompt only with prompt logging on
(``POE_MCP_LOG_PROMPTS`` / ``log_prompts``).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._logging import redact
from .._money import format_usd

if TYPE_CHECKING:
    from .runtime import ServerRuntime

__all__ = ["begin", "finish", "note_usage"]

log = logging.getLogger("poe_mcp.calls")


@dataclass
class _Call:
    tool: str
    models: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    unpriced: int = 0


_CURRENT: ContextVar[_Call | None] = ContextVar("poe_mcp_tool_call", default=None)


def begin(tool: str) -> Token[_Call | None]:
    """Start the record of one tool call (in the tool's own context)."""
    return _CURRENT.set(_Call(tool))


def note_usage(model: str, input_tokens: int, output_tokens: int, cost: float | None) -> None:
    """Add one model call's usage to the current tool call, if there is one."""
    call = _CURRENT.get()
    if call is None:
        return
    if model not in call.models:
        call.models.append(model)
    call.input_tokens += input_tokens
    call.output_tokens += output_tokens
    if cost is None:
        call.unpriced += 1
    else:
        call.cost += cost


def finish(
    runtime: ServerRuntime,
    token: Token[_Call | None],
    *,
    outcome: str,
    kind: str | None,
    latency_s: float,
    arguments: dict[str, Any],
) -> None:
    """Write the call's line (HTTP transport only) and close its record."""
    call = _CURRENT.get()
    _CURRENT.reset(token)
    if call is None or runtime.transport != "http" or not log.isEnabledFor(logging.INFO):
        return
    cost: float | None = None if call.unpriced and not call.cost else call.cost
    fields: dict[str, Any] = {
        "event": "tool_call",
        "tool": call.tool,
        "outcome": outcome,
        "error_kind": kind,
        "model": ",".join(call.models) or arguments.get("bot") or arguments.get("model"),
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "cost_usd": cost,
        "latency_s": round(latency_s, 3),
    }
    if runtime.settings.log_prompts and isinstance(arguments.get("prompt"), str):
        fields["prompt"] = redact(arguments["prompt"])
    text = (
        f"{call.tool} {outcome}{f' ({kind})' if kind else ''} model={fields['model'] or '-'} "
        f"tokens={call.input_tokens}/{call.output_tokens} cost={format_usd(cost)} "
        f"latency={latency_s:.3f}s"
    )
    if "prompt" in fields:
        text += f" prompt={fields['prompt']!r}"
    log.info("%s", text, extra={"fields": fields})
