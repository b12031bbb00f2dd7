"""The simulator's bot protocol: ``POST /bot/<name>`` (Poe's SSE protocol) and file uploads.

The wire format is fastapi_poe's own: a :class:`fastapi_poe.PoeBot` subclass (``_bot_handler.py``,
which documents what each bot answers) served by ``fastapi_poe.make_app``. In front of it,
:class:`BotEndpoint` does what Poe's servers do before a bot sees a request: key check
(``invalid*`` -> 401; the key must come as ``Authorization: Bearer <key>``), rate limit (429),
scripted faults, the request log (never the key), unknown bot -> 404 naming close matches,
malformed body -> 400. The inner app then receives the request authorised with its own access
key, as Poe calls a server bot.

Mounting (``_app.py`` does this)::

    from ._bot_endpoint import bot_routes
    routes = [..., *bot_routes(state)]  # POST /bot/{bot_name} and the upload route

``fastapi_poe`` (and FastAPI, ~0.8 s to import) is imported on the first ``/bot/`` request, so
starting a simulator stays fast.

Faults (``POST /sim/faults``) strike query requests as on REST: ``status`` (HTTP error with
Poe's body and retry headers), ``delay``, ``drop`` (close without an answer), ``malformed`` (an
event whose data is not JSON), ``cut`` (close the connection after ``after_chunks`` events, no
``done``), ``stream_error`` (an ``error`` event after ``after_chunks`` events, with the fault's
``allow_retry`` and, when it is one of the protocol's four, its ``error_type``). Events are
counted from ``meta``. Protocol side requests (``settings``, ``report_error``...) are never struck
by faults nor rate limited.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import AuthError, InvalidRequestError, PoeError
from . import _quirks
from ._bot_handler import CALL_KEY, BotCall, build_bot_app
from ._bot_upload import upload_endpoint
from ._faults import Fault
from ._state import SimState
from ._wire import (
    RawResponse,
    bearer_key,
    drop_connection,
    error_response,
    header_names,
    new_request_id,
    read_json,
    strike,
    wait_latency,
)

__all__ = ["BotEndpoint", "bot_routes"]

_REQUEST_TYPES = frozenset(
    {"query", "settings", "report_feedback", "report_reaction", "report_error"}
)
_SECRET_FIELDS = ("api_key", "access_key")


def bot_routes(state: SimState) -> list[BaseRoute]:
    """The bot-protocol routes over ``state``: add them to the simulator's Starlette routes.

    Returns:
        ``POST /bot/{bot_name}`` and ``POST /poe_api/file_upload_3RD_PARTY_POST``.
    """
    return [
        Route("/bot/{bot_name}", BotEndpoint(state), methods=["POST"]),
        upload_endpoint(state),
    ]


def _loggable(body: Any) -> Any:
    """The body for ``/sim/requests``: key-bearing fields of QueryRequest blanked."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    for name in _SECRET_FIELDS:
        if out.get(name) not in (None, "", "<missing>"):
            out[name] = "[redacted]"
    return out


def _sse(event: str, data: str) -> bytes:
    return f"event: {event}\r\ndata: {data}\r\n\r\n".encode()


