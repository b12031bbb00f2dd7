"""Quirks: what real OpenAI-compatible providers send that Poe does not (REFERENCE.md section 7).

A quirk changes how an answer is *sent*, not what it says, so tests can drive every wire shape a
client meets in the field through the library, the CLI and the MCP server. Quirks come

- per request, as a fault: ``{"kind": "quirk", "quirks": ["crlf", "content_parts"]}`` on
  ``POST /sim/faults`` (``model``, ``path`` and ``times`` work as for every fault; ``times: 0``
  keeps them until the faults are cleared), or ``sim.add_fault("quirk", quirks=[...])``;
- per model, from the catalogue (:attr:`ModelSpec.quirks`): ``Local-Llama-3.1`` is listed the
  plain way (``id, object, created, owned_by``: no ``supported_features``, so its capabilities
  are unknown) and ``Mistral-Large`` answers with a dated id (``mistral-large-2411``).

========================= ==========================================================================
stream framing            ``crlf`` / ``cr`` line ends; ``sse_fields`` (``retry:``, ``id:``,
                          ``event: message`` lines); ``comments`` (``: ...`` lines);
                          ``keepalives`` (``: keep-alive``, ``data: : keepalive``, empty ``data:``);
                          ``multiline_data`` (each JSON chunk split over two ``data:`` lines);
                          ``no_space`` (``data:{...}`` and ``data:[DONE]``, no space);
                          ``json_lines`` (two chunks on consecutive ``data:`` lines of one event)
text                      ``unicode_separators``: the answer ends with raw U+2028, U+2029, U+0085
                          (JSON allows them unescaped; line readers built on ``splitlines`` break)
tool calls (stream)       ``tool_index_zero`` (every call at index 0, one after the other, id on
                          the first fragment only); ``tool_no_index`` (no index, one whole call per
                          chunk); ``tool_index_negative`` (index -1, one whole call per chunk);
                          ``tool_ids_every_fragment`` (the id repeated on each fragment);
                          ``tool_name_every_fragment`` (the whole name on every fragment, and once
                          more after the arguments, as MiniMax via NVIDIA NIM does)
tool calls (any)          ``duplicate_tool_ids`` (every call ``call_0``); ``object_arguments``
                          (arguments as a JSON object, not JSON text)
content                   ``content_parts``: content as a list of parts, a ``thinking`` part first;
                          ``think_tags``: the thinking written into the text, ``<think>...</think>``
error bodies              ``error_200_text`` (200 ``text/plain`` "unsupported model: X");
                          ``error_200_json`` (200 JSON ``{"error": ...}``, streamed requests too);
                          ``html_error`` (the fault's ``status``, default 502, as a CDN's HTML page)
ends of streams           ``no_finish_reason`` (``[DONE]`` but never a finish reason; null in a
                          whole answer); ``empty_finish_reason`` (``""`` on intermediate chunks);
                          ``no_done`` (a finish reason, no ``[DONE]``); ``no_done_no_finish``
                          (the stream just ends); ``native_finish_reason`` (finish reasons spelled
                          as other APIs do: ``end_turn``, ``tool_use``, ``MAX_TOKENS``)
optional fields           ``reject_stream_options`` (400 "stream_options: Extra inputs are not
                          permitted"); ``reject_stream_options_422`` (FastAPI's 422 ``detail``);
                          ``reject_parallel_tool_calls`` (400) -- each only when the field is sent
models                    ``plain_listing`` (``/v1/models`` item without capabilities);
                          ``dated_id`` (answers with ``<id>-2024-08-06``)
media                     ``inline_media``: media bots answer ``![..](data:image/png;base64,...)``
========================= ==========================================================================

The bot protocol (``/bot/<name>``) honours the tool-call quirks in its ``json`` events,
``inline_media``, ``error_200_text`` and ``error_200_json``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from .. import _constants as C
from ..errors import InvalidRequestError

if TYPE_CHECKING:  # _replies imports the catalogue, which imports this module
    from ._replies import Reply, SimToolCall

__all__ = [
    "QUIRKS",
    "answer",
    "bot_json_chunks",
    "check_quirks",
    "inline_media_text",
    "listing",
    "refusal",
    "text_refusal",
]

QUIRKS: frozenset[str] = frozenset(
    {
        "crlf", "cr", "sse_fields", "comments", "keepalives", "multiline_data",
        "unicode_separators", "tool_index_zero", "tool_no_index", "tool_index_negative",
        "tool_ids_every_fragment", "duplicate_tool_ids", "object_arguments", "content_parts",
        "error_200_text", "error_200_json", "html_error", "no_finish_reason",
        "empty_finish_reason", "no_done", "no_done_no_finish", "reject_stream_options",
        "reject_stream_options_422", "reject_parallel_tool_calls", "plain_listing", "dated_id",
        "inline_media", "no_space", "json_lines", "tool_name_every_fragment", "think_tags",
        "native_finish_reason",
    }
)  # fmt: skip
SEPARATORS = " \u2028line\u2029para\u0085end"  # what unicode_separators appends to the answer
THINKING = "Let me think about this step by step."  # the thinking of content_parts, think_tags
_NATIVE_FINISH = {"stop": "end_turn", "tool_calls": "tool_use", "length": "MAX_TOKENS"}
_HTML = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} "
    "{reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Time-out"}  # fmt: skip


def check_quirks(names: Any) -> list[str]:
    """Validate a fault's ``quirks`` list.

    Raises:
        InvalidRequestError: not a list of known quirk names.
    """
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise InvalidRequestError("quirks must be a list of quirk names")
    unknown = sorted(set(names) - QUIRKS)
    if unknown:
        raise InvalidRequestError(
            f"unknown quirk(s): {', '.join(unknown)}; known: {', '.join(sorted(QUIRKS))}"
        )
    return list(names)


def listing(item: dict[str, Any], quirks: Iterable[str]) -> dict[str, Any]:
    """A ``/v1/models`` item as a model with these quirks lists itself."""
    if "plain_listing" in quirks:
        return {k: item[k] for k in ("id", "object", "created", "owned_by")}
    return item


def answered_id(model_id: str, quirks: Iterable[str]) -> str | None:
    """The dated id a ``dated_id`` model answers with, else None."""
    return f"{model_id.lower()}-{C.SIM_DATED_SNAPSHOT}" if "dated_id" in quirks else None


# --- answers refused or replaced before the model runs ---------------------------------------


def text_refusal(
    quirks: Iterable[str], model: str | None, headers: Mapping[str, str]
) -> Response | None:
    """``error_200_text`` / ``error_200_json`` answers (both protocols), else None."""
    found = set(quirks)
    if "error_200_text" in found:
        return Response(f"unsupported model: {model}\n", 200, headers=dict(headers),
                        media_type="text/plain")  # fmt: skip
    if "error_200_json" in found:
        body = {"error": {"message": f"The model `{model}` does not exist or you do not have "
                          "access to it.", "type": "invalid_request_error", "param": None,
                          "code": "model_not_found"}}  # fmt: skip
        return Response(json.dumps(body), 200, headers=dict(headers),
                        media_type="application/json")  # fmt: skip
    return None


def refusal(
    quirks: Iterable[str], body: Mapping[str, Any], status: int, headers: Mapping[str, str]
) -> Response | None:
    """The error answer a quirk forces on a REST request, or None to answer normally."""
    found = set(quirks)
    forced = text_refusal(found, str(body.get("model")), headers)
    if forced is not None:
        return forced
    if "html_error" in found:
        code = status if status >= 500 else 502
        page = _HTML.format(status=code, reason=_REASONS.get(code, "Error"))
        return Response(page, code, headers=dict(headers), media_type="text/html")
    for field, status_code in (("stream_options", 400), ("parallel_tool_calls", 400)):
        if field not in body:
            continue
        if field == "stream_options" and "reject_stream_options_422" in found:
            detail = [{"type": "extra_forbidden", "loc": ["body", field],
                       "msg": "Extra inputs are not permitted", "input": body[field]}]  # fmt: skip
            return Response(json.dumps({"detail": detail}), 422, headers=dict(headers),
                            media_type="application/json")  # fmt: skip
        if f"reject_{field}" in found:
            error = {
                "error": {
                    "message": f"{field}: Extra inputs are not permitted",
                    "type": "invalid_request_error",
                    "param": field,
                    "code": None,
                }
            }
            return Response(json.dumps(error), status_code, headers=dict(headers),
                            media_type="application/json")  # fmt: skip
    return None


# --- the answer itself ----------------------------------------------------------------------


def inline_media_text(reply: Reply, resolve: Callable[[str], tuple[bytes, str] | None]) -> Reply:
    """A media reply whose file is inline: ``![..](data:<type>;base64,...)``."""
    if not reply.media:
        return reply
    found = resolve(reply.media[0].url)
    if found is None:
        return reply
    data, mime = found
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return replace(reply, text=reply.text.replace(reply.media[0].url, uri))


def _adjust(
    reply: Reply, quirks: set[str], resolve: Callable[[str], tuple[bytes, str] | None]
) -> Reply:
    if "unicode_separators" in quirks and reply.text:
        reply = replace(reply, text=reply.text + SEPARATORS)
    if "think_tags" in quirks and reply.text:
        reply = replace(reply, text=f"<think>\n{THINKING}\n</think>\n\n{reply.text}")
    if "inline_media" in quirks:
        reply = inline_media_text(reply, resolve)
    if "duplicate_tool_ids" in quirks:
        calls = tuple(replace(c, id="call_0") for c in reply.tool_calls)
        reply = replace(reply, tool_calls=calls)
    return reply


def _arguments(call: SimToolCall, quirks: set[str]) -> Any:
    return json.loads(call.arguments) if "object_arguments" in quirks else call.arguments


def _completion(rid: str, model: str, reply: Reply, quirks: set[str], usage: Any) -> bytes:
    content: Any = reply.text if reply.text or not reply.tool_calls else None
    if "content_parts" in quirks and reply.text:
        half = len(reply.text) // 2
        content = [{"type": "thinking", "thinking": THINKING},
                   {"type": "text", "text": reply.text[:half]},
                   {"type": "text", "text": reply.text[half:]}]  # fmt: skip
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": _arguments(c, quirks)}}
            for c in reply.tool_calls
        ]  # fmt: skip
    finish = None if "no_finish_reason" in quirks else _finish(reply, quirks)
    body = {"id": f"chatcmpl-{rid}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage}  # fmt: skip
    return json.dumps(body, ensure_ascii=False).encode()


def _finish(reply: Reply, quirks: set[str]) -> str | None:
    reason = reply.finish_reason
    if "native_finish_reason" in quirks and reason is not None:
        return _NATIVE_FINISH.get(reason, reason)
    return reason


def _pieces(text: str) -> list[str]:
    size = max(1, min(C.SIM_STREAM_CHUNK_CHARS, (len(text) + 1) // 2))
    return [text[i : i + size] for i in range(0, len(text), size)] if text else []


def _whole_tool_calls(reply: Reply, quirks: set[str]) -> Iterator[list[dict[str, Any]]]:
    """Each call whole in one chunk, its index missing, negative or always 0 as quirked."""
    for i, c in enumerate(reply.tool_calls):
        function = {"name": c.name, "arguments": _arguments(c, quirks)}
        item: dict[str, Any] = {"id": c.id, "type": "function", "function": function}
        if "tool_index_negative" in quirks:
            item["index"] = -1
        elif "tool_no_index" not in quirks:
            item["index"] = 0 if "tool_index_zero" in quirks else i
        yield [item]


def _tool_deltas(reply: Reply, quirks: set[str]) -> Iterator[list[dict[str, Any]]]:
    """The ``delta.tool_calls`` of each chunk, in the order the quirks say."""
    calls = reply.tool_calls
    whole = "tool_no_index" in quirks or "tool_index_negative" in quirks
    if whole or "object_arguments" in quirks:
        yield from _whole_tool_calls(reply, quirks)
        return
    step = C.SIM_TOOL_ARG_CHUNK_CHARS
    frags = [[c.arguments[j : j + step] for j in range(0, len(c.arguments), step)] for c in calls]
    if "tool_index_zero" in quirks or "duplicate_tool_ids" in quirks:
        # one call after the other: the only order in which one index (or id) can work
        for i, c in enumerate(calls):
            index = 0 if "tool_index_zero" in quirks else i
            yield [{"index": index, "id": c.id, "type": "function",
                    "function": {"name": c.name, "arguments": ""}}]  # fmt: skip
            for frag in frags[i]:
                yield [{"index": index, "function": {"arguments": frag}}]
        return
    for i, c in enumerate(calls):
        yield [{"index": i, "id": c.id, "type": "function",
                "function": {"name": c.name, "arguments": ""}}]  # fmt: skip
    named = "tool_name_every_fragment" in quirks
    for n in range(max(map(len, frags), default=0)):
        for i, pieces in enumerate(frags):
            if n < len(pieces):
                function = {"arguments": pieces[n]}
                if named:
                    function = {"name": calls[i].name, **function}
                fragment: dict[str, Any] = {"index": i, "function": function}
                if "tool_ids_every_fragment" in quirks:
                    fragment["id"] = calls[i].id
                yield [fragment]
    if named:  # and the name once more, with no arguments, after they were complete
        for i, c in enumerate(calls):
            yield [{"index": i, "function": {"name": c.name, "arguments": ""}}]


def _frame(payload: str, quirks: set[str], number: int) -> str:
    """One SSE event carrying ``payload`` as ``data``, framed as the quirks say."""
    lines: list[str] = []
    if "comments" in quirks:
        lines.append(": OPENROUTER PROCESSING")
    if "sse_fields" in quirks:
        if number == 0:
            lines.append(f"retry: {C.SIM_SSE_RETRY_MS}")
        lines += [f"id: {number}", "event: message"]
    data = "data:" if "no_space" in quirks else "data: "
    if "multiline_data" in quirks and payload.startswith("{") and "," in payload:
        cut = payload.index(",") + 1
        lines += [f"{data}{payload[:cut]}", f"{data}{payload[cut:]}"]
    else:
        lines += [f"{data}{line}" for line in payload.split("\n")]
    end = "\r\n" if "crlf" in quirks else "\r" if "cr" in quirks else "\n"
    out = end.join(lines) + end + end
    if "keepalives" in quirks:
        out += f": keep-alive{end}{end}data: : keepalive{end}{end}data:{end}{end}"
    return out


def _stream(rid: str, model: str, reply: Reply, quirks: set[str], usage: Any) -> Iterator[bytes]:
    created = int(time.time())
    finish_blank: Any = "" if "empty_finish_reason" in quirks else None

    def chunk(delta: Mapping[str, Any], finish: Any = finish_blank) -> dict[str, Any]:
        return {"id": f"chatcmpl-{rid}", "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": [{"index": 0, "delta": delta,
                                             "finish_reason": finish}]}  # fmt: skip

    chunks = [chunk({"role": "assistant", "content": ""})]
    parts = "content_parts" in quirks
    if parts:
        chunks.append(chunk({"content": [{"type": "thinking", "thinking": THINKING}]}))
    for piece in _pieces(reply.text):
        content: Any = [{"type": "text", "text": piece}] if parts else piece
        chunks.append(chunk({"content": content}))
    for tool_calls in _tool_deltas(reply, quirks):
        chunks.append(chunk({"tool_calls": tool_calls}))
    if not ({"no_finish_reason", "no_done_no_finish"} & quirks):
        chunks.append(chunk({}, _finish(reply, quirks)))
    if usage is not None:
        chunks.append({**chunk({}), "choices": [], "usage": usage})
    payloads = [json.dumps(item, ensure_ascii=False) for item in chunks]
    if "json_lines" in quirks:  # two chunks per event, each on its own data: line
        payloads = ["\n".join(payloads[i : i + 2]) for i in range(0, len(payloads), 2)]
    for number, payload in enumerate(payloads):
        yield _frame(payload, quirks, number).encode()
    if not ({"no_done", "no_done_no_finish"} & quirks):
        yield _frame("[DONE]", quirks, len(payloads)).encode()


def answer(
    quirks: Iterable[str],
    *,
    rid: str,
    model: str,
    reply: Reply,
    stream: bool,
    usage: Any,
    resolve: Callable[[str], tuple[bytes, str] | None],
) -> tuple[bytes | Iterator[bytes], str]:
    """The body of a quirky answer (bytes, or SSE pieces when ``stream``) and its media type.

    Args:
        quirks: the quirks of the provider being played (see the module docstring).
        rid: the request id the answer carries.
        model: the model id the answer carries.
        reply: the simulated reply.
        stream: answer as server-sent events (else one JSON body).
        usage: the ``usage`` object (sent in a final chunk when streaming, if not None).
        resolve: the simulator's URL -> (bytes, type) lookup, for ``inline_media``.
    """
    found = set(quirks)
    reply = _adjust(reply, found, resolve)
    if not stream:
        return _completion(rid, model, reply, found, usage), "application/json"
    return _stream(rid, model, reply, found, usage), "text/event-stream"


def bot_json_chunks(reply: Reply, quirks: Iterable[str], chunk: Callable[..., Any]) -> list[Any]:
    """The bot protocol's ``json`` events (OpenAI chunks) of a tool-calling answer.

    ``chunk(delta, finish=None)`` builds one chunk dict.
    """
    found = set(quirks)
    reply = _adjust(reply, found, lambda url: None)
    out = [chunk({"role": "assistant", "content": ""})]
    for piece in _pieces(reply.text):
        out.append(chunk({"content": piece}))
    for tool_calls in _tool_deltas(reply, found):
        out.append(chunk({"tool_calls": tool_calls}))
    out.append(chunk({}, _finish(reply, found)))
    return out


# --- hooks for the REST endpoint (_rest_chat.py) ----------------------------------------------

_LISTING_ONLY = frozenset({"plain_listing", "dated_id"})  # change the list and ids, not answers


def active_quirks(model_quirks: Iterable[str], fault: Any) -> frozenset[str]:
    """The quirks of one request: its model's, plus a ``quirk`` fault's."""
    extra = fault.quirks if fault is not None and fault.kind == "quirk" else ()
    return frozenset(model_quirks) | frozenset(extra)


def rest_response(
    quirks: frozenset[str],
    *,
    rid: str,
    model: str,
    reply: Reply,
    body: Mapping[str, Any],
    headers: dict[str, str],
    resolve: Callable[[str], tuple[bytes, str] | None],
) -> Response | None:
    """The REST answer when a quirk changes how it is sent, else None (the normal answer)."""
    if not quirks - _LISTING_ONLY:
        return None
    from ._replies_multi import usage_json
    from ._wire import RawResponse

    stream = bool(body.get("stream"))
    options = body.get("stream_options")
    wants_usage = isinstance(options, Mapping) and bool(options.get("include_usage"))
    usage = usage_json(reply.usage) if wants_usage or not stream else None
    content, media_type = answer(
        quirks, rid=rid, model=model, reply=reply, stream=stream, usage=usage, resolve=resolve
    )
    if isinstance(content, bytes):
        return Response(content, 200, headers=headers, media_type=media_type)
    return RawResponse(content, headers={**headers, "cache-control": "no-cache"},
                       media_type=media_type)  # fmt: skip
