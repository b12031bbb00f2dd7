"""``POST /v1/chat/completions``: validation as Poe does it, JSON and SSE answers, faults.

Order of checks for one request: scripted fault, key (401), rate limit (429), body (400), model
(404), balance (402), tools and bot parameters (400). Every answer carries ``x-request-id`` and
the ``x-ratelimit-*`` headers. ``POST /v1/responses`` takes its requests in through the same
:class:`Intake` (read, log, latency, fault, then :meth:`Intake.admit`).

Streamed tool calls: one chunk per call with its ``index``, ``id`` and name (all calls first),
then the arguments in fragments of ``SIM_TOOL_ARG_CHUNK_CHARS``, taking turns across the calls'
indexes (call 0, call 1, call 0, ...) as real providers interleave them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import _constants as C
from ..errors import InvalidRequestError, PoeError
from . import _quirks
from ._catalog import ModelSpec
from ._faults import Fault
from ._replies import Reply, respond
from ._replies_multi import usage_json
from ._replies_structured import spoil
from ._state import SimState
from ._wire import (
    SIM_HEADER,
    RawResponse,
    bearer_key,
    dumps,
    error_response,
    header_names,
    json_answer,
    new_request_id,
    read_json,
    strike,
    wait_latency,
)

__all__ = ["Intake", "chat_completions", "take_in"]

_STANDARD = frozenset(
    {
        "model", "messages", "max_tokens", "max_completion_tokens", "stream", "stream_options",
        "temperature", "top_p", "stop", "tools", "tool_choice", "parallel_tool_calls", "n",
    }
)  # fmt: skip
# Accepted and ignored by Poe (REFERENCE.md section 1).
_IGNORED = frozenset(
    {
        "response_format", "frequency_penalty", "presence_penalty", "seed", "logit_bias", "user",
        "store", "metadata", "audio", "modalities", "logprobs", "top_logprobs",
    }
)  # fmt: skip
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


def _number(body: Mapping[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidRequestError(f"'{name}' must be a number between {low:g} and {high:g}")


def _check_message(i: int, msg: Mapping[str, Any]) -> None:
    """A message's shape as the API takes it: text or parts for ``content`` and objects for
    ``tool_calls`` (any other JSON type is a 400, never a crash of the simulator)."""
    content = msg.get("content")
    if content is not None and not isinstance(content, str | list):
        raise InvalidRequestError(f"messages[{i}].content must be a string or an array of parts")
    for j, part in enumerate(content if isinstance(content, list) else ()):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise InvalidRequestError(f"messages[{i}].content[{j}] must be an object with a type")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise InvalidRequestError(f"messages[{i}].content[{j}].text must be a string")
    calls = msg.get("tool_calls")
    if calls is None:
        return
    if not isinstance(calls, list) or not all(
        isinstance(c, dict)
        and isinstance(c.get("function"), dict)
        and isinstance(c["function"].get("name"), str)
        and isinstance(c["function"].get("arguments", ""), str)
        for c in calls
    ):
        raise InvalidRequestError(
            f"messages[{i}].tool_calls must be an array of "
            "{id, type: function, function: {name, arguments (a JSON string)}}"
        )


def _check_messages(body: Mapping[str, Any]) -> None:
    if not body.get("model"):
        raise InvalidRequestError("'model' is required")
    if not isinstance(body["model"], str):
        raise InvalidRequestError("'model' must be a string")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("'messages' must be a non-empty array")
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in _ROLES:
            raise InvalidRequestError(
                f"messages[{i}].role {role!r} is not supported; use one of "
                "system, developer, user, assistant, tool"
            )
        _check_message(i, msg)


def _validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    _check_messages(body)
    _number(body, "temperature", *C.TEMPERATURE_RANGE)
    _number(body, "top_p", *C.TOP_P_RANGE)
    n = body.get("n")
    if n is not None and n != 1:
        raise InvalidRequestError("'n' must be 1: Poe returns one choice per request")
    stop = body.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InvalidRequestError("'stop' must be a string or an array of strings")
        if len(stops) > C.MAX_STOP_SEQUENCES:
            raise InvalidRequestError(f"'stop' takes at most {C.MAX_STOP_SEQUENCES} sequences")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise InvalidRequestError(f"'{name}' must be a positive integer")
    tools = body.get("tools")
    if tools is not None:
        ok = isinstance(tools, list) and all(
            isinstance(t, dict)
            and isinstance(t.get("function"), dict)
            and t["function"].get("name")
            for t in tools
        )
        if not ok:
            raise InvalidRequestError(
                "'tools' must be an array of {type: function, function: {name}}"
            )
    choice = body.get("tool_choice")
    if (
        choice is not None
        and not isinstance(choice, dict)
        and choice not in ("none", "auto", "required")
    ):
        raise InvalidRequestError("'tool_choice' must be none, auto, required or a function object")


def _bot_params(body: Mapping[str, Any], legacy: bool) -> dict[str, Any]:
    params = {k: v for k, v in body.items() if k not in _STANDARD and k not in _IGNORED}
    if legacy:
        return {}  # chat-completions-legacy silently drops unknown fields
    return params


def _completion(rid: str, model: str, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text if reply.text or not reply.tool_calls else None,
        "refusal": None,
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    return {
        "id": f"chatcmpl-{rid}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}
        ],
        "usage": usage_json(reply.usage),
    }


def _split(text: str, size: int) -> list[str]:
    if not text:
        return []
    # at least two pieces, so clients always see content arrive in several chunks
    size = max(1, min(size, (len(text) + 1) // 2))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _stream_events(rid: str, model: str, reply: Reply, include_usage: bool) -> Iterator[bytes]:
    created = int(time.time())
    head = f'{{"id":"chatcmpl-{rid}","object":"chat.completion.chunk","created":{created},'
    head += f'"model":{json.dumps(model)},'
    usage_tail = ',"usage":null}' if include_usage else "}"

    def chunk(delta: Mapping[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return f'data: {head}"choices":[{dumps(choice).decode()}]{usage_tail}\n\n'.encode()

    yield chunk({"role": "assistant", "content": ""})
    for piece in _split(reply.reasoning, C.SIM_STREAM_CHUNK_CHARS):
        yield chunk({"reasoning_content": piece})
    for piece in _split(reply.text, C.SIM_STREAM_CHUNK_CHARS):
        yield chunk({"content": piece})
    # Like real providers, several calls interleave: every call's id and name first, then the
    # argument fragments in turns across the indexes, so clients must assemble by index.
    for i, call in enumerate(reply.tool_calls):
        first = {"index": i, "id": call.id, "type": "function"}
        yield chunk({"tool_calls": [{**first, "function": {"name": call.name, "arguments": ""}}]})
    pieces = [_split(call.arguments, C.SIM_TOOL_ARG_CHUNK_CHARS) for call in reply.tool_calls]
    for step in range(max(map(len, pieces), default=0)):
        for i, frags in enumerate(pieces):
            if step < len(frags):
                delta = {"index": i, "function": {"arguments": frags[step]}}
                yield chunk({"tool_calls": [delta]})
    yield chunk({}, reply.finish_reason)
    if include_usage:
        usage = usage_json(reply.usage)
        yield f'data: {head}"choices":[],"usage":{dumps(usage).decode()}}}\n\n'.encode()
    yield b"data: [DONE]\n\n"


def _faulty_stream(events: Iterator[bytes], fault: Fault) -> Iterator[bytes]:
    for n, event in enumerate(events):
        if n >= fault.after_chunks:
            break
        yield event
    if fault.kind == "stream_error":
        body = fault.error_body()
        body["error"]["code"] = fault.resolved_error_type
        yield b"data: " + dumps(body) + b"\n\n"


def _malformed(fault: Fault, rid: str, stream: bool, headers: dict[str, str]) -> Response | None:
    """The answer of a ``malformed`` fault: JSON (or an SSE event) cut in the middle."""
    if fault.kind != "malformed":
        return None
    if stream:
        pieces = [b'data: {"id":"chatcmpl-' + rid.encode() + b'","choices":[{"delta":\n\n']
        return RawResponse(pieces, headers=headers, media_type="text/event-stream")
    return Response(b'{"id":"chatcmpl-' + rid.encode() + b'","choices":[', 200, headers=headers,
                    media_type="application/json")  # fmt: skip


@dataclass(slots=True)
class Intake:
    """A model request as the REST endpoints first take it: read, logged, its fault drawn."""

    state: SimState
    rid: str
    key: str | None
    raw: bytes
    body: Any  # the parsed JSON, or None when the body is empty or not JSON
    model_name: Any
    entry: dict[str, Any]
    headers: dict[str, str]  # of every answer; admit() adds the rate slot's
    fault: Fault | None

    def struck(self, kind: str) -> bool:
        """Whether the request's fault is of ``kind``."""
        return self.fault is not None and self.fault.kind == kind

    async def fault_answer(self, stream: bool) -> Response | None:
        """The answer the request's fault forces before any check, or None to go on."""
        if self.fault is None:
            return None
        headers = {**self.headers, **self.state.rate_info(self.key).headers()}
        errors = ("status",) if stream else ("status", "stream_error")
        return await strike(self.fault, self.entry, headers, errors=errors,
                            broken=lambda f: _malformed(f, self.rid, stream, headers))  # fmt: skip

    def admit(self, validate: Callable[[Any], None]) -> ModelSpec:
        """The checks before any model work, in Poe's order: a key, a rate slot (its headers
        added), JSON, the body (``validate``), the model; returns the model.

        Raises:
            PoeError: what Poe answers (auth, rate limit, invalid request, unknown model).
        """
        self.state.check_key(self.key, need_points=False)
        assert self.key is not None
        self.headers.update(self.state.check_rate(self.key).headers())
        if self.raw and self.body is None:
            raise InvalidRequestError("the request body is not valid JSON")
        validate(self.body)
        return self.state.find_model(self.model_name)

    def reply(self, model: ModelSpec, messages: Any, **options: Any) -> Reply:
        """The model's reply (spoilt by an ``invalid_json`` fault); ``options`` as ``respond``."""
        state = self.state
        reply = respond(
            model, messages, store_media=state.add_media, resolve_url=state.resolve_url, **options
        )
        return spoil(reply) if self.struck("invalid_json") else reply

    def refused(self, exc: PoeError) -> Response:
        """Poe's error answer (a request refused before its rate slot gets the key's headers)."""
        for name, value in self.state.rate_info(self.key).headers().items():
            self.headers.setdefault(name, value)
        self.entry["status"] = exc.status
        return error_response(exc, self.rid, self.headers)

    def answered(self, model: ModelSpec, reply: Reply) -> str:
        """Charge the reply's points, log the 200; the model id the answer carries."""
        assert self.key is not None  # admit() refused a request without one
        usage = reply.usage
        self.state.charge(self.key, model, usage.prompt_tokens, usage.completion_tokens)
        self.entry["status"] = 200
        return self.state.answered_id(model, self.model_name)


