"""Limits of the HTTP transport against slow, idle or greedy clients (no token needed for this).

========================= =============================== ================================
limit                     where                           what happens
========================= =============================== ================================
``header_timeout_s``      uvicorn protocol (below)        request line + headers not complete
                                                          in time: 408, connection closed
``body_timeout_s``        :class:`BodyDeadline` (ASGI)    body not complete in time: 408, closed
``max_body_bytes``        :class:`BodyDeadline` + SDK     larger body: 413
``keep_alive_s``          uvicorn ``timeout_keep_alive``  idle keep-alive connection closed
``max_connections``       protocol + ``limit_concurrency`` more open connections: 503, closed
``mcp_session_idle_s``    the SDK's session manager       MCP session with no request ends (404)
                          :class:`StreamDeadline` (ASGI)  an event stream (``GET /mcp``) is
                                                          closed after as long (clients reopen
                                                          it); an open one keeps its session
``max_mcp_sessions``      the SDK's session manager       a new session beyond the cap: 503
========================= =============================== ================================

A request line in absolute form (``GET http://host/path``) names its host itself, and RFC 9112
says a server must use that, not the ``Host`` header: the protocol makes it the request's
``Host`` (so the Host check judges the host the client addressed), and refuses the other forms
(``CONNECT``'s authority form) the same way by leaving an empty ``Host``.

uvicorn has no deadline for a request's headers: a client that sends half a request line keeps
its connection (and a file descriptor) forever. :func:`protocol_class` adds one by subclassing
uvicorn's HTTP protocol (``uvicorn.Config(http=...)`` takes a protocol class): a timer starts
when a connection opens (or when the first byte of a keep-alive connection's next request
arrives) and is cancelled once uvicorn has parsed the headers, which it marks by creating a new
request cycle (``self.cycle``). The subclass reads only ``cycle``, ``transport``, ``loop`` and
``connections``, which both uvicorn protocols (httptools and h11) have.

Every limit is a setting: ``[server]`` in config.toml or ``poe-mcp serve --help``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import _constants as C
from .._redact import describe_value
from ..errors import ConfigError

__all__ = ["BodyDeadline", "HttpLimits", "StreamDeadline", "origin_form", "protocol_class"]

log = logging.getLogger(__name__)

_408 = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
_503 = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The limits; the defaults are in ``_constants`` (``HTTP_*``, ``MCP_*``)."""

    header_timeout_s: float = C.HTTP_HEADER_TIMEOUT_S
    body_timeout_s: float = C.HTTP_BODY_TIMEOUT_S
    keep_alive_s: float = C.HTTP_KEEP_ALIVE_S
    max_connections: int = C.HTTP_MAX_CONNECTIONS
    max_body_bytes: int = C.HTTP_MAX_BODY_BYTES
    mcp_session_idle_s: float = C.MCP_SESSION_IDLE_S
    max_mcp_sessions: int = C.MCP_MAX_SESSIONS

    @classmethod
    def from_config(cls, table: Mapping[str, Any], **overrides: Any) -> HttpLimits:
        """From config.toml's ``[server]`` table; ``overrides`` (CLI options) that are not
        None win. Keys of the table that are not limits are left to their owners.

        Raises:
            ConfigError: a limit that is not a positive number.
        """
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.name in table:
                values[item.name] = table[item.name]
            if overrides.get(item.name) is not None:
                values[item.name] = overrides[item.name]
        limits = replace(cls(), **{k: _checked(k, v) for k, v in values.items()})
        return limits


def _checked(name: str, value: Any) -> Any:
    integer = name.startswith("max_")
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int if integer else (int, float))
        and math.isfinite(value)
        and value > 0
    )
    if not ok:
        kind = "a whole number" if integer else "a number of seconds"
        raise ConfigError(
            f"[server] {name} must be {kind} greater than 0, got {describe_value(value)}"
        )
    return int(value) if integer else float(value)


