"""Structured output through Poe's Responses API (``POST /v1/responses`` with ``text.format``).

Poe's chat completions ignore ``response_format``; its Responses API honours ``text.format``
(REFERENCE.md sections 1 and 7). :mod:`poe_mcp.structured` sets ``ChatRequest.text_format`` for
models whose catalog entry lists ``/v1/responses``, and the REST backend hands such requests to
:func:`responses_chat`, which goes through the same ``openai`` SDK client (auth, URL, pool,
timeouts, no SDK retries) and maps errors the same way.

Chat messages become Responses input items: system and developer messages become
``instructions``; user and assistant messages keep their role, with text parts as
``input_text`` (``output_text`` for the assistant), images as ``input_image`` and files as
``input_file``. Tool calls and tool results have no translation here: structured requests that
carry them go through chat completions instead (``structured.py`` decides that).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._sanitize import usage_counts
from .._tokens import prompt_tokens, text_tokens
from ..errors import InvalidRequestError, PoeError, error_from_response
from ..types import ChatResult, Usage
from . import ChatRequest
from ._wire_errors import error_from_body, protocol_error

if TYPE_CHECKING:
    from .openai_compat import OpenAICompatBackend

__all__ = ["RESPONSES_ENDPOINT", "responses_chat", "to_input"]

RESPONSES_ENDPOINT = "/v1/responses"

# chat-completions parameter -> Responses API field
_PARAMS = {"max_tokens": "max_output_tokens", "temperature": "temperature", "top_p": "top_p"}
_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _part(role: str, part: Any) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, Mapping) else None
    if kind == "text":
        text_type = "output_text" if role == "assistant" else "input_text"
        return {"type": text_type, "text": str(part.get("text") or "")}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        detail = image.get("detail") if isinstance(image, Mapping) else None
        return {"type": "input_image", "image_url": url, "detail": detail or "auto"}
    if kind == "file":
        file = part.get("file") or {}
        return {
            "type": "input_file",
            "filename": file.get("filename") or "file",
            "file_data": file.get("file_data"),
        }
    raise InvalidRequestError(f"a {kind!r} content part cannot be sent through the Responses API")


def to_input(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """Chat messages as (``instructions``, Responses ``input`` items).

    Raises:
        InvalidRequestError: a tool call, a tool result or an unknown content part.
    """
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            if isinstance(content, str):
                instructions.append(content)
            else:
                texts = [p.get("text", "") for p in content or () if isinstance(p, Mapping)]
                instructions.append("\n".join(texts))
            continue
        if role not in ("user", "assistant") or message.get("tool_calls"):
            raise InvalidRequestError(
                "tool calls and tool results cannot be sent through the Responses API"
            )
        if content is None or isinstance(content, str):
            items.append({"role": role, "content": content or ""})
        else:
            items.append({"role": role, "content": [_part(role, p) for p in content]})
    return ("\n\n".join(instructions) or None), items


def _kwargs(request: ChatRequest) -> dict[str, Any]:
    unsupported = sorted(set(request.params) - set(_PARAMS))
    if unsupported:
        raise InvalidRequestError(
            f"{', '.join(unsupported)} cannot be sent through the Responses API"
        )
    instructions, items = to_input(request.messages)
    kwargs: dict[str, Any] = {
        "model": request.model,
        "input": items,
        "text": {"format": request.text_format},
    }
    if instructions:
        kwargs["instructions"] = instructions
    for name, value in request.params.items():
        kwargs[_PARAMS[name]] = value
    if request.extra:
        kwargs["extra_body"] = request.extra
    if request.timeout_s is not None:
        kwargs["timeout"] = request.timeout_s
    return kwargs


def _text(output: Any) -> str:
    """The answer: every ``output_text`` (and ``refusal``) part of the message items."""
    texts: list[str] = []
    for item in output if isinstance(output, list) else ():
        if not isinstance(item, Mapping) or item.get("type") != "message":
            continue
        for part in item.get("content") or ():
            if isinstance(part, Mapping) and part.get("type") == "output_text":
                texts.append(str(part.get("text") or ""))
            elif isinstance(part, Mapping) and part.get("type") == "refusal":
                texts.append(str(part.get("refusal") or ""))
    return "".join(texts)


def _failed(data: Mapping[str, Any], request_id: str | None) -> PoeError:
    """A ``status: failed`` response: its ``error`` object, classified."""
    raw = data.get("error")
    error: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    code = error.get("code")
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    return error_from_response(status, {"error": error}, request_id=request_id)


async def responses_chat(backend: OpenAICompatBackend, request: ChatRequest) -> ChatResult:
    """Send ``request`` to ``/v1/responses`` with ``text.format`` and read the answer.

    Raises:
        PoeError: the provider's error, mapped like chat completions' errors.
    """
    from .openai_compat import map_sdk_error

    options = backend._options
    kwargs = _kwargs(request)
    try:
        raw = await backend._client().responses.with_raw_response.create(**kwargs)
        content = raw.content
    except Exception as exc:
        raise map_sdk_error(exc, options.base_url) from exc
    request_id, simulated = backend._note_headers(raw.headers)
    try:
        data = json.loads(content)
    except ValueError:
        data = None
        if content.lstrip()[:1] in (b"{", b"["):  # broken JSON: the same request, the same answer
            raise protocol_error(
                "the provider answered with malformed JSON", request_id=request_id
            ) from None
    if isinstance(data, dict) and data.get("status") == "failed":
        raise _failed(data, request_id)
    if not isinstance(data, dict) or "output" not in data:
        # An error sent as a success keeps the provider's words (JSON or text); anything else
        # is an answer we cannot read, not worth sending again.
        found = error_from_body(
            200, content, raw.headers.get("content-type"), request_id=request_id
        )
        raise found or protocol_error(
            "the provider's Responses API answer has no output", request_id=request_id
        )
    text = _text(data["output"])
    finish = "stop"
    if data.get("status") == "incomplete":
        details = data.get("incomplete_details") or {}
        finish = _FINISH.get(str(details.get("reason")), "length")
    counts = usage_counts(data.get("usage"))
    if counts is not None:
        usage = Usage(*counts)
    else:  # no counts, or impossible ones: estimate so the ledger stays complete, and say so
        usage = Usage(prompt_tokens(request.messages), text_tokens(text), estimated=True)
    return ChatResult(
        text=text,
        model=data.get("model") or request.model,
        finish_reason=finish,
        usage=usage,
        request_id=request_id or data.get("id"),
        provider=options.provider.name,
        backend=backend.name,
        simulated=simulated,
    )
