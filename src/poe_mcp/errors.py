"""One error tree for every entry point and both backends.

Every failure the project reports is a :class:`PoeError`. Each class stands for one *kind*
(the word MCP results, the usage ledger and metrics use) and renders as the Poe/OpenAI error
JSON ``{"error": {"code", "type", "message", "metadata"}}``::

    PoeError
    ├── AuthError              kind=auth              401  bad or missing API key
    ├── BalanceError           kind=balance           402  Poe points spent
    ├── QuotaError             kind=quota             429  local budget / OpenAI insufficient_quota
    ├── RateLimitError         kind=rate_limit        429  too many requests (retried)
    ├── NetworkError           kind=network           -    connection refused/reset (retried)
    ├── RequestTimeoutError    kind=timeout           408  request timed out (retried)
    ├── InvalidRequestError    kind=invalid_request   400  bad parameters
    ├── NotFoundError          kind=not_found         404  unknown model or endpoint
    ├── ModerationError        kind=moderation        403  refused by moderation
    ├── TooLargeError          kind=too_large         413  request or attachment too large
    ├── UpstreamError          kind=upstream          5xx  the provider failed (retried)
    ├── OverloadedError        kind=overloaded        529  the provider is overloaded (retried)
    ├── IncompleteStreamError  kind=incomplete_stream -    stream broke / ended unfinished
    ├── MediaError             kind=media             -    a media bot gave no usable file
    ├── ToolExecutionError     kind=tool              -    a tool in the agent loop failed
    ├── StoreError             kind=store             503  the session/usage store is unreachable
    └── ConfigError            kind=config            -    the configuration is unusable

Map HTTP answers with :func:`error_from_response`; it is the only place status codes become classes.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "AuthError",
    "BalanceError",
    "ConfigError",
    "IncompleteStreamError",
    "InvalidRequestError",
    "MediaError",
    "ModerationError",
    "NetworkError",
    "NotFoundError",
    "OverloadedError",
    "PoeError",
    "QuotaError",
    "RateLimitError",
    "RequestTimeoutError",
    "StoreError",
    "TooLargeError",
    "ToolExecutionError",
    "UpstreamError",
    "error_from_response",
    "parse_retry_after",
]


class PoeError(Exception):
    """Base of every error the project raises.

    Attributes:
        message: what went wrong and what to do about it.
        status: the HTTP status, when there is one.
        request_id: the provider's request id (``x-request-id``), when known.
        retry_after: seconds the provider asked us to wait, when it said.
        code: the provider's own error code (int or str), when it gave one.
        metadata: extra fields for the JSON rendering.
    """

    kind: ClassVar[str] = "error"
    error_type: ClassVar[str] = "api_error"
    default_status: ClassVar[int | None] = None
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        code: int | str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status if status is not None else self.default_status
        self.request_id = request_id
        self.retry_after = retry_after
        self.code = code
        self.metadata: dict[str, Any] = dict(metadata or {})

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request id {self.request_id})"
        return self.message

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(kind={self.kind!r}, status={self.status}, message={self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """The Poe/OpenAI-format error body, with our ``kind`` in ``metadata``."""
        metadata: dict[str, Any] = {"kind": self.kind, **self.metadata}
        if self.request_id:
            metadata["request_id"] = self.request_id
        if self.retry_after is not None:
            metadata["retry_after"] = self.retry_after
        code = self.code if self.code is not None else (self.status or self.kind)
        return {
            "error": {
                "code": code,
                "type": self.error_type,
                "message": self.message,
                "metadata": metadata,
            }
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


class AuthError(PoeError):
    kind = "auth"
    error_type = "authentication_error"
    default_status = 401


class BalanceError(PoeError):
    kind = "balance"
    error_type = "insufficient_credits"
    default_status = 402


class QuotaError(PoeError):
    kind = "quota"
    error_type = "insufficient_quota"
    default_status = 429


class RateLimitError(PoeError):
    kind = "rate_limit"
    error_type = "rate_limit_error"
    default_status = 429
    retryable = True


class NetworkError(PoeError):
    kind = "network"
    error_type = "network_error"
    retryable = True


class RequestTimeoutError(PoeError):
    kind = "timeout"
    error_type = "timeout_error"
    default_status = 408
    retryable = True


class InvalidRequestError(PoeError):
    kind = "invalid_request"
    error_type = "invalid_request_error"
    default_status = 400


class NotFoundError(PoeError):
    kind = "not_found"
    error_type = "not_found_error"
    default_status = 404


class ModerationError(PoeError):
    kind = "moderation"
    error_type = "moderation_error"
    default_status = 403


class TooLargeError(PoeError):
    kind = "too_large"
    error_type = "request_too_large"
    default_status = 413


class UpstreamError(PoeError):
    kind = "upstream"
    error_type = "upstream_error"
    default_status = 502
    retryable = True


class OverloadedError(PoeError):
    kind = "overloaded"
    error_type = "overloaded_error"
    default_status = 529
    retryable = True


class IncompleteStreamError(PoeError):
    """A stream broke after it started, or ended without a finish reason.

    Never retried automatically (the caller has seen part of the answer); ``partial_text``
    keeps what arrived.
    """

    kind = "incomplete_stream"
    error_type = "upstream_error"

    def __init__(self, message: str, *, partial_text: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.partial_text = partial_text


class MediaError(PoeError):
    kind = "media"
    error_type = "media_error"


class ToolExecutionError(PoeError):
    kind = "tool"
    error_type = "tool_error"


class StoreError(PoeError):
    kind = "store"
    error_type = "store_unavailable"
    default_status = 503


class ConfigError(PoeError):
    kind = "config"
    error_type = "configuration_error"


_BY_STATUS: dict[int, type[PoeError]] = {
    400: InvalidRequestError,
    401: AuthError,
    402: BalanceError,
    403: ModerationError,
    404: NotFoundError,
    408: RequestTimeoutError,
    413: TooLargeError,
    422: InvalidRequestError,
    429: RateLimitError,
    500: UpstreamError,
    502: UpstreamError,
    503: UpstreamError,
    504: RequestTimeoutError,
    529: OverloadedError,
}

_HINTS: dict[type[PoeError], str] = {
    AuthError: "Check the API key (Poe keys: https://poe.com/api_key; run `poe-mcp doctor`).",
    BalanceError: (
        "Your Poe points are spent: add points at https://poe.com/api_key or wait for the "
        "monthly refresh."
    ),
    QuotaError: "The account's quota is used up: check the provider's billing page.",
}


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_response(
    status: int,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    request_id: str | None = None,
) -> PoeError:
    """Turn an HTTP error answer (Poe or OpenAI format) into the right :class:`PoeError`.

    Args:
        status: the HTTP status code.
        body: the parsed JSON body, or its text, or None.
        headers: response headers (for ``x-request-id`` and ``Retry-After``).
        request_id: the request id when the caller already has it.
    """
    error: Mapping[str, Any] = {}
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            error = inner
        elif isinstance(inner, str):
            error = {"message": inner}
    elif isinstance(body, str) and body.strip():
        error = {"message": body.strip()[:500]}

    code = error.get("code")
    err_type = str(error.get("type") or "")
    message = str(error.get("message") or f"HTTP {status}")
    metadata = error.get("metadata")
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    request_id = request_id or lowered.get("x-request-id")

    if code == "insufficient_quota" or err_type == "insufficient_quota":
        cls: type[PoeError] = QuotaError
    elif status == 403 and "permission" in err_type:
        cls = AuthError
    elif status == 402 or err_type == "insufficient_credits":
        cls = BalanceError
    elif status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = UpstreamError
    else:
        cls = InvalidRequestError

    hint = _HINTS.get(cls)
    if hint and hint not in message:
        message = f"{message} {hint}"
    return cls(
        message,
        status=status,
        request_id=request_id,
        retry_after=parse_retry_after(headers),
        code=code if isinstance(code, (int, str)) else None,
        metadata=metadata if isinstance(metadata, Mapping) else None,
    )