def protocol_class(limits: HttpLimits) -> type[asyncio.Protocol]:
    """The HTTP protocol of uvicorn, with a header deadline and a hard connection cap."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # pragma: no cover - httptools is a dependency; h11 is the fallback
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]

    header_timeout = limits.header_timeout_s
    cap = limits.max_connections

    class DeadlineProtocol(Base):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > cap:
                # Not counted from now on: until its close completes it would otherwise make
                # uvicorn refuse requests of connections already accepted.
                self.connections.discard(self)
                log.warning("refusing a connection: %d are open (max_connections)", cap)
                self.transport.write(_503)
                self.transport.close()
                return
            self._arm()

        def on_headers_complete(self) -> None:
            self.url = origin_form(self.url, self.headers)
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            between = before is None or before.response_complete
            super().data_received(data)
            if self.cycle is not before:  # uvicorn parsed a request's headers
                self._disarm()
            elif between and self._deadline is None:  # the next request has begun
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._deadline = self.loop.call_later(header_timeout, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            waiting = self.cycle is None or self.cycle.response_complete
            if waiting and not self.transport.is_closing():
                self.transport.write(_408)
                self.transport.close()

    return DeadlineProtocol


def origin_form(target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The request target as a path; for one in absolute form (``http://host/path``) the
    ``Host`` header becomes the target's authority (RFC 9112: the target names the host), for
    any other form that is no path an empty ``Host`` (refused)."""
    if target.startswith(b"/") or target == b"*":
        return target
    _scheme, sep, rest = target.partition(b"://")
    authority = re.split(rb"[/?#]", rest, maxsplit=1)[0] if sep else b""
    headers[:] = [(name, value) for name, value in headers if name != b"host"]
    headers.append((b"host", authority))
    path = rest[len(authority) :]
    return path if path.startswith(b"/") else b"/" + path  # uvicorn needs a path


class BodyDeadline:
    """ASGI middleware: the whole body must arrive within ``timeout_s`` and ``max_bytes``.

    The body is read before the app runs and replayed to it; later ``receive()`` calls (the
    disconnect an SSE stream waits for) go to the server as usual.
    """

    def __init__(self, app: ASGIApp, timeout_s: float, max_bytes: int) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cached: deque[Message] = deque()
        size = 0
        with anyio.move_on_after(self.timeout_s) as scope_timer:
            while True:
                message = await receive()
                cached.append(message)
                if message["type"] != "http.request":
                    break  # the client went away: let the app see it
                size += len(message.get("body", b""))
                if size > self.max_bytes:
                    await _answer(send, 413, b"request body too large")
                    return
                if not message.get("more_body", False):
                    break
        if scope_timer.cancelled_caught:
            log.info("closing a request whose body did not arrive in %.0f s", self.timeout_s)
            await _answer(send, 408, b"request body not received in time")
            return

        async def replay() -> Message:
            if cached:
                return cached.popleft()
            return await receive()

        await self.app(scope, replay, send)


class StreamDeadline:
    """ASGI middleware: an event stream opened with ``GET`` on ``path`` is closed after
    ``timeout_s``.

    The SDK counts an open ``GET /mcp`` stream as a request in flight, so its session never
    idles: a client that opened one and vanished without closing its connection (or one that
    holds many) kept sessions and connections forever. MCP lets the server close that stream
    at any time; clients open a new one (with ``Last-Event-ID``) when they want it.
    """

    def __init__(self, app: ASGIApp, timeout_s: float, path: str) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.path = path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "GET"
            or scope.get("path", "").rstrip("/") != self.path
        ):
            await self.app(scope, receive, send)
            return
        state = {"started": False, "complete": False}

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                state["complete"] = True
            await send(message)

        with anyio.move_on_after(self.timeout_s) as timer:
            await self.app(scope, receive, tracked)
        if timer.cancelled_caught and state["started"] and not state["complete"]:
            # Ended properly (the last chunk), so the client sees a stream that ended, not a
            # broken connection: the SDK's client then opens a new one without counting a
            # failure (it gives up after two).
            log.info("closing an event stream open for %.0f s", self.timeout_s)
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _answer(send: Send, status: int, text: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(text)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text})
