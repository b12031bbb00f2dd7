"""The simulated Poe bot: a :class:`fastapi_poe.PoeBot` answering for every model of the catalogue.

``_bot_endpoint.py`` admits a request (key, rate limit, faults, bot name) and hands it, with a
:class:`BotCall` in the ASGI scope, to the app :func:`build_bot_app` makes with
``fastapi_poe.make_app``; fastapi_poe's own handler then encodes the events below.

What a bot answers (shared with REST through ``_replies.respond``; messages mapped
``system|user|bot|tool`` -> ``system|user|assistant|tool``)::

    meta                               always first
    text, text, ...                    the reply (see _replies), in several events
    text "Thinking…", replace_response <first piece>, text ...
                                       reasoning models (Claude-*, Gemini-2.5-Pro, Grok-4): a
                                       placeholder a client must drop when replace_response comes
    text "Generating <kind>…", file {url, content_type, name}, replace_response <markdown link>
                                       media bots (GPT-Image-1, Veo-3, ElevenLabs)
    json {OpenAI chat.completion.chunk}
                                       when the request carries ``tools`` but no
                                       ``tool_results`` (fastapi_poe's first tool round): a role
                                       chunk, then tool-call deltas (id and name first, then
                                       argument fragments) or the text as ``delta.content``
                                       pieces, then a chunk with ``finish_reason``. The second
                                       round (``tool_calls`` + ``tool_results``) answers in
                                       ``text`` events quoting each result
    error {allow_retry, text, error_type}
                                       insufficient_fund: the key has no points (``broke*``);
                                       user_message_too_long: the last user message is longer
                                       than the model's context window (tokens = chars / 4);
                                       user_caused_error: bad temperature, more than 4 stop
                                       sequences, undeclared or out-of-range bot parameters, tools
                                       for a model without tool support (all allow_retry false);
                                       privacy_authorization_error: an attachment URL the
                                       simulator does not serve (upload it first)
    done                               always last

Bot parameters come from the last user message's ``ProtocolMessage.parameters`` (validated
against the model's declared ``parameters``) and show in the reply as ``Parameters: k=v``.
Attachments (``ProtocolMessage.attachments``, URLs from the upload endpoint or media the
simulator made, or data URIs) show as ``Attachments: image/png 1234 bytes 64x48 px``.
``temperature`` is validated (0..2) and logged; ``stop_sequences`` cut the reply.
A ``stream_error`` fault replaces the events from number ``after_chunks`` on (``meta`` is
number 0) with an ``error`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp

from .. import _constants as C
from ..errors import InvalidRequestError
from . import _quirks
from ._faults import Fault
from ._replies import Reply, count_tokens, respond
from ._replies_structured import spoil
from ._state import SimState

if TYPE_CHECKING:
    import fastapi_poe as fp
    from sse_starlette import ServerSentEvent

__all__ = ["BOT_ERROR_TYPES", "CALL_KEY", "BotCall", "build_bot_app"]

BOT_ERROR_TYPES: tuple[str, ...] = (
    "user_message_too_long",
    "insufficient_fund",
    "user_caused_error",
    "privacy_authorization_error",
)
CALL_KEY = "poe_mcp.sim.bot_call"  # ASGI scope key of the BotCall
_ROLES = {"system": "system", "user": "user", "bot": "assistant", "tool": "tool"}
_THINKING_PLACEHOLDER = "Thinking…"


@dataclass(slots=True)
class BotCall:
    """What the front door learnt about one query, handed to the bot through the ASGI scope.

    Attributes:
        state: the simulator's shared state.
        key: the caller's API key (never logged).
        model_id: the catalogue's spelling of the bot name.
        entry: the request-log entry (the bot adds ``status`` and ``error_event``).
        request_id: the ``x-request-id`` of the answer.
        fault: the scripted fault striking this request, if any.
    """

    state: SimState
    key: str
    model_id: str
    entry: dict[str, Any]
    request_id: str
    fault: Fault | None


def build_bot_app(access_key: str) -> ASGIApp:
    """fastapi_poe's server with one :class:`PoeBot` at ``/{bot_name}`` serving every model."""
    import fastapi_poe as fp

    class SimulatedBot(fp.PoeBot):
        """Every simulated model, behind fastapi_poe's own request handling and SSE encoding."""

        async def get_response_with_context(
            self, request: fp.QueryRequest, context: fp.types.RequestContext
        ) -> AsyncIterator[fp.PartialResponse | ServerSentEvent]:
            call: BotCall = context.http_request.scope[CALL_KEY]
            fault = call.fault if call.fault and call.fault.kind == "stream_error" else None
            sent = 0
            async with contextlib.aclosing(_answer(self, call, request)) as events:
                async for event in events:
                    if fault is not None and sent >= fault.after_chunks:
                        break
                    yield event
                    sent += 1
            if fault is not None:
                call.entry["error_event"] = fault.resolved_error_type
                error_type = fault.error_type if fault.error_type in BOT_ERROR_TYPES else None
                yield fp.ErrorResponse(
                    text=fault.resolved_message,
                    allow_retry=fault.allow_retry,
                    error_type=error_type,  # type: ignore[arg-type]
                )

        async def get_settings(self, setting: fp.SettingsRequest) -> fp.SettingsResponse:
            return fp.SettingsResponse(allow_attachments=True)

        async def on_error(self, error_request: fp.types.ReportErrorRequest) -> None:
            # Clients report protocol problems here (e.g. after a malformed fault); the request
            # log already holds them, and logging them again would only add noise.
            return None

    bot = SimulatedBot(path="/{bot_name}", access_key=access_key)
    bot.should_insert_attachment_messages = False  # count only the messages the client sent
    # make_app warns that the bot has no name (it would otherwise sync settings with poe.com).
    poe_logger = logging.getLogger("uvicorn.default")
    previous = poe_logger.disabled
    poe_logger.disabled = True
    try:
        app: ASGIApp = fp.make_app(bot)
    finally:
        poe_logger.disabled = previous
    return app


