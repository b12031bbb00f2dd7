"""The stdio transport: what Claude Desktop, Claude Code and Cursor spawn.

Every line gets an answer. The SDK's stdio reader (``mcp.server.stdio.stdio_server``) validates
each line with pydantic and, when that fails, puts the exception on its read stream; the
dispatcher logs it at debug level and answers nothing (``JSONRPCDispatcher._dispatch``), so a
client that sent a lone-surrogate escape, nesting deeper than pydantic's limit (~200 levels), a
5,000-digit integer, a batch array or ``null`` waited for its own timeout. The HTTP transport
answers the same lines with a JSON-RPC error.

:func:`serve_stdio` keeps the SDK's reader (and its claim of fds 0 and 1) and puts a filter
between it and the server: a line the SDK rejected is answered on the same write stream with

- ``-32700`` (parse error) when the line is not JSON the SDK accepts;
- ``-32600`` (invalid request) when it is JSON but not a JSON-RPC message (``null``, a batch,
  a message without ``method``...),

with the request's ``id`` when it can be read from the line, else ``null``. A malformed
*response* (an object with ``result`` or ``error``) gets no reply, as JSON-RPC says.

The SDK also reads a request whose ``id`` is no string or integer (an object, a float, ``true``,
``null``, a list) as a *notification* (the id dropped), which is never answered: the client
waited forever. To tell, the filter needs the line itself: :class:`_Lines` hands the SDK's
reader the lines of stdin (and a line's leading byte-order mark dropped, as RFC 8259 allows)
while keeping each raw line; the reader turns every line into exactly one item, in order, so
the filter pairs them. Such a request gets ``-32600`` with ``id: null``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from io import TextIOWrapper
from typing import Any, cast

import anyio
import mcp_types as types
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from .. import _constants as C
from .app import build_server
from .runtime import ServerRuntime

__all__ = ["rejection", "serve_stdio"]

log = logging.getLogger(__name__)

_MESSAGE_CHARS = C.STDIO_ERROR_MESSAGE_CHARS
_ID_DIGITS = C.JSONRPC_ID_MAX_DIGITS
_HUGE = object()  # an integer too long to be an id
_UNKNOWN = object()  # the parser kept no copy of the whole message
_JSON_NAMES = {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
               str: "a string"}  # fmt: skip


async def serve_stdio(runtime: ServerRuntime) -> None:
    """Serve MCP on stdin/stdout until the client closes it, then close the runtime."""
    server = build_server(runtime)
    # MCPServer.run_stdio_async does exactly this, minus the filter. The SDK has no public
    # handle on the low-level server yet (its own in-memory client reads this attribute and
    # notes it should become public); it is the one private SDK name poe-mcp uses.
    lowlevel = server._lowlevel_server
    try:
        with _claimed_stdin() as buffer:
            lines = _Lines(
                anyio.wrap_file(TextIOWrapper(buffer, encoding="utf-8", errors="replace"))
            )
            stdin = cast("anyio.AsyncFile[str]", lines)  # the SDK only iterates it
            async with stdio_server(stdin=stdin) as (sdk_read, write):
                read = _Answering(sdk_read, write, lines.raw)
                await lowlevel.run(read, write, lowlevel.create_initialization_options())
    finally:
        await runtime.aclose()


class _Lines:
    """The lines of stdin as the SDK's reader iterates them, each raw line kept in ``raw``
    until the filter takes it (one per item the reader makes)."""

    def __init__(self, file: anyio.AsyncFile[str]) -> None:
        self._file = file
        self.raw: deque[str] = deque()

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        line = await self._file.readline()
        if not line:
            raise StopAsyncIteration
        if line.startswith("\ufeff"):
            line = line[1:]  # a byte-order mark: JSON parsers may ignore it (RFC 8259)
        self.raw.append(line)
        return line


@contextmanager
def _claimed_stdin() -> Iterator[Any]:
    """The bytes of stdin, read from a private copy of fd 0 while fd 0 itself points at the null
    device, as the SDK's own stdio transport does (so tools and the commands they start read
    EOF instead of the protocol); restored on exit."""
    stream = sys.stdin
    try:
        is_fd0 = stream is not None and stream.buffer.fileno() == 0
    except (AttributeError, OSError, ValueError):
        is_fd0 = False
    if not is_fd0 or sys.platform == "win32":  # there: served in place, as the SDK falls back
        yield stream.buffer
        return
    import fcntl

    private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
    finally:
        os.close(null)
    try:
        # closefd=False: a worker thread may still block on it after we return.
        yield os.fdopen(private, "rb", closefd=False)
    finally:
        os.dup2(private, 0)


class _Answering:
    """The SDK's read stream as the server reads it, minus the lines the SDK rejected or
    misread, which are answered on the write stream as they pass (no task of its own, so a
    request reaches the server with no extra hop)."""

    def __init__(self, inner: Any, write: Any, raw: deque[str]) -> None:
        self._inner = inner
        self._write = write
        self._raw = raw

    @property
    def last_context(self) -> Any:
        """The sender's context of the last item (the SDK's dispatcher reads it)."""
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        """The next message the server should handle; answers the others on the way."""
        while True:
            item = await self._inner.receive()
            line = self._raw.popleft() if self._raw else None
            reply = rejection(item, line) if isinstance(item, Exception) else _misread(item, line)
            if reply is not None:
                await self._write.send(SessionMessage(reply))
            elif isinstance(item, Exception):
                log.debug("ignoring an unparsable line: %s", type(item).__name__)
            else:
                return item

    def __aiter__(self) -> _Answering:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """Close the SDK's read stream."""
        await self._inner.aclose()

    async def __aenter__(self) -> _Answering:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _misread(item: Any, line: str | None) -> types.JSONRPCError | None:
    """The error for a request the SDK took for a notification because its ``id`` is no
    string or integer (None: the item is what the line says)."""
    message = getattr(item, "message", None)
    if not isinstance(message, types.JSONRPCNotification) or line is None or '"id"' not in line:
        return None
    try:
        value = json.loads(line, parse_int=lambda digits: 0)  # the id's value is not needed
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or "id" not in value:
        return None
    shown = _JSON_NAMES.get(type(value["id"]), "an object or a list")
    return _error(
        None,
        types.INVALID_REQUEST,
        f"Invalid Request: the id must be a string or an integer, got {shown}",
    )


