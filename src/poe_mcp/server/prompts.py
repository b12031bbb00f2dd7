"""MCP prompts: ready-made requests built on the tools (``prompts/list``, ``prompts/get``).

A client shows them as commands (slash commands in Claude Code, prompt pickers elsewhere); each
fills its arguments into instructions that tell the assistant which of this server's tools to
call. A prompt is offered only when the tools it names are exposed (``--tools``).

- ``second_opinion``: ask another model the same question, then weigh both answers.
- ``model_comparison``: one prompt to several models, compared side by side.
- ``review_diff``: a code review of a diff by another model, checked against the diff.
"""

# No `from __future__ import annotations`: the prompts' argument descriptions are built here
# (they name the default model), and the SDK reads them from the evaluated signatures.
from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

from .runtime import ServerRuntime

__all__ = ["register_prompts"]


def _ask_tool(tools: list[str]) -> str | None:
    """The chat tool a prompt tells the assistant to call (the one with every option first)."""
    for name in ("ask_poe_v2", "ask_poe"):
        if name in tools:
            return name
    return None


def register_prompts(server: MCPServer[Any], runtime: ServerRuntime) -> None:
    """Add the prompts whose tools ``runtime.tools`` exposes."""
    ask = _ask_tool(runtime.tools)
    if ask is None:
        return
    default_model = str(getattr(runtime.settings, "model", "") or "Claude-Sonnet-4")
    compare = "compare_models" if "compare_models" in runtime.tools else None

    @server.prompt(
        name="second_opinion",
        title="Second opinion",
        description="Ask another model the same question, then compare its answer with yours.",
    )
    def second_opinion(
        question: Annotated[str, Field(description="the question or task")],
        model: Annotated[
            str | None, Field(description=f"the other model (default {default_model})")
        ] = None,
    ) -> str:
        other = model or default_model
        return (
            f"I want a second opinion from {other}. Call the {ask} tool with bot={other!r} "
            f"and this prompt, word for word:\n\n{question}\n\n"
            "Then answer the question yourself, and compare the two answers: where they "
            "agree, where they differ, and which is right where they differ, and why. End with "
            "the answer you would give now."
        )

    @server.prompt(
        name="model_comparison",
        title="Compare models",
        description="Send one prompt to several models and compare their answers side by side.",
    )
    def model_comparison(
        prompt: Annotated[str, Field(description="the prompt every model gets")],
        models: Annotated[
            str, Field(description="comma-separated model names, e.g. Claude-Sonnet-4, GPT-4.1")
        ],
    ) -> str:
        names = [m.strip() for m in models.split(",") if m.strip()]
        listed = ", ".join(names)
        if compare is not None:
            how = f"Call the {compare} tool once with models [{listed}] and this prompt"
        else:
            how = f"Call the {ask} tool once per model ({listed}), each with this same prompt"
        return (
            f"{how}:\n\n{prompt}\n\n"
            "Then compare the answers in a table (model, main claim, strengths, mistakes, "
            "tokens and cost from each result), say which answer is best for this prompt and "
            "why, and note anything only one model got right."
        )

    @server.prompt(
        name="review_diff",
        title="Review a diff",
        description="Have another model review a diff, then check its findings against the diff.",
    )
    def review_diff(
        diff: Annotated[str, Field(description="the unified diff to review")],
        model: Annotated[
            str | None, Field(description=f"the reviewing model (default {default_model})")
        ] = None,
        focus: Annotated[
            str | None, Field(description="what to look at most, e.g. security, error handling")
        ] = None,
    ) -> str:
        reviewer = model or default_model
        extra = f" Pay most attention to {focus}." if focus else ""
        return (
            f"Get a code review from {reviewer}: call the {ask} tool with bot={reviewer!r} and "
            "a prompt asking it to review the diff below for bugs, security problems, missing "
            f"tests and unclear code, citing file and line for each finding.{extra}\n\n"
            f"```diff\n{diff}\n```\n\n"
            "Then check every finding against the diff yourself: keep the ones that hold, say "
            "why you drop the others, and list what to change, most important first."
        )
