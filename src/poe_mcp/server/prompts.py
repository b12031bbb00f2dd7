"""MCP prompts: ready-made requests built on the tools (``prompts/list``, ``prompts/get``).

A client shows them as commands (slash commands in Claude Code, prompt pickers elsewhere); each
fills its arguments into instructions that tell the assistant which of this server's tools to
call. A prompt is offered only when the tools it names are exposed (``--tools``). Arguments
are checked before a prompt renders (:func:`check_prompt_arguments`): an unknown or missing one
is a clear ``INVALID_PARAMS`` error, never a server-side traceback.

- ``second_opinion``: ask another model the same question, then weigh both answers.
- ``model_comparison``: one prompt to several models, compared side by side.
- ``review_diff``: a code review of a diff by another model, checked against the diff.
"""

# No `from __future__ import annotations`: the prompts' argument descriptions are built here
# (they name the default model), and the SDK reads them from the evaluated signatures.
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from mcp_types import Prompt as MCPPrompt
from pydantic import Field

from .. import _constants as C
from .._suggest import did_you_mean
from .runtime import ServerRuntime

__all__ = ["check_prompt_arguments", "register_prompts"]

# Longest value of each argument: text that goes on to a chat tool's prompt may be as long as
# that tool takes; a model name as long as a bot name.
_MAX_CHARS: dict[str, int] = {
    "question": C.TOOL_PROMPT_MAX_CHARS,
    "prompt": C.TOOL_PROMPT_MAX_CHARS,
    "diff": C.TOOL_PROMPT_MAX_CHARS,
    "model": C.TOOL_BOT_MAX_CHARS,
    "models": C.COMPARE_MAX_MODELS * (C.TOOL_BOT_MAX_CHARS + 2),
    "focus": C.PROMPT_FOCUS_MAX_CHARS,
}


def _refuse(message: str) -> MCPError:
    # An MCPError is answered as it is (INVALID_PARAMS), without a server-side traceback.
    return MCPError(INVALID_PARAMS, message)


def _model_names(models: str) -> list[str]:
    return [m.strip() for m in models.split(",") if m.strip()]


def check_prompt_arguments(
    prompts: Sequence[MCPPrompt], name: str, arguments: Mapping[str, Any] | None
) -> None:
    """Refuse a ``prompts/get`` the prompt cannot render, saying what to send instead.

    An unknown prompt or argument (with "did you mean"), a required argument missing or blank,
    a value longer than the tool it feeds takes, a ``models`` list without a model name.

    Raises:
        MCPError: ``INVALID_PARAMS`` with the reason and the arguments the prompt takes.
    """
    found = next((p for p in prompts if p.name == name), None)
    if found is None:
        names = [p.name for p in prompts]
        raise _refuse(
            f"unknown prompt {name!r}.{did_you_mean(name, names)} Prompts: "
            f"{', '.join(names) or 'none (no chat tool is exposed)'}"
        )
    declared = {a.name: a for a in found.arguments or []}
    takes = ", ".join(f"{a}{'' if d.required else ' (optional)'}" for a, d in declared.items())
    given = dict(arguments or {})
    for key in given:
        if key not in declared:
            raise _refuse(
                f"{name} has no argument {key[: C.ARGUMENT_NAME_MAX_CHARS]!r}."
                f"{did_you_mean(key, declared)} It takes: {takes}"
            )
    for key, arg in declared.items():
        value = given.get(key)
        if arg.required and (not isinstance(value, str) or not value.strip()):
            raise _refuse(f"{name} needs {key!r} ({arg.description}). It takes: {takes}")
        limit = _MAX_CHARS.get(key)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            raise _refuse(f"{name}: {key!r} is {len(value)} characters, at most {limit}")
    models = given.get("models")
    if isinstance(models, str):
        names = _model_names(models)
        if len(names) > C.COMPARE_MAX_MODELS:
            raise _refuse(
                f"{name}: at most {C.COMPARE_MAX_MODELS} models at once, got {len(names)}"
            )
        if not names or any(len(n) > C.TOOL_BOT_MAX_CHARS for n in names):
            raise _refuse(
                f"{name}: 'models' must be comma-separated model names, e.g. "
                f"'Claude-Sonnet-4, GPT-4.1', got {models[: C.TOOL_BOT_MAX_CHARS]!r}"
            )


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
        listed = ", ".join(_model_names(models))
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
        # A fence longer than any run of backticks in the diff (a diff of a Markdown file has
        # its own ``` lines), so the diff cannot close it early.
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", diff)), default=0))
        return (
            f"Get a code review from {reviewer}: call the {ask} tool with bot={reviewer!r} and "
            "a prompt asking it to review the diff below for bugs, security problems, missing "
            f"tests and unclear code, citing file and line for each finding.{extra}\n\n"
            f"{fence}diff\n{diff}\n{fence}\n\n"
            "Then check every finding against the diff yourself: keep the ones that hold, say "
            "why you drop the others, and list what to change, most important first."
        )
