"""Streamable HTTP transport: ``/mcp`` behind a bearer token, ``/health``, ``/metrics``.

Security rules:

- A bearer token is required. Off loopback the server refuses to start without one; on loopback
  it generates one and prints it (unless ``--no-auth``, which is refused off loopback too).
- Host and Origin headers are parsed and checked on every request and every bind address
  (``_hostcheck``), which blocks DNS rebinding from a browser. Loopback names are always
  allowed; a non-loopback bind also allows its own address and this machine's names, plus
  whatever ``--allowed-host`` / ``--allowed-origin`` add.
- ``/health`` answers without a token (liveness probes) and shows no paths; ``/metrics`` and
  ``/media/<file>`` (saved media, see ``resources.py``) need the token.
- Slow or greedy clients meet deadlines and caps (``_limits``): headers, body, keep-alive,
  connections, body size, MCP session idle time and count.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
import sys
from collections.abc import Sequence
from typing import Any

from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .. import __version__
from .. import _constants as C
from .._logging import register_secret
from ..errors import ConfigError
from ._hostcheck import HostOriginGuard, HostRules
from ._limits import BodyDeadline, HttpLimits, StreamDeadline, protocol_class
from .resources import media_download
from .runtime import ServerRuntime

__all__ = [
    "HttpOptions",
    "StaticTokenVerifier",
    "allowed_names",
    "build_http_app",
    "check_token",
    "host_rules",
    "is_loopback",
    "resolve_token",
    "serve_http",
]

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (``127.0.0.0/8``, ``::1``, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_token(
    token: str, where: str = "the bearer token (POE_MCP_TOKEN, --token or <data dir>/http-token)"
) -> str:
    """``token`` when a client can send it in an ``Authorization`` header: printable ASCII
    without spaces (a line break or an accented letter would leave every client locked out).

    Raises:
        ConfigError: naming ``where`` the token came from, never the token.
    """
    if token and all(33 <= ord(c) <= 126 for c in token):
        return token
    raise ConfigError(
        f"{where} cannot be sent by any client: a token is printable ASCII without spaces or "
        "line breaks (e.g. the output of `openssl rand -hex 32`)"
    )


def resolve_token(
    host: str, token: str | None, *, no_auth: bool = False
) -> tuple[str | None, bool]:
    """The bearer token to require, and whether it was generated here.

    Raises:
        ConfigError: no token (or ``no_auth``) on a non-loopback address.
    """
    if no_auth:
        if not is_loopback(host):
            raise ConfigError(
                f"--no-auth is refused on {host}: anyone who can reach this address could spend "
                "your Poe points. Bind to 127.0.0.1 or set a token."
            )
        return None, False
    if token:
        register_secret(token)
        return check_token(token), False
    if not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host} without a bearer token: set POE_MCP_TOKEN or pass "
            "--token (clients then send 'Authorization: Bearer <token>')"
        )
    generated = secrets.token_urlsafe(C.HTTP_TOKEN_BYTES)
    register_secret(generated)
    return generated, True


class StaticTokenVerifier:
    """Accepts exactly one bearer token (compared in constant time)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticTokenVerifier(token=[redacted])"

    async def verify_token(self, token: str) -> AccessToken | None:
        """The access token when ``token`` is the server's bearer token, else None."""
        if hmac.compare_digest(token.encode(), self._token.encode()):
            # The SDK keeps this object on the request; it never needs the token itself.
            return AccessToken(token="[redacted]", client_id="poe-mcp-client", scopes=[])  # noqa: S106
        return None


def allowed_names(host: str, extra_hosts: Sequence[str] = ()) -> list[str]:
    """Host names a server bound to ``host`` answers to (any port)."""
    names: list[str] = list(_LOOPBACK_NAMES)
    if not is_loopback(host):
        wildcard = host in ("0.0.0.0", "::", "")
        if not wildcard:
            names.append(f"[{host}]" if ":" in host else host)
        for name in {socket.gethostname(), socket.getfqdn()}:
            if name and name not in names:
                names.append(name)
    names.extend(h for h in extra_hosts if h not in names)
    return names


def host_rules(
    host: str, extra_hosts: Sequence[str] = (), extra_origins: Sequence[str] = ()
) -> HostRules:
    """The Host and Origin rules of a server bound to ``host``.

    Raises:
        ConfigError: an ``--allowed-host`` / ``--allowed-origin`` value that does not parse.
    """
    try:
        return HostRules(allowed_names(host, extra_hosts), extra_origins)
    except ValueError as exc:
        raise ConfigError(f"{exc} (see --allowed-host / --allowed-origin)") from None


class HttpOptions:
    """How to serve over HTTP.

    Args:
        host / port: the bind address (port 0 picks a free port).
        token: the bearer token, or None for no auth (loopback only).
        allowed_hosts / allowed_origins: extra Host and Origin values to accept.
        limits: deadlines and caps against slow or greedy clients.
    """

    def __init__(
        self,
        host: str = C.HTTP_HOST,
        port: int = C.HTTP_PORT,
        token: str | None = None,
        allowed_hosts: Sequence[str] = (),
        allowed_origins: Sequence[str] = (),
        limits: HttpLimits | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.allowed_hosts = list(allowed_hosts)
        self.allowed_origins = list(allowed_origins)
        self.limits = limits or HttpLimits()


def _bearer_ok(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].encode(), token.encode())


