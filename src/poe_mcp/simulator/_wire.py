"""HTTP plumbing of the simulator's endpoints: Poe-format errors, raw bodies, dropped sockets.

Faults need to misbehave at the socket level (close without answering, stop mid-body), which
Starlette's responses never do. :func:`transport_middleware` puts uvicorn's transport into the
ASGI scope so :class:`RawResponse` can close it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Container, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import PoeError
from ._faults import Fault
from ._state import SimState

__all__ = [
    "SIM_HEADER",
    "RawResponse",
    "bearer_key",
    "dumps",
    "error_response",
    "header_names",
    "is_loopback",
    "json_answer",
    "new_request_id",
    "read_json",
    "strike",
    "transport_middleware",
    "wait_latency",
]

_TRANSPORT_KEY = "poe_mcp.sim.transport"
# Lets clients tell a simulated answer from a real one (ChatResult.simulated).
SIM_HEADER = {"x-poe-simulator": "1"}
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost", "testclient"})


def new_request_id() -> str:
    return os.urandom(12).hex()


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def bearer_key(request: Request) -> str | None:
    """The API key of ``Authorization: Bearer <key>`` (or a raw key), or None."""
    raw = request.headers.get("authorization", "")
    if raw[:7].lower() == "bearer ":
        raw = raw[7:]
    return raw.strip() or None


async def read_json(request: Request) -> tuple[bytes, Any]:
    """The raw body and its JSON value (None when the body is empty or not JSON)."""
    raw = await request.body()
    try:
        return raw, json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return raw, None


async def wait_latency(state: SimState) -> None:
    """Wait the latency the simulator adds to every API answer (``latency_ms``)."""
    if state.latency_ms:
        await asyncio.sleep(state.latency_ms / 1000)


def header_names(request: Request) -> list[str]:
    return [name.decode("latin-1") for name, _ in request.scope["headers"]]


def is_loopback(request: Request) -> bool:
    return request.client is None or request.client.host in _LOOPBACK


def error_response(
    exc: PoeError, request_id: str, headers: Mapping[str, str] | None = None
) -> Response:
    """Poe's error body ``{"error": {code, type, message, metadata}}``, status and headers."""
    exc.request_id = request_id
    out = {"x-request-id": request_id, **SIM_HEADER, **(headers or {})}
    if exc.retry_after is not None:
        out.setdefault("retry-after", str(max(1, round(exc.retry_after + 0.4999))))
    return Response(
        dumps(exc.to_dict()), exc.status or 500, headers=out, media_type="application/json"
    )


def json_answer(payload: bytes, headers: Mapping[str, str], *, cut: bool = False) -> Response:
    """A 200 JSON answer; ``cut``: half the body, then the connection closes (a ``cut`` fault)."""
    if cut:
        return RawResponse([payload[: len(payload) // 2]], headers=headers, cut=True,
                           content_length=len(payload))  # fmt: skip
    return Response(payload, 200, headers=dict(headers), media_type="application/json")


async def strike(
    fault: Fault | None,
    entry: dict[str, Any],
    headers: Mapping[str, str],
    *,
    errors: Container[str] = ("status",),
    broken: Callable[[Fault], Response | None] | None = None,
) -> Response | None:
    """Apply a queued fault before the answer: the response it forces, or None to go on.

    ``delay`` waits, then the request goes on; ``drop`` closes the connection; the kinds in
    ``errors`` answer the fault's status with Poe's error body and retry headers; ``broken``
    renders the endpoint's own answer to any other kind (a malformed body, a refusal), or None
    to go on (``cut`` and ``stream_error`` strike later, in the answer). The request-log entry
    gets the fault's kind and the status answered.
    """
    if fault is None:
        return None
    entry["fault"] = fault.kind
    if fault.kind == "delay":
        await asyncio.sleep(fault.delay_s)
        return None
    if fault.kind == "drop":
        return RawResponse((), drop=True)
    forced: Response | None = None
    if fault.kind in errors:
        headers = {**headers, **fault.headers()}
        forced = Response(dumps(fault.error_body()), fault.status, headers=headers,
                          media_type="application/json")  # fmt: skip
    elif broken is not None:
        forced = broken(fault)
    if forced is not None:
        entry["status"] = forced.status_code
    return forced


async def drop_connection(scope: Scope) -> None:
    """Close the client's socket without another byte (a dropped connection)."""
    transport = scope.get(_TRANSPORT_KEY)
    if transport is None:
        raise ConnectionAbortedError("simulated dropped connection")
    transport.close()
    # Let the close land before uvicorn looks at the cycle, so it does not log a bogus 500.
    for _ in range(3):
        await asyncio.sleep(0)


class RawResponse(Response):
    """A response sent piece by piece; ``cut=True`` drops the socket after the pieces.

    Args:
        pieces: body pieces, each sent as its own ASGI message (one SSE event each for streams).
        status_code: HTTP status.
        headers: response headers.
        media_type: content type.
        cut: close the connection instead of finishing the body.
        content_length: announce this length (a cut non-stream body announces the full one).
        drop: close the connection before sending anything.
        piece_delay_s: wait this long before each piece (a slow stream).
    """

    def __init__(
        self,
        pieces: Iterable[bytes],
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str = "application/json",
        cut: bool = False,
        content_length: int | None = None,
        drop: bool = False,
        piece_delay_s: float = 0.0,
    ) -> None:
        self.status_code = status_code
        self.media_type = media_type
        self.background = None
        self._pieces = pieces
        self._cut = cut
        self._drop = drop
        self._piece_delay_s = piece_delay_s
        self.init_headers(headers)  # before setting body: no content-length unless asked
        self.body = b""
        if content_length is not None:
            self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
            self.raw_headers.append((b"content-length", str(content_length).encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._drop:
            await drop_connection(scope)
            return
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        for piece in self._pieces:
            if self._piece_delay_s:
                await asyncio.sleep(self._piece_delay_s)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        if self._cut:
            await drop_connection(scope)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def transport_middleware(app: ASGIApp, state: SimState) -> ASGIApp:
    """Wrap the app so handlers can reach uvicorn's transport (for dropped-connection faults).

    Also ends requests cancelled by the simulator's own shutdown quietly instead of logging them,
    and marks every answer (REST, bot protocol, uploads, media files) with ``x-poe-simulator``,
    so clients reached by URL know the answer is simulated as surely as ``--simulate`` does.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                scope[_TRANSPORT_KEY] = transport
        try:
            await app(scope, receive, _marked(send) if scope["type"] == "http" else send)
        except asyncio.CancelledError:
            if not state.stopping:
                raise

    return wrapped


def _marked(send: Send) -> Send:
    """``send`` adding the simulator's header to the response start when it is missing."""
    name, value = next(iter(SIM_HEADER.items()))
    raw = (name.encode(), value.encode())

    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or ())
            if not any(k.lower() == raw[0] for k, _ in headers):
                message = {**message, "headers": [*headers, raw]}
        await send(message)

    return marked
