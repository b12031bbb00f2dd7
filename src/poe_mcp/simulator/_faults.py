"""Scripted faults: outcomes queued for the next requests (``POST /sim/faults``).

A fault is consumed by the first request it matches. By default a fault matches model calls
(``POST /v1/chat/completions``, ``POST /v1/responses`` and ``POST /bot/<name>``); ``path``
narrows it to requests whose path starts with that prefix (``"*"`` matches every request except
``/sim/`` and ``/media/``), and ``model`` to one model. ``times`` repeats it; ``times: 0``
strikes every matching request until the faults are cleared.

Kinds:

=============== ===============================================================================
``status``      answer ``status`` with Poe's error body (``error_type``, ``message``) and, when
                given, ``Retry-After: <retry_after>`` / ``retry-after-ms: <retry_after_ms>``
``delay``       wait ``delay_s`` seconds, then answer normally; a stream also waits
                ``chunk_delay_s`` before each chunk (a slow model, e.g. to test cancelling)
``drop``        close the connection without any answer
``cut``         stream: send ``after_chunks`` chunks, then close (no finish, no ``[DONE]``);
                non-stream requests: close the connection after a truncated body
``malformed``   answer 200 with a body (or SSE data line) that is not valid JSON
``stream_error`` stream: send ``after_chunks`` chunks, then an ``error`` event
                (``error_type``, ``message``, ``allow_retry``); non-stream requests: a status
                error as for ``status``
``invalid_json`` answer 200 normally, but with text that is not valid JSON (prose, then the
                answer cut in half): exercises a client's structured-output repair
``quirk``       answer the way some other provider would: ``quirks`` names the shapes (SSE
                framing, tool-call indexes, content parts, error bodies...); see ``_quirks.py``
=============== ===============================================================================

JSON shape (one object, a list of them, or ``{"faults": [...]}``)::

    {"kind": "status", "status": 429, "retry_after": 2, "times": 1}
    {"kind": "cut", "after_chunks": 3, "model": "Claude-Sonnet-4"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..errors import InvalidRequestError
from ._quirks import check_quirks

__all__ = ["DEFAULT_ERROR_TYPES", "FAULT_KINDS", "Fault", "FaultKind", "parse_faults"]

FaultKind = Literal[
    "status", "delay", "drop", "cut", "malformed", "stream_error", "invalid_json", "quirk"
]  # fmt: skip
FAULT_KINDS: tuple[str, ...] = (
    "status", "delay", "drop", "cut", "malformed", "stream_error", "invalid_json", "quirk"
)  # fmt: skip

DEFAULT_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_credits",
    403: "moderation_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "provider_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
    529: "overloaded_error",
}

_MODEL_CALL_PREFIXES = ("/v1/chat/completions", "/v1/responses", "/bot/")


@dataclass(slots=True)
class Fault:
    """One scripted outcome; what each kind does: the docstring of this module,
    ``poe_mcp.simulator._faults`` (``help(poe_mcp.simulator._faults)``), or the README's
    simulator section.

    Attributes:
        kind: one of :data:`FAULT_KINDS`.
        status: HTTP status for ``status`` (and non-stream ``stream_error``).
        error_type: Poe's error ``type``; defaults from the status (or ``provider_error``).
        message: the error message.
        retry_after: seconds for the ``Retry-After`` header, when set.
        retry_after_ms: milliseconds for the ``retry-after-ms`` header, when set.
        delay_s: seconds to wait for ``delay``.
        chunk_delay_s: seconds a ``delay`` stream waits before each chunk.
        after_chunks: chunks sent before ``cut`` / ``stream_error`` strikes.
        allow_retry: ``allow_retry`` of the bot-protocol ``error`` event.
        path: path prefix the fault applies to (None: model calls; ``"*"``: everything).
        model: model id the fault applies to (any case), None for any.
        times: how many matching requests it strikes.
        quirks: for ``quirk``: the provider quirks to answer with (``QUIRKS``).
    """

    kind: FaultKind = "status"
    status: int = 500
    error_type: str | None = None
    message: str | None = None
    retry_after: float | None = None
    retry_after_ms: int | None = None
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    after_chunks: int = 1
    allow_retry: bool = True
    path: str | None = None
    model: str | None = None
    times: int = 1
    quirks: list[str] = field(default_factory=list)

    @property
    def resolved_error_type(self) -> str:
        """The error type the fault answers with (its own, else the one its status implies)."""
        if self.error_type:
            return self.error_type
        if self.kind == "stream_error":
            return "provider_error"
        return DEFAULT_ERROR_TYPES.get(self.status, "provider_error")

    @property
    def resolved_message(self) -> str:
        """The error message the fault answers with (its own, else a generic one)."""
        return self.message or f"Simulated fault: {self.kind} ({self.resolved_error_type})"

    def matches(self, path: str, model: str | None) -> bool:
        """Whether the fault applies to a request for ``path`` and ``model``."""
        if self.model is not None and (model is None or model.lower() != self.model.lower()):
            return False
        if self.path == "*":
            return not path.startswith(("/sim/", "/media/"))
        if self.path is None:
            return path.startswith(_MODEL_CALL_PREFIXES)
        return path.startswith(self.path)

    def headers(self) -> dict[str, str]:
        """Retry headers this fault's error answer carries."""
        out: dict[str, str] = {}
        if self.retry_after is not None:
            ra = self.retry_after
            out["retry-after"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        if self.retry_after_ms is not None:
            out["retry-after-ms"] = str(self.retry_after_ms)
        return out

    def error_body(self) -> dict[str, Any]:
        """Poe's error body for this fault."""
        return {
            "error": {
                "code": self.status,
                "type": self.resolved_error_type,
                "message": self.resolved_message,
                "metadata": {"simulated_fault": self.kind},
            }
        }

    def to_dict(self) -> dict[str, Any]:
        """The fault as a JSON-ready dict."""
        return asdict(self)


def _one(raw: Any) -> Fault:
    if not isinstance(raw, Mapping):
        raise InvalidRequestError("each fault must be a JSON object")
    fields = set(Fault.__dataclass_fields__)
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise InvalidRequestError(
            f"unknown fault field(s): {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
        )
    kind = raw.get("kind", "status")
    if kind not in FAULT_KINDS:
        raise InvalidRequestError(
            f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}"
        )
    try:
        fault = Fault(**dict(raw))
        fault.status = int(fault.status)
        fault.times = int(fault.times)
        fault.after_chunks = int(fault.after_chunks)
        fault.delay_s = float(fault.delay_s)
        fault.chunk_delay_s = float(fault.chunk_delay_s)
        fault.quirks = check_quirks(fault.quirks)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"bad fault {dict(raw)!r}: {exc}") from exc
    if fault.times < 0 or fault.after_chunks < 0 or fault.delay_s < 0 or fault.chunk_delay_s < 0:
        raise InvalidRequestError(
            "fault times must be >= 0 (0: until cleared), after_chunks, delay_s and "
            "chunk_delay_s >= 0"
        )
    if not 400 <= fault.status <= 599:
        raise InvalidRequestError(f"fault status must be 400..599, got {fault.status}")
    return fault


def parse_faults(payload: Any) -> list[Fault]:
    """Faults from ``POST /sim/faults`` JSON: an object, a list, or ``{"faults": [...]}``.

    Raises:
        InvalidRequestError: unknown kind or field, or a value of the wrong type.
    """
    if isinstance(payload, Mapping) and "faults" in payload:
        payload = payload["faults"]
    items = payload if isinstance(payload, list) else [payload]
    return [_one(item) for item in items]