def rejection(exc: Exception, line: str | None = None) -> types.JSONRPCError | None:
    """The JSON-RPC error for a line the SDK's parser refused, or None when none is due.

    ``line`` (the raw line, when known) is where the request's id is read from.
    """
    if not isinstance(exc, ValidationError):
        return _error(None, types.PARSE_ERROR, f"Parse error: {type(exc).__name__}")
    errors = exc.errors(include_url=False)
    first: dict[str, Any] = dict(errors[0]) if errors else {}
    if first.get("type") == "json_invalid":
        raw = first.get("input") if line is None else line
        detail = str((first.get("ctx") or {}).get("error", "") or first.get("msg", ""))
        request_id = _id_from_line(raw) if isinstance(raw, str | bytes) else None
        return _error(request_id, types.PARSE_ERROR, f"Parse error: {detail}")
    value = _whole_message(errors)
    if isinstance(value, dict):
        if "method" not in value and ("result" in value or "error" in value):
            return None  # a malformed response from the client: JSON-RPC answers nothing
        what = "not a valid JSON-RPC message"
    elif isinstance(value, list):
        what = "batch requests are not supported; send one JSON-RPC message per line"
    elif value is _UNKNOWN:
        what = "not a valid JSON-RPC message"
    else:
        what = f"a JSON-RPC message is a JSON object, got {_JSON_NAMES.get(type(value), 'a value')}"
    if isinstance(value, dict):
        request_id = _valid_id(value.get("id"))
    elif value is _UNKNOWN and line is not None:
        request_id = _id_from_line(line)
    else:
        request_id = None
    return _error(request_id, types.INVALID_REQUEST, f"Invalid Request: {what}")


def _whole_message(errors: Any) -> Any:
    """The parsed line, from the errors that carry it: a top-level type error, or a missing
    field of the message itself (field-level errors carry only the field's value)."""
    for error in errors:
        loc = error.get("loc") or ()
        if len(loc) == 1 or (error.get("type") == "missing" and len(loc) == 2):
            return error.get("input")
    return _UNKNOWN


def _error(request_id: int | str | None, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(
        jsonrpc="2.0",
        id=request_id,
        error=types.ErrorData(code=code, message=message[:_MESSAGE_CHARS]),
    )


def _valid_id(value: Any) -> int | str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and len(str(abs(value))) <= _ID_DIGITS:
        return value
    if isinstance(value, str) and len(value) <= 256:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return None


def _id_from_line(raw: str | bytes) -> int | str | None:
    """The top-level ``id`` of a line pydantic refused, when Python's parser can read it.

    Python's ``json`` accepts lone surrogates and nests up to the recursion limit; huge
    integers are never converted (they stand for no id).
    """
    try:
        value = json.loads(
            raw, parse_int=lambda digits: int(digits) if len(digits) <= _ID_DIGITS else _HUGE
        )
    except (ValueError, RecursionError):
        return None
    return _valid_id(value.get("id")) if isinstance(value, dict) else None
