"""Errors a provider puts where an answer should be, in the words it used, classified.

Real OpenAI-compatible providers do not always answer an error with an HTTP error status:

- HTTP 200 with a ``text/plain`` body (``unsupported model: X``) or a JSON ``{"error": ...}``
  body, even to a streamed request;
- an ``{"error": ...}`` chunk in the middle of a stream, after some text;
- an HTML page from a CDN or proxy in front of the API (502/503/504, or 200 from a captive
  portal).

Error objects come in several shapes besides ``{"error": {...}}``: ``{"error": "text"}``
(Ollama), Gemini's list-wrapped ``[{"error": {"code", "message", "status", "details"}}]``
(its ``status`` and ``ErrorInfo`` reason say the kind), Cloudflare's ``{"success": false,
"errors": [...]}``, FastAPI's ``detail``, vLLM's ``{"object": "error"}``, a bare
``{"code", "message"}``.

:func:`error_from_body` turns any of them into the error the provider meant: the provider's own
message (trimmed; an HTML page becomes its status and ``<title>``), classified by the status it
names (``code``), its ``type``, or, when it gives neither, the words of the message; whether it is
retried follows from that kind (a rate limit may pass, an unsupported model will not). An error
that came with HTTP 200 and says nothing of its kind is not retried.

:func:`protocol_error` is for answers we cannot read at all (not JSON, wrong shapes): an
``UpstreamError`` that is never retried, since the same request gets the same answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..errors import PoeError, UpstreamError, error_from_response, summarise_body_text

__all__ = ["classify_status", "error_from_body", "normalise_error_body", "protocol_error"]

# Poe's and OpenAI's error types (and codes some providers put in ``type``) -> HTTP status.
_TYPE_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "invalid_request": 400,
    "bad_request": 400,
    "authentication_error": 401,
    "invalid_api_key": 401,
    "unauthorized": 401,
    "insufficient_credits": 402,
    "permission_error": 403,
    "moderation_error": 403,
    "content_filter": 403,
    "not_found_error": 404,
    "model_not_found": 404,
    "not_found": 404,
    "timeout_error": 408,
    "request_too_large": 413,
    "context_length_exceeded": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "provider_error": 500,
    "server_error": 500,
    "internal_error": 500,
    "api_error": 500,
    "upstream_error": 502,
    "service_unavailable": 503,
    "overloaded_error": 529,
    "overloaded": 529,
}

# Words of a bare message -> the status they mean; the first match wins.
_WORDS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"\b(invalid|incorrect|missing|bad)\b.{0,20}\b(api[ _-]?key|token)\b", re.I), 401),
    (re.compile(r"\b(unauthori[sz]ed|authentication|forbidden)\b", re.I), 401),
    (re.compile(r"\b(insufficient[ _](credits|points|balance|funds?)|out of credits)", re.I), 402),
    (re.compile(r"\b(quota)\b", re.I), 429),
    (re.compile(r"\b(rate[ _-]?limit|too many requests)\b", re.I), 429),
    (re.compile(r"\boverloaded\b", re.I), 529),
    (re.compile(r"\b(context[ _]length|too (long|large)|maximum context)\b", re.I), 413),
    (
        re.compile(
            r"(\b(unsupported|unknown|invalid|no such)\b.{0,10}\bmodel\b|\bmodel\b.{0,60}\b"
            r"(not found|does not exist|not supported|unsupported|unavailable)\b|"
            r"\bbot does not exist\b)",
            re.I,
        ),
        404,
    ),
    (re.compile(r"\b(timed? ?out|timeout)\b", re.I), 408),
    (re.compile(r"\b(unavailable|internal (server )?error|bad gateway)\b", re.I), 502),
)


def protocol_error(message: str, *, request_id: str | None = None) -> UpstreamError:
    """An answer we cannot read: never retried (the same request gets the same answer)."""
    return UpstreamError(
        message, request_id=request_id, retryable=False, metadata={"protocol_error": True}
    )


def classify_status(error: Mapping[str, Any], http_status: int | None = None) -> int | None:
    """The HTTP status an error object means: its ``code``, ``type``, the answer's status, or
    the words of its message; None when nothing tells."""
    code = error.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    if isinstance(code, str) and code.isdigit() and 400 <= int(code) <= 599:
        return int(code)
    for name in (error.get("type"), code):
        if isinstance(name, str) and name.lower() in _TYPE_STATUS:
            return _TYPE_STATUS[name.lower()]
    if http_status is not None and http_status >= 400:
        return http_status
    message = str(error.get("message") or "")
    for pattern, status in _WORDS:
        if pattern.search(message):
            return status
    return None


def _detail_message(detail: list[Any]) -> str:
    """FastAPI/pydantic validation errors (``{"detail": [{"loc", "msg"}]}``) as one line."""
    lines = []
    for item in detail:
        if isinstance(item, Mapping):
            loc = ".".join(str(p) for p in item.get("loc") or ())
            msg = str(item.get("msg") or item.get("message") or "")
            lines.append(f"{loc}: {msg}" if loc else msg)
        else:
            lines.append(str(item))
    return "; ".join(line for line in lines if line)


# Google's canonical error statuses (Gemini's OpenAI-compatible API) and ErrorInfo reasons ->
# the error types the classifiers read.
_GOOGLE_TYPES: dict[str, str] = {
    "API_KEY_INVALID": "authentication_error",
    "UNAUTHENTICATED": "authentication_error",
    "PERMISSION_DENIED": "permission_error",
    "RESOURCE_EXHAUSTED": "rate_limit_error",
    "NOT_FOUND": "not_found_error",
    "INVALID_ARGUMENT": "invalid_request_error",
    "FAILED_PRECONDITION": "invalid_request_error",
    "DEADLINE_EXCEEDED": "timeout_error",
    "UNAVAILABLE": "service_unavailable",
    "INTERNAL": "server_error",
}


def _google_type(error: Mapping[str, Any]) -> str | None:
    """The error type a Google-style error means: its ErrorInfo ``reason``, else ``status``."""
    for detail in error.get("details") or ():
        if isinstance(detail, Mapping) and str(detail.get("reason")) in _GOOGLE_TYPES:
            return _GOOGLE_TYPES[str(detail["reason"])]
    status = error.get("status")
    return _GOOGLE_TYPES.get(status) if isinstance(status, str) else None


def _with_google_type(error: dict[str, Any]) -> dict[str, Any]:
    if not error.get("type"):
        found = _google_type(error)
        if found:
            error["type"] = found
    return error


def _error_object(body: Any) -> dict[str, Any] | None:
    """The ``error`` object of a parsed body (``{"error": {...}}``, ``{"error": "text"}``,
    ``{"type": "error", "error": ...}``, ``{"detail": "..."}``, Gemini's ``[{"error": ...}]``,
    Cloudflare's ``{"success": false, "errors": [...]}``, a bare ``{"message", "code"}``), or
    None."""
    if isinstance(body, list) and len(body) == 1:
        body = body[0]  # Gemini's OpenAI-compatible API wraps its error in a list
    if not isinstance(body, Mapping):
        return None
    inner = body.get("error")
    if isinstance(inner, Mapping):
        return _with_google_type(dict(inner))
    if isinstance(inner, str) and inner.strip():
        return {"message": inner, **({"code": body["code"]} if "code" in body else {})}
    if "choices" in body:
        return None
    detail = body.get("detail")  # FastAPI-style servers (vLLM, LiteLLM proxies and friends)
    if isinstance(detail, str) and detail.strip():
        return {"message": detail}
    if isinstance(detail, list) and detail:
        return {"message": _detail_message(detail)}
    if body.get("object") == "error" and isinstance(body.get("message"), str):
        return dict(body)  # vLLM's {"object": "error", "message", "type", "code"}
    errors = body.get("errors")
    if isinstance(errors, list) and errors and body.get("success") is not True:
        first = errors[0]  # Cloudflare's {"success": false, "errors": [{"code", "message"}]}
        message = first.get("message") if isinstance(first, Mapping) else first
        if isinstance(message, str) and message.strip():
            return {"message": message}
    message = body.get("message", body.get("msg"))
    failed = body.get("success") is False or any(k in body for k in ("code", "status"))
    if isinstance(message, str) and message.strip() and failed:
        # A bare {"code": 1211, "message": "Unknown Model..."} (Zhipu, Baidu, Alibaba...), or
        # the inner object of {"error": {...}} that the openai SDK hands over.
        return _with_google_type({**body, "message": message})
    return None


def normalise_error_body(body: Any) -> Any:
    """An HTTP error answer's parsed body in the one shape ``error_from_response`` reads
    (``{"error": {...}}``), so FastAPI's ``detail`` lists keep the provider's words and
    OpenAI's ``param`` (the field refused) lands in ``metadata``."""
    error = _error_object(body)
    if error is None and isinstance(body, Mapping) and isinstance(body.get("message"), str):
        # the openai SDK hands over the inner object of {"error": {...}}
        error = _with_google_type(dict(body))
    if error is None:
        return body
    param = error.get("param")
    if isinstance(param, str) and param:
        metadata = error.get("metadata")
        error["metadata"] = {**(metadata if isinstance(metadata, Mapping) else {}), "param": param}
    return {"error": error}


def error_from_body(
    http_status: int,
    body: bytes | str,
    content_type: str | None = None,
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> PoeError | None:
    """The error an answer's body reports, or None when the body is not an error.

    Args:
        http_status: the answer's status (200 for errors sent as a success).
        body: the raw body.
        content_type: the answer's ``Content-Type``.
        request_id: the provider's request id.
        headers: the answer's headers (``Retry-After``).

    Returns:
        A classified :class:`PoeError` whose message is the provider's own (trimmed), or None
        for a JSON body that holds no error (a normal answer).
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    parsed: Any = None
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    error = _error_object(parsed) if parsed is not None else None
    if parsed is not None and error is None:
        return None
    if error is None:
        if not text.strip():
            return None
        error = {"message": summarise_body_text(text, http_status if http_status >= 400 else None)}
    found_status = classify_status(error, http_status)
    status = found_status or 502  # an error that says nothing about itself: the provider failed
    message = summarise_body_text(str(error.get("message") or f"HTTP {status}"), status)
    # The provider's own words first; our classification rides in metadata.
    found = error_from_response(
        status,
        {"error": {**error, "message": message}},
        headers,
        request_id=request_id,
    )
    if http_status < 400:
        found.metadata["http_status"] = http_status
        if content_type:
            found.metadata["content_type"] = content_type.split(";", 1)[0].strip()
        if found_status is None:
            # A success that is an error of no known kind: the same request gets it again.
            found.retryable = False
    return found
