"""One conversational turn for the chat tools: session, call (streamed or not), result.

Shared by ``ask_poe``, ``ask_with_attachment`` and ``ask_poe_v2`` (and later tools that answer in
a session), so they agree on history, progress, metrics and the shape of the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp_types import CallToolResult, TextContent

from .._money import format_usd
from ..errors import IncompleteStreamError, NotFoundError, PoeError
from ._progress import progress
from .runtime import ServerRuntime
from .schemas import AskResult, UsageOut

if TYPE_CHECKING:
    from ..client import AsyncPoeClient
    from ..store.base import Message
    from ..types import ChatResult

__all__ = ["answer_text", "chain_facts", "run_turn", "with_suggestions"]


def answer_text(result: AskResult, more: Sequence[str] = ()) -> str:
    """The answer for the calling model, with a footer it needs to continue the conversation.

    ``more`` adds facts to the footer (fallbacks taken, how the request was adapted).
    """
    usage = result.usage
    cost = format_usd(result.cost)
    estimated = " (estimated)" if usage.estimated else ""
    facts = [
        f"session_id: {result.session_id}",
        f"model: {result.model}",
        f"tokens: {usage.input_tokens} in / {usage.output_tokens} out{estimated}",
        f"cost: {cost}",
    ]
    if result.finish_reason and result.finish_reason != "stop":
        facts.append(f"finish_reason: {result.finish_reason}")
    facts.extend(more)
    if result.simulated:
        facts.append("SIMULATED (offline Poe simulator, not a real model)")
    return f"{result.text}\n\n---\n[{' · '.join(facts)}]"


async def run_turn(
    runtime: ServerRuntime,
    ctx: Any,
    *,
    bot: str,
    user_message: Message,
    session_id: str | None,
    system: str | None = None,
    backend: str,
    stream: bool = False,
    options: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> CallToolResult:
    """Answer one user message in a session and store the exchange.

    Args:
        runtime: the server's shared state.
        ctx: the MCP request context (for progress).
        bot: the Poe model.
        user_message: the OpenAI-format user message (text and attachment parts).
        session_id: the conversation to continue, or None for a new one.
        system: a system prompt.
        backend: ``openai`` (REST) or ``legacy`` (bot protocol).
        stream: stream upstream and report the partial text as progress.
        options: chat parameters (temperature, max_tokens, top_p, stop, response_format,
            stream_options): passed to the client as they are.
        extra: bot parameters.
    """
    options = {k: v for k, v in (options or {}).items() if v is not None}
    conversations = await runtime.conversations()
    client = await runtime.client()
    window = await runtime.context_window(bot)
    turn = await conversations.prepare(
        session_id,
        user_message,
        system=system,
        context_window=window,
        max_output_tokens=options.get("max_tokens"),
    )
    call: dict[str, Any] = {
        **options,
        "extra": extra or None,
        "session_id": turn.session_id,
        "backend": backend,
    }
    try:
        result = await _call(client, ctx, bot, turn.messages, call, stream)
    except NotFoundError as exc:
        raise await with_suggestions(runtime, bot, exc) from None

    await conversations.commit(
        turn,
        {"role": "assistant", "content": result.text},
        model=result.model,
        backend=result.backend,
    )
    runtime.metrics.usage(
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
        simulated=runtime.simulated or result.simulated,
        history_messages=turn.history_messages,
        new_session=turn.is_new,
        parsed=result.parsed,
    )
    structured = out.model_dump(mode="json")
    more = chain_facts(result)
    if result.attempts:  # beside the declared fields: tools/list stays small
        structured["attempts"] = [a.to_dict() for a in result.attempts]
    if result.notes:
        structured["notes"] = list(result.notes)
    return CallToolResult(
        content=[TextContent(type="text", text=answer_text(out, more))],
        structured_content=structured,
        _meta={"poe-mcp/simulated": out.simulated},
    )


def chain_facts(result: ChatResult) -> list[str]:
    """Footer facts for a fallback chain (who was skipped and why) and the result's notes."""
    facts: list[str] = []
    skipped = [f"{a.model} ({a.error_kind})" for a in result.attempts if a.outcome == "skipped"]
    if skipped:
        facts.append(f"fell back from {', '.join(skipped)} to {result.model}")
    facts.extend(result.notes)
    return facts


async def _call(
    client: AsyncPoeClient,
    ctx: Any,
    bot: str,
    messages: list[Message],
    call: dict[str, Any],
    stream: bool,
) -> ChatResult:
    """The model call, with heartbeats; streamed answers report their partial text."""
    async with progress(ctx, bot) as reporter:
        if not stream:
            return await client.chat(bot, messages, **call)
        text = ""
        async for delta in client.stream(bot, messages, **call):
            if delta.result is not None:
                return delta.result
            text = delta.text if delta.replace else text + delta.text
            if delta.text or delta.replace:
                await reporter.text(text)
    # The client always ends a stream with a result or an error; this is a safety net.
    raise IncompleteStreamError("the stream ended without a result", partial_text=text)


async def with_suggestions(runtime: ServerRuntime, bot: str, exc: NotFoundError) -> PoeError:
    """Add the catalog's "did you mean" names to an unknown-model error."""
    try:
        catalog = await runtime.catalog()
        await catalog.models()
        names = catalog.suggestions(bot)
    except PoeError:
        return exc
    if names and "Did you mean" not in exc.message:
        exc.message = f"{exc.message} Did you mean: {', '.join(names)}?"
        exc.metadata["suggestions"] = names
    return exc
