"""The Discussion page: conversations (new, rename, reset, delete, export) and streamed turns.

Every turn goes through the library (:class:`~poe_mcp.conversation.Conversation`, or the agent
loop for a turn with tools; see ``_turns``); this module maps the browser's form to a
:class:`~poe_mcp.console._turns.TurnRequest` and the stored history back to what the page shows.
Per-message model, tokens, cost and latency of past turns come from the prompt logs (on for the
console by default); the live turn shows them from its own result.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from .. import _constants as C
from ..errors import InvalidRequestError, PoeError, TooLargeError
from ._inputs import check_finite, check_model
from ._titles import Titles, default_title
from ._turns import TurnRequest
from ._views import history_view, markdown_export
from ._web import Routes, base_path, console_of, error_json, render

__all__ = ["routes"]

routes = Routes()


def titles_of(request: Request) -> Titles:
    console = console_of(request)
    titles: Titles | None = console.extra.get("titles")
    if titles is None:
        titles = Titles(console.context.configured.home / "console" / "titles.json")
        console.extra["titles"] = titles
        titles_ref = titles

        def remember(session_id: str, turn: Any) -> None:
            if titles_ref.get(session_id) is None:
                first = turn.request.title or default_title(_message_text(turn.request.message))
                titles_ref.set(session_id, first or "Conversation")

        console.turns.on_session = remember
    return titles


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


async def _session_list(request: Request) -> list[dict[str, Any]]:
    store = await console_of(request).context.store()
    infos = await store.sessions.list()
    titles = titles_of(request)
    names = titles.all()
    titles.keep_only({i.id for i in infos})  # names of expired or deleted sessions go
    return [
        {
            "id": info.id,
            "title": names.get(info.id) or f"Conversation {info.id[:8]}",
            "model": info.model,
            "turns": info.turns,
            "updated_at": info.updated_at,
        }
        for info in infos[: C.LIST_SESSIONS_MAX]
    ]


@routes.page("/discussion")
async def discussion(request: Request) -> Response:
    console = console_of(request)
    ctx = console.context
    session_id = request.query_params.get("session") or None
    store = await ctx.store()
    history: list[dict[str, Any]] = []
    title = request.query_params.get("title") or ""
    model = ctx.configured.model
    missing = False
    if session_id is not None:
        stored = await store.sessions.get(session_id)
        if stored is None:
            missing = True
            session_id = None
        else:
            history = await history_view(store, session_id, stored.messages)
            title = titles_of(request).get(session_id) or ""
            model = stored.model or model
    from ._tools import tool_names

    return await render(
        request,
        "discussion.html",
        page_name="discussion",
        sessions=await _session_list(request),
        session_id=session_id,
        missing=missing,
        history=history,
        title=title,
        model=model,
        system=next((m["text"] for m in history if m["role"] == "system"), ""),
        tools=tool_names(ctx),
        attachments_max=C.CONSOLE_ATTACHMENTS_MAX,
        **_upload_limits(console.body_max_bytes),
    )


def _upload_limits(body_max: int | None) -> dict[str, Any]:
    """Per file and per message, within the body limit of the server in front (``serve``'s
    ``--max-body-bytes`` is smaller than the console's own 20 MB per file by default)."""
    if body_max is None:
        return {"upload_max": C.CONSOLE_UPLOAD_MAX_BYTES, "total_max": None}
    room = max(0, body_max - C.CONSOLE_FORM_SLACK_BYTES)
    return {"upload_max": min(C.CONSOLE_UPLOAD_MAX_BYTES, room), "total_max": room}


@routes.page("/discussion/head")
async def head_fragment(request: Request) -> Response:
    """The conversation's heading and controls (rename, export, reset, delete), fetched by the
    page when its first answer gives a new conversation its id."""
    session_id = request.query_params.get("session") or None
    store = await console_of(request).context.store()
    if session_id is not None and await store.sessions.get(session_id) is None:
        session_id = None
    title = (titles_of(request).get(session_id) or "") if session_id else ""
    return await render(request, "_conv_head.html", session_id=session_id, title=title)


@routes.page("/discussion/sessions")
async def sessions_fragment(request: Request) -> Response:
    return await render(
        request,
        "_sessions.html",
        sessions=await _session_list(request),
        session_id=request.query_params.get("session"),
    )


def _number(form: Any, name: str, kind: type, low: float, high: float | None) -> Any:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise InvalidRequestError(
            f"{name.replace('_', ' ')} must be a number, got {raw[:40]!r}"
        ) from None
    check_finite(value, name.replace("_", " "))  # nan passes every comparison below
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise InvalidRequestError(f"{name.replace('_', ' ')} must be {bound}, got {raw[:40]}")
    return value


async def _turn_request(request: Request) -> TurnRequest:
    from .._messages import attachment_part

    form = await request.form(max_files=C.CONSOLE_ATTACHMENTS_MAX + 1)
    model = str(form.get("model") or "").strip()
    text = str(form.get("message") or "")
    if not model:
        raise InvalidRequestError("choose a model for this message")
    check_model(model)
    files = [f for f in form.getlist("attachments") if isinstance(f, UploadFile) and f.filename]
    if len(files) > C.CONSOLE_ATTACHMENTS_MAX:
        raise InvalidRequestError(f"at most {C.CONSOLE_ATTACHMENTS_MAX} attachments per message")
    if not text.strip() and not files:
        raise InvalidRequestError("write a message or attach a file")
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text.strip() else []
    for upload in files:
        data = await upload.read(C.CONSOLE_UPLOAD_MAX_BYTES + 1)
        if len(data) > C.CONSOLE_UPLOAD_MAX_BYTES:
            raise TooLargeError(
                f"{upload.filename} is larger than {C.CONSOLE_UPLOAD_MAX_BYTES // (1024 * 1024)} MB"
            )
        parts.append(
            attachment_part(data, filename=upload.filename, media_type=upload.content_type or None)
        )
    session = str(form.get("session_id") or "").strip() or None
    return TurnRequest(
        model=model,
        message={"role": "user", "content": parts},
        session_id=session,
        system=str(form.get("system") or "").strip() or None,
        temperature=_number(form, "temperature", float, 0.0, 2.0),
        max_tokens=_number(form, "max_tokens", int, 1, C.MAX_OUTPUT_TOKENS),
        tools=str(form.get("tools") or "") in ("1", "on", "true"),
        title=str(form.get("title") or "").strip() or None,
    )


@routes.action("/discussion/turns")
async def start_turn(request: Request) -> Response:
    console = console_of(request)
    titles_of(request)  # names new sessions from their first question
    try:
        turn_request = await _turn_request(request)
    except PoeError as exc:
        return error_json(exc)
    try:
        turn = console.turns.start(turn_request)
    except InvalidRequestError as exc:
        return error_json(exc, 409)
    return JSONResponse(
        {"turn_id": turn.id, "events": f"{base_path(request)}/discussion/turns/{turn.id}/events"}
    )


@routes.page("/discussion/turns/{turn_id}/events")
async def turn_events(request: Request) -> Response:
    turn = console_of(request).turns.get(request.path_params["turn_id"])
    if turn is None:
        return JSONResponse({"error": {"kind": "not_found", "message": "no such turn"}}, 404)

    last = request.headers.get("last-event-id", "")
    start = int(last) + 1 if last.isdigit() else 0

    async def events() -> Any:
        turn.joined()
        try:
            async for index, name, data in turn.follow(start):
                if name == "ping":
                    yield {"comment": "ping"}
                else:
                    yield {
                        "id": str(index),
                        "event": name,
                        "data": json.dumps(data, ensure_ascii=False),
                    }
        finally:
            turn.left()  # the tab closed or the network dropped: see Turn.left

    return EventSourceResponse(events(), ping=None, headers={"Cache-Control": "no-store"})


@routes.action("/discussion/turns/{turn_id}/cancel")
async def cancel_turn(request: Request) -> Response:
    turn = console_of(request).turns.get(request.path_params["turn_id"])
    if turn is None:
        return JSONResponse({"error": {"kind": "not_found", "message": "no such turn"}}, 404)
    return JSONResponse({"cancelled": turn.cancel()})


@routes.action("/discussion/sessions/{session_id}/rename")
async def rename_session(request: Request) -> Response:
    session_id = request.path_params["session_id"]
    form = await request.form()
    titles_of(request).set(session_id, str(form.get("title") or ""))
    return await render(
        request, "_sessions.html", sessions=await _session_list(request), session_id=session_id
    )


async def _forget(request: Request) -> str | None:
    from ..conversation import Conversation

    session_id = request.path_params["session_id"]
    ctx = console_of(request).context
    conversation = Conversation(session_id, store=await ctx.store())
    title = titles_of(request).get(session_id)
    await conversation.reset()
    titles_of(request).set(session_id, None)
    return title


@routes.action("/discussion/sessions/{session_id}/reset")
async def reset_session(request: Request) -> Response:
    """Forget the messages and start over in a new conversation with the same name."""
    from urllib.parse import urlencode

    title = await _forget(request)
    query = urlencode({"title": title}) if title else ""
    return RedirectResponse(f"{base_path(request)}/discussion?{query}", status_code=303)


@routes.action("/discussion/sessions/{session_id}/delete")
async def delete_session(request: Request) -> Response:
    await _forget(request)
    return RedirectResponse(f"{base_path(request)}/discussion", status_code=303)


@routes.page("/discussion/sessions/{session_id}/export.{kind:str}")
async def export_session(request: Request) -> Response:
    session_id = request.path_params["session_id"]
    kind = request.path_params["kind"]
    store = await console_of(request).context.store()
    stored = await store.sessions.get(session_id)
    if stored is None:
        return PlainTextResponse("no such conversation (it may have expired)", 404)
    title = titles_of(request).get(session_id) or f"Conversation {session_id[:8]}"
    name = f"conversation-{session_id[:8]}"
    if kind == "json":
        body = {
            "session_id": session_id,
            "title": title,
            "model": stored.model,
            "created_at": stored.created_at,
            "updated_at": stored.updated_at,
            "exported_at": time.time(),
            "messages": stored.messages,
        }
        return JSONResponse(
            body, headers={"Content-Disposition": f'attachment; filename="{name}.json"'}
        )
    text = markdown_export(title, session_id, stored.model, stored.messages)
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.md"'},
    )
