"""What every tool module uses: its declaration, the runtime, and the one way results look."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from mcp_types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel

from ..._money import format_usd

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

    from ...config import Settings
    from ...types import Usage
    from ..runtime import ServerRuntime
    from ..schemas import UsageOut

__all__ = [
    "SIMULATED_MARK",
    "ToolSpec",
    "cost_facts",
    "render",
    "runtime",
    "tool_result",
]

SIMULATED_MARK = "SIMULATED (built-in offline simulator, not a real model)"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One MCP tool: the function (its name, signature and annotations make the schema) and
    what ``tools/list`` says about it.

    ``destructive`` may depend on the settings (``run_command`` configured, for one).
    """

    fn: Callable[..., Awaitable[CallToolResult]]
    title: str
    description: str
    read_only: bool = False
    open_world: bool = False
    destructive: bool | Callable[[Settings], bool] = False
    idempotent: bool = False

    @property
    def name(self) -> str:
        return self.fn.__name__


def runtime(ctx: Context) -> ServerRuntime:
    """The server's shared state, which the server's lifespan hands to every request."""
    return cast("ServerRuntime", ctx.request_context.lifespan_context)


def cost_facts(usage: Usage | UsageOut, cost: float | None) -> list[str]:
    """``tokens: N in / M out`` (marked when estimated) and ``cost: $...`` (or unknown)."""
    estimated = " (estimated)" if usage.estimated else ""
    return [
        f"tokens: {usage.input_tokens} in / {usage.output_tokens} out{estimated}",
        f"cost: {format_usd(cost)}",
    ]


def render(body: str, facts: Iterable[str], *, simulated: bool) -> str:
    """Every tool's text: the body, then a rule and one line of facts (session, model, tokens,
    cost...), ending with the SIMULATED mark when the answer came from a simulator."""
    shown = [*facts, *([SIMULATED_MARK] if simulated else [])]
    return f"{body}\n\n---\n[{' · '.join(shown)}]" if shown else body


def tool_result(
    content: str | Sequence[ContentBlock],
    structured: BaseModel | dict[str, Any],
    *,
    is_error: bool = False,
) -> CallToolResult:
    """The result: text (or blocks) for the model, ``structuredContent`` for programs, and
    ``_meta["poe-mcp/simulated"]`` whenever the structure says whether it was simulated."""
    data = structured.model_dump(mode="json") if isinstance(structured, BaseModel) else structured
    blocks: list[ContentBlock] = (
        [TextContent(type="text", text=content)] if isinstance(content, str) else list(content)
    )
    meta = {"poe-mcp/simulated": data["simulated"]} if "simulated" in data else None
    return CallToolResult(content=blocks, structured_content=data, is_error=is_error, _meta=meta)
