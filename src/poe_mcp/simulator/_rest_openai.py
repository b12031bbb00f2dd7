"""The simulator's OpenAI mode: OpenAI's API as it answers (``Simulator(provider="openai")``).

What changes from the Poe mode (everything else, replies, faults and ``/sim/`` hooks included,
stays the same):

- ``GET /v1/models`` is OpenAI's plain list: ``id, object, created, owned_by`` only, chat and
  non-chat models alike (embeddings, speech, transcription, images, moderation, instruct), from
  the one table in :mod:`poe_mcp._openai_models`.
- ``/v1/chat/completions`` serves the table's chat models by their exact id or a dated snapshot
  of one, and answers with the dated id (``gpt-4o`` -> ``gpt-4o-2024-08-06``). A non-chat model
  gets OpenAI's 404 "This is not a chat model"; an unknown one ``model_not_found``.
- Keys: ``invalid*`` -> 401 ``invalid_api_key``, ``broke*`` -> 429 ``insufficient_quota`` on model
  calls; a missing key -> 401, on ``/v1/models`` too (OpenAI's list is not public, Poe's is).
- Error bodies are OpenAI's ``{"error": {"message", "type", "param", "code"}}``. A fault whose
  ``error_type`` is one of OpenAI's codes (``billing_hard_limit_reached``, ``insufficient_quota``,
  ``rate_limit_exceeded``, ``context_length_exceeded``...) comes back with that ``code``::

      sim.add_fault("status", status=400, error_type="billing_hard_limit_reached")

Errors inside a stream (``stream_error`` faults) keep the Poe mode's shape.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._openai_models import CHAT, OPENAI_MODELS, OpenAIModel, api_item, lookup
from ..errors import AuthError, InvalidRequestError, NotFoundError, QuotaError
from ._catalog import ModelSpec

__all__ = [
    "OPENAI_ERROR_CODES",
    "answered_id",
    "check_key",
    "find_chat_model",
    "model_item",
    "models_body",
    "openai_error_body",
    "wrap",
]

KEYS_URL = "https://platform.openai.com/api-keys"

# OpenAI's error codes and the ``type`` it sends with each.
OPENAI_ERROR_CODES: dict[str, str] = {
    "invalid_api_key": "invalid_request_error",
    "model_not_found": "invalid_request_error",
    "insufficient_quota": "insufficient_quota",
    "billing_hard_limit_reached": "invalid_request_error",
    "billing_not_active": "insufficient_quota",
    "rate_limit_exceeded": "requests",
    "context_length_exceeded": "invalid_request_error",
    "content_policy_violation": "invalid_request_error",
    "unsupported_country_region_territory": "request_forbidden",
    "account_deactivated": "access_terminated",
}
# HTTP status -> (type, code) when the error has no code of OpenAI's own.
_BY_STATUS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", None),
    403: ("invalid_request_error", None),
    404: ("invalid_request_error", None),
    413: ("invalid_request_error", "context_length_exceeded"),
    429: ("requests", "rate_limit_exceeded"),
}
_MTOK = Decimal(1_000_000)


def _per_token(per_mtok: str | None) -> str | None:
    return None if per_mtok is None else format(Decimal(per_mtok) / _MTOK, "f")


def _spec(model: OpenAIModel) -> ModelSpec:
    return ModelSpec(
        model.id,
        "text",
        "openai",
        f"OpenAI {model.id}",
        context_window=model.context_window or 128_000,
        max_output_tokens=model.max_output_tokens or 4_096,
        tools=bool(model.tools),
        vision=bool(model.vision),
        prompt_price=_per_token(model.input_per_mtok),
        completion_price=_per_token(model.output_per_mtok),
        priced=model.input_per_mtok is not None,
    )


_CHAT_SPECS: dict[str, ModelSpec] = {m.id: _spec(m) for m in OPENAI_MODELS if m.kind == CHAT}


def models_body() -> dict[str, Any]:
    """``GET /v1/models``: every model of the table, each as OpenAI's four fields."""
    items = [api_item(m, m.id) for m in OPENAI_MODELS]
    items += [api_item(m, m.snapshot) for m in OPENAI_MODELS if m.snapshot]
    return {"object": "list", "data": items}


