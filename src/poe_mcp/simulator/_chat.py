"""``POST /v1/chat/completions``: validation as Poe does it, JSON and SSE answers, faults.

Order of checks for one request: scripted fault, key (401), rate limit (429), body (400), model
(404), balance (402), tools and bot parameters (400). Every answer carries ``x-request-id`` and
the ``x-ratelimit-*`` headers.

Streamed tool calls: one chunk per call with its ``index``, ``id`` and name (all calls first),
then the arguments in fragments of ``SIM_TOOL_ARG_CHUNK_CHARS``, taking turns across the calls'
indexes (call 0, call 1, call 0, ...) as real providers interleave them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import _constants as C
from ..errors import InvalidRequestError, PoeError
from . import quirks
from ._behaviour import Reply, respond
from ._http import (
    SIM_HEADER,
    RawResponse,
    bearer_key,
    dumps,
    error_response,
    header_names,
    new_request_id,
)
from ._multi import usage_json
from ._state import RateInfo, SimState
from .faults import Fault
from .structured import spoil

__all__ = ["chat_completions"]

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


def _validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    if not body.get("model"):
        raise InvalidRequestError("'model' is required")
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


def _fault_response(
    fault: Fault, rid: str, headers: dict[str, str], stream: bool
) -> Response | None:
    """The answer a fault forces before any normal processing, or None to go on."""
    if fault.kind == "drop":
        return RawResponse((), drop=True)
    if fault.kind == "status" or (fault.kind == "stream_error" and not stream):
        return Response(
            dumps(fault.error_body()),
            fault.status,
            headers={**headers, **fault.headers()},
            media_type="application/json",
        )
    if fault.kind == "malformed":
        if stream:
            pieces = [b'data: {"id":"chatcmpl-' + rid.encode() + b'","choices":[{"delta":\n\n']
            return RawResponse(pieces, headers=headers, media_type="text/event-stream")
        return Response(b'{"id":"chatcmpl-' + rid.encode() + b'","choices":[', 200, headers=headers,
                        media_type="application/json")  # fmt: skip
    return None


async def before_answer(
    fault: Fault, entry: dict[str, Any], rid: str, headers: dict[str, str], stream: bool
) -> Response | None:
    """Apply a scheduled fault before the answer: wait (``delay``) or answer with the fault's
    response; None when the request goes on to be answered."""
    entry["fault"] = fault.kind
    if fault.kind == "delay":
        await asyncio.sleep(fault.delay_s)
        return None
    forced = _fault_response(fault, rid, headers, stream)
    if forced is not None:
        entry["status"] = forced.status_code
    return forced


@dataclass(slots=True)
class Intake:
    """A model request as every simulated endpoint first reads it, already in the request log."""

    state: SimState
    rid: str
    key: str | None
    raw: bytes
    body: Any  # the parsed JSON, or None when the body is empty or not JSON
    model_name: Any
    entry: dict[str, Any]


async def take_in(request: Request) -> Intake:
    """Read, parse and log a model request (``/chat/completions``, ``/responses``)."""
    state: SimState = request.app.state.sim
    raw = await request.body()
    try:
        body: Any = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        body = None
    model_name = body.get("model") if isinstance(body, dict) else None
    entry = state.record(
        "POST", request.url.path, model=model_name, body=body, headers=header_names(request)
    )
    return Intake(state, new_request_id(), bearer_key(request), raw, body, model_name, entry)


def admit(req: Intake, headers: dict[str, str]) -> RateInfo:
    """The checks before any model work: a key, a rate slot (its headers added), JSON.

    Raises:
        PoeError: what Poe answers (auth, rate limit, invalid request).
    """
    req.state.check_key(req.key, need_points=False)
    assert req.key is not None
    rate = req.state.check_rate(req.key)
    headers.update(rate.headers())
    if req.raw and req.body is None:
        raise InvalidRequestError("the request body is not valid JSON")
    return rate


async def chat_completions(request: Request) -> Response:
    """Handle ``POST /v1/chat/completions`` against the app's :class:`SimState`."""
    req = await take_in(request)
    state, rid, key, body, model_name, entry = (
        req.state,
        req.rid,
        req.key,
        req.body,
        req.model_name,
        req.entry,
    )
    headers = {"x-request-id": rid, "x-poe-feature-active": "chat-completions-strict", **SIM_HEADER}
    legacy = request.headers.get("poe-feature") == "chat-completions-legacy"
    if legacy:
        headers["x-poe-feature-active"] = "chat-completions-legacy"
    if state.latency_ms:
        await asyncio.sleep(state.latency_ms / 1000)
    stream = bool(body.get("stream")) if isinstance(body, dict) else False

    fault = state.next_fault(request.url.path, model_name)
    if fault is not None:
        forced = await before_answer(
            fault, entry, rid, {**headers, **state.rate_info(key).headers()}, stream
        )
        if forced is not None:
            return forced

    rate: RateInfo | None = None
    try:
        rate = admit(req, headers)
        _validate(body)
        model = state.find_model(model_name)
        state.check_key(key)
        if model.is_media and state.media_delay_s > 0:
            await asyncio.sleep(state.media_delay_s)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        reply = respond(
            model,
            body["messages"],
            max_tokens=max_tokens,
            stop=body.get("stop"),
            tools=body.get("tools"),
            tool_choice=body.get("tool_choice"),
            parallel_tool_calls=body.get("parallel_tool_calls"),
            params=_bot_params(body, legacy),
            store_media=state.add_media,
            resolve_url=state.resolve_url,
            # OpenAI honours response_format; Poe's chat completions ignore it (REFERENCE.md)
            response_format=body.get("response_format") if state.provider == "openai" else None,
        )
    except PoeError as exc:
        if rate is None:
            headers.update(state.rate_info(key).headers())
        entry["status"] = exc.status
        return error_response(exc, rid, headers)

    if fault is not None and fault.kind == "invalid_json":
        reply = spoil(reply)
    active = quirks.active_quirks(model.quirks, fault)  # other providers' wire shapes
    forced = quirks.refusal(active, body, fault.status if fault else 502, headers)
    if forced is not None:
        entry["status"] = forced.status_code
        return forced
    assert key is not None  # admit() refused a request without one
    state.charge(key, model, reply.usage.prompt_tokens, reply.usage.completion_tokens)
    entry["status"] = 200
    quirky = quirks.rest_response(
        active, rid=rid, model=state.answered_id(model, model_name), reply=reply, body=body,
        headers=headers, resolve=state.resolve_url,
    )  # fmt: skip
    if quirky is not None:
        return quirky
    if not stream:
        payload = dumps(_completion(rid, state.answered_id(model, model_name), reply))
        if fault is not None and fault.kind == "cut":
            return RawResponse([payload[: len(payload) // 2]], headers=headers, cut=True,
                               content_length=len(payload))  # fmt: skip
        return Response(payload, 200, headers=headers, media_type="application/json")
    return _stream_response(rid, state.answered_id(model, model_name), reply, body, fault, headers)


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
