"""What every console route uses: templates, the login guard, JSON and error answers.

Each page module declares its routes beside their endpoints with a :class:`Routes`:
``@routes.page(path)`` is a GET page or fragment, ``@routes.action(path)`` a POST that changes
state. Both find the console's state in ``request.app.state.console`` (:class:`Console`),
require a logged-in session (or the bearer token) and, for actions, the CSRF token and a
same-origin ``Origin``; the method comes with the guard, so no page is ever mounted where a
state change needs the CSRF check.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import __version__
from .. import _constants as C
from .._money import format_usd
from ..errors import AuthError, PoeError, RateLimitError, TooLargeError
from ._auth import COOKIE, UNSAFE_METHODS, ConsoleSession, Sessions, csrf_ok, same_origin
from ._inputs import form_error

if TYPE_CHECKING:
    from ._context import ConsoleContext
    from ._runs_live import RunManager
    from ._turns import TurnManager

__all__ = ["Console", "Routes", "base_path", "console_of", "error_json", "render"]

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
Endpoint = Callable[[Request], Awaitable[Response]]

NAV = (
    ("discussion", "Discussion"),
    ("dashboard", "Dashboard"),
    ("runs", "Runs"),
    ("compare", "Compare"),
    ("settings", "Settings"),
)


@dataclass
class Console:
    """The console's state, shared by every route (``request.app.state.console``)."""

    context: ConsoleContext
    sessions: Sessions
    turns: TurnManager
    runs: RunManager
    secure_cookie: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # The largest request body the server in front takes (None: no limit known): uploads
    # are refused in the page beyond it, with a reason, before the browser sends them.
    body_max_bytes: int | None = None


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["usd"] = format_usd
    env.filters["thousands"] = lambda v: f"{int(v or 0):,}"
    env.filters["seconds"] = _seconds
    env.filters["when"] = _when
    return env


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _when(ts: float | None) -> str:
    import time

    if not ts:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


TEMPLATES = _templates()


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def base_path(request: Request) -> str:
    """Where the console is mounted (``/console``), from the ASGI root path."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def session_of(request: Request) -> ConsoleSession | None:
    value: ConsoleSession | None = request.scope.get("poe_console_session")
    return value


async def render(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page or fragment with what every template may use (nav, banner, CSRF token)."""
    console = console_of(request)
    ctx = console.context
    session = session_of(request)
    values: dict[str, Any] = {
        "request": request,
        "base": base_path(request),
        "nav": NAV,
        "version": __version__,
        "csrf": session.csrf if session else "",
        "simulated": ctx.simulated,
        "simulated_reason": ctx.simulated_reason,
        "provider": ctx.configured.provider,
        "logged_in": session is not None,
        "token_required": console.sessions.token_required,
    }
    values.update(context)
    html = TEMPLATES.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)


def error_json(exc: PoeError, status_code: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": {"kind": exc.kind, "message": exc.message}}, status_code=status_code
    )


def _login_redirect(request: Request) -> Response:
    if request.headers.get("authorization"):
        # A program's wrong bearer token: say so (a redirect to a form would hide it).
        if console_of(request).sessions.throttled():
            return error_json(
                RateLimitError("too many wrong tokens: wait a minute, then try again"), 429
            )
        return error_json(
            AuthError("wrong bearer token (the one poe-mcp printed when it started)"), 401
        )
    if request.headers.get("hx-request") or "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": {"kind": "auth", "message": "log in first"}}, 401)
    return RedirectResponse(f"{base_path(request)}/login", status_code=303)


def authenticate(request: Request) -> ConsoleSession | None:
    """The request's session: its cookie's, or an ephemeral one for a correct bearer token."""
    console = console_of(request)
    sessions = console.sessions
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None and sessions.bearer_ok(request):
        session = ConsoleSession(csrf="", expires_at=0.0)
        request.scope["poe_console_bearer"] = True
    if session is None and not sessions.token_required:
        # --no-auth (loopback only): every browser gets a session on its first page.
        cookie, session = sessions.create()
        request.scope["poe_console_new_cookie"] = cookie
    if session is not None:
        request.scope["poe_console_session"] = session
    return session


def set_cookie(request: Request, response: Response, cookie: str) -> None:
    console = console_of(request)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(console.sessions._ttl_s),
        path=base_path(request) or "/",
        httponly=True,
        samesite="strict",
        secure=console.secure_cookie or request.url.scheme == "https",
    )


def _finish(request: Request, response: Response) -> Response:
    cookie = request.scope.get("poe_console_new_cookie")
    if cookie:
        set_cookie(request, response, cookie)
    return response


def page(fn: Endpoint) -> Endpoint:
    """A GET route for logged-in browsers (others are sent to the login page)."""

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
        if authenticate(request) is None:
            return _login_redirect(request)
        return _finish(request, await fn(request))

    return wrapper


def action(fn: Endpoint) -> Endpoint:
    """A state-changing route: logged in, same origin, and the session's CSRF token."""

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
        if not same_origin(request):
            log.warning("console: refused a cross-origin %s %s", request.method, request.url.path)
            return JSONResponse(
                {"error": {"kind": "forbidden", "message": "cross-site request refused"}}, 403
            )
        session = authenticate(request)
        if session is None:
            return _login_redirect(request)
        if "form" in request.headers.get("content-type", ""):
            # Read once, here, with the console's limits (Starlette keeps the first reading,
            # so the routes get this one); a form over a limit is refused with a reason.
            try:
                form = await request.form(
                    max_files=C.CONSOLE_ATTACHMENTS_MAX + 1,
                    max_part_size=C.CONSOLE_MESSAGE_MAX_BYTES,
                )
            except (HTTPException, MultiPartException) as exc:
                detail = getattr(exc, "detail", None) or getattr(exc, "message", exc)
                error = form_error(str(detail))
                return error_json(error, 413 if isinstance(error, TooLargeError) else 400)
        else:
            form = None
        if request.method in UNSAFE_METHODS and not request.scope.get("poe_console_bearer"):
            form_value = form.get("csrf") if form is not None else None
            if not csrf_ok(request, session, form_value if isinstance(form_value, str) else None):
                log.warning(
                    "console: refused %s %s without its CSRF token",
                    request.method,
                    request.url.path,
                )
                return JSONResponse(
                    {"error": {"kind": "forbidden", "message": "missing or wrong CSRF token"}},
                    403,
                )
        return _finish(request, await fn(request))

    return wrapper


class Routes(list[Route]):
    """A module's routes, each declared on its endpoint (see the module docstring)."""

    def page(self, path: str) -> Callable[[Endpoint], Endpoint]:
        """Declare a :func:`page` at GET ``path``."""
        return self._route(path, page, "GET")

    def action(self, path: str) -> Callable[[Endpoint], Endpoint]:
        """Declare an :func:`action` at POST ``path``."""
        return self._route(path, action, "POST")

    def _route(
        self, path: str, guard: Callable[[Endpoint], Endpoint], method: str
    ) -> Callable[[Endpoint], Endpoint]:
        def declare(fn: Endpoint) -> Endpoint:
            guarded = guard(fn)
            self.append(Route(path, guarded, methods=[method]))
            return guarded

        return declare
