"""The ``ask_poe_with_tools`` MCP tool: a Poe model with tools, run by the agent loop.

Tools come from two places:

- the server's own, opt-in in ``config.toml``: the built-in file tools and ``run_command``
  (``[tools]``, see :func:`poe_mcp.tools.builtin_tools`) and the tools of other MCP servers
  (``[mcp_servers]``, see :class:`poe_mcp.tools.MCPToolset`). They run here, automatically, and the
  result holds the final answer and the trace of every call.
- definitions the caller passes in ``tools`` (OpenAI format). The server cannot run them: when
  the model calls one, the result lists ``pending_tool_calls`` (id, name, arguments) and the
  ``session_id``; the caller runs them and calls again with ``session_id`` and ``tool_results``
  (call id -> result).

Each call is one :meth:`Agent.run <poe_mcp.Agent.run>` in the stored
:class:`~poe_mcp.Conversation` ``session_id`` names: the session store keeps the whole
conversation (tool calls and results included) and the caller's tool definitions, so any server
process sharing the store can continue it, and a continuation may leave ``tools`` out (pass
them again to change them). ``system`` applies to a call with a prompt. A session waiting for
``tool_results`` refuses a new prompt (the model would see calls without results). Configured
MCP servers are connected on the first call and stay connected until the server stops; one
that cannot be started is skipped (and named in the answer) rather than failing every call.

``finish_reason`` in the result: ``stop`` (answered), ``length``, ``tool_calls``
(``pending_tool_calls`` wait for the caller), ``max_turns``, ``budget`` or
``invalid_tool_arguments`` (the model kept sending arguments that fail the schema).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field

from ... import _constants as C
from ..._tool_schemas import check_tool_definitions
from ...errors import ConfigError, InvalidRequestError
from .._progress import progress
from .._roots import ClientRoots, declared_roots
from ..schemas import UsageOut
from ._base import ToolSpec, cost_facts, render, runtime, tool_result

if TYPE_CHECKING:
    from ...agent import AgentResult
    from ...config import Settings
    from ...tools import Tool
    from ...types import ChatOptions
    from ..runtime import ServerRuntime

__all__ = ["TOOLS", "AgentAnswer", "ask_poe_with_tools"]

# Why the loop stopped, as a finish reason: pending client calls read as "tool_calls".
_FINISH = {"final": "stop", "pending_tool_calls": "tool_calls"}
_CHOICES: dict[str, Literal["auto", "none", "required"]] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
}


class AgentAnswer(BaseModel):
    # The structured result (see the module docstring for finish_reason). No docstring: it
    # would become the output schema's description, sent on every tools/list. trace items are
    # ToolTrace.to_dict(); pending_tool_calls items are {id, name, arguments (parsed)}.

    model_config = ConfigDict(json_schema_extra=lambda s: s.pop("title", None))

    text: str
    model: str
    session_id: str
    usage: UsageOut
    cost: float | None
    finish_reason: str
    pending_tool_calls: list[dict[str, Any]]
    trace: list[dict[str, Any]]
    simulated: bool


class _ServerTools:
    """The tools this server runs itself, built from the config on first use (one per runtime)."""

    def __init__(self, rt: ServerRuntime) -> None:
        self.runtime = rt
        self.failures: dict[str, str] = {}
        self._tools: list[Tool] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> list[Tool]:
        if self._tools is None:
            async with self._lock:
                if self._tools is None:
                    self._tools = await self._build()
        return self._tools

    async def _build(self) -> list[Tool]:
        from ..._paths import denied_paths
        from ...tools._builtin import builtin_tools_from_config
        from ...tools._mcp import MCPToolset, mcp_servers_from_config

        settings = self.runtime.settings
        # The server's own store and dirs are refused even when a root contains them.
        made = builtin_tools_from_config(settings.section("tools"), denied=denied_paths(settings))
        specs = mcp_servers_from_config(settings.section("mcp_servers"))
        if not specs:
            return made
        toolset: MCPToolset = MCPToolset(specs, ignore_failures=True)
        await toolset.start()
        builtin = {t.name for t in made}
        clashes = sorted(builtin & {t.name for t in toolset.tools})
        if clashes:
            await toolset.aclose()  # the next call starts over: no connection left behind
            raise ConfigError(
                f"MCP servers offer tools named like built-in ones ({', '.join(clashes)}): "
                "give the MCP server a 'prefix' in [mcp_servers]"
            )
        self.runtime.add_closer(toolset.aclose)
        self.failures = dict(toolset.failures)
        return [*made, *toolset.tools]


async def ask_poe_with_tools(
    bot: Annotated[str, Field(min_length=1, max_length=C.TOOL_BOT_MAX_CHARS)],
    ctx: Context,
    prompt: Annotated[str | None, Field(max_length=C.TOOL_PROMPT_MAX_CHARS)] = None,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: Annotated[
        str,
        Field(max_length=C.TOOL_NAME_MAX_CHARS, description="auto|none|required|a tool name"),
    ] = "auto",
    parallel_tool_calls: bool = True,
    session_id: Annotated[str | None, Field(max_length=C.SESSION_ID_MAX_LEN)] = None,
    max_turns: Annotated[int | None, Field(ge=1, le=C.AGENT_MAX_TURNS_LIMIT)] = None,
    tool_results: dict[str, Any] | list[dict[str, Any]] | None = None,
    system: Annotated[str | None, Field(max_length=C.TOOL_SYSTEM_MAX_CHARS)] = None,
    max_tokens: Annotated[int | None, Field(ge=1, le=C.MAX_OUTPUT_TOKENS)] = None,
    temperature: Annotated[float | None, Field(ge=0, le=2)] = None,
    client_roots: ClientRoots = None,
) -> CallToolResult:
    from ..._paths import using_client_roots
    from ...agent import Agent
    from ...conversation import Conversation
    from ...tools import Tool

    continuing = tool_results is not None
    _check_request(bot, prompt, tools, session_id, continuing)
    rt = runtime(ctx)
    conversation = Conversation(session_id, store=await rt.store(), ttl_s=rt.settings.session_ttl_s)
    if continuing and conversation.session_id is None:
        raise InvalidRequestError(
            "tool_results needs the session_id the pending_tool_calls came with"
        )
    server_tools = rt.shared(_ServerTools)
    own = await server_tools.get()
    theirs = [Tool.from_openai(d) for d in tools or ()]
    taken = sorted({t.name for t in own} & {t.name for t in theirs})
    if taken:
        raise InvalidRequestError(
            f"tools named {taken} clash with the server's own tools; rename yours"
        )
    if not own and not theirs and conversation.session_id is None:
        raise InvalidRequestError(
            "no tools to offer: pass tools (OpenAI function definitions) or configure "
            "[tools] / [mcp_servers] in config.toml; for a plain question use ask_poe"
        )
    options: ChatOptions = {"backend": rt.backend_for(True, compat=False)}
    if max_tokens is not None:
        options["max_tokens"] = max_tokens
    if temperature is not None:
        options["temperature"] = temperature
    agent = Agent(
        await rt.client(),
        bot,
        tools=[*own, *theirs],
        system=system,
        max_turns=max_turns or C.AGENT_MAX_TURNS,
        parallel=parallel_tool_calls,
        tool_choice=_choice(tool_choice),
        options=options,
    )
    # The file tools and run_command stay inside the client's roots too, if it has some.
    with using_client_roots(declared_roots(client_roots)):
        async with progress(ctx, bot):
            results = _results_by_id(tool_results)
            result = await agent.run(prompt, tool_results=results, conversation=conversation)
    rt.metrics.usage(
        result.model, result.usage.input_tokens, result.usage.output_tokens, result.cost
    )
    assert conversation.session_id is not None  # a stored run sets it
    out = _answer(result, conversation.session_id, simulated=rt.simulated or result.simulated)
    return tool_result(_text(out, result.turns, server_tools.failures), out)


def _check_request(
    bot: str, prompt: str | None, tools: list[Any] | None, session_id: str | None, continuing: bool
) -> None:
    """Argument combinations the schema cannot express."""
    if not bot.strip():
        raise InvalidRequestError("bot is empty: name a Poe model, e.g. Claude-Sonnet-4")
    if continuing and prompt:
        raise InvalidRequestError(
            "give either a prompt (a new message) or tool_results (results of pending "
            "calls), not both: the conversation continues where it stopped"
        )
    if not continuing and not (prompt and prompt.strip()):
        raise InvalidRequestError(
            "prompt is required (or, to continue, session_id with tool_results)"
        )
    if continuing and not session_id:
        raise InvalidRequestError(
            "tool_results needs the session_id the pending_tool_calls came with"
        )
    if tools is None:
        return
    if len(tools) > C.AGENT_CLIENT_TOOLS_MAX:
        raise InvalidRequestError(
            f"{len(tools)} tools given; at most {C.AGENT_CLIENT_TOOLS_MAX} per call"
        )
    check_tool_definitions(tools)  # JSON Schema checked here, not by the provider later


def _results_by_id(
    results: dict[str, Any] | list[dict[str, Any]] | None,
) -> dict[str, Any] | None:
    """``tool_results`` as ``{call id: result}``, from either accepted form.

    The OpenAI way (``[{"tool_call_id", "content"}]``, as ``role: tool`` messages carry them;
    ``output`` as in the Assistants API) is turned into the mapping; anything else is refused.
    """
    if results is None or isinstance(results, dict):
        return results
    by_id: dict[str, Any] = {}
    for index, item in enumerate(results):
        call_id = item.get("tool_call_id", item.get("id"))
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequestError(
                f"tool_results[{index}] has no tool_call_id: give "
                '[{"tool_call_id": "call_...", "content": "..."}] or {"call_...": "..."}'
            )
        extra = sorted(set(item) - {"tool_call_id", "id", "content", "output", "role", "name"})
        if extra:
            raise InvalidRequestError(
                f"tool_results[{index}] has unknown key(s) {', '.join(extra)}: give "
                "tool_call_id and content"
            )
        if call_id in by_id:
            raise InvalidRequestError(f"tool_results has two results for {call_id}")
        by_id[call_id] = item.get("content", item.get("output", ""))
    return by_id


def _choice(tool_choice: str) -> Literal["auto", "none", "required"] | dict[str, Any]:
    value = tool_choice.strip()
    return _CHOICES.get(value) or {"name": value}


def _pending(arguments: str) -> Any:
    try:
        return json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return arguments  # as the model sent it: the caller decides what to do with it


def _answer(result: AgentResult, session_id: str, *, simulated: bool) -> AgentAnswer:
    return AgentAnswer(
        text=result.text,
        model=result.model,
        session_id=session_id,
        usage=UsageOut(**result.usage.to_dict()),
        cost=result.cost,
        finish_reason=_FINISH.get(result.stopped_reason, result.stopped_reason),
        pending_tool_calls=[
            {"id": c.id, "name": c.name, "arguments": _pending(c.arguments)}
            for c in result.pending_tool_calls
        ],
        trace=[t.to_dict() for t in result.trace],
        simulated=simulated,
    )


def _quote(text: str | None) -> str:
    text = (text or "").replace("\n", " ")
    limit = C.AGENT_TRACE_QUOTE_CHARS
    return text if len(text) <= limit else text[:limit] + "…"


def _text(out: AgentAnswer, turns: int, failures: Mapping[str, str]) -> str:
    """The answer for the calling model: what to do next first, then the facts."""
    lines: list[str] = []
    if out.pending_tool_calls:
        lines.append("The model asked for tool calls that you must run:")
        lines += [
            f"- {c['id']}: {c['name']}({json.dumps(c['arguments'])})"
            for c in out.pending_tool_calls
        ]
        lines.append(
            f'Run them, then call ask_poe_with_tools again with session_id="{out.session_id}" '
            "and tool_results={call_id: result}."
        )
    elif out.text:
        lines.append(out.text)
    else:
        lines.append(f"No answer: the loop stopped ({out.finish_reason}).")
    ran = [t for t in out.trace if t["executed_by"] != "pending"]
    if ran:
        lines.append("\nTool calls:")
        for t in ran:
            shown = f"error: {t['error']}" if t["error"] else t["result"]
            lines.append(f"- {t['name']}({t['arguments']}) -> {_quote(shown)}")
    for name, reason in failures.items():
        lines.append(f"(MCP server {name!r} is unavailable: {_quote(reason)})")
    facts = [f"session_id: {out.session_id}", f"model: {out.model}", f"turns: {turns}"]
    facts += cost_facts(out.usage, out.cost)
    if out.finish_reason not in ("stop", "tool_calls"):
        facts.append(f"finish_reason: {out.finish_reason}")
    return render("\n".join(lines), facts, simulated=out.simulated)


def _runs_commands(settings: Settings) -> bool:
    # run_command runs whatever the allow-listed programs can do.
    commands = settings.file.get("tools", {})
    return isinstance(commands, Mapping) and commands.get("commands") is not None


TOOLS = (
    ToolSpec(
        ask_poe_with_tools,
        title="Ask with tools",
        # Every character here is in the calling assistant's context on each tools/list (the
        # server's test keeps the whole list under 12,000), so the parameters are left almost
        # undescribed.
        description="A Poe model with tools. The server's run here; yours (OpenAI format) "
        "come back as pending_tool_calls: run them, call again with session_id and "
        "tool_results ({id: result} or [{tool_call_id, content}]).",
        open_world=True,
        destructive=_runs_commands,
    ),
)