def build_http_app(runtime: ServerRuntime, options: HttpOptions) -> Starlette:
    """The ASGI app: MCP at ``/mcp``, plus ``/health`` and ``/metrics``."""
    from mcp.server.auth.settings import AuthSettings

    from .app import build_server

    verifier = StaticTokenVerifier(options.token) if options.token else None
    auth = (
        AuthSettings(issuer_url=f"http://{C.HTTP_HOST}", resource_server_url=None)  # type: ignore[arg-type]
        if verifier
        else None
    )
    server = build_server(runtime, token_verifier=verifier, auth=auth)

    async def health(request: Request) -> Response:
        store: dict[str, Any]
        try:
            store = await (await runtime.store()).health()
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            store = {"ok": False, "error": type(exc).__name__}
        body = {
            "status": "ok" if store.get("ok") else "degraded",
            "name": "poe-mcp",
            "version": __version__,
            "transport": "http",
            "simulated": runtime.simulated,
            "provider": runtime.settings.provider,
            # No URL or path here (no token needed): authenticated callers see the store's
            # location in get_server_info.
            "store": {"ok": bool(store.get("ok")), "backend": _store_kind(runtime)},
            "tools": len(runtime.tools),
            "uptime_s": round(runtime.metrics.uptime_s(), 3),
        }
        return JSONResponse(body, status_code=200 if store.get("ok") else 503)

    async def metrics(request: Request) -> Response:
        if not _bearer_ok(request, options.token):
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Authentication required"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return PlainTextResponse(
            runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    server.custom_route(C.HTTP_HEALTH_PATH, methods=["GET"])(health)
    server.custom_route(C.HTTP_METRICS_PATH, methods=["GET"])(metrics)
    # Saved media for remote clients, behind the token (resources.media_download).
    media = media_download(runtime, options.token)
    server.custom_route(f"{C.HTTP_MEDIA_PATH}/{{name}}", methods=["GET"])(media)
    rules = host_rules(options.host, options.allowed_hosts, options.allowed_origins)
    limits = options.limits
    app = server.streamable_http_app(
        streamable_http_path=C.HTTP_MCP_PATH,
        # HostOriginGuard checks every path by parsing; the SDK's own check compares
        # prefixes ("127.0.0.1:*" let "127.0.0.1:8000@evil.com" through), so it is off.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        host=options.host,
        max_request_body_size=limits.max_body_bytes,
        session_idle_timeout=limits.mcp_session_idle_s,
        max_sessions=limits.max_mcp_sessions,
    )
    # The last added runs first: Host/Origin before anything reads the body.
    app.add_middleware(StreamDeadline, timeout_s=limits.mcp_session_idle_s, path=C.HTTP_MCP_PATH)
    app.add_middleware(
        BodyDeadline, timeout_s=limits.body_timeout_s, max_bytes=limits.max_body_bytes
    )
    app.add_middleware(HostOriginGuard, rules=rules)
    from ..console._mount import mount_console  # the web console at /console, same token

    mount_console(app, runtime, options.token, body_max_bytes=limits.max_body_bytes)
    return app


def _store_kind(runtime: ServerRuntime) -> str:
    return runtime.settings.store_url.partition(":")[0] or "unknown"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every response waits ~40 ms (Nagle against the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(C.HTTP_BACKLOG)
    sock.setblocking(False)
    return sock


async def serve_http(
    runtime: ServerRuntime, options: HttpOptions, *, generated_token: bool
) -> None:
    """Serve until interrupted, then close the runtime."""
    import uvicorn

    app = build_http_app(runtime, options)
    sock = _bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"poe-mcp: MCP over HTTP at http://{shown}:{port}{C.HTTP_MCP_PATH} "
        f"(health {C.HTTP_HEALTH_PATH}, metrics {C.HTTP_METRICS_PATH})"
        + (" [SIMULATED]" if runtime.simulated else ""),
        file=sys.stderr,
        flush=True,
    )
    print(
        f"poe-mcp: web console at http://{shown}:{port}{C.CONSOLE_PATH}/ (log in with the token)",
        file=sys.stderr,
        flush=True,
    )
    if generated_token and options.token:
        print(
            "poe-mcp: bearer token for this run (set POE_MCP_TOKEN to choose one): "
            + options.token,
            file=sys.stderr,
            flush=True,
        )
    elif options.token is None:
        print("poe-mcp: authentication is OFF (--no-auth, loopback only)", file=sys.stderr)
    limits = options.limits
    config = uvicorn.Config(
        app,
        log_level="warning",
        # uvicorn's own handlers would print its lines unredacted and outside --log-file:
        # without a config of its own its loggers reach ours (the root's, with the scrubber).
        log_config=None,
        ws="none",  # no WebSocket stack: an upgrade request is plain HTTP, Host-checked
        lifespan="on",
        access_log=False,
        http=protocol_class(limits),
        # The cap itself is the protocol's (it refuses the connection beyond it); uvicorn's own
        # check answers 503 to every request once that many are open, counting ones being
        # refused, so a flood would fail the requests of connections already accepted.
        limit_concurrency=limits.max_connections + 1,
        timeout_keep_alive=max(1, round(limits.keep_alive_s)),
        backlog=C.HTTP_BACKLOG,
    )
    server = uvicorn.Server(config)
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
        await runtime.aclose()
