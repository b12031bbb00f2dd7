"""Many models at once over MCP: ``compare_models`` and ``consensus`` (the ``multi`` group).

Both are thin over :mod:`poe_mcp.multi`. Each model's answer is reported as a progress
notification the moment it arrives; the result holds every answer with its tokens, cost and
latency (a failed model is reported, never failing the others). The group is off by default
(``--tools all,multi`` turns it on) so the default ``tools/list`` stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from ... import _constants as C
from ..._money import format_usd
from .._guard import render_error
from .._progress import Progress, progress
from ..schemas import CompareOut, ConsensusOut
from ._base import ToolSpec, render, runtime, tool_result

if TYPE_CHECKING:
    from ...multi import Comparison, Consensus, ModelAnswer
    from ..runtime import ServerRuntime

__all__ = ["TOOLS", "compare_models", "consensus"]

Models = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=C.TOOL_BOT_MAX_CHARS)]],
    Field(min_length=1, max_length=C.COMPARE_MAX_MODELS, description="e.g. [GPT-4.1, Grok-4]"),
]
Prompt = Annotated[str, Field(min_length=1, max_length=C.TOOL_PROMPT_MAX_CHARS)]
System = Annotated[str | None, Field(max_length=C.TOOL_SYSTEM_MAX_CHARS)]
Effort = Annotated[
    Literal["low", "medium", "high"] | Annotated[int, Field(ge=0)] | None,
    Field(description="or a token budget"),
]
StanceList = Annotated[
    list[Literal["for", "against", "neutral"]] | None,
    Field(max_length=C.COMPARE_MAX_MODELS, description="one per model, in order"),
]


def _head(answer: ModelAnswer) -> str:
    stance = f" [{answer.stance}]" if answer.stance else ""
    if answer.error is not None:
        return f"## {answer.model}{stance}: FAILED ({answer.error.kind}): {answer.error.message}"
    usage = answer.usage
    return (
        f"## {answer.model}{stance}: {usage.input_tokens} in / {usage.output_tokens} out tokens, "
        f"{format_usd(answer.cost)}, {answer.latency_s:.2f} s"
    )


def _sections(table: Comparison) -> list[str]:
    return [f"{_head(a)}\n{a.text.strip()}" if a.ok else _head(a) for a in table.answers]


def _compare_text(table: Comparison, simulated: bool) -> str:
    failed = f", {len(table.failed)} failed" if table.failed else ""
    total = f"{len(table.answers)} models in {table.wall_s:.2f} s{failed}"
    body = "\n\n".join([total, *_sections(table)])
    return render(body, [f"total {format_usd(table.cost)}"], simulated=simulated)


def _consensus_text(result: Consensus, simulated: bool) -> str:
    lines: list[str] = []
    if result.verdict is not None:
        lines.append(f"# Verdict ({result.synthesizer})\n{result.text.strip()}")
    elif result.synthesis_error is not None:
        lines.append(f"# No verdict: the synthesis by {result.synthesizer} failed")
        lines.append(render_error(result.synthesis_error))
    lines += _sections(result.panel)
    costs = [
        f"{s['step']} {s['model']}: {format_usd(s['cost']) if s['ok'] else 'failed'}"
        for s in result.steps()
    ]
    facts = [f"cost: {'; '.join(costs)}", f"total {format_usd(result.cost)}",
             f"{result.wall_s:.2f} s"]  # fmt: skip
    return render("\n\n".join(lines), facts, simulated=simulated)


def _reporter(rt: ServerRuntime, steps: Progress, total: int) -> Any:
    """The ``on_answer`` callback: each answer as a progress step, and into the metrics."""
    done = 0

    async def on_answer(answer: ModelAnswer) -> None:
        nonlocal done
        done += 1
        if answer.result is not None:
            usage = answer.usage
            rt.metrics.usage(answer.result.model, usage.input_tokens, usage.output_tokens,
                             answer.cost)  # fmt: skip
            what = f"answered in {answer.latency_s:.2f} s, {format_usd(answer.cost)}"
        else:
            what = f"failed ({answer.error.kind if answer.error else 'error'})"
        await steps.step(f"{answer.model} {what} ({done}/{total})")

    return on_answer


async def compare_models(
    prompt: Prompt,
    models: Models,
    ctx: Context,
    system: System = None,
    max_tokens: Annotated[int | None, Field(ge=1, le=C.MAX_OUTPUT_TOKENS)] = None,
    temperature: Annotated[float | None, Field(ge=0, le=2)] = None,
    reasoning_effort: Effort = None,
    params: Annotated[dict[str, Any] | None, Field(description="bot parameters")] = None,
) -> Annotated[CallToolResult, CompareOut]:
    from ...multi import compare

    rt = runtime(ctx)
    client = await rt.client()
    options: dict[str, Any] = {
        "system": system, "max_tokens": max_tokens, "temperature": temperature,
        "reasoning_effort": reasoning_effort, "extra": params,
    }  # fmt: skip
    async with progress(ctx, "compare") as steps:
        table = await compare(
            client,
            prompt,
            models,
            on_answer=_reporter(rt, steps, len(models)),
            **{k: v for k, v in options.items() if v is not None},
        )
    out = {**table.to_dict(), "simulated": rt.simulated}
    # No model answered: an error, as the CLI's exit status 1.
    return tool_result(_compare_text(table, rt.simulated), out, is_error=not table.succeeded)


async def consensus(
    prompt: Prompt,
    models: Models,
    ctx: Context,
    stances: StanceList = None,
    synthesizer: Annotated[
        str | None, Field(max_length=C.TOOL_BOT_MAX_CHARS, description="default: 1st model")
    ] = None,
    system: System = None,
    reasoning_effort: Effort = None,
) -> Annotated[CallToolResult, ConsensusOut]:
    from ...multi import consensus as run_consensus

    rt = runtime(ctx)
    client = await rt.client()
    options: dict[str, Any] = {"system": system, "reasoning_effort": reasoning_effort}
    async with progress(ctx, "consensus") as steps:
        result = await run_consensus(
            client,
            prompt,
            models,
            stances=stances,
            synthesizer=synthesizer,
            on_answer=_reporter(rt, steps, len(models) + 1),
            **{k: v for k, v in options.items() if v is not None},
        )
    out = {**result.to_dict(), "simulated": rt.simulated}
    return tool_result(_consensus_text(result, rt.simulated), out, is_error=not result.ok)


TOOLS = (
    ToolSpec(
        compare_models,
        title="Compare models",
        description="Ask several Poe models the same prompt at once and get every answer side "
        "by side, each with tokens, cost and latency. A failing model is reported without "
        "failing the others.",
        open_world=True,
    ),
    ToolSpec(
        consensus,
        title="Consensus of models",
        description="Ask a panel of models (optionally each arguing for/against/neutral), then "
        "a synthesizer model writes a verdict naming where they agree and disagree. Every "
        "step's cost is shown.",
        open_world=True,
    ),
)