def _openai_messages(
    state: SimState, query: Sequence[fp.ProtocolMessage]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """OpenAI-format messages and the bot parameters of the last user message.

    Raises:
        _Unreachable: an attachment URL the simulator does not serve.
    """
    messages: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    for msg in query:
        role = _ROLES[msg.role]
        content: Any = msg.content
        if msg.attachments:
            parts: list[dict[str, Any]] = [{"type": "text", "text": msg.content}]
            for att in msg.attachments:
                if not att.url.startswith("data:") and state.resolve_url(att.url) is None:
                    raise _Unreachable(att.url)
                if att.content_type.startswith("image/"):
                    image = {"url": att.url, "filename": att.name}
                    parts.append({"type": "image_url", "image_url": image})
                else:
                    parts.append({"type": "file", "file": {"filename": att.name, "url": att.url}})
            content = parts
        messages.append({"role": role, "content": content})
        if role == "user":
            params = dict(msg.parameters)
    return messages, params


class _Unreachable(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def _tool_round(request: fp.QueryRequest) -> list[dict[str, Any]]:
    """The assistant tool-call message and tool results of a second tool round, if any."""
    out: list[dict[str, Any]] = []
    if request.tool_calls:
        out.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [c.model_dump() for c in request.tool_calls],
            }
        )
    for result in request.tool_results or ():
        out.append(
            {
                "role": "tool",
                "tool_call_id": result.tool_call_id,
                "name": result.name,
                "content": result.content,
            }
        )
    return out


