"""The simulator's ASGI app: Poe's REST API, account endpoints, files, and the test hooks.

Routes:

=================================== =========================================================
``GET  /v1/models``                 the catalogue (no auth; OpenAI mode: a key), ``/<id>`` one
``POST /v1/chat/completions``       chat, JSON or SSE (``_rest_chat.py``)
``POST /v1/responses``              structured output with ``text.format`` (``_rest_responses.py``)
``GET  /usage/current_balance``     ``{"current_point_balance": int}``
``GET  /usage/points_history``      ``?limit=1..100&starting_after=<query_id>``
``GET  /media/<id>.<ext>``          files made by media bots
``GET  /uploads/<id>/<name>``       files uploaded through ``/poe_api/file_upload_3RD_PARTY_POST``
``POST|DELETE|GET /sim/faults``     queue, clear or list scripted faults (loopback only)
``GET|DELETE /sim/requests``        the request log, or clear it (loopback only)
``POST /sim/reset``                 forget everything (loopback only)
``/bot/<name>``, ``/poe_api/...``   the bot protocol and uploads (``_bot_endpoint.py``)
=================================== =========================================================
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from .. import _constants as C
from ..errors import InvalidRequestError, NotFoundError, PoeError
from . import _rest_openai
from ._bot_endpoint import bot_routes
from ._faults import FAULT_KINDS, parse_faults
from ._rest_chat import chat_completions
from ._rest_responses import RESPONSES_PATH, responses
from ._state import SimState
from ._wire import (
    bearer_key,
    dumps,
    error_response,
    header_names,
    is_loopback,
    new_request_id,
    strike,
    transport_middleware,
    wait_latency,
)

__all__ = ["build_app"]


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(value), status, headers=headers, media_type="application/json")


def _sim(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


async def _answer(
    request: Request, body: Callable[[str], Any], *, model: str | None = None,
    account: bool = False,
) -> Response:  # fmt: skip
    """Answer a models or account request with ``body(key)``, after what comes first: the
    latency (account requests), a queued fault aimed at it (``path="*"`` or a prefix), the key
    check (account requests; in OpenAI mode the model list too: Poe's is public)."""
    state, rid = _sim(request), new_request_id()
    entry = state.record(request.method, request.url.path, model=model,
                         headers=header_names(request))  # fmt: skip
    key = bearer_key(request)
    if account:
        await wait_latency(state)
    headers = {"x-request-id": rid, **state.rate_info(key).headers()}  # no slot taken
    forced = await strike(state.next_fault(request.url.path), entry, headers, errors=FAULT_KINDS)
    if forced is not None:
        return forced
    try:
        if account or state.provider == "openai":
            state.check_key(key, need_points=False)
        value = body(key or "")  # an account request's key was checked
    except PoeError as exc:
        entry["status"] = exc.status
        return error_response(exc, rid, headers)
    entry["status"] = 200
    return _json(value, headers=headers)


async def list_models(request: Request) -> Response:
    return await _answer(request, lambda _key: _sim(request).models_body())


async def get_model(request: Request) -> Response:
    name = request.path_params["model"]
    return await _answer(request, lambda _key: _sim(request).model_item(name), model=name)


async def current_balance(request: Request) -> Response:
    def body(key: str) -> dict[str, int]:
        return {"current_point_balance": _sim(request).balance(key)}

    return await _answer(request, body, account=True)


async def points_history(request: Request) -> Response:
    def body(key: str) -> dict[str, Any]:
        raw_limit = request.query_params.get("limit", str(C.SIM_POINTS_HISTORY_DEFAULT_LIMIT))
        limit = int(raw_limit) if raw_limit.isdigit() else 0
        if not 1 <= limit <= C.SIM_POINTS_HISTORY_MAX_LIMIT:
            raise InvalidRequestError(
                f"'limit' must be an integer between 1 and {C.SIM_POINTS_HISTORY_MAX_LIMIT}"
            )
        after = request.query_params.get("starting_after")
        return _sim(request).points_history(key, limit=limit, starting_after=after)

    return await _answer(request, body, account=True)


async def get_media(request: Request) -> Response:
    media = _sim(request).get_media(request.path_params["name"])
    if media is None:
        return error_response(NotFoundError("No such media file."), new_request_id())
    return Response(media.data, media_type=media.mime)


async def get_upload(request: Request) -> Response:
    upload = _sim(request).get_upload(request.path_params["upload_id"])
    if upload is None:
        return error_response(NotFoundError("No such uploaded file."), new_request_id())
    return Response(upload.data, media_type=upload.mime)


def _hook(
    handler: Callable[[Request, SimState], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """A ``/sim/`` test hook: it answers loopback clients only."""

    async def endpoint(request: Request) -> Response:
        if is_loopback(request):
            return await handler(request, _sim(request))
        return _json({"error": {"code": 403, "type": "permission_error",
                                "message": "/sim/ endpoints answer loopback clients only",
                                "metadata": {}}}, 403)  # fmt: skip

    return endpoint


@_hook
async def sim_faults(request: Request, state: SimState) -> Response:
    if request.method == "DELETE":
        state.clear_faults()
    elif request.method == "POST":
        try:
            state.add_faults(parse_faults(json.loads(await request.body())))
        except json.JSONDecodeError:
            return error_response(InvalidRequestError("body is not JSON"), new_request_id())
        except PoeError as exc:
            return error_response(exc, new_request_id())
    return _json({"faults": state.pending_faults()})


@_hook
async def sim_requests(request: Request, state: SimState) -> Response:
    if request.method == "DELETE":
        state.clear_requests()
    return _json({"requests": state.requests()})


@_hook
async def sim_reset(request: Request, state: SimState) -> Response:
    state.reset()
    return _json({"reset": True})


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    if status == 405:
        err: PoeError = InvalidRequestError(f"Method {request.method} not allowed here.")
        err.status = 405
    else:
        err = NotFoundError(f"No endpoint {request.method} {request.url.path}.")
    return error_response(err, new_request_id())


def build_app(state: SimState) -> ASGIApp:
    """The simulator's ASGI app over ``state`` (uvicorn serves it; see ``Simulator``)."""
    routes: list[BaseRoute] = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route(RESPONSES_PATH, responses, methods=["POST"]),
        Route("/usage/current_balance", current_balance, methods=["GET"]),
        Route("/usage/points_history", points_history, methods=["GET"]),
        Route("/media/{name}", get_media, methods=["GET"]),
        Route("/uploads/{upload_id}/{name}", get_upload, methods=["GET"]),
        Route("/sim/faults", sim_faults, methods=["GET", "POST", "DELETE"]),
        Route("/sim/requests", sim_requests, methods=["GET", "DELETE"]),
        Route("/sim/reset", sim_reset, methods=["POST"]),
        *bot_routes(state),  # /bot/<name> and /poe_api/ uploads
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _not_found})
    app.state.sim = state
    if state.provider == "openai":
        return transport_middleware(_rest_openai.wrap(app), state)
    return transport_middleware(app, state)
