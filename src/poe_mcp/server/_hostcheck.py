"""Host and Origin checks for the HTTP transport (DNS-rebinding protection), by parsing.

The SDK's own check (``TransportSecuritySettings`` with ``name:*`` patterns) compares
prefixes, so ``Host: 127.0.0.1:8000@evil.com`` and ``Origin: http://127.0.0.1:8000.evil.com``
passed it. Here both headers are parsed as RFC 9110 / RFC 6454 say and compared by parts:

- ``Host`` is ``name[:port]`` or ``[ipv6][:port]``: no userinfo, path, query, fragment,
  whitespace or other characters; the port, when present, is 1-5 ASCII digits in 1..65535.
- ``Origin`` is ``scheme://host[:port]`` with scheme http or https and the same host rules;
  absent means a non-browser client (allowed); ``null`` and anything else are refused.
- Names compare case-insensitively, a trailing dot ignored. An allowed entry ``name`` (or
  ``name:*``) accepts any port; ``name:8080`` only that port.

:class:`HostOriginGuard` applies them to every path, ``/mcp``, ``/health`` and ``/metrics`` alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HostOriginGuard", "HostRules", "parse_host", "parse_origin"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9._~-]+)?")
_PORT = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True, slots=True)
class HostPort:
    """A parsed host: lower-case name (IPv6 in brackets) and port (None when absent)."""

    name: str
    port: int | None


def parse_host(value: str) -> HostPort | None:
    """``Host`` header value -> parts, or None when it is not exactly ``host[:port]``."""
    if not value or len(value) > 300 or value != value.strip():
        return None
    if value.startswith("["):
        end = value.find("]")
        if end == -1 or not _IPV6.fullmatch(value[1:end]):
            return None
        name, rest = value[: end + 1].lower(), value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        name, colon, port_text_raw = value.partition(":")
        port_text = port_text_raw if colon else None
        name = name.lower()
        if name.endswith("."):
            name = name[:-1]
        if not _NAME.fullmatch(name) or len(name) > 253:
            return None
    port: int | None = None
    if port_text is not None:
        if not _PORT.fullmatch(port_text):
            return None
        port = int(port_text)
        if not 1 <= port <= 65535:
            return None
    return HostPort(name, port)


def parse_origin(value: str) -> tuple[str, HostPort] | None:
    """``Origin`` header value -> ``(scheme, host)``, or None when it is not a plain
    ``http(s)://host[:port]`` (no path, userinfo, query or fragment)."""
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        return None
    host = parse_host(rest)
    return None if host is None else (scheme, host)


def _entry(value: str) -> HostPort | None:
    """An allowed entry: ``name``, ``name:*`` (any port) or ``name:port``."""
    if value.endswith(":*"):
        parsed = parse_host(value[:-2])
        return None if parsed is None or parsed.port is not None else parsed
    return parse_host(value)


class HostRules:
    """What one server accepts.

    Args:
        hosts: allowed names (``name``, ``name:*``, ``name:port``; IPv6 in brackets).
        origins: extra allowed origins (``scheme://name``, ``scheme://name:*`` or
            ``scheme://name:port``); every allowed host is also allowed as an
            ``http``/``https`` origin.

    Raises:
        ValueError: an entry that does not parse (so a typo never allows everything).
    """

    def __init__(self, hosts: Iterable[str], origins: Iterable[str] = ()) -> None:
        self.hosts: list[HostPort] = []
        for value in hosts:
            parsed = _entry(value.strip())
            if parsed is None:
                raise ValueError(f"not a host name or address: {value!r}")
            self.hosts.append(parsed)
        self.origins: list[tuple[str, HostPort]] = []
        for value in origins:
            scheme, sep, rest = value.strip().partition("://")
            parsed = _entry(rest) if sep and scheme.lower() in ("http", "https") else None
            if parsed is None:
                raise ValueError(f"not an origin (http(s)://host[:port]): {value!r}")
            self.origins.append((scheme.lower(), parsed))

    @staticmethod
    def _matches(found: HostPort, allowed: HostPort) -> bool:
        return found.name == allowed.name and allowed.port in (None, found.port)

    def host_ok(self, value: str | None) -> bool:
        parsed = parse_host(value or "")
        return parsed is not None and any(self._matches(parsed, a) for a in self.hosts)

    def origin_ok(self, value: str | None) -> bool:
        if value is None:
            return True  # not a browser (browsers always send Origin on cross-origin POSTs)
        parsed = parse_origin(value)
        if parsed is None:
            return False
        scheme, host = parsed
        if any(self._matches(host, a) for a in self.hosts):
            return True
        return any(s == scheme and self._matches(host, a) for s, a in self.origins)


class HostOriginGuard:
    """ASGI middleware: 421 for a Host, 403 for an Origin that :class:`HostRules` refuses."""

    def __init__(self, app: ASGIApp, rules: HostRules) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            hosts = headers.getlist("host")
            origins = headers.getlist("origin")
            if len(hosts) != 1 or not self.rules.host_ok(hosts[0]):
                log.warning("refused Host header %r", _shown(hosts))
                await _refuse(scope, receive, send, 421, "Invalid Host header")
                return
            if len(origins) > 1 or not self.rules.origin_ok(origins[0] if origins else None):
                log.warning("refused Origin header %r", _shown(origins))
                await _refuse(scope, receive, send, 403, "Invalid Origin header")
                return
        await self.app(scope, receive, send)


def _shown(values: list[str]) -> list[str]:
    """Header values as logged: two at most, each cut short (no token needed to send them)."""
    return [v if len(v) <= 100 else v[:100] + "..." for v in values[:2]]


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
    if scope["type"] == "websocket":  # never accepted: the handshake ends here
        await send({"type": "websocket.close", "code": 1008, "reason": text})
        return
    await PlainTextResponse(text, status_code=status)(scope, receive, send)
