"""The simulator's ASGI app: Poe's REST API, account endpoints, files, and the test hooks.

Routes:

=================================== =========================================================
``GET  /v1/models``                 the catalogue (no auth; OpenAI mode: a key), ``/<id>`` one
``POST /v1/chat/completions``       chat, JSON or SSE (see ``_chat.py``)
``POST /v1/responses``              structured output with ``text.format`` (``responses.py``)
``GET  /usage/current_balance``     ``{"current_point_balance": int}``
``GET  /usage/points_history``      ``?limit=1..100&starting_after=<query_id>``
``GET  /media/<id>.<ext>``          files made by media bots
``GET  /uploads/<id>/<name>``       files uploaded through ``/poe_api/file_upload_3RD_PARTY_POST``
``POST|DELETE|GET /sim/faults``     queue, clear or list scripted faults (loopback only)
``GET|DELETE /sim/requests``        the request log, or clear it (loopback only)
``POST /sim/reset``                 forget everything (loopback only)
``/bot/<name>``, ``/poe_api/...``   the bot protocol and uploads (``bot.py``)
=================================== =========================================================
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from .. import _constants as C
from ..errors import InvalidRequestError, NotFoundError, PoeError
from . import openai_mode
from ._chat import chat_completions
from ._http import (
    RawResponse,
    bearer_key,
    dumps,
    error_response,
    header_names,
    is_loopback,
    new_request_id,
    transport_middleware,
)
from ._state import SimState
from .bot import bot_routes
from .faults import parse_faults
from .responses import RESPONSES_PATH, responses

__all__ = ["build_app"]


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(value), status, headers=headers, media_type="application/json")


def _sim(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


def _headers(request: Request, rid: str) -> dict[str, str]:
    """``x-request-id`` and the key's ``x-ratelimit-*`` values (no slot taken)."""
    return {"x-request-id": rid, **_sim(request).rate_info(bearer_key(request)).headers()}


def _log(request: Request, model: str | None = None) -> dict[str, Any]:
    return _sim(request).record(
        request.method, request.url.path, model=model, headers=header_names(request)
    )


async def _simple_fault(request: Request, entry: dict[str, Any], rid: str) -> Response | None:
    """Apply a queued fault aimed at a non-chat endpoint (``path="*"`` or a prefix)."""
    fault = _sim(request).next_fault(request.url.path)
    if fault is None:
        return None
    entry["fault"] = fault.kind
    if fault.kind == "delay":
        await asyncio.sleep(fault.delay_s)
        return None
    if fault.kind == "drop":
        return RawResponse((), drop=True)
    entry["status"] = fault.status
    headers = {**_headers(request, rid), **fault.headers()}
    return _json(fault.error_body(), fault.status, headers)


async def list_models(request: Request) -> Response:
    rid = new_request_id()
    entry = _log(request)
    forced = await _simple_fault(request, entry, rid)
    if forced is not None:
        return forced
    refused = _list_key_refused(request, entry, rid)
    if refused is not None:
        return refused
    entry["status"] = 200
    return _json(_sim(request).models_body(), headers=_headers(request, rid))


def _list_key_refused(request: Request, entry: dict[str, Any], rid: str) -> Response | None:
    """OpenAI's model list needs a valid key (Poe's is public): its 401, or None."""
    state = _sim(request)
    if state.provider != "openai":
        return None
    try:
        state.check_key(bearer_key(request), need_points=False)
    except PoeError as exc:
        entry["status"] = exc.status
        return error_response(exc, rid, _headers(request, rid))
    return None


async def get_model(request: Request) -> Response:
    rid = new_request_id()
    name = request.path_params["model"]
    entry = _log(request, name)
    forced = await _simple_fault(request, entry, rid)
    if forced is not None:
        return forced
    refused = _list_key_refused(request, entry, rid)
    if refused is not None:
        return refused
    try:
        item = _sim(request).model_item(name)
    except PoeError as exc:
        entry["status"] = exc.status
        return error_response(exc, rid, _headers(request, rid))
    entry["status"] = 200
    return _json(item, headers=_headers(request, rid))


async def _account(request: Request, rid: str) -> tuple[str, dict[str, Any]] | Response:
    """Latency, faults and the key check of an account request: (key, log entry) or an answer."""
    state = _sim(request)
    entry = _log(request)
    if state.latency_ms:
        await asyncio.sleep(state.latency_ms / 1000)
    forced = await _simple_fault(request, entry, rid)
    if forced is not None:
        return forced
    key = bearer_key(request)
    try:
        state.check_key(key, need_points=False)
    except PoeError as exc:
        entry["status"] = exc.status
        return error_response(exc, rid, _headers(request, rid))
    assert key is not None
    return key, entry


async def current_balance(request: Request) -> Response:
    rid = new_request_id()
    checked = await _account(request, rid)
    if isinstance(checked, Response):
        return checked
    key, entry = checked
    entry["status"] = 200
    balance = _sim(request).balance(key)
    return _json({"current_point_balance": balance}, headers=_headers(request, rid))


async def points_history(request: Request) -> Response:
    rid = new_request_id()
    checked = await _account(request, rid)
    if isinstance(checked, Response):
        return checked
    key, entry = checked
    raw_limit = request.query_params.get("limit", str(C.SIM_POINTS_HISTORY_DEFAULT_LIMIT))
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= C.SIM_POINTS_HISTORY_MAX_LIMIT:
        entry["status"] = 400
        err = InvalidRequestError(
            f"'limit' must be an integer between 1 and {C.SIM_POINTS_HISTORY_MAX_LIMIT}"
        )
        return error_response(err, rid, _headers(request, rid))
    entry["status"] = 200
    history = _sim(request).points_history(
        key, limit=limit, starting_after=request.query_params.get("starting_after")
    )
    return _json(history, headers=_headers(request, rid))


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


def _loopback_only(request: Request) -> Response | None:
    if is_loopback(request):
        return None
    return _json({"error": {"code": 403, "type": "permission_error",
                            "message": "/sim/ endpoints answer loopback clients only",
                            "metadata": {}}}, 403)  # fmt: skip


async def sim_faults(request: Request) -> Response:
    refused = _loopback_only(request)
    if refused is not None:
        return refused
    state = _sim(request)
    if request.method == "DELETE":
        state.clear_faults()
        return _json({"faults": []})
    if request.method == "POST":
        try:
            faults = parse_faults(json.loads(await request.body()))
        except json.JSONDecodeError:
            return error_response(InvalidRequestError("body is not JSON"), new_request_id())
        except PoeError as exc:
            return error_response(exc, new_request_id())
        state.add_faults(faults)
    return _json({"faults": state.pending_faults()})


async def sim_requests(request: Request) -> Response:
    refused = _loopback_only(request)
    if refused is not None:
        return refused
    state = _sim(request)
    if request.method == "DELETE":
        state.clear_requests()
        return _json({"requests": []})
    return _json({"requests": state.requests()})


async def sim_reset(request: Request) -> Response:
    refused = _loopback_only(request)
    if refused is not None:
        return refused
    _sim(request).reset()
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
        return transport_middleware(openai_mode.wrap(app), state)
    return transport_middleware(app, state)
