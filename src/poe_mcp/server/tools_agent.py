"""The ``ask_poe_with_tools`` MCP tool: a Poe model with tools, run by the agent loop.

Tools come from two places:

- the server's own, opt-in in ``config.toml``: the built-in file tools and ``run_command``
  (``[tools]``, see :mod:`poe_mcp.builtin_tools`) and the tools of other MCP servers
  (``[mcp_servers]``, see :mod:`poe_mcp.mcp_tools`). They run here, automatically, and the
  result holds the final answer and the trace of every call.
- definitions the caller passes in ``tools`` (OpenAI format). The server cannot run them: when
  the model calls one, the result lists ``pending_tool_calls`` (id, name, arguments) and the
  ``session_id``; the caller runs them and calls again with ``session_id`` and ``tool_results``
  (call id -> result). The session store keeps the whole conversation (tool calls and results
  included) between the calls, so any server process sharing the store can continue it.

The caller's definitions are remembered per session in this process, so a continuation may
leave ``tools`` out; after a restart (or to change them) pass them again. ``system`` applies to a
call with a prompt. A session waiting for ``tool_results`` refuses a new prompt (the model would
see calls without results). Configured MCP servers are connected on the first call and stay
connected until the server stops; one that cannot be started is skipped (and named in the
answer) rather than failing every call.

``finish_reason`` in the result: ``stop`` (answered), ``length``, ``tool_calls``
(``pending_tool_calls`` wait for the caller), ``max_turns``, ``budget`` or
``invalid_tool_arguments`` (the model kept sending arguments that fail the schema).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field

from .. import _constants as C
from .._money import format_usd
from .._tool_schemas import check_tool_definitions
from ..errors import ConfigError, InvalidRequestError, NotFoundError
from ._chat import with_suggestions
from ._progress import progress
from ._roots import ClientRoots, declared_roots
from .registry import ToolRegistry
from .runtime import ServerRuntime
from .schemas import UsageOut

if TYPE_CHECKING:
    from ..agent import AgentResult
    from ..mcp_tools import MCPToolset
    from ..tools import Tool

__all__ = ["AgentAnswer", "register"]

# Every character here is in the calling assistant's context on each tools/list (the server's
# test keeps the whole list under 12,000), so the parameters are left almost undescribed.
_DESCRIPTION = (
    "A Poe model with tools. The server's run here; yours (OpenAI format) come back as "
    "pending_tool_calls: run them, call again with session_id and tool_results ({id: result} "
    "or [{tool_call_id, content}])."
)

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
    """The tools this server runs itself, built from the config on first use."""

    def __init__(self, runtime: ServerRuntime) -> None:
        self.runtime = runtime
        self.failures: dict[str, str] = {}
        self._tools: list[Tool] | None = None
        self._lock: asyncio.Lock | None = None

    async def get(self) -> list[Tool]:
        if self._tools is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._tools is None:
                    self._tools = await self._build()
        return self._tools

    async def _build(self) -> list[Tool]:
        from .._paths import denied_paths
        from ..builtin_tools import builtin_tools_from_config
        from ..mcp_tools import MCPToolset, mcp_servers_from_config

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


class _Definitions:
    """The caller's tool definitions of recent sessions (bounded, most recent kept)."""

    def __init__(self) -> None:
        self._by_session: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def get(self, session_id: str) -> list[dict[str, Any]]:
        return self._by_session.get(session_id, [])

    def put(self, session_id: str, definitions: list[dict[str, Any]]) -> None:
        self._by_session[session_id] = definitions
        self._by_session.move_to_end(session_id)
        while len(self._by_session) > C.AGENT_REMEMBERED_SESSIONS:
            self._by_session.popitem(last=False)


