"""Step mode: the questions a run asks a person, and the tools that need an answer first.

A tool "changes things" when it is marked ``mutating`` (the built-in ``run_command`` and
``write_file`` are). In step mode every call of such a tool waits for an approval; a refusal
(or nobody to ask) is an error result the worker reads, and the tool does not run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ToolExecutionError

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["Approval", "Approver", "changes_things", "gate_tools"]


@dataclass(frozen=True, slots=True)
class Approval:
    """A question for the human in step mode: run this ticket, or this mutating tool call?"""

    kind: str  # "ticket" or "tool"
    run_id: str
    ticket_id: str
    text: str  # what will happen, in one line
    tool: str | None = None
    arguments: dict[str, Any] | None = None


Approver = Callable[[Approval], Awaitable[bool] | bool]
Ask = Callable[["Tool", dict[str, Any]], Awaitable[bool]]


def changes_things(tool: Tool) -> bool:
    """Whether step mode must ask before each call of ``tool``."""
    return tool.mutating


def gate_tools(tools: Iterable[Tool], ask: Ask) -> list[Tool]:
    """``tools``, with each tool that changes things calling ``ask`` before it runs."""
    gated: list[Tool] = []
    for tool in tools:
        runner = tool._runner
        if runner is None or not changes_things(tool):
            gated.append(tool)
        else:
            gated.append(dataclasses.replace(tool, _runner=_asking(tool, runner, ask)))
    return gated


def _asking(
    tool: Tool, runner: Callable[[dict[str, Any]], Awaitable[Any]], ask: Ask
) -> Callable[[dict[str, Any]], Awaitable[Any]]:
    async def run(arguments: dict[str, Any]) -> Any:
        if not await ask(tool, arguments):
            raise ToolExecutionError(
                f"{tool.name} was not run: step mode needs approval for tools that change "
                "things, and it was not given"
            )
        return await runner(arguments)

    return run
