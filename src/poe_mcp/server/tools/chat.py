"""The chat tools: ``ask_poe``, ``ask_with_attachment`` and ``ask_poe_v2``.

Each call is one turn of a stored :class:`~poe_mcp.Conversation` (load, fit to the model's
context window, call, store, as the library and the CLI do it); these functions only map the
arguments onto it and render the answer, with heartbeats (and, streamed, the partial text) as
progress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from ... import _constants as C
from ...errors import IncompleteStreamError
from .._progress import Progress, progress
from .._roots import ClientRoots
from ..schemas import AskResult, UsageOut
from ._base import ToolSpec, cost_facts, render, runtime, tool_result

if TYPE_CHECKING:
    from ...client import AsyncPoeClient
    from ...conversation import Conversation, UserInput
    from ...types import ChatResult

__all__ = ["TOOLS", "ask_poe", "ask_poe_v2", "ask_with_attachment", "chain_facts"]

Bot = Annotated[
    str,
    Field(
        min_length=1, max_length=C.TOOL_BOT_MAX_CHARS, description="Poe model, e.g. Claude-Sonnet-4"
    ),
]
Prompt = Annotated[str, Field(min_length=1, max_length=C.TOOL_PROMPT_MAX_CHARS)]
System = Annotated[str | None, Field(max_length=C.TOOL_SYSTEM_MAX_CHARS)]
Path = Annotated[str, Field(min_length=1, max_length=C.TOOL_PATH_MAX_CHARS)]
StopText = Annotated[str, Field(max_length=C.TOOL_STOP_MAX_CHARS)]
SessionId = Annotated[
    str | None,
    Field(max_length=C.SESSION_ID_MAX_LEN, description="to continue; omit for new"),
]
UseOpenAI = Annotated[bool | None, Field(description="false: bot protocol")]
Answer = Annotated[CallToolResult, AskResult]
Effort = Literal["low", "medium", "high"]

_FORMAT = 'OpenAI shape: {"type":"json_object"|"json_schema",...}; validated into parsed'


ThinkingBudget = Annotated[int | None, Field(ge=0, le=C.THINKING_BUDGET_MAX)]
Thinking = Annotated[ThinkingBudget, Field(description="thinking budget, tokens")]


async def ask_poe(
    bot: Bot,
    prompt: Prompt,
    ctx: Context,
    session_id: SessionId = None,
    thinking: Thinking = None,
    use_openai_client: UseOpenAI = None,
) -> Answer:
    backend = runtime(ctx).backend_for(use_openai_client, compat=True)
    extra = {C.THINKING_PARAM: thinking} if thinking is not None else None
    return await _turn(ctx, bot, prompt, session_id, {"backend": backend, "extra": extra})


async def ask_with_attachment(
    bot: Bot,
    prompt: Prompt,
    attachment_paths: Annotated[list[Path], Field(min_length=1, max_length=C.MAX_ATTACHMENTS)],
    ctx: Context,
    session_id: SessionId = None,
    thinking: ThinkingBudget = None,  # as ask_poe's; earlier servers' took it here too
    use_openai_client: UseOpenAI = None,
    client_roots: ClientRoots = None,
) -> Answer:
    # Only inside [tools] roots and the client's roots; never poe-mcp's own files.
    from .._attachments import attachment_parts

    rt = runtime(ctx)
    parts: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
    parts.extend(await attachment_parts(rt.settings, attachment_paths, client_roots))
    backend = rt.backend_for(use_openai_client, compat=True)
    message = {"role": "user", "content": parts}
    extra = {C.THINKING_PARAM: thinking} if thinking is not None else None
    return await _turn(ctx, bot, message, session_id, {"backend": backend, "extra": extra})


async def ask_poe_v2(
    bot: Bot,
    prompt: Prompt,
    ctx: Context,
    session_id: SessionId = None,
    system: System = None,
    max_tokens: Annotated[int | None, Field(ge=1, le=C.MAX_OUTPUT_TOKENS)] = None,
    temperature: Annotated[float | None, Field(ge=0, le=2)] = None,
    top_p: Annotated[float | None, Field(ge=0, le=1)] = None,
    stop: Annotated[list[StopText] | None, Field(max_length=C.MAX_STOP_SEQUENCES)] = None,
    stream: bool = False,
    params: Annotated[dict[str, Any] | None, Field(description="bot parameters")] = None,
    use_openai_client: UseOpenAI = None,
    response_format: Annotated[dict[str, Any] | None, Field(description=_FORMAT)] = None,
    stream_options: Annotated[
        dict[str, bool] | None, Field(description="include_usage; with stream")
    ] = None,
    fallbacks: Annotated[
        list[str] | None, Field(max_length=C.FALLBACKS_MAX, description="tried if bot fails")
    ] = None,
    reasoning_effort: Annotated[
        Effort | Annotated[int, Field(ge=0)] | None, Field(description="or a token budget")
    ] = None,
) -> Answer:
    options = {
        "backend": runtime(ctx).backend_for(use_openai_client, compat=False),
        "system": system, "max_tokens": max_tokens, "temperature": temperature, "top_p": top_p,
        "stop": stop, "response_format": response_format, "stream_options": stream_options,
        "fallbacks": fallbacks, "reasoning_effort": reasoning_effort, "extra": params,
    }  # fmt: skip
    return await _turn(ctx, bot, prompt, session_id, options, stream=stream)


async def _turn(
    ctx: Context,
    bot: str,
    message: UserInput,
    session_id: str | None,
    options: dict[str, Any],
    *,
    stream: bool = False,
) -> CallToolResult:
    """One turn of the conversation ``session_id`` (None: a new one), rendered."""
    from ...conversation import Conversation

    rt = runtime(ctx)
    conversation = Conversation(session_id, store=await rt.store(), ttl_s=rt.settings.session_ttl_s)
    client = await rt.client()
    call = {k: v for k, v in options.items() if v is not None}
    async with progress(ctx, bot) as reporter:
        if stream:
            result = await _streamed(conversation, client, bot, message, call, reporter)
        else:
            result = await conversation.ask(client, bot, message, **call)
    turn = conversation.last_turn
    assert turn is not None  # set by every stored turn
    rt.metrics.usage(
        result.model, result.usage.input_tokens, result.usage.output_tokens, result.cost
    )
    out = AskResult(
        text=result.text,
        model=result.model,
        session_id=turn.session_id,
        usage=UsageOut(**result.usage.to_dict()),
        cost=result.cost,
        finish_reason=result.finish_reason,
        backend=result.backend,
        simulated=rt.simulated or result.simulated,
        history_messages=turn.history_messages,
        new_session=turn.is_new,
        parsed=result.parsed,
    )
    structured = out.model_dump(mode="json")
    if result.attempts:  # beside the declared fields: tools/list stays small
        structured["attempts"] = [a.to_dict() for a in result.attempts]
    if result.notes:
        structured["notes"] = list(result.notes)
    facts = [f"session_id: {out.session_id}", f"model: {out.model}"]
    facts += cost_facts(out.usage, out.cost)
    if out.finish_reason and out.finish_reason != "stop":
        facts.append(f"finish_reason: {out.finish_reason}")
    return tool_result(
        render(out.text, [*facts, *chain_facts(result)], simulated=out.simulated), structured
    )


async def _streamed(
    conversation: Conversation,
    client: AsyncPoeClient,
    bot: str,
    message: UserInput,
    call: dict[str, Any],
    reporter: Progress,
) -> ChatResult:
    """A streamed turn, its partial text reported as progress as it grows (or is replaced)."""
    text = ""
    async for delta in conversation.stream(client, bot, message, **call):
        if delta.result is not None:
            return delta.result
        text = delta.text if delta.replace else text + delta.text
        if delta.text or delta.replace:
            await reporter.text(text)
    # The client always ends a stream with a result or an error; this is a safety net.
    raise IncompleteStreamError("the stream ended without a result", partial_text=text)


def chain_facts(result: ChatResult) -> list[str]:
    """Footer facts for a fallback chain (who was skipped and why) and the result's notes."""
    facts: list[str] = []
    skipped = [f"{a.model} ({a.error_kind})" for a in result.attempts if a.outcome == "skipped"]
    if skipped:
        facts.append(f"fell back from {', '.join(skipped)} to {result.model}")
    facts.extend(result.notes)
    return facts


TOOLS = (
    ToolSpec(
        ask_poe,
        title="Ask a Poe model",
        description="Ask a Poe model (Claude, GPT, Gemini, Grok, Llama...): a second opinion, "
        "or a model you lack. Pass the returned session_id to continue.",
        open_world=True,
    ),
    ToolSpec(
        ask_with_attachment,
        title="Ask with files",
        description="ask_poe with local files (images, PDFs, text, audio) attached: "
        "absolute paths in the configured roots.",
        open_world=True,
    ),
    ToolSpec(
        ask_poe_v2,
        title="Ask (all options)",
        description="ask_poe with every option: system, sampling, stop, bot params (e.g. "
        '{"web_search":true}); stream=true reports partial text as progress.',
        open_world=True,
    ),
)
