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
"""

from __future__ import annotations

import json
import logging
from typing import Any

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
    # handle on the low-level server yet (its own in-memory client reads this attribute, with
    # "TODO: make lowlevel_server public"); it is the one private SDK name poe-mcp uses.
    lowlevel = server._lowlevel_server
    try:
        async with stdio_server() as (sdk_read, write):
            send, read = anyio.create_memory_object_stream[SessionMessage | Exception](0)
            async with anyio.create_task_group() as tg:
                tg.start_soon(_answer_rejected, sdk_read, send, write)
                await lowlevel.run(read, write, lowlevel.create_initialization_options())
                tg.cancel_scope.cancel()
    finally:
        await runtime.aclose()


async def _answer_rejected(sdk_read: Any, send: Any, write: Any) -> None:
    """Forward what the SDK parsed; answer what it rejected."""
    async with send:
        async for item in sdk_read:
            if not isinstance(item, Exception):
                await send.send(item)
                continue
            reply = rejection(item)
            if reply is None:
                log.debug("ignoring an unparsable line: %s", type(item).__name__)
                continue
            await write.send(SessionMessage(reply))


def rejection(exc: Exception) -> types.JSONRPCError | None:
    """The JSON-RPC error for a line the SDK's parser refused, or None when none is due."""
    if not isinstance(exc, ValidationError):
        return _error(None, types.PARSE_ERROR, f"Parse error: {type(exc).__name__}")
    errors = exc.errors(include_url=False)
    first: dict[str, Any] = dict(errors[0]) if errors else {}
    if first.get("type") == "json_invalid":
        raw = first.get("input")
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
    request_id = _valid_id(value.get("id")) if isinstance(value, dict) else None
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
