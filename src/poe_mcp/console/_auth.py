"""Console login, sessions and request checks.

- **Login**: the console asks for the same bearer token as ``/mcp`` and exchanges it for a
  session cookie: ``HttpOnly`` (scripts cannot read it), ``SameSite=Strict`` (never sent on a
  request another site starts), ``Path=/console``, ``Secure`` behind HTTPS. Wrong tokens are
  compared in constant time and throttled (``CONSOLE_LOGIN_FAILURES_MAX`` per minute).
- **Sessions are server-side**: the cookie holds a random 256-bit id; this process keeps only
  its SHA-256 with the session's CSRF token and expiry. Nothing is signed, so there is no
  signing key to leak or rotate; logging out or restarting ends every session.
- **Every state-changing request** (POST, PUT, PATCH, DELETE) needs the session's CSRF token,
  in the ``X-CSRF-Token`` header (htmx and the scripts send it) or a ``csrf`` form field, and,
  when the browser sends ``Origin``, an origin equal to the console's own (``Host``). A
  cross-site POST is refused with 403 before anything runs. Host and Origin are also checked
  for every request by the HTTP transport's guard (``server._hostcheck``).
- Programs may send ``Authorization: Bearer <token>`` instead of a cookie (no CSRF needed: a
  browser never adds that header by itself).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from .. import _constants as C
from ..server._hostcheck import parse_host, parse_origin

__all__ = ["COOKIE", "CSRF_HEADER", "ConsoleSession", "Sessions", "same_origin"]

COOKIE = "poe_mcp_console"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(slots=True)
class ConsoleSession:
    csrf: str
    expires_at: float


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Sessions:
    """Logged-in browsers of this process, by the hash of their cookie."""

    def __init__(
        self,
        token: str | None,
        *,
        ttl_s: float = C.CONSOLE_SESSION_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: seconds from any fixed point (expiry and the login throttle; tests move
        a fake one)."""
        self._token = token
        self._ttl_s = ttl_s
        self._clock = clock
        self._by_hash: OrderedDict[str, ConsoleSession] = OrderedDict()
        self._failures: deque[float] = deque()

    def __repr__(self) -> str:
        return f"Sessions(active={len(self._by_hash)}, token=[redacted])"

    @property
    def token_required(self) -> bool:
        return self._token is not None

    def check_token(self, offered: str) -> bool:
        """Constant-time comparison with the bearer token (True when no token is required)."""
        if self._token is None:
            return True
        return hmac.compare_digest(offered.encode(), self._token.encode())

    def throttled(self, now: float | None = None) -> bool:
        """Too many wrong tokens in the last minute: logins pause."""
        now = self._clock() if now is None else now
        while self._failures and now - self._failures[0] > C.CONSOLE_LOGIN_WINDOW_S:
            self._failures.popleft()
        return len(self._failures) >= C.CONSOLE_LOGIN_FAILURES_MAX

    def failed(self) -> None:
        self._failures.append(self._clock())

    def create(self) -> tuple[str, ConsoleSession]:
        """A new session: the cookie value (shown to the browser once) and its state."""
        cookie = secrets.token_urlsafe(32)
        session = ConsoleSession(secrets.token_urlsafe(32), self._clock() + self._ttl_s)
        self._by_hash[_digest(cookie)] = session
        while len(self._by_hash) > C.CONSOLE_SESSIONS_MAX:
            self._by_hash.popitem(last=False)
        return cookie, session

    def get(self, cookie: str | None) -> ConsoleSession | None:
        if not cookie:
            return None
        key = _digest(cookie)
        session = self._by_hash.get(key)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            del self._by_hash[key]
            return None
        return session

    def end(self, cookie: str | None) -> None:
        if cookie:
            self._by_hash.pop(_digest(cookie), None)

    def bearer_ok(self, request: Request) -> bool:
        """An ``Authorization: Bearer`` header with the right token (programs, not browsers).

        A wrong one counts as a wrong login (the header is another way to guess the token), and
        while logins pause no bearer token is taken either.
        """
        if self._token is None:
            return False
        header = request.headers.get("authorization", "")
        if not header:
            return False
        if self.throttled():
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), self._token.encode()
        ):
            self.failed()
            return False
        return True


def same_origin(request: Request) -> bool:
    """The request's ``Origin`` (when sent) names this very console: scheme, host and port.

    Browsers send ``Origin`` on every cross-origin request and on same-origin POSTs; a
    request without one comes from a program or an old browser, and still needs the CSRF token.
    """
    origins = request.headers.getlist("origin")
    if not origins:
        return True
    if len(origins) > 1:
        return False
    parsed = parse_origin(origins[0])
    host = parse_host(request.headers.get("host", ""))
    if parsed is None or host is None:
        return False
    scheme, origin_host = parsed
    default = 443 if scheme == "https" else 80
    return (
        scheme == request.url.scheme
        and origin_host.name == host.name
        and (origin_host.port or default) == (host.port or default)
    )


def csrf_ok(request: Request, session: ConsoleSession, form_value: str | None) -> bool:
    offered = request.headers.get(CSRF_HEADER) or form_value or ""
    return bool(offered) and hmac.compare_digest(offered.encode(), session.csrf.encode())