class BotEndpoint:
    """ASGI app of ``POST /bot/{bot_name}``: Poe's checks, then fastapi_poe's own bot server.

    Args:
        state: the simulator's shared state.
    """

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._inner: ASGIApp | None = None
        self._access_key = secrets.token_hex(16)  # fastapi_poe wants 32 characters
        self._build_lock = asyncio.Lock()
        self._streams = 0

    async def _inner_app(self) -> ASGIApp:
        if self._inner is None:
            async with self._build_lock:
                if self._inner is None:
                    # Importing FastAPI takes most of a second: keep it off the event loop.
                    self._inner = await asyncio.to_thread(build_bot_app, self._access_key)
        return self._inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request to the bot (the ASGI entry point)."""
        request = Request(scope, receive)
        rid = new_request_id()
        name = str(scope.get("path_params", {}).get("bot_name", ""))
        raw, body = await read_json(request)
        entry = self.state.record(
            "POST", request.url.path, model=name, body=_loggable(body),
            headers=header_names(request),
        )  # fmt: skip
        headers = {"x-request-id": rid}
        await wait_latency(self.state)
        try:
            call = await self._admit(request, name, raw, body, entry, headers)
        except PoeError as exc:
            entry["status"] = exc.status
            call = error_response(exc, rid, headers)
        if isinstance(call, Response):  # answered before the bot runs
            await call(scope, receive, send)
            return
        await self._delegate(scope, receive, send, raw, call, headers)

    async def _admit(
        self,
        request: Request,
        name: str,
        raw: bytes,
        body: Any,
        entry: dict[str, Any],
        headers: dict[str, str],
    ) -> BotCall | Response:
        """Poe's checks in REST's order: fault, key, rate limit, body, bot.

        Returns:
            The call to hand to the bot, or the answer a fault forces.

        Raises:
            PoeError: what Poe answers instead (auth, rate limit, invalid request, no such bot).
        """
        state = self.state
        is_query = isinstance(body, dict) and body.get("type") == "query"
        fault = state.next_fault(request.url.path, name) if is_query or body is None else None
        if fault is not None:
            forced_headers = {**headers, **state.rate_info(bearer_key(request)).headers()}
            forced = await strike(fault, entry, forced_headers,
                                  broken=lambda f: _broken(f, forced_headers, name))  # fmt: skip
            if forced is not None:
                return forced
        key = _bearer(request)
        state.check_key(key, need_points=False)
        assert key is not None
        if is_query:
            headers.update(state.check_rate(key).headers())
        else:
            headers.update(state.rate_info(key).headers())
        if raw and body is None:
            raise InvalidRequestError("the request body is not valid JSON")
        if not isinstance(body, dict):
            raise InvalidRequestError("the request body must be a JSON object")
        if body.get("type") not in _REQUEST_TYPES:
            raise InvalidRequestError(
                f"unknown request type {body.get('type')!r}; use one of "
                + ", ".join(sorted(_REQUEST_TYPES))
            )
        if not body.get("version"):
            raise InvalidRequestError("'version' is required (protocol version, e.g. '1.2')")
        model = state.find_model(name)
        if is_query:
            await self._inner_app()  # imports fastapi_poe, whose model validates the query
            _validate_query(body)
        return BotCall(state, key, model.id, entry, headers["x-request-id"], fault)

    async def _delegate(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        raw: bytes,
        call: BotCall,
        headers: dict[str, str],
    ) -> None:
        inner = await self._inner_app()
        bearer = f"Bearer {self._access_key}".encode()
        inner_headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]
        inner_headers.append((b"authorization", bearer))
        path = "/" + call.model_id
        inner_scope = {
            **scope,
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "headers": inner_headers,
            CALL_KEY: call,
        }
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        cut_after = (
            call.fault.after_chunks if call.fault is not None and call.fault.kind == "cut" else None
        )
        events = 0
        dropped = False
        extra = [(k.encode(), v.encode()) for k, v in headers.items()]

        async def forward(message: Message) -> None:
            nonlocal events, dropped
            if dropped:
                return  # the socket is gone: let the bot finish quietly
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
                if call.entry.get("status") is None:
                    call.entry["status"] = message["status"]
            elif message["type"] == "http.response.body" and message.get("body"):
                if cut_after is not None and events >= cut_after:
                    dropped = True
                    await drop_connection(scope)
                    return
                events += 1
            await send(message)

        self._streams += 1
        try:
            await inner(inner_scope, replay, forward)
        finally:
            self._streams -= 1
            if self._streams == 0:
                _stop_sse_watcher()


def _stop_sse_watcher() -> None:
    """Cancel sse-starlette's shutdown watcher while no stream is open.

    sse-starlette starts one task per thread that polls for server shutdown every 0.5 s and never
    ends on its own: the simulator's loop would wake for it forever and close with it pending
    ("Task was destroyed but it is pending!"). The next stream starts it again.
    """
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__qualname__", "") == "_shutdown_watcher":
            task.cancel()


def _bearer(request: Request) -> str | None:
    raw = request.headers.get("authorization", "")
    if not raw:
        return None
    if raw[:7].lower() != "bearer ":
        raise AuthError("The bot API takes 'Authorization: Bearer <POE_API_KEY>'.")
    return raw[7:].strip() or None


def _validate_query(body: Mapping[str, Any]) -> None:
    import fastapi_poe as fp
    import pydantic

    try:
        query = fp.QueryRequest.model_validate(dict(body))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidRequestError(f"invalid query request: {where}: {first.get('msg')}") from None
    if not query.query:
        raise InvalidRequestError("'query' must hold at least one message")


def _broken(fault: Fault, headers: dict[str, str], bot: str) -> Response | None:
    """What a ``quirk`` or ``malformed`` fault answers before the bot runs, or None to run it."""
    if fault.kind == "quirk":  # a 200 that is an error (text or JSON); other quirks: in the bot
        return _quirks.text_refusal(fault.quirks, bot, headers)
    if fault.kind == "malformed":
        pieces = [
            _sse("meta", json.dumps({"content_type": "text/markdown", "linkify": True})),
            _sse("text", '{"text": "half a'),
            _sse("done", "{}"),
        ]
        return RawResponse(pieces, headers=headers, media_type="text/event-stream")
    return None
