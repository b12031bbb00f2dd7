"""The Redis connection every Redis-backed piece shares: URL checks, client, error mapping.

Used by the Redis store and the global rate limiter. ``redis`` is imported on use only: nothing
here runs unless a ``redis://`` URL is configured.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlsplit

from .. import _constants as C
from .._logging import register_secret
from ..errors import ConfigError, StoreError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["SCHEMES", "RedisLink", "redact_url"]

T = TypeVar("T")
SCHEMES = ("redis", "rediss")


def redact_url(url: str) -> str:
    """``url`` without its password (``redis://:secret@host`` -> ``redis://***@host``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}://{authority}{slash}{path}"


class RedisLink:
    """One pooled ``redis.asyncio`` client for a URL, and the translation of its failures.

    The pool reconnects by itself: after Redis restarts, the first command on a stale
    connection is retried on a fresh one (writes carry ids, so a retry never doubles them).

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]`` or ``rediss://`` (TLS).

    Raises:
        ConfigError: the URL is not a Redis URL.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES or not parts.hostname:
            raise ConfigError(
                f"bad Redis store URL {redact_url(url)!r}: use redis://host:port/db "
                "(or rediss:// for TLS; a password goes in redis://:password@host:port/db)"
            )
        if parts.password:
            register_secret(unquote(parts.password))
        self.url = url
        self.safe_url = redact_url(url)
        self.closed = False
        self._client: Redis | None = None

    @property
    def client(self) -> Redis:
        """The client, created on first use (creating it does no I/O)."""
        if self.closed:
            raise StoreError(f"the Redis store {self.safe_url} is closed")
        if self._client is None:
            try:
                from redis.asyncio import Redis
                from redis.asyncio.retry import Retry
                from redis.backoff import ExponentialBackoff
            except ImportError:
                raise ConfigError(
                    "the redis:// store needs the redis package: pip install 'poe-mcp[redis]'"
                ) from None
            try:
                self._client = Redis.from_url(
                    self.url,
                    decode_responses=True,
                    # A lone surrogate (an undecodable byte in a command-line session id or
                    # filter) becomes '?', as in SQLite's U+FFFD: a lookup finds nothing.
                    encoding_errors="replace",
                    socket_connect_timeout=C.REDIS_CONNECT_TIMEOUT_S,
                    socket_timeout=C.REDIS_SOCKET_TIMEOUT_S,
                    retry=Retry(
                        ExponentialBackoff(cap=C.REDIS_RETRY_CAP_S, base=C.REDIS_RETRY_BASE_S),
                        C.REDIS_RETRIES,
                    ),
                )
            except ValueError as exc:
                raise ConfigError(f"bad Redis store URL {self.safe_url!r}: {exc}") from None
        return self._client

    def error(self, exc: Exception, doing: str) -> StoreError:
        """A :class:`StoreError` that says what failed, where (no password) and what to check."""
        from redis import exceptions as rx

        if isinstance(exc, rx.AuthenticationError | rx.AuthorizationError):
            hint = "Check the user name and password in the store URL (POE_MCP_STORE / --store)"
        elif isinstance(exc, rx.ConnectionError | rx.TimeoutError | OSError):
            hint = (
                "Check that redis-server is running and reachable from this machine at that "
                "host and port (redis-cli -u <url> ping), and the store URL "
                "(POE_MCP_STORE / --store)"
            )
        else:
            hint = "Check the Redis server's log and that the URL names the right database"
        detail = str(exc).rstrip(". ") or type(exc).__name__
        return StoreError(
            f"Redis store {self.safe_url} unavailable while {doing}: {detail}. {hint}.",
            metadata={"store": self.safe_url},
        )

    async def run(self, doing: str, fn: Callable[[Redis], Awaitable[T]]) -> T:
        """Run ``fn(client)``, turning every Redis failure into a :class:`StoreError`.

        Args:
            doing: what the caller was doing, for the message ("reading a session").
            fn: the Redis work.
        """
        from redis.exceptions import RedisError

        client = self.client
        try:
            return await fn(client)
        except (RedisError, OSError) as exc:
            raise self.error(exc, doing) from exc

    async def aclose(self) -> None:
        """Close the pool. Safe to call twice."""
        self.closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
