"""Where media downloads may connect: the download policy against server-side request forgery.

A media bot's reply names the file to fetch (a link, a redirect, a JSON ``url``), so whoever
controls the reply chooses where the server connects. With the policy ``public`` a download
connects only to public internet addresses:

- every host name is resolved once, every address it resolves to is checked, and the
  connection goes to a checked address (no second lookup a DNS-rebinding name could answer
  differently);
- refused: loopback, private (RFC 1918, ``fc00::/7``), link-local, multicast, reserved,
  unspecified, shared (CGNAT), documentation and benchmark ranges, and IPv4 addresses hidden in
  IPv6 ones (``::ffff:127.0.0.1``, 6to4, NAT64, IPv4-compatible);
- every redirect is a new connection and is checked the same way (at most
  ``MEDIA_MAX_REDIRECTS``); proxies from the environment are not used;
- the provider's own origin (the host and port of its base URL, e.g. the simulator) stays
  allowed: the server talks to it anyway;
- a refusal is a ``media`` error that names no address and is the same for every port, so it
  tells nothing about what listens where.

Settings: ``[media] download_policy`` in ``config.toml``, ``POE_MCP_DOWNLOAD_POLICY``, and
``poe-mcp serve --download-policy``: ``auto`` (default), ``public`` or ``any`` (no address
check). ``auto`` is ``public`` for a server listening on a non-loopback address over HTTP and
``any`` elsewhere (stdio, loopback HTTP, the library, the command line).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import _constants as C
from .errors import ConfigError, MediaError

if TYPE_CHECKING:
    import httpx2

    from .config import Settings

__all__ = [
    "AddressRefused",
    "DownloadPolicy",
    "address_allowed",
    "download_policy_setting",
    "is_loopback_host",
    "server_download_policy",
]

ENV = "POE_MCP_DOWNLOAD_POLICY"
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPAT = ipaddress.ip_network("::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(MediaError):
    """A download's host resolves to an address the policy refuses (the download re-raises it
    as a plain :class:`~poe_mcp.errors.MediaError` naming the URL)."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_allowed(address: str | IPAddress) -> bool:
    """Whether a download may connect to ``address`` under the ``public`` policy."""
    try:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and not address_allowed(inner):
            return False
        if ip.is_site_local:
            return False
    return bool(
        ip.is_global
        and not ip.is_multicast
        and not ip.is_private
        and not ip.is_loopback
        and not ip.is_link_local
        and not ip.is_reserved
        and not ip.is_unspecified
    )


def is_loopback_host(host: str) -> bool:
    """Whether a bind address is loopback only (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def download_policy_setting(settings: Settings | None, explicit: str | None = None) -> str:
    """The configured policy: ``explicit``, else ``POE_MCP_DOWNLOAD_POLICY``, else
    ``[media] download_policy``, else ``auto``.

    Raises:
        ConfigError: not one of auto, public, any.
    """
    if settings is None:
        from .config import env_value

        env = env_value(ENV)
    else:
        env = settings.environ.get(ENV)
    value = explicit or env
    where = "--download-policy" if explicit else ENV
    if not value and settings is not None:
        value = settings.media.download_policy
        where = "[media] download_policy"
    value = value or "auto"
    if not isinstance(value, str) or value.strip().lower() not in C.DOWNLOAD_POLICIES:
        raise ConfigError(
            f"{where} must be one of {', '.join(C.DOWNLOAD_POLICIES)} (got {value!r}): "
            "public refuses private and local addresses, any allows every address, auto is "
            "public for a server listening off loopback"
        )
    return value.strip().lower()


def server_download_policy(
    settings: Settings, explicit: str | None, *, transport: str, host: str
) -> str:
    """The concrete policy of a server: ``auto`` becomes ``public`` off loopback, else ``any``."""
    value = download_policy_setting(settings, explicit)
    if value == "auto":
        value = "public" if transport == "http" and not is_loopback_host(host) else "any"
    return value


def _origin(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    default = 443 if parts.scheme.lower() == "https" else 80
    try:
        port = parts.port or default
    except ValueError:
        return None
    return parts.hostname.lower(), port


@dataclass(frozen=True, slots=True)
class DownloadPolicy:
    """Where downloads may connect.

    Attributes:
        restrict: True for ``public`` (only public addresses), False for ``any``.
        origins: ``(host, port)`` pairs always allowed (the provider's own).
    """

    restrict: bool = False
    origins: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls, mode: str | None, settings: Settings | None = None, *, urls: Iterable[str] = ()
    ) -> DownloadPolicy:
        """The policy for ``mode`` (None: the configured one; ``auto`` outside a server is
        ``any``); the origins of ``urls`` and of the provider's base URL stay allowed."""
        value = download_policy_setting(settings, mode)
        restrict = value == "public"
        bases = list(urls)
        if settings is not None:
            bases.append(settings.effective_base_url)
        origins = frozenset(o for o in (_origin(u) for u in bases) if o is not None)
        return cls(restrict, origins)

    def client(self, timeout: float) -> httpx2.AsyncClient:
        """An HTTP client for downloads under this policy (redirects followed and limited)."""
        import httpx2

        limits = httpx2.Timeout(timeout, connect=C.CONNECT_TIMEOUT_S)
        if not self.restrict:
            return httpx2.AsyncClient(
                timeout=limits, follow_redirects=True, max_redirects=C.MEDIA_MAX_REDIRECTS
            )
        transport = httpx2.AsyncHTTPTransport(trust_env=False)
        pool: Any = getattr(transport, "_pool", None)
        inner = getattr(pool, "_network_backend", None)
        if inner is None:  # pragma: no cover - guards an httpx2 upgrade that moves the seam
            raise ConfigError(
                "this httpx2 version hides its network backend: the public download policy "
                "cannot be enforced; set [media] download_policy = 'any' or pin httpx2"
            )
        pool._network_backend = _GuardedBackend(inner, self.origins)
        return httpx2.AsyncClient(
            timeout=limits,
            follow_redirects=True,
            max_redirects=C.MEDIA_MAX_REDIRECTS,
            transport=transport,
            trust_env=False,
        )


class _GuardedBackend:
    """An httpcore network backend that resolves once, checks, and connects to the checked IP.

    TLS still verifies the URL's host name: httpcore takes the SNI name from the request's
    origin, not from the address connected to.
    """

    def __init__(self, inner: Any, origins: frozenset[tuple[str, int]]) -> None:
        self._inner = inner
        self._origins = origins

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        import anyio
        import httpcore2

        if (host.lower(), port) in self._origins:
            return await self._inner.connect_tcp(
                host, port, timeout=timeout, local_address=local_address,
                socket_options=socket_options,
            )  # fmt: skip
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore2.ConnectError(f"cannot resolve {host}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        # Every address must pass: a name that also resolves to 127.0.0.1 is refused whole.
        if not addresses or not all(address_allowed(a) for a in addresses):
            raise AddressRefused(f"{host} is not a public address")
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except httpcore2.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> Any:
        raise AddressRefused("unix sockets are not downloaded from")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