async def take_in(request: Request) -> Intake:
    """Read, parse and log a model request (``/chat/completions``, ``/responses``), wait the
    simulator's latency and draw the request's fault."""
    state: SimState = request.app.state.sim
    raw, body = await read_json(request)
    name = body.get("model") if isinstance(body, dict) else None
    entry = state.record("POST", request.url.path, model=name, body=body,
                         headers=header_names(request))  # fmt: skip
    rid = new_request_id()
    headers = {"x-request-id": rid, **SIM_HEADER}
    await wait_latency(state)
    fault = state.next_fault(request.url.path, name)
    return Intake(state, rid, bearer_key(request), raw, body, name, entry, headers, fault)


async def chat_completions(request: Request) -> Response:
    """Handle ``POST /v1/chat/completions`` against the app's :class:`SimState`."""
    req = await take_in(request)
    state, body, fault, headers = req.state, req.body, req.fault, req.headers
    legacy = request.headers.get("poe-feature") == "chat-completions-legacy"
    headers["x-poe-feature-active"] = f"chat-completions-{'legacy' if legacy else 'strict'}"
    stream = bool(body.get("stream")) if isinstance(body, dict) else False
    forced = await req.fault_answer(stream)
    if forced is not None:
        return forced
    try:
        model = req.admit(_validate)
        state.check_key(req.key)
        if model.is_media and state.media_delay_s > 0:
            await asyncio.sleep(state.media_delay_s)
        reply = req.reply(
            model,
            body["messages"],
            max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
            stop=body.get("stop"),
            tools=body.get("tools"),
            tool_choice=body.get("tool_choice"),
            parallel_tool_calls=body.get("parallel_tool_calls"),
            params=_bot_params(body, legacy),
            # OpenAI honours response_format; Poe's chat completions ignore it (REFERENCE.md)
            response_format=body.get("response_format") if state.provider == "openai" else None,
        )
    except PoeError as exc:
        return req.refused(exc)
    active = _quirks.active_quirks(model.quirks, fault)  # other providers' wire shapes
    forced = _quirks.refusal(active, body, fault.status if fault else 502, headers)
    if forced is not None:
        req.entry["status"] = forced.status_code
        return forced
    model_id = req.answered(model, reply)
    quirky = _quirks.rest_response(
        active, rid=req.rid, model=model_id, reply=reply, body=body, headers=headers,
        resolve=state.resolve_url,
    )  # fmt: skip
    if quirky is not None:
        return quirky
    if not stream:
        payload = dumps(_completion(req.rid, model_id, reply))
        return json_answer(payload, headers, cut=req.struck("cut"))
    return _stream_response(req.rid, model_id, reply, body, fault, headers)


def _stream_response(
    rid: str,
    model_id: str,
    reply: Reply,
    body: dict[str, Any],
    fault: Fault | None,
    headers: dict[str, str],
) -> Response:
    """The answer as an event stream, cut, broken or slowed when the fault says so."""
    options = body.get("stream_options") or {}
    include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
    events = _stream_events(rid, model_id, reply, include_usage)
    if fault is not None and fault.kind in ("cut", "stream_error"):
        events = _faulty_stream(events, fault)
    headers["cache-control"] = "no-cache"
    slow = fault.chunk_delay_s if fault is not None and fault.kind == "delay" else 0.0
    return RawResponse(events, headers=headers, media_type="text/event-stream", piece_delay_s=slow)
