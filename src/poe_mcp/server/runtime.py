"""What the MCP tools share: settings, the one client, the store, the catalog, metrics.

Everything heavy (the openai SDK behind the client, SQLite, the catalog) is created on first use,
so ``initialize`` and ``tools/list`` never wait for it: an assistant spawns this server for every
session and the start-up time is paid each time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .._logging import register_secret
from ..config import Settings
from ..errors import PoeError
from ._metrics import Metrics

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..client import AsyncPoeClient
    from ..store.base import Store

__all__ = ["COMPAT_BACKEND", "ServerRuntime"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# The backend ``ask_poe`` and ``ask_with_attachment`` use when ``use_openai_client`` is false:
# Poe's bot protocol, as in earlier Poe MCP servers (real uploads, bot parameters). The v2 tools
# follow ``settings.backend`` (REST by default).
COMPAT_BACKEND = "legacy"


@dataclass
class ServerRuntime:
    """Shared state of one server process.

    Attributes:
        settings: the resolved settings (provider, base URL, store, session TTL...).
        api_key: the key the client uses; never shown anywhere.
        simulated: True when answers come from the built-in simulator.
        tools: names of the tools exposed.
        transport: ``stdio`` or ``http``.
        download_policy: where media downloads may connect: ``public`` or ``any``, as
            ``poe-mcp serve`` resolved it; None = the configured setting (``_netpolicy``).
    """

    settings: Settings
    api_key: str | None = None
    simulated: bool = False
    tools: list[str] = field(default_factory=list)
    transport: str = "stdio"
    download_policy: str | None = None
    metrics: Metrics = field(default_factory=Metrics)
    _client: AsyncPoeClient | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)
    _lock: asyncio.Lock | None = field(default=None, repr=False)
    _closers: list[Any] = field(default_factory=list, repr=False)
    _shared: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        register_secret(self.api_key)

    def _get_lock(self) -> asyncio.Lock:
        # Created lazily: the runtime is built before the server's event loop runs.
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def backend_for(self, use_openai_client: bool | None, *, compat: bool) -> str:
        """The backend of one call.

        ``use_openai_client``: True is the REST API, False Poe's bot protocol (refused when
        the provider has none, never silently REST), None the tool's default: the bot protocol
        for the compat tools, ``settings.backend`` for the others (REST off Poe).

        Raises:
            InvalidRequestError: False with a provider other than Poe.
        """
        on_poe = self.settings.provider == "poe"
        if use_openai_client is None:
            if not on_poe:
                return "openai"
            return COMPAT_BACKEND if compat else self.settings.backend
        if use_openai_client:
            return "openai"
        if not on_poe:
            from ..errors import InvalidRequestError

            raise InvalidRequestError(
                "use_openai_client=false asks for Poe's bot protocol, which provider "
                f"{self.settings.provider!r} does not have: leave it out (or true) for the REST "
                "API",
                metadata={"param": "use_openai_client"},
            )
        return COMPAT_BACKEND

    def answers_simulated(self) -> bool:
        """True under ``--simulate``, or once the client saw an answer from a simulator it
        reached by URL (a model list included)."""
        return self.simulated or (self._client is not None and self._client.simulated)

    @property
    def has_client(self) -> bool:
        """Whether the client exists yet (info tools should not create it just to report)."""
        return self._client is not None

    async def balance_points(self) -> int | None:
        """The Poe point balance when the client can tell, else None (never raises)."""
        if self._client is None or self.settings.provider != "poe":
            return None
        fetch = getattr(self._client, "balance", None)
        if fetch is None:
            return None
        try:
            value = await fetch()
        except PoeError:
            return None
        return int(value) if isinstance(value, (int, float)) else None

    def shared(self, factory: Callable[[ServerRuntime], T]) -> T:
        """The one object ``factory`` makes for this runtime: state a tool module keeps for
        the server's lifetime (the agent's own tools, the orchestration runs in progress)."""
        found: T | None = self._shared.get(factory)
        if found is None:
            found = self._shared[factory] = factory(self)
        return found

    async def store(self) -> Store:
        """The session/usage store, opened on first use (in a worker thread: SQLite creates,
        migrates and may wait for another process's lock)."""
        if self._store is None:
            async with self._get_lock():
                if self._store is None:
                    from ..store import open_store_async

                    self._store = await open_store_async(self.settings.store_url)
        return self._store

    async def client(self) -> AsyncPoeClient:
        """The one client every tool calls through (created on first use)."""
        if self._client is None:
            store = await self.store()
            async with self._get_lock():
                if self._client is None:
                    from ..client import AsyncPoeClient

                    # A Redis store also holds the key's rate limit, shared by every instance
                    # (the client takes its limiter from the store).
                    self._client = AsyncPoeClient(
                        self.api_key, settings=self.settings, store=store, entry_point="mcp"
                    )
        return self._client

    async def catalog(self) -> Catalog:
        """The model catalog of the active provider (the client's, so prices agree)."""
        catalog = (await self.client()).catalog
        if catalog is None:  # pragma: no cover - the runtime never turns the catalog off
            from ..errors import ConfigError

            raise ConfigError("the model catalog is turned off")
        return catalog

    def add_closer(self, closer: Any) -> None:
        """Something to close with the server (the in-process simulator, for one)."""
        self._closers.append(closer)

    async def aclose(self) -> None:
        """Close the client, the store and anything registered with :meth:`add_closer`."""
        started = time.perf_counter()
        for resource in (self._client, self._store):
            if resource is not None:
                try:
                    await resource.aclose()
                except Exception:
                    log.warning("error while closing %r", type(resource).__name__, exc_info=True)
        self._client = self._store = None
        for closer in reversed(self._closers):
            try:
                await _maybe_await(closer())
            except Exception:
                log.warning("error while closing", exc_info=True)
        self._closers.clear()
        log.debug("runtime closed in %.3f s", time.perf_counter() - started)


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value