def _split(text: str) -> list[str]:
    if not text:
        return []
    # at least two pieces, so a client always sees text arrive in several events
    size = max(1, min(C.SIM_STREAM_CHUNK_CHARS, (len(text) + 1) // 2))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _chunk(call: BotCall, delta: Mapping[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{call.request_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": call.model_id,
        "choices": [{"index": 0, "delta": dict(delta), "finish_reason": finish}],
    }


def _json_events(call: BotCall, reply: Reply) -> list[ServerSentEvent]:
    from sse_starlette import ServerSentEvent

    if call.fault is not None and call.fault.kind == "quirk":  # other providers' tool-call shapes
        quirky = _quirks.bot_json_chunks(reply, call.fault.quirks, lambda *a: _chunk(call, *a))
        return [ServerSentEvent(data=json.dumps(c), event="json") for c in quirky]
    chunks = [_chunk(call, {"role": "assistant", "content": ""})]
    for piece in _split(reply.text):
        chunks.append(_chunk(call, {"content": piece}))
    for i, tc in enumerate(reply.tool_calls):
        head = {"index": i, "id": tc.id, "type": "function"}
        chunks.append(
            _chunk(call, {"tool_calls": [{**head, "function": {"name": tc.name, "arguments": ""}}]})
        )
        args = tc.arguments
        step = C.SIM_TOOL_ARG_CHUNK_CHARS
        for j in range(0, len(args), step):
            frag = {"index": i, "function": {"arguments": args[j : j + step]}}
            chunks.append(_chunk(call, {"tool_calls": [frag]}))
    chunks.append(_chunk(call, {}, reply.finish_reason))
    return [ServerSentEvent(data=json.dumps(c), event="json") for c in chunks]


async def _answer(
    bot: fp.PoeBot, call: BotCall, request: fp.QueryRequest
) -> AsyncGenerator[fp.PartialResponse | ServerSentEvent, None]:
    """The events of one answer, in order (faults are applied by the caller)."""
    import fastapi_poe as fp

    state = call.state
    model = state.find_model(call.model_id)
    call.entry["status"] = 200
    yield fp.MetaResponse(text="", content_type="text/markdown", suggested_replies=False)

    def refuse(error_type: str, text: str) -> fp.ErrorResponse:
        call.entry["error_event"] = error_type
        return fp.ErrorResponse(text=text, allow_retry=False, error_type=error_type)  # type: ignore[arg-type]

    if state.balance(call.key) <= 0:
        yield refuse(
            "insufficient_fund",
            "Insufficient points: this key's balance is 0. Add points at https://poe.com/api_key.",
        )
        return
    try:
        _check_sampling(request)
        messages, params = _openai_messages(state, request.query)
    except InvalidRequestError as exc:
        yield refuse("user_caused_error", exc.message)
        return
    except _Unreachable as exc:
        yield refuse(
            "privacy_authorization_error",
            f"The bot cannot access the attachment {exc.url}: upload files with "
            "fastapi_poe.upload_file and attach the URL it returns.",
        )
        return
    last_user = next((m for m in reversed(request.query) if m.role == "user"), None)
    if last_user is not None and count_tokens(last_user.content) > model.context_window:
        yield refuse(
            "user_message_too_long",
            f"The message is too long for {model.id}: about {count_tokens(last_user.content)} "
            f"tokens, the limit is {model.context_window}.",
        )
        return
    tools = [t.model_dump() for t in request.tools] if request.tools else None
    messages += _tool_round(request)
    if model.is_media:
        yield fp.PartialResponse(text=f"Generating {model.kind}…")
        if state.media_delay_s > 0:
            await asyncio.sleep(state.media_delay_s)
    try:
        reply = respond(
            model,
            messages,
            stop=request.stop_sequences or None,
            tools=tools,
            params=params,
            store_media=state.add_media,
            resolve_url=state.resolve_url,
        )
    except InvalidRequestError as exc:
        yield refuse("user_caused_error", exc.message)
        return
    if call.fault is not None and call.fault.kind == "invalid_json":
        reply = spoil(reply)
    state.charge(call.key, model, reply.usage.prompt_tokens, reply.usage.completion_tokens)
    async for event in _reply_events(bot, call, request, reply, reasoning=model.reasoning):
        yield event


async def _reply_events(
    bot: fp.PoeBot, call: BotCall, request: fp.QueryRequest, reply: Reply, *, reasoning: bool
) -> AsyncGenerator[fp.PartialResponse | ServerSentEvent, None]:
    """A charged reply as the bot's events: files, tool calls as JSON events, or text."""
    import fastapi_poe as fp

    if reply.media and call.fault is not None and "inline_media" in call.fault.quirks:
        yield fp.PartialResponse(
            text=_quirks.inline_media_text(reply, call.state.resolve_url).text,
            is_replace_response=True,
        )
        return
    if reply.media:
        for media in reply.media:
            yield bot.file_event(url=media.url, content_type=media.mime, name=media.name)
        yield fp.PartialResponse(text=reply.text, is_replace_response=True)
        return
    if request.tools and not request.tool_results:
        for event in _json_events(call, reply):
            yield event
        return
    pieces = _split(reply.text)
    if reasoning and pieces:
        yield fp.PartialResponse(text=_THINKING_PLACEHOLDER)
        yield fp.PartialResponse(text=pieces[0], is_replace_response=True)
        pieces = pieces[1:]
    for piece in pieces:
        yield fp.PartialResponse(text=piece)


def _check_sampling(request: fp.QueryRequest) -> None:
    low, high = C.TEMPERATURE_RANGE
    if request.temperature is not None and not low <= request.temperature <= high:
        raise InvalidRequestError(f"temperature must be between {low:g} and {high:g}")
    if len(request.stop_sequences) > C.MAX_STOP_SEQUENCES:
        raise InvalidRequestError(f"at most {C.MAX_STOP_SEQUENCES} stop sequences are accepted")