def model_item(name: str) -> dict[str, Any]:
    """``GET /v1/models/<id>``: the model's four fields, or OpenAI's 404."""
    found = lookup(name) if name == name.lower() else None
    if found is None:
        raise _not_found(name)
    return api_item(found, name)


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(
        f"The model `{name}` does not exist or you do not have access to it.",
        code="model_not_found",
        metadata={"param": "model"},
    )


def find_chat_model(name: str | None) -> ModelSpec:
    """The chat model ``name`` (exact id or a dated snapshot of one), as OpenAI resolves it.

    Raises:
        InvalidRequestError: no model given.
        NotFoundError: unknown model (``model_not_found``) or a model that cannot chat.
    """
    if not name:
        raise InvalidRequestError("you must provide a model parameter", metadata={"param": "model"})
    found = lookup(name) if name == name.lower() else None  # OpenAI's ids are case-sensitive
    if found is None:
        raise _not_found(name)
    if found.kind == "responses":
        raise NotFoundError(
            "This model is only supported in v1/responses and not in v1/chat/completions.",
            metadata={"param": "model"},
        )
    if found.kind != CHAT:
        raise NotFoundError(
            "This is not a chat model and thus not supported in the v1/chat/completions "
            "endpoint. Did you mean to use v1/completions?",
            metadata={"param": "model"},
        )
    return _CHAT_SPECS[found.id]


def answered_id(model: ModelSpec, requested: str | None) -> str:
    """The id OpenAI puts in its answer: the dated snapshot of an alias, else what was asked."""
    if requested and requested != model.id:
        return requested  # already a snapshot
    found = lookup(model.id)
    return (found.snapshot if found else None) or model.id


def check_key(key: str | None, need_points: bool) -> None:
    """OpenAI's key checks (``need_points``: this is a model call, so quota applies).

    Raises:
        AuthError: no key, or one starting with ``invalid`` (``invalid_api_key``).
        QuotaError: a key starting with ``broke`` on a model call (``insufficient_quota``).
    """
    if not key:
        raise AuthError(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    if key.startswith("invalid"):
        raise AuthError(
            f"Incorrect API key provided. You can find your API key at {KEYS_URL}.",
            code="invalid_api_key",
        )
    if need_points and key.startswith("broke"):
        raise QuotaError(
            "You exceeded your current quota, please check your plan and billing details.",
            code="insufficient_quota",
        )


def openai_error_body(status: int, body: Any) -> dict[str, Any]:
    """OpenAI's error body for an error the simulator rendered in Poe's shape."""
    found = body.get("error") if isinstance(body, dict) else None
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    meta = error.get("metadata")
    metadata: dict[str, Any] = meta if isinstance(meta, dict) else {}
    raw_code = error.get("code")
    given = str(error.get("type") or "")
    code: str | None
    if isinstance(raw_code, str) and raw_code in OPENAI_ERROR_CODES:
        code = raw_code
    elif given in OPENAI_ERROR_CODES:
        code = given  # a fault's error_type naming an OpenAI code
    else:
        code = None
    if code is not None:
        err_type = OPENAI_ERROR_CODES[code]
    else:
        err_type, code = _BY_STATUS.get(status, ("server_error", None))
    message = str(error.get("message") or f"HTTP {status}")
    param = metadata.get("param")
    return {"error": {"message": message, "type": err_type, "param": param, "code": code}}


def wrap(app: ASGIApp) -> ASGIApp:
    """Rewrite error answers of ``app`` into OpenAI's body and drop Poe-only headers."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def intercept(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k != b"x-poe-feature-active"
                ]
                message = {**message, "headers": headers}
                if message["status"] < 400:
                    await send(message)
                    return
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await _send_rewritten(send, start, b"".join(chunks))

        await app(scope, receive, intercept)

    return wrapped


async def _send_rewritten(send: Send, start: Message, raw: bytes) -> None:
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        raw = json.dumps(openai_error_body(start["status"], body)).encode()
    headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
    headers.append((b"content-length", str(len(raw)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": raw, "more_body": False})