def register(reg: ToolRegistry) -> None:
    """Add ``ask_poe_with_tools`` when the registry wants it."""
    runtime = reg.runtime
    server_tools = _ServerTools(runtime)
    remembered = _Definitions()

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
    ) -> Annotated[CallToolResult, AgentAnswer]:
        from .._paths import using_client_roots
        from ..agent import Agent
        from ..sessions import is_new_session, validate_session_id
        from ..tools import Tool

        continuing = tool_results is not None
        _check_request(bot, prompt, tools, session_id, continuing)
        sid = None if is_new_session(session_id) else validate_session_id(str(session_id))
        if continuing and sid is None:
            raise InvalidRequestError(
                "tool_results needs the session_id the pending_tool_calls came with"
            )
        tool_results = _results_by_id(tool_results)
        conversations = await runtime.conversations()
        history: list[dict[str, Any]] = []
        if sid is not None and continuing:
            stored = await conversations.load(sid)  # SessionNotFoundError when gone
            history = list(stored.messages) if stored is not None else []

        own = await server_tools.get()
        own_names = {t.name for t in own}
        definitions = tools if tools is not None else (remembered.get(sid) if sid else [])
        theirs = [Tool.from_openai(d) for d in definitions]
        taken = sorted(own_names & {t.name for t in theirs})
        if taken:
            raise InvalidRequestError(
                f"tools named {taken} clash with the server's own tools; rename yours"
            )
        if not own and not theirs and not continuing:
            raise InvalidRequestError(
                "no tools to offer: pass tools (OpenAI function definitions) or configure "
                "[tools] / [mcp_servers] in config.toml; for a plain question use ask_poe"
            )

        if sid is not None and continuing:
            _check_results(history, dict(tool_results or {}), own_names)
            messages, first_new = history, []
        else:
            turn = await conversations.prepare(
                sid,
                {"role": "user", "content": prompt},
                system=system,
                context_window=await runtime.context_window(bot),
            )
            sid = turn.session_id
            _check_not_waiting(sid, turn.messages[:-1])
            messages, first_new = turn.messages, turn.new_messages

        agent = Agent(
            await runtime.client(),
            bot,
            tools=[*own, *theirs],
            max_turns=max_turns or C.AGENT_MAX_TURNS,
            parallel=parallel_tool_calls,
            tool_choice=_choice(tool_choice),
            options={
                "session_id": sid,
                "backend": runtime.backend_for(True, compat=False),
                **({"max_tokens": max_tokens} if max_tokens is not None else {}),
                **({"temperature": temperature} if temperature is not None else {}),
            },
        )
        try:
            # The file tools and run_command stay inside the client's roots too, if it has some.
            with using_client_roots(declared_roots(client_roots)):
                async with progress(ctx, bot):
                    result = await agent.run(messages, tool_results=tool_results)
        except NotFoundError as exc:
            raise await with_suggestions(runtime, bot, exc) from None

        added = [*first_new, *result.messages[len(messages) :]]
        if added:
            await conversations.store.append(
                sid, added, model=result.model, backend="openai", ttl_s=conversations.ttl_s
            )
        if tools is not None:
            remembered.put(sid, list(tools))
        runtime.metrics.usage(
            result.model, result.usage.input_tokens, result.usage.output_tokens, result.cost
        )
        out = _answer(result, sid, simulated=runtime.simulated or result.simulated)
        return CallToolResult(
            content=[
                TextContent(
                    type="text",
                    text=_text(out, result.turns, out.simulated, server_tools.failures),
                )
            ],
            structured_content=out.model_dump(mode="json"),
            _meta={"poe-mcp/simulated": out.simulated},
        )

    commands = runtime.settings.file.get("tools", {})
    reg.add(
        ask_poe_with_tools,
        title="Ask with tools",
        description=_DESCRIPTION,
        open_world=True,
        # run_command runs whatever the allow-listed programs can do.
        destructive=isinstance(commands, Mapping) and commands.get("commands") is not None,
    )


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


def _check_results(
    messages: list[dict[str, Any]], results: dict[str, Any], own_names: set[str]
) -> None:
    """Every result answers a pending call, and every call the server cannot run has one."""
    from ..agent import unanswered_tool_calls

    unanswered = unanswered_tool_calls(messages)
    unknown = sorted(set(results) - {c.id for c in unanswered})
    if unknown:
        raise InvalidRequestError(
            f"tool_results has ids the conversation did not ask for: {', '.join(unknown)}; "
            "pending calls: " + (", ".join(f"{c.id} ({c.name})" for c in unanswered) or "none")
        )
    missing = [c for c in unanswered if c.id not in results and c.name not in own_names]
    if missing:
        raise InvalidRequestError(
            "tool_results is missing results for: "
            + ", ".join(f"{c.id} ({c.name})" for c in missing)
        )


def _check_not_waiting(session_id: str, history: list[dict[str, Any]]) -> None:
    from ..agent import unanswered_tool_calls

    waiting = unanswered_tool_calls(history)
    if waiting:
        raise InvalidRequestError(
            f"session {session_id} is waiting for tool_results for "
            + ", ".join(f"{c.id} ({c.name})" for c in waiting)
            + ": send them (without a prompt), or omit session_id to start a new conversation"
        )


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


def _text(out: AgentAnswer, turns: int, simulated: bool, failures: Mapping[str, str]) -> str:
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
    usage = out.usage
    cost = format_usd(out.cost)
    facts = [
        f"session_id: {out.session_id}",
        f"model: {out.model}",
        f"turns: {turns}",
        f"tokens: {usage.input_tokens} in / {usage.output_tokens} out",
        f"cost: {cost}",
    ]
    if out.finish_reason not in ("stop", "tool_calls"):
        facts.append(f"finish_reason: {out.finish_reason}")
    if simulated:
        facts.append("SIMULATED (offline Poe simulator, not a real model)")
    return "\n".join(lines) + f"\n\n---\n[{' · '.join(facts)}]"
