"""How failures of Poe's bot protocol (and of ``fastapi_poe``) become our error kinds.

Three sources, one function each:

- an ``error`` event in the stream (``{allow_retry, text, error_type}``): :func:`error_event`;
- an HTTP answer that is not 2xx: the legacy backend's response hook raises
  :func:`~poe_mcp.errors.error_from_response` itself, so the status and ``Retry-After`` survive
  ``fastapi_poe``'s wrapping (it turns everything into ``BotError("Error communicating...")``);
- anything else ``fastapi_poe`` or ``httpx`` raises: :func:`map_exception`.

``error_type`` -> kind::

    insufficient_fund            BalanceError        (402) no points left
    user_message_too_long        TooLargeError       (413) shorten the message
    user_caused_error            InvalidRequestError (400) a bad parameter or request
    privacy_authorization_error  ModerationError     (403) see below
    none / unknown               UpstreamError (not retried when allow_retry is false)

``privacy_authorization_error`` is a refusal of *what was asked* (content or an attachment the
bot may not access), not of the credentials: the request was authenticated and the bot had
started answering. ``AuthError`` would send people to fix a key that works, so it is reported
as ``moderation`` (403, "refused by policy"), which is what the user can act on: change the
request.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .._logging import redact
from ..errors import (
    BalanceError,
    IncompleteStreamError,
    InvalidRequestError,
    ModerationError,
    NetworkError,
    PoeError,
    RequestTimeoutError,
    TooLargeError,
    UpstreamError,
)
from ._wire_errors import protocol_error

__all__ = ["error_event", "incomplete", "map_exception"]

logger = logging.getLogger("poe_mcp.backends.legacy")

_BY_ERROR_TYPE: dict[str, type[PoeError]] = {
    "insufficient_fund": BalanceError,
    "user_message_too_long": TooLargeError,
    "user_caused_error": InvalidRequestError,
    "privacy_authorization_error": ModerationError,
}

# (hint, words whose presence means the bot's own text already says it)
_HINTS: dict[type[PoeError], tuple[str, str]] = {
    BalanceError: ("Add points at https://poe.com/api_key.", "poe.com/api_key"),
    TooLargeError: ("Shorten the message or the conversation.", "Shorten"),
}


def error_event(
    payload: Any, *, bot: str, request_id: str | None = None, partial_text: str = ""
) -> PoeError:
    """The error for a bot-protocol ``error`` event.

    Args:
        payload: the event's data, parsed (a dict) or raw text.
        bot: the bot that sent it (for the message).
        request_id: the provider's request id, when known.
        partial_text: text that arrived before the error (kept in metadata for diagnostics).
    """
    data: dict[str, Any] = payload if isinstance(payload, dict) else {"text": str(payload)}
    error_type = data.get("error_type")
    allow_retry = bool(data.get("allow_retry", True))
    text = str(data.get("text") or "").strip() or f"{bot} reported an error"
    cls = _BY_ERROR_TYPE.get(str(error_type)) if error_type else None
    if cls is None:
        # The REST API reports the same failure as an upstream error; allow_retry says
        # whether sending it again can help.
        cls = UpstreamError
    message = f"{bot}: {text}"
    hint, marker = _HINTS.get(cls, ("", ""))
    if hint and marker not in message:
        message = f"{message} {hint}"
    metadata: dict[str, Any] = {"allow_retry": allow_retry, "backend": "legacy"}
    if error_type:
        metadata["error_type"] = error_type
    if partial_text:
        metadata["partial_chars"] = len(partial_text)
    return cls(
        message,
        request_id=request_id,
        code=error_type or None,
        metadata=metadata,
        retryable=None if allow_retry else False,
    )


def _event_payload(message: str) -> dict[str, Any] | None:
    """The parsed data of an ``error`` event, when ``message`` is one (fastapi_poe raises
    ``BotError(event.data)`` with the raw JSON)."""
    if not message.startswith("{"):
        return None
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if isinstance(data, dict) and ("allow_retry" in data or "text" in data):
        return data
    return None


def map_exception(
    exc: BaseException, *, bot: str, where: str, request_id: str | None = None
) -> PoeError:
    """Translate what ``fastapi_poe`` / ``httpx`` raised into our error tree.

    Call it inside the ``except`` block: an exception that is no transport, protocol or
    ``fastapi_poe`` failure (a ``TypeError`` in our own code, say) is re-raised as it is, never
    turned into a retryable upstream error. Answers that break the protocol (not JSON, wrong
    shapes) are upstream errors that are not retried: the same request gets the same answer.

    Args:
        exc: the exception.
        bot: the bot name (for messages and error events).
        where: the URL or endpoint, for connection errors ("cannot reach ...").
        request_id: the provider's request id, when known.
    """
    import fastapi_poe as fp
    import httpx
    import httpx_sse
    import pydantic
    from fastapi_poe.client import AttachmentUploadError

    if isinstance(exc, PoeError):
        return exc
    # fastapi_poe wraps transport failures (and our hook's PoeError) in BotError(...) from e.
    cause = exc.__cause__
    if isinstance(exc, fp.BotError) and cause is not None:
        return map_exception(cause, bot=bot, where=where, request_id=request_id)
    if isinstance(exc, fp.BotError):
        message = str(exc)
        payload = _event_payload(message)
        if payload is not None:
            return error_event(payload, bot=bot, request_id=request_id)
        return _protocol(bot, redact(message), request_id)
    if isinstance(exc, (ValueError, pydantic.ValidationError)):  # JSON or shapes fastapi_poe read
        return _protocol(bot, f"{type(exc).__name__}: {redact(str(exc))}", request_id)
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(
            f"no answer from {where} within the timeout",
            status=None,
            request_id=request_id,
            # accepted: the request reached the bot (a media bot may still be working)
            metadata={"accepted": not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))},
        )
    if isinstance(exc, httpx.RemoteProtocolError):
        return NetworkError(
            f"the connection to {where} broke before the answer was complete",
            request_id=request_id,
        )
    if isinstance(exc, httpx.TransportError):
        detail = redact(str(exc)) or type(exc).__name__
        return NetworkError(f"cannot reach {where}: {detail}", request_id=request_id)
    if isinstance(exc, httpx_sse.SSEError):
        return UpstreamError(
            f"{where} did not answer with an event stream: {redact(str(exc))[:200]}",
            request_id=request_id,
        )
    if isinstance(exc, AttachmentUploadError):
        return UpstreamError(f"the upload failed: {redact(str(exc))[:300]}", request_id=request_id)
    if isinstance(exc, httpx.HTTPError):
        return NetworkError(
            f"talking to {where} failed: {type(exc).__name__}", request_id=request_id
        )
    raise exc  # not a wire failure: our own bug, which must propagate


def _protocol(bot: str, detail: str, request_id: str | None) -> PoeError:
    error = protocol_error(
        f"{bot} sent an answer that breaks the bot protocol: {detail[:300]}", request_id=request_id
    )
    error.metadata["backend"] = "legacy"
    return error


def incomplete(bot: str, text: str, request_id: str | None) -> IncompleteStreamError:
    """The error for a stream that ended without the protocol's ``done`` event."""
    return IncompleteStreamError(
        f"{bot} stopped without finishing its answer (no 'done' event)",
        partial_text=text,
        request_id=request_id,
        metadata={"backend": "legacy"},
    )
