"""The console's ASGI app: login, the pages, static assets, security headers.

:func:`build_console_app` makes the app to mount at ``/console`` (``poe-mcp serve --transport
http`` mounts it beside ``/mcp``); :func:`standalone_app` wraps it for ``poe-mcp console``: the
Host/Origin guard of the HTTP transport, body limits, and ``/`` redirecting to the console.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import _constants as C
from . import _compare, _dashboard, _discussion, _runs, _settings
from ._auth import COOKIE, Sessions, csrf_ok, same_origin
from ._context import ConsoleContext
from ._runs_live import RunManager
from ._turns import TurnManager
from ._web import HERE, Console, authenticate, base_path, console_of, render, set_cookie

__all__ = ["build_console_app", "standalone_app"]

log = logging.getLogger(__name__)

# Scripts and styles only from the console itself (no inline script, no CDN); images and media
# may come from the provider's CDN (generated images, video, audio) or data: URIs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data: blob: https: http:; media-src 'self' data: blob: https: http:; "
    "connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """CSP, no framing, no sniffing, no cross-site referrer, no caching of pages (CSRF tokens)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = "/static/" in scope.get("path", "")

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                # same-origin, not no-referrer: with no-referrer, browsers send "Origin: null"
                # on same-origin form posts, which the Origin check must refuse.
                headers.setdefault("Referrer-Policy", "same-origin")
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, wrapped)


async def login_page(request: Request) -> Response:
    if authenticate(request) is not None and not request.scope.get("poe_console_new_cookie"):
        return RedirectResponse(f"{base_path(request)}/discussion", status_code=303)
    return await render(request, "login.html", page_name="login")


async def login(request: Request) -> Response:
    console = console_of(request)
    sessions = console.sessions
    if not same_origin(request):
        return await render(
            request,
            "login.html",
            status_code=403,
            page_name="login",
            error="Cross-site login refused.",
        )
    if sessions.throttled():
        return await render(
            request,
            "login.html",
            status_code=429,
            page_name="login",
            error="Too many wrong tokens: wait a minute, then try again.",
        )
    form = await request.form()
    offered = str(form.get("token") or "").strip()
    if not sessions.check_token(offered):
        sessions.failed()
        log.warning("console: wrong token offered")
        return await render(
            request,
            "login.html",
            status_code=401,
            page_name="login",
            error="That is not this server's token.",
        )
    cookie, _ = sessions.create()
    response = RedirectResponse(f"{base_path(request)}/discussion", status_code=303)
    set_cookie(request, response, cookie)
    return response


async def logout(request: Request) -> Response:
    console = console_of(request)
    cookie = request.cookies.get(COOKIE)
    session = console.sessions.get(cookie)
    if session is not None:
        # Ending a session changes state: same origin and its CSRF token, like every action.
        form = await request.form()
        offered = form.get("csrf")
        if not same_origin(request) or not csrf_ok(
            request, session, offered if isinstance(offered, str) else None
        ):
            log.warning("console: refused a logout without its CSRF token")
            return JSONResponse(
                {"error": {"kind": "forbidden", "message": "missing or wrong CSRF token"}}, 403
            )
        console.sessions.end(cookie)
    response = RedirectResponse(f"{base_path(request)}/login", status_code=303)
    response.delete_cookie(COOKIE, path=base_path(request) or "/")
    return response


async def home(request: Request) -> Response:
    return RedirectResponse(f"{base_path(request)}/discussion", status_code=303)


def build_console_app(
    context: ConsoleContext,
    token: str | None,
    *,
    secure_cookie: bool = False,
    body_max_bytes: int | None = None,
) -> Starlette:
    """The console (mount it at ``/console``).

    Args:
        context: settings, client and store (see :class:`ConsoleContext`).
        token: the bearer token logging in takes; None (``--no-auth``, loopback only) logs
            every browser in.
        secure_cookie: mark the session cookie ``Secure`` (behind an HTTPS proxy).
        body_max_bytes: the largest request body the server in front accepts (the page keeps
            attachments within it).
    """
    console = Console(
        context=context,
        sessions=Sessions(token),
        turns=TurnManager(context),
        runs=RunManager(context),
        secure_cookie=secure_cookie,
        body_max_bytes=body_max_bytes,
    )
    routes: list[Any] = [
        Route("/", home, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        *_discussion.routes,
        *_settings.routes,
        *_dashboard.routes,
        *_runs.routes,
        *_compare.routes,
    ]
    app = Starlette(routes=routes)
    app.state.console = console
    app.add_middleware(SecurityHeaders)
    return app


async def close_console(app: Starlette) -> None:
    """Stop its turns and runs and close its client, store and simulator."""
    console: Console = app.state.console
    await console.turns.aclose()
    await console.runs.aclose()
    await console.context.aclose()


def standalone_app(
    console_app: Starlette,
    *,
    host: str,
    allowed_hosts: tuple[str, ...] = (),
    allowed_origins: tuple[str, ...] = (),
) -> ASGIApp:
    """``poe-mcp console``'s app: the console at ``/console`` behind the Host/Origin guard."""
    from ..server._hostcheck import HostOriginGuard
    from ..server._limits import BodyDeadline, HttpLimits
    from ..server.http import host_rules

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await close_console(console_app)

    async def root(request: Request) -> Response:
        return RedirectResponse(f"{C.CONSOLE_PATH}/", status_code=307)

    outer = Starlette(
        routes=[Route("/", root, methods=["GET"]), Mount(C.CONSOLE_PATH, console_app)],
        lifespan=lifespan,
    )
    limits = HttpLimits()
    body_max = max(limits.max_body_bytes, C.CONSOLE_UPLOAD_MAX_BYTES * 2)
    console_app.state.console.body_max_bytes = body_max
    outer.add_middleware(BodyDeadline, timeout_s=limits.body_timeout_s, max_bytes=body_max)
    outer.add_middleware(HostOriginGuard, rules=host_rules(host, allowed_hosts, allowed_origins))
    return outer
