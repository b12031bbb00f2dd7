"""The tool-call loop: model -> tool calls -> tool results -> model, until a final answer.

Example::

    from poe_mcp import Agent, AsyncPoeClient, tool

    @tool
    def get_weather(city: str) -> str:
        \"\"\"The weather in a city.

        Args:
            city: the city name.
        \"\"\"
        return "sunny"

    async with AsyncPoeClient() as client:
        agent = Agent(client, "Claude-Sonnet-4", tools=[get_weather])
        result = await agent.run("What is the weather in Paris?")
        print(result.text, result.trace, result.cost)

The loop is bounded by ``max_turns`` (model requests per run) and optional token/USD budgets.
The calls of one turn run concurrently (sync tools in worker threads), each with its own
timeout; a tool that raises, times out or gets bad arguments gives the model an error text as
its result, never a crash. Bad arguments are fed back so the model can correct them, at most
``TOOL_ARG_RETRIES`` times in a row per tool.

Client-executed tools (continuation API)
----------------------------------------
Tools given as OpenAI definitions without a function (``Tool.from_openai(defn)`` or a plain
dict in ``tools=``) cannot run here. When the model calls one, the agent runs the calls it can,
then stops with ``stopped_reason == "pending_tool_calls"``; ``result.pending_tool_calls`` lists
the calls (id, name, arguments JSON) and ``result.messages`` is the conversation so far (JSON
ready: store it anywhere). To continue, run the tools yourself and call::

    result = await agent.run(result.messages, tool_results={call.id: "its result", ...})
    # or, the same: await agent.resume(result, {call.id: "its result"})

Every pending call id must get a result (any value; non-strings are sent as JSON, an
``Exception`` value is sent as an error). A fresh ``Agent`` with the same tools can continue a
conversation another process started, which is how ``ask_poe_with_tools`` works across MCP calls.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _constants as C
from ._agent_run import (
    AgentResult,
    StopReason,
    ToolChoice,
    ToolTrace,
    _can_run,
    _cap,
    _definition_name,
    _list_is_complete,
    _normalise_choice,
    _relaxed,
    _Run,
    _unanswered_calls,
    unanswered_tool_calls,
)
from ._logging import redact
from ._reasoning import validate_effort
from .errors import (
    IncompleteStreamError,
    InvalidRequestError,
    NotFoundError,
    PoeError,
    ToolArgumentsError,
)
from .tools import Tool, ToolFunc, ToolRegistry, format_tool_result
from .types import ChatOptions, ChatResult, Delta, ReasoningEffort, ToolCall

if TYPE_CHECKING:
    from .conversation import Conversation

__all__ = ["Agent", "AgentResult", "StopReason", "ToolTrace", "unanswered_tool_calls"]

logger = logging.getLogger(__name__)

DeltaCallback = Callable[[Delta], Awaitable[None] | None]


class Agent:
    """Runs a model with tools until it answers.

    Args:
        client: an ``AsyncPoeClient`` (anything with its ``chat``/``stream`` methods).
        model: the model (Poe bot name); it must support tools when tools are given.
        tools: :class:`Tool` objects, plain functions (wrapped with ``@tool``) or OpenAI
            definitions (client-executed, see the module docstring).
        system: a system prompt put first in the conversation.
        max_turns: model requests per run at most.
        tool_timeout: seconds one tool call may take, unless the tool sets its own.
        parallel: run one turn's calls concurrently and let the model ask for several at once
            (``parallel_tool_calls``); False asks for one call per turn and runs calls in order.
        tool_choice: ``auto``, ``none``, ``required`` or ``{"name": ...}`` (also the OpenAI
            ``{"type": "function", "function": {"name": ...}}`` form). ``required`` and a named
            tool apply to the request that follows a user message only, so that the model
            can then answer.
        budget_usd: stop before the next request once this run cost this much (an unknown
            price counts as over budget: the limit cannot be proved).
        budget_tokens: stop before the next request once this run used this many tokens.
        stream: use streaming requests; a stream that ends without a finish reason is re-asked
            once without streaming, then the error is raised.
        on_delta: called with every streamed :class:`Delta` (sync or async), when streaming.
        options: extra keyword arguments for every ``client.chat``/``client.stream`` call
            (``temperature``, ``max_tokens``, ``extra``, ``fallbacks``...).
        reasoning_effort: ``low``/``medium``/``high`` or a token budget for every model request,
            mapped to what the model takes (see ``AsyncPoeClient.chat``).
    """

    def __init__(
        self,
        client: Any,
        model: str,
        tools: Iterable[Tool | ToolFunc | Mapping[str, Any]] = (),
        *,
        system: str | None = None,
        max_turns: int = C.AGENT_MAX_TURNS,
        tool_timeout: float = C.TOOL_TIMEOUT_S,
        parallel: bool = True,
        tool_choice: ToolChoice = "auto",
        budget_usd: float | None = None,
        budget_tokens: int | None = None,
        stream: bool = False,
        on_delta: DeltaCallback | None = None,
        options: ChatOptions | None = None,
        reasoning_effort: ReasoningEffort | None = None,
    ) -> None:
        from ._options import check_chat_call

        check_chat_call(model, options or {}, " of Agent(options=...)")
        if max_turns < 1:
            raise InvalidRequestError(f"max_turns must be at least 1, got {max_turns}")
        if tool_timeout <= 0:
            raise InvalidRequestError(f"tool_timeout must be positive, got {tool_timeout}")
        self.client = client
        self.model = model
        self.registry = ToolRegistry(tools)
        self.system = system
        self.max_turns = max_turns
        self.tool_timeout = tool_timeout
        self.parallel = parallel
        self.tool_choice = _normalise_choice(tool_choice, self.registry)
        self._tool_choice_given = tool_choice  # for runs that add a conversation's tools
        self.budget_usd = budget_usd
        self.budget_tokens = budget_tokens
        self.stream = stream
        self.on_delta = on_delta
        self.options: ChatOptions = {**(options or {})}
        if reasoning_effort is not None:
            self.options["reasoning_effort"] = validate_effort(reasoning_effort)  # type: ignore[typeddict-item]
        self._tools_checked = False

    @property
    def tools(self) -> list[Tool]:
        """The tools the agent may call, in the order given."""
        return list(self.registry)

    # -- public --------------------------------------------------------------------------------
    async def run(
        self,
        prompt_or_messages: str | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        tool_results: Mapping[str, Any] | None = None,
        conversation: Conversation | None = None,
    ) -> AgentResult:
        """Run the loop on a prompt or a conversation until the model answers or a bound hits.

        Args:
            prompt_or_messages: a prompt, or OpenAI-format messages (e.g. a previous
                ``AgentResult.messages``). With ``conversation``: the new user message (a
                prompt or one message dict), or None to answer the stored conversation's
                pending calls with ``tool_results``.
            tool_results: results for the conversation's unanswered tool calls, by call id
                (see the module docstring). Unanswered calls of tools the agent can run are
                run first.
            conversation: a stored :class:`~poe_mcp.Conversation` to continue. The run starts
                from its history (fitted to the model's context window, as a chat turn) and,
                once it is over, stores what it added in one append: the user message, the
                tool calls and results, the answer, the calls left pending, and the caller's
                tool definitions (client-executed tools). A later run may leave those
                definitions out: the stored ones are offered again. A failed run stores
                nothing.

        Raises:
            InvalidRequestError: bad messages, missing or unknown ``tool_results`` ids, a new
                message for a conversation still waiting for ``tool_results``, or a model
                without tool support.
            SessionNotFoundError: the conversation's session does not exist (any more).
            PoeError: the model request failed (after the client's retries).
        """
        started = time.perf_counter()
        if conversation is not None:
            from .conversation import Conversation

            if not isinstance(conversation, Conversation):
                raise TypeError(
                    f"conversation takes a Conversation, not {type(conversation).__name__}"
                    + (
                        f": conversation=Conversation({conversation!r})"
                        if isinstance(conversation, str)
                        else ""
                    )
                )
            return await self._run_stored(conversation, prompt_or_messages, tool_results, started)
        if prompt_or_messages is None or isinstance(prompt_or_messages, Mapping):
            raise InvalidRequestError(
                "give the agent a prompt or a list of messages (one message alone continues a "
                "conversation=)"
            )
        from ._messages import build_messages

        messages = build_messages(prompt_or_messages, system=self.system)
        return await self._loop(_Run(self.model, messages, self.registry), tool_results, started)

    async def _run_stored(
        self,
        conversation: Conversation,
        message: str | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
        tool_results: Mapping[str, Any] | None,
        started: float,
    ) -> AgentResult:
        if message is not None and not isinstance(message, str | Mapping):
            raise InvalidRequestError(
                "with a conversation, give the new user message (the history is stored)"
            )
        if tool_results is not None and message:
            raise InvalidRequestError(
                "give either a new message or tool_results (results of pending calls), not "
                "both: the conversation continues where it stopped"
            )
        turn = await conversation._agent_turn(
            self.client,
            self.model,
            None if tool_results is not None else message,
            self.system,
            self.options.get("max_tokens"),
        )
        if tool_results is None:
            waiting = _unanswered_calls(turn.messages[:-1])
            if waiting:
                raise InvalidRequestError(
                    f"session {turn.session_id} is waiting for tool_results for "
                    + ", ".join(f"{c.id} ({c.name})" for c in waiting)
                    + ": send them (without a new message), or start a new conversation"
                )
        registry = self._with_stored(turn.tools)
        state = _Run(self.model, list(turn.messages), registry, session_id=turn.session_id)
        result = await self._loop(state, tool_results, started)
        theirs = [t.to_openai() for t in registry if not t.executable]
        backend = self.options.get("backend") or getattr(self.client, "backend", None)
        await conversation._store(
            turn, result.messages[len(turn.messages) :], model=result.model,
            backend=backend, tools=theirs or None,
        )  # fmt: skip
        return result

    def _with_stored(self, stored: Sequence[Mapping[str, Any]] | None) -> ToolRegistry:
        """This agent's tools, plus the stored client-executed definitions when it has none."""
        if not stored or any(not t.executable for t in self.registry):
            return self.registry
        names = set(self.registry.names())
        return ToolRegistry(
            [*self.registry, *(d for d in stored if _definition_name(d) not in names)]
        )

    async def _loop(
        self, state: _Run, tool_results: Mapping[str, Any] | None, started: float
    ) -> AgentResult:
        messages = state.messages
        state.choice = (
            self.tool_choice
            if state.registry is self.registry
            else _normalise_choice(self._tool_choice_given, state.registry)
        )
        if state.registry:
            await self._check_tool_support(state.registry)

        unanswered = _unanswered_calls(messages)
        if tool_results and not unanswered:
            raise InvalidRequestError(
                "tool_results were given but the conversation has no unanswered tool calls"
            )
        if unanswered:
            stop = await self._answer_pending(state, unanswered, dict(tool_results or {}))
            if stop is not None:
                return state.finish(stop, started)

        while True:
            if state.turns >= self.max_turns:
                return state.finish("max_turns", started)
            if self._over_budget(state):
                return state.finish("budget", started)
            state.turns += 1
            chat = await self._request(state)
            state.add_usage(chat)
            calls = chat.tool_calls
            assistant: dict[str, Any] = {"role": "assistant", "content": chat.text or None}
            if calls:
                assistant["tool_calls"] = [c.to_openai() for c in calls]
            elif not chat.text:
                assistant["content"] = ""
            messages.append(assistant)
            if not calls:
                state.text = chat.text
                return state.finish(
                    "length" if chat.finish_reason == "length" else "final", started
                )
            stop = await self._run_calls(state, calls, state.turns)
            if stop is not None:
                return state.finish(stop, started)

    async def resume(self, result: AgentResult, tool_results: Mapping[str, Any]) -> AgentResult:
        """Continue a run that stopped with pending client-executed calls.

        Same as ``run(result.messages, tool_results=tool_results)``.
        """
        return await self.run(result.messages, tool_results=tool_results)

    # -- model requests ------------------------------------------------------------------------
    async def _request(self, state: _Run) -> ChatResult:
        kwargs: dict[str, Any] = dict(self.options)
        if state.session_id is not None:  # recorded with each call, as a chat turn's
            kwargs["session_id"] = state.session_id
        if state.registry:
            kwargs["tools"] = state.registry.definitions()
            # A forced choice applies to the user's new message only, or the model could never
            # answer (and a resumed conversation would be forced again).
            fresh = state.messages[-1].get("role") == "user"
            choice = state.choice if fresh else _relaxed(state.choice)
            kwargs["tool_choice"] = choice
            if choice != "none":
                kwargs["parallel_tool_calls"] = self.parallel
        began = time.perf_counter()
        try:
            if not self.stream:
                return await self.client.chat(self.model, state.messages, **kwargs)  # type: ignore[no-any-return]
            try:
                return await self._streamed(state.messages, kwargs)
            except IncompleteStreamError as exc:
                # Several models end tool-call streams silently; the same request without
                # streaming usually succeeds, and nothing of this turn has been used yet.
                logger.warning(
                    "stream from %s ended early (%s); asking again without streaming",
                    self.model,
                    exc.message,
                )
                state.stream_fallbacks += 1
                chat: ChatResult = await self.client.chat(self.model, state.messages, **kwargs)
                await self._emit(Delta(text=chat.text, replace=True, result=chat))
                return chat
        finally:
            state.model_s += time.perf_counter() - began

    async def _streamed(self, messages: list[dict[str, Any]], kwargs: dict[str, Any]) -> ChatResult:
        final: ChatResult | None = None
        async for delta in self.client.stream(self.model, messages, **kwargs):
            await self._emit(delta)
            if delta.result is not None:
                final = delta.result
        if final is None:
            raise IncompleteStreamError("the stream ended without a final result")
        return final

    async def _emit(self, delta: Delta) -> None:
        if self.on_delta is not None:
            maybe = self.on_delta(delta)
            if inspect.isawaitable(maybe):
                await maybe

    async def _check_tool_support(self, registry: ToolRegistry) -> None:
        if self._tools_checked:
            return
        catalog = getattr(self.client, "catalog", None)
        info: Any = None
        if catalog is not None and hasattr(catalog, "get"):
            try:
                info = catalog.get(self.model)
                if inspect.isawaitable(info):
                    info = await info
            except NotFoundError:
                if _list_is_complete(self.client):
                    raise
                # Other providers' lists leave out models they serve (Azure deployments,
                # Ollama's untagged names, Gemini's ids without "models/"), and the bot
                # protocol reaches bots the REST list does not show: unknown, not absent.
                logger.debug("%s is not in the model list: tool support unknown", self.model)
                info = None
            except PoeError as exc:
                # An unreachable catalog must not block the run: the request itself will tell.
                logger.debug("catalog unavailable for %s: %s", self.model, exc)
                info = None
        if info is not None and getattr(info, "supports_tools", None) is False:
            raise InvalidRequestError(
                f"{self.model} does not support tools (function calling), so it cannot run an "
                f"agent with {len(registry)} tool(s). Pick a model whose catalog entry "
                "lists tools among its supported features, e.g. Claude-Sonnet-4 or GPT-4.1.",
                metadata={"param": "model"},
            )
        self._tools_checked = True

    def _over_budget(self, state: _Run) -> bool:
        if self.budget_tokens is not None and state.usage.total_tokens >= self.budget_tokens:
            return True
        if self.budget_usd is not None and state.turns:
            return state.cost is None or state.cost >= self.budget_usd
        return False

    # -- tool calls ----------------------------------------------------------------------------
    async def _answer_pending(
        self, state: _Run, unanswered: list[ToolCall], supplied: dict[str, Any]
    ) -> StopReason | None:
        ids = {c.id for c in unanswered}
        unknown = sorted(set(supplied) - ids)
        if unknown:
            raise InvalidRequestError(
                f"tool_results has ids the conversation did not ask for: {', '.join(unknown)}; "
                f"unanswered calls: {', '.join(sorted(ids)) or 'none'}"
            )
        runnable = [c for c in unanswered if c.id not in supplied]
        missing = [c for c in runnable if not _can_run(state.registry, c)]
        if missing:
            raise InvalidRequestError(
                "tool_results is missing results for: "
                + ", ".join(f"{c.id} ({c.name})" for c in missing)
            )
        for call in unanswered:
            if call.id in supplied:
                value = supplied[call.id]
                error = str(value) if isinstance(value, BaseException) else None
                text = _cap(redact(f"Error: {error}" if error else format_tool_result(value)))
                state.trace.append(
                    ToolTrace(call.id, call.name, call.arguments, text, error, 0.0, 0, "client")
                )
                state.messages.append({"role": "tool", "tool_call_id": call.id, "content": text})
        if runnable:
            return await self._run_calls(state, runnable, 0, answer_all=False)
        return None

    async def _run_calls(
        self, state: _Run, calls: Sequence[ToolCall], turn: int, *, answer_all: bool = True
    ) -> StopReason | None:
        pending = [c for c in calls if not _can_run(state.registry, c)]
        runnable = [c for c in calls if _can_run(state.registry, c)]
        began = time.perf_counter()
        if self.parallel and len(runnable) > 1:
            traces = list(
                await asyncio.gather(*(self._execute(state.registry, c, turn) for c in runnable))
            )
        else:
            traces = [await self._execute(state.registry, c, turn) for c in runnable]
        state.tools_s += time.perf_counter() - began
        by_id = {t.call_id: t for t in traces}
        for call in calls:  # keep the model's order in the conversation and the trace
            trace = by_id.get(call.id)
            if trace is None:
                state.trace.append(
                    ToolTrace(call.id, call.name, call.arguments, None, None, 0.0, turn, "pending")
                )
                continue
            state.trace.append(trace)
            state.messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": trace.result or ""}
            )
        if pending:
            state.pending = tuple(pending)
            return "pending_tool_calls"
        if answer_all and self._arg_retries_exhausted(state, traces):
            return "invalid_tool_arguments"
        return None

    def _arg_retries_exhausted(self, state: _Run, traces: list[ToolTrace]) -> bool:
        for trace in traces:
            if trace.bad_arguments:
                state.arg_failures[trace.name] = state.arg_failures.get(trace.name, 0) + 1
                if state.arg_failures[trace.name] > C.TOOL_ARG_RETRIES:
                    return True
            else:
                state.arg_failures.pop(trace.name, None)
        return False

    async def _execute(self, registry: ToolRegistry, call: ToolCall, turn: int) -> ToolTrace:
        began = time.perf_counter()
        found = registry.get(call.name)
        result: str | None = None
        error: str | None = None
        bad_arguments = False
        if found is None:
            error = f"Unknown tool {call.name!r}. Available tools: " + (
                ", ".join(registry.names()) or "none"
            )
        else:
            timeout = found.timeout if found.timeout is not None else self.tool_timeout
            try:
                arguments = found.validate(call.arguments)
                value = await asyncio.wait_for(found.run(arguments), timeout)
                result = _cap(redact(format_tool_result(value)))
            except TimeoutError:
                error = f"Tool {call.name} timed out after {timeout:g} s."
            except ToolArgumentsError as exc:
                error, bad_arguments = exc.message, True
            except PoeError as exc:
                error = exc.message
            except Exception as exc:  # noqa: BLE001 - a failing tool is reported to the model, not raised
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if error is not None:
            error = redact(error)
            result = _cap(f"Error: {error}")
        elapsed = time.perf_counter() - began
        return ToolTrace(
            call.id, call.name, call.arguments, result, error, elapsed, turn,
            bad_arguments=bad_arguments,
        )  # fmt: skip
