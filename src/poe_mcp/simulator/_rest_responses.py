"""``POST /v1/responses``: Poe's Responses API, for the models whose catalog entry lists it.

Poe's chat completions ignore ``response_format``; its Responses API honours ``text.format``
(``{"type": "json_schema", "name", "schema", "strict"}`` or ``{"type": "json_object"}``), so
that is where structured output goes on Poe. This endpoint answers non-streamed requests:

- checks in chat completions' order: scripted fault, key (401), rate limit (429), body (400),
  model (404), the model lists ``/v1/responses`` (else 400), balance (402), bot parameters (400);
- ``instructions`` becomes the system prompt; ``input`` is a string or a list of messages
  (``role`` with string content or ``input_text`` / ``output_text`` / ``input_image`` /
  ``input_file`` parts);
- the reply is the model's usual one (``_replies.respond``), or JSON that validates the
  requested format (``_replies_structured.py``); ``max_output_tokens`` cuts it
  (``status: incomplete``, ``incomplete_details.reason: max_output_tokens``);
- faults as on chat completions (``status``, ``delay``, ``drop``, ``malformed``, ``cut``), and
  ``invalid_json`` spoils the answer.

The body is OpenAI's response object: ``id, object: "response", created_at, status, model,
output: [{type: "message", role: "assistant", content: [{type: "output_text", text}]}], usage
{input_tokens, output_tokens, total_tokens}``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import InvalidRequestError, PoeError
from ._replies import Reply
from ._rest_chat import take_in
from ._wire import dumps, json_answer

__all__ = ["RESPONSES_PATH", "responses"]

RESPONSES_PATH = "/v1/responses"

# Fields of the Responses API this simulator reads or accepts; the rest are bot parameters
# (validated against the model's declarations, like extra fields on chat completions).
_KNOWN = frozenset(
    {
        "model", "input", "instructions", "text", "max_output_tokens", "temperature", "top_p",
        "stream", "store", "metadata", "user", "truncation", "include", "parallel_tool_calls",
    }
)  # fmt: skip
_PART_TYPES = {"input_text": "text", "output_text": "text"}


def _part(part: Any) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, Mapping) else None
    if kind in _PART_TYPES:
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "input_image":
        return {"type": "image_url", "image_url": {"url": part.get("image_url") or ""}}
    if kind == "input_file":
        file = {"filename": part.get("filename"), "file_data": part.get("file_data")}
        return {"type": "file", "file": file}
    raise InvalidRequestError(f"input content part type {kind!r} is not supported")


def _messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``instructions`` + ``input`` as chat messages (what ``respond`` reads)."""
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise InvalidRequestError("'instructions' must be a string")
        messages.append({"role": "system", "content": instructions})
    items = body.get("input")
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    if not isinstance(items, list) or not items:
        raise InvalidRequestError("'input' must be a string or a non-empty array of messages")
    for i, item in enumerate(items):
        role = item.get("role") if isinstance(item, Mapping) else None
        if role not in ("system", "developer", "user", "assistant"):
            raise InvalidRequestError(
                f"input[{i}] must be a message with role system, developer, user or assistant"
            )
        content = item.get("content")
        if isinstance(content, list):
            content = [_part(p) for p in content]
        elif not isinstance(content, str):
            raise InvalidRequestError(f"input[{i}].content must be a string or an array of parts")
        messages.append({"role": role, "content": content})
    return messages


def _validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    if not body.get("model"):
        raise InvalidRequestError("'model' is required")
    if body.get("stream"):
        raise InvalidRequestError(
            "this simulator answers /v1/responses without streaming: send stream=false"
        )
    text = body.get("text")
    if text is not None and (not isinstance(text, Mapping) or set(text) - {"format", "verbosity"}):
        raise InvalidRequestError("'text' must be an object with 'format'")
    limit = body.get("max_output_tokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidRequestError("'max_output_tokens' must be a positive integer")


def _body(rid: str, model: str, reply: Reply, text_format: Any) -> dict[str, Any]:
    cut = reply.finish_reason == "length"
    return {
        "id": f"resp_{rid}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if cut else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
        "error": None,
        "model": model,
        "output": [
            {
                "type": "message",
                "id": f"msg_{rid}",
                "status": "incomplete" if cut else "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
            }
        ],
        "text": {"format": text_format or {"type": "text"}},
        "usage": {
            "input_tokens": reply.usage.prompt_tokens,
            "output_tokens": reply.usage.completion_tokens,
            "total_tokens": reply.usage.total_tokens,
        },
    }


async def responses(request: Request) -> Response:
    """Handle ``POST /v1/responses`` against the app's :class:`SimState`."""
    req = await take_in(request)
    state, body = req.state, req.body
    forced = await req.fault_answer(stream=False)
    if forced is not None:
        return forced
    try:
        model = req.admit(_validate)
        if RESPONSES_PATH not in model.endpoints:
            raise InvalidRequestError(
                f"{model.id} is not served by {RESPONSES_PATH}; its supported_endpoints are "
                f"{', '.join(model.endpoints)}"
            )
        state.check_key(req.key)
        text_format = (body.get("text") or {}).get("format")
        reply = req.reply(
            model,
            _messages(body),
            max_tokens=body.get("max_output_tokens"),
            params={k: v for k, v in body.items() if k not in _KNOWN},
            response_format=text_format,
        )
    except PoeError as exc:
        return req.refused(exc)
    payload = dumps(_body(req.rid, req.answered(model, reply), reply, text_format))
    return json_answer(payload, req.headers, cut=req.struck("cut"))
