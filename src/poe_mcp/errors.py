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
    │   └── ToolArgumentsError                        400  a model's tool arguments fail the schema
    ├── NotFoundError          kind=not_found         404  unknown model or endpoint
    │   └── SessionNotFoundError                      404  unknown or expired session_id
    ├── ModerationError        kind=moderation        403  refused by moderation
    ├── TooLargeError          kind=too_large         413  request or attachment too large
    ├── UpstreamError          kind=upstream          5xx  the provider failed (retried)
    ├── OverloadedError        kind=overloaded        529  the provider is overloaded (retried)
    ├── IncompleteStreamError  kind=incomplete_stream -    stream broke / ended unfinished
    ├── InvalidResponseError   kind=invalid_response  -    structured output that fails its schema
    ├── MediaError             kind=media             -    a media bot gave no usable file
    ├── ToolExecutionError     kind=tool              -    a tool in the agent loop failed
    ├── StoreError             kind=store             503  the session/usage store is unreachable
    └── ConfigError            kind=config            -    the configuration is unusable

Map HTTP answers with :func:`error_from_response`; it is the only place status codes become classes.
"""

from __future__ import annotations

import email.utils
import html
import json
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar, TypedDict, Unpack

from . import _constants as C
from ._providers import PROVIDERS, Provider
from ._redact import redact, scrub_obj

__all__ = [
    "AuthError",
    "BalanceError",
    "ConfigError",
    "IncompleteStreamError",
    "InvalidRequestError",
    "InvalidResponseError",
    "MediaError",
    "ModerationError",
    "NetworkError",
    "NotFoundError",
    "OverloadedError",
    "PoeError",
    "QuotaError",
    "RateLimitError",
    "RequestTimeoutError",
    "SessionNotFoundError",
    "StoreError",
    "TooLargeError",
    "ToolArgumentsError",
    "ToolExecutionError",
    "UpstreamError",
    "add_hint",
    "error_from_response",
    "parse_retry_after",
    "summarise_body_text",
]


class _Kind(TypedDict, total=False):
    """The class keywords of a kind (``class AuthError(PoeError, kind="auth", ...)``)."""

    kind: str
    error_type: str
    default_status: int
    retryable: bool


class PoeError(Exception):
    """Base of every error the project raises.

    Attributes:
        message: what went wrong and what to do about it.
        status: the HTTP status, when there is one.
        request_id: the provider's request id (``x-request-id``), when known.
        retry_after: seconds the provider asked us to wait, when it said.
        code: the provider's own error code (int or str), when it gave one.
        metadata: extra fields for the JSON rendering.
        retryable: whether sending the request again could succeed; the class decides, and
            one error can say no (``retryable=False``) when its cause cannot change, such as
            an answer that breaks the protocol or a 200 whose body is an error.

    Every active key and bearer token is scrubbed from the message, metadata, code and
    request id (a provider's error body may echo the key in any field), when the error is
    made and again when it is shown.
    """

    kind: ClassVar[str] = "error"
    error_type: ClassVar[str] = "api_error"
    default_status: ClassVar[int | None] = None
    retryable: bool = False

    def __init_subclass__(cls, **kind: Unpack[_Kind]) -> None:
        """A kind's class line sets these attributes, as the tree above does; what it leaves
        out it inherits."""
        super().__init_subclass__()
        for name, value in kind.items():
            setattr(cls, name, value)

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        code: int | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.status = status if status is not None else self.default_status
        self.request_id = None if request_id is None else redact(request_id)
        self.retry_after = retry_after
        self.code = redact(code) if isinstance(code, str) else code
        self.metadata: dict[str, Any] = scrub_obj(dict(metadata or {}))
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        if self.request_id:
            return redact(f"{self.message} (request id {self.request_id})")
        return redact(self.message)

    def __repr__(self) -> str:
        name = type(self).__name__
        return redact(f"{name}(kind={self.kind!r}, status={self.status}, message={self.message!r})")

    def to_dict(self) -> dict[str, Any]:
        """The Poe/OpenAI-format error body, with our ``kind`` in ``metadata``."""
        metadata: dict[str, Any] = {"kind": self.kind, **self.metadata}
        if self.request_id:
            metadata["request_id"] = self.request_id
        if self.retry_after is not None:
            metadata["retry_after"] = self.retry_after
        code = self.code if self.code is not None else (self.status or self.kind)
        body: dict[str, Any] = scrub_obj(
            {
                "error": {
                    "code": code,
                    "type": self.error_type,
                    "message": self.message,
                    "metadata": metadata,
                }
            }
        )
        return body

    def to_json(self) -> str:
        """The error as a JSON object text (see ``to_dict``)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


class AuthError(PoeError, kind="auth", error_type="authentication_error", default_status=401):
    """The API key is missing, malformed or refused (401)."""


class BalanceError(PoeError, kind="balance", error_type="insufficient_credits", default_status=402):
    """The account has no points (or credits) left for the call (402)."""


class QuotaError(PoeError, kind="quota", error_type="insufficient_quota", default_status=429):
    """The account's quota is used up (429 ``insufficient_quota``): waiting does not help."""


class RateLimitError(
    PoeError, kind="rate_limit", error_type="rate_limit_error", default_status=429, retryable=True
):
    """Too many requests (429): retried after the server's delay, then raised."""


class NetworkError(PoeError, kind="network", error_type="network_error", retryable=True):
    """The server could not be reached, or the connection broke (retryable)."""


class RequestTimeoutError(
    PoeError, kind="timeout", error_type="timeout_error", default_status=408, retryable=True
):
    """The request took longer than its timeout (retryable)."""


class InvalidRequestError(
    PoeError, kind="invalid_request", error_type="invalid_request_error", default_status=400
):
    """The request is malformed or names something the server refuses (400)."""


class ToolArgumentsError(InvalidRequestError):
    """A model's arguments for a tool that fail the tool's schema (or are not a JSON object).

    The agent feeds the message back to the model and counts these per tool: the model gets
    ``TOOL_ARG_RETRIES`` chances to correct them before the run stops.
    """


class NotFoundError(PoeError, kind="not_found", error_type="not_found_error", default_status=404):
    """The model, session or file does not exist (404)."""


class SessionNotFoundError(NotFoundError):
    """A ``session_id`` that names no live conversation (never existed, expired or mistyped).

    Never a fresh conversation under that id: omit the id (or pass ``"new"``) to start one.
    """

    def __init__(self, session_id: str, *, ttl_s: float | None = None) -> None:
        idle = f" (conversations expire after {ttl_s:g} s idle)" if ttl_s else ""
        super().__init__(
            f"session {session_id!r} does not exist or has expired{idle}. To start a new "
            'conversation, leave the session id out or give "new"; the live ones are listed '
            "by list_sessions (MCP) and `poe-mcp sessions list`.",
            metadata={"session_id": session_id, "reason": "unknown_or_expired_session"},
        )
        self.session_id = session_id


class ModerationError(
    PoeError, kind="moderation", error_type="moderation_error", default_status=403
):
    """The provider's moderation refused the prompt or the answer (403)."""


class TooLargeError(PoeError, kind="too_large", error_type="request_too_large", default_status=413):
    """The request or an attachment is larger than the server accepts (413)."""


class UpstreamError(
    PoeError, kind="upstream", error_type="upstream_error", default_status=502, retryable=True
):
    """The provider (or the model behind it) failed: a 5xx or a broken answer."""


class OverloadedError(
    PoeError, kind="overloaded", error_type="overloaded_error", default_status=529, retryable=True
):
    """The model is overloaded (529): retryable, a fallback model may answer."""


class IncompleteStreamError(PoeError, kind="incomplete_stream", error_type="upstream_error"):
    """A stream broke after it started, or ended without a finish reason.

    Never retried automatically (the caller has seen part of the answer); ``partial_text``
    keeps what arrived.
    """

    def __init__(self, message: str, *, partial_text: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.partial_text = redact(partial_text)

    def to_dict(self) -> dict[str, Any]:
        """The error body, with the text that arrived before the break (``partial_text``)."""
        data = super().to_dict()
        if self.partial_text:
            data["error"]["metadata"]["partial_text"] = self.partial_text
        return data


class InvalidResponseError(PoeError, kind="invalid_response", error_type="invalid_response_error"):
    """A structured answer (``response_format``) that is not valid JSON or fails its schema,
    after the repair round.

    ``raw_text`` keeps the model's last answer as it came; ``metadata["errors"]`` lists what
    the validator found.
    """

    def __init__(self, message: str, *, raw_text: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.raw_text = redact(raw_text)


class MediaError(PoeError, kind="media", error_type="media_error"):
    """A media file could not be fetched, checked or saved."""


class ToolExecutionError(PoeError, kind="tool", error_type="tool_error"):
    """A tool failed while running."""


class StoreError(PoeError, kind="store", error_type="store_unavailable", default_status=503):
    """The session and usage store is unavailable (503)."""


class ConfigError(PoeError, kind="config", error_type="configuration_error"):
    """A setting that cannot be used. Its message never shows a value that looks like a key
    (a key pasted into the wrong setting): such values are masked."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        from ._redact import mask_secrets

        super().__init__(mask_secrets(message), **kwargs)


_BY_STATUS: dict[int, type[PoeError]] = {
    400: InvalidRequestError,
    401: AuthError,
    402: BalanceError,
    403: ModerationError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: UpstreamError,  # a conflicting request in flight (OpenAI's lock timeout): try again
    413: TooLargeError,
    422: InvalidRequestError,
    425: UpstreamError,  # too early: the server asks for the request again later
    429: RateLimitError,
    500: UpstreamError,
    502: UpstreamError,
    503: UpstreamError,
    504: RequestTimeoutError,
    529: OverloadedError,
}

# Error codes (OpenAI's ``code``, Poe's ``type``, the bot protocol's ``error_type``) that decide
# the kind whatever the status says: OpenAI answers 400 for a spent billing limit, an oversized
# context and a policy refusal, and an older Poe page documents 400 for an unknown model.
_BY_CODE: dict[str, type[PoeError]] = {
    "invalid_api_key": AuthError,
    "authentication_error": AuthError,
    "permission_error": AuthError,
    "account_deactivated": AuthError,
    "access_terminated": AuthError,
    # OpenAI's 403 for a country it does not serve: a permission, not a moderation refusal
    "unsupported_country_region_territory": AuthError,
    "request_forbidden": AuthError,
    "insufficient_quota": QuotaError,
    "billing_hard_limit_reached": QuotaError,
    "billing_not_active": QuotaError,
    "insufficient_credits": BalanceError,
    "insufficient_fund": BalanceError,
    "rate_limit_exceeded": RateLimitError,
    "rate_limit_error": RateLimitError,
    "model_not_found": NotFoundError,
    "not_found_error": NotFoundError,
    "context_length_exceeded": TooLargeError,
    "request_too_large": TooLargeError,
    "user_message_too_long": TooLargeError,
    "content_policy_violation": ModerationError,
    "content_filter": ModerationError,
    "moderation_error": ModerationError,
    "overloaded_error": OverloadedError,
}

# Codes whose cause no key or billing page fixes: their own message says all there is.
_NO_HINT_CODES = frozenset({"unsupported_country_region_territory", "request_forbidden"})
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_EMPTY_AFTER_DROP = {
    "auth": "The API key was refused.",
    "balance": "The account has no credit left.",
    "quota": "The account has no quota left.",
}


def _drop_other_pages(message: str, provider: Provider, kind: str) -> str:
    """``message`` without the sentences that point at another provider's pages (a compatible
    server relaying OpenAI's "find your key at platform.openai.com", Poe's text reaching the
    openai provider): they would send the user to the wrong place."""
    foreign = [p.site for p in PROVIDERS.values() if p.site and p.name != provider.name]
    lowered = message.lower()
    if not any(m in lowered for m in foreign):
        return message
    kept = [
        part
        for part in _SENTENCE_END.split(message.strip())
        if not any(m in part.lower() for m in foreign)
    ]
    return " ".join(kept) or _EMPTY_AFTER_DROP.get(kind, "")


def add_hint(
    exc: PoeError, provider: Provider | str | None, base_url: str | None = None
) -> PoeError:
    """Add the provider's one hint to ``exc`` (once; never when the message already says it).

    Keys and billing have a page of their own at each provider (:class:`Provider`'s
    ``key_hint`` and ``billing_hint``): Poe's for Poe, OpenAI's for OpenAI, and the configured
    base URL for any other compatible provider (never Poe's page). A sentence of the
    provider's message that names another provider's page is dropped, so the message points
    at one place. A local budget refusal (``quota`` raised here, not by a provider) gets none,
    and neither does a refusal no key fixes (an unsupported country).

    Args:
        exc: the error.
        provider: the :class:`Provider` that answered, or its name (then ``base_url`` says
            where it is).
        base_url: where a provider given by name is (its REST base URL).

    Returns:
        ``exc``, for ``raise add_hint(...)``.
    """
    if provider is None or "used" in exc.metadata:  # "used": a budget's own refusal
        return exc
    if isinstance(provider, str):
        provider = Provider.named(provider, base_url)
    hint = provider.hint(exc.kind)
    if hint is None:
        return exc
    message = _drop_other_pages(exc.message, provider, exc.kind)
    if not (isinstance(exc.code, str) and exc.code.lower() in _NO_HINT_CODES):
        marker = provider.site.lower()
        if marker not in message.lower() and hint not in message:
            message = f"{message.rstrip()} {hint}".lstrip()
    if message != exc.message:
        exc.message = message
        exc.args = (message,)
    return exc


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


_HTML_START = re.compile(r"^\s*(<!doctype html|<html|<head|<body|<\?xml)", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<(title|h1)[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def summarise_body_text(body: str, status: int | None = None) -> str:
    """A provider's non-JSON answer as one short line: its own words, trimmed.

    An HTML page (a CDN's 502/503/504 page, a proxy's login page) is never shown raw: it
    becomes ``HTTP <status>: <its title>`` (``<title>``, else the first ``<h1>``).
    """
    text = body.strip()
    if _HTML_START.match(text) or (text.startswith("<") and "</" in text[:2000]):
        found = _HTML_TITLE.search(text)
        title = " ".join(_TAG.sub(" ", found.group(2)).split()) if found else ""
        title = html.unescape(title)[: C.ERROR_QUOTE_CHARS] or "an HTML error page"
        return f"HTTP {status}: {title}" if status else f"an HTML page: {title}"
    text = " ".join(text.split())
    if len(text) > C.ERROR_QUOTE_CHARS:
        text = text[: C.ERROR_QUOTE_CHARS] + "..."
    return text


def error_from_response(
    status: int,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    request_id: str | None = None,
    provider: str | None = None,
    base_url: str | None = None,
) -> PoeError:
    """Turn an HTTP error answer (Poe or OpenAI format) into the right :class:`PoeError`.

    The provider's error code (``code``, or ``type``) decides the kind where it names one
    (see ``_BY_CODE``); otherwise the status does.

    Args:
        status: the HTTP status code.
        body: the parsed JSON body, or its text, or None.
        headers: response headers (for ``x-request-id`` and ``Retry-After``).
        request_id: the request id when the caller already has it.
        provider: who answered; with it the error gets that provider's hint
            (see :func:`add_hint`; the client adds it otherwise).
        base_url: where that provider is (its REST base URL).
    """
    error: Mapping[str, Any] = {}
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            error = inner
        elif isinstance(inner, str):
            error = {"message": inner}
    elif isinstance(body, str) and body.strip():
        error = {"message": summarise_body_text(body, status)}

    code = error.get("code")
    err_type = str(error.get("type") or "")
    message = str(error.get("message") or f"HTTP {status}")
    metadata = error.get("metadata")
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    request_id = request_id or lowered.get("x-request-id")

    by_code = _BY_CODE.get(code.lower()) if isinstance(code, str) else None
    cls: type[PoeError]
    if by_code is not None:
        cls = by_code
    elif err_type.lower() in _BY_CODE:
        cls = _BY_CODE[err_type.lower()]
    elif status == 403 and "permission" in err_type:
        cls = AuthError
    elif status == 402:
        cls = BalanceError
    elif status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = UpstreamError
    else:
        cls = InvalidRequestError

    found = cls(
        message,
        status=status,
        request_id=request_id,
        retry_after=parse_retry_after(headers),
        code=code if isinstance(code, (int, str)) else None,
        metadata=metadata if isinstance(metadata, Mapping) else None,
    )
    if "x-poe-simulator" in lowered:  # the built-in simulator answered: the ledger says so
        found.metadata["simulated"] = True
    return add_hint(found, provider, base_url) if provider else found
