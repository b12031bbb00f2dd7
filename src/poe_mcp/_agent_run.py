"""The agent's results and run state: what ``Agent.run`` returns, and its small helpers.

Split out of :mod:`poe_mcp.agent`, which re-exports the public names (``AgentResult``,
``ToolTrace``, ``StopReason``, ``unanswered_tool_calls``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import _constants as C
from ._money import usd_repr
from .errors import InvalidRequestError
from .tools import ToolRegistry
from .types import ChatResult, ToolCall, Usage

StopReason = Literal[
    "final", "length", "max_turns", "budget", "pending_tool_calls", "invalid_tool_arguments"
]
ToolChoice = Literal["auto", "none", "required"] | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolTrace:
    """One tool call of a run.

    Attributes:
        call_id: the model's id for the call.
        name: the tool name.
        arguments: the arguments as the model sent them (JSON text).
        result: the text the model received (an error text when ``error`` is set); None for a
            pending client-executed call.
        error: why the call failed (bad arguments, unknown tool, exception, timeout), or None.
        duration_s: wall time of the call (0 for results the caller supplied).
        turn: the model request (1-based) that asked for it; 0 for results supplied through
            ``tool_results``.
        executed_by: ``agent`` (ran here), ``client`` (result supplied by the caller) or
            ``pending`` (waiting for the caller).
        bad_arguments: the call failed because its arguments did not fit the tool's schema
            (:class:`~poe_mcp.errors.ToolArgumentsError`): the model may correct them.
    """

    call_id: str
    name: str
    arguments: str
    result: str | None
    error: str | None
    duration_s: float
    turn: int
    executed_by: Literal["agent", "client", "pending"] = "agent"
    bad_arguments: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "name": self.name,
            "arguments": self.arguments,
            "result": self.result,
            "error": self.error,
            "duration_s": round(self.duration_s, 6),
            "turn": self.turn,
            "executed_by": self.executed_by,
        }


@dataclass(slots=True)
class AgentResult:
    """The outcome of :meth:`Agent.run`.

    Attributes:
        text: the final answer (empty when the run stopped before one).
        messages: the whole conversation in OpenAI format, system prompt first, tool calls and
            results included; pass it back to ``run`` to continue.
        trace: every tool call of this run, in order.
        usage: tokens of all model requests of this run.
        cost: USD of this run, or None when a model's price is unknown.
        turns: model requests made.
        stopped_reason: ``final`` (answered), ``length`` (answer cut by max_tokens),
            ``max_turns``, ``budget``, ``pending_tool_calls`` (client-executed tools wait for
            ``tool_results``) or ``invalid_tool_arguments`` (the model kept sending bad arguments).
        pending_tool_calls: the calls the caller must run (with ``stopped_reason ==
            "pending_tool_calls"``).
        model: the model asked.
        stream_fallbacks: streamed turns that ended without a finish reason and were re-asked
            without streaming.
        elapsed_s / model_s / tools_s: wall time of the run, of its model requests, and of its
            tool phases (the rest is the loop's own overhead).
        simulated: True when an answer came from the built-in simulator.
    """

    text: str
    messages: list[dict[str, Any]]
    trace: list[ToolTrace] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float | None = 0.0
    turns: int = 0
    stopped_reason: StopReason = "final"
    pending_tool_calls: tuple[ToolCall, ...] = ()
    model: str = ""
    stream_fallbacks: int = 0
    elapsed_s: float = 0.0
    model_s: float = 0.0
    tools_s: float = 0.0
    simulated: bool = False

    __repr__ = usd_repr

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "model": self.model,
            "stopped_reason": self.stopped_reason,
            "turns": self.turns,
            "usage": self.usage.to_dict(),
            "cost": self.cost,
            "trace": [t.to_dict() for t in self.trace],
            "pending_tool_calls": [c.to_dict() for c in self.pending_tool_calls],
            "stream_fallbacks": self.stream_fallbacks,
            "simulated": self.simulated,
            "messages": self.messages,
        }


@dataclass(slots=True)
class _Run:
    """The mutable state of one run."""

    model: str
    messages: list[dict[str, Any]]
    registry: ToolRegistry
    choice: str | dict[str, Any] = "auto"
    session_id: str | None = None
    trace: list[ToolTrace] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float | None = 0.0
    turns: int = 0
    text: str = ""
    pending: tuple[ToolCall, ...] = ()
    arg_failures: dict[str, int] = field(default_factory=dict)
    stream_fallbacks: int = 0
    model_s: float = 0.0
    tools_s: float = 0.0
    simulated: bool = False

    def add_usage(self, chat: ChatResult) -> None:
        self.usage = self.usage + chat.usage
        self.cost = None if self.cost is None or chat.cost is None else self.cost + chat.cost
        self.simulated = self.simulated or chat.simulated

    def finish(self, reason: StopReason, started: float) -> AgentResult:
        return AgentResult(
            text=self.text,
            messages=self.messages,
            trace=self.trace,
            usage=self.usage,
            cost=self.cost,
            turns=self.turns,
            stopped_reason=reason,
            pending_tool_calls=self.pending,
            model=self.model,
            stream_fallbacks=self.stream_fallbacks,
            elapsed_s=time.perf_counter() - started,
            model_s=self.model_s,
            tools_s=self.tools_s,
            simulated=self.simulated,
        )


def _cap(text: str) -> str:
    if len(text) <= C.TOOL_RESULT_CAP:
        return text
    return text[: C.TOOL_RESULT_CAP] + f"\n[truncated: {len(text)} characters in all]"


def _normalise_choice(choice: ToolChoice, registry: ToolRegistry) -> str | dict[str, Any]:
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise InvalidRequestError(
                f"tool_choice must be auto, none, required or {{'name': ...}}, got {choice!r}"
            )
        if choice == "required" and not registry:
            raise InvalidRequestError("tool_choice 'required' needs at least one tool")
        return choice
    name = choice.get("name") or (choice.get("function") or {}).get("name")
    if not isinstance(name, str) or name not in registry:
        raise InvalidRequestError(
            f"tool_choice names {name!r}, which is not one of the tools: "
            + (", ".join(registry.names()) or "none")
        )
    return {"type": "function", "function": {"name": name}}


def _can_run(registry: ToolRegistry, call: ToolCall) -> bool:
    found = registry.get(call.name)
    # Unknown tools are answered here with an error text the model can read.
    return found is None or found.executable


def _definition_name(definition: Mapping[str, Any]) -> str | None:
    function = definition.get("function")
    name = (function if isinstance(function, Mapping) else definition).get("name")
    return name if isinstance(name, str) else None


def _relaxed(choice: str | dict[str, Any]) -> str:
    return "none" if choice == "none" else "auto"


def _list_is_complete(client: Any) -> bool:
    """Whether a model missing from the client's model list does not exist: true of Poe's REST
    API only (its ``/v1/models`` lists every bot it serves)."""
    return (
        getattr(client, "provider", "poe") == "poe"
        and getattr(client, "backend", "openai") == "openai"
    )


def unanswered_tool_calls(messages: Sequence[Mapping[str, Any]]) -> list[ToolCall]:
    """The calls of the conversation's last assistant message that no tool message answers.

    A conversation that stopped with pending client-executed calls has some; it must get
    their results (``tool_results``) before it can take a new user message.
    """
    return _unanswered_calls(messages)


def _unanswered_calls(messages: Sequence[Mapping[str, Any]]) -> list[ToolCall]:
    """Tool calls of the last assistant message that no tool message answers yet."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") != "assistant":
            continue
        raw_calls = message.get("tool_calls") or []
        answered = {m.get("tool_call_id") for m in messages[index + 1 :] if m.get("role") == "tool"}
        calls = []
        for raw in raw_calls:
            function = raw.get("function") or {}
            call = ToolCall(
                id=str(raw.get("id")),
                name=str(function.get("name") or ""),
                arguments=str(function.get("arguments") or "{}"),
            )
            if call.id not in answered:
                calls.append(call)
        return calls
    return []
