"""What every console page shares: the settings in force, the one client, the store, the simulator.

Settings come from ``config.toml`` and the environment (``Settings.load``), so a change saved on
the settings page is applied by :meth:`ConsoleContext.reload` without a restart: the settings
are loaded and validated again and a new client is built (turns already running finish on the
old one, which is closed afterwards). The store is opened once and kept: sessions, the ledger
and runs do not move while the console runs.

Without an API key for the chosen provider (or with ``--simulate``) the console answers from the
built-in simulator, playing that provider (Poe, or OpenAI's shape for ``openai`` and
``compatible``), and every page says so. Saving a key for the provider leaves simulation (unless
``--simulate`` forced it).

The key itself never leaves this object: pages get :class:`KeyStatus` (set or not, from where).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import Settings, env_value, key_env, resolve_api_key
from ..errors import AuthError, ConfigError

if TYPE_CHECKING:
    from ..client import AsyncPoeClient
    from ..simulator import Simulator
    from ..store.base import Store

__all__ = ["SIMULATED_API_KEY", "ConsoleContext", "KeyStatus"]

log = logging.getLogger(__name__)

SIMULATED_API_KEY = "simulated-key"  # the simulator accepts any key not starting invalid/broke


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """Whether a provider's key is configured, and where; never the key."""

    provider: str
    set: bool
    source: str | None  # "environment (POE_API_KEY)", "credentials.toml", "--api-key"
    env_name: str


def key_status(provider: str, settings: Settings, explicit: str | None = None) -> KeyStatus:
    """Where ``provider``'s key would come from (the order ``resolve_api_key`` follows)."""
    env_name = key_env(provider)
    if explicit:
        return KeyStatus(provider, True, "the --api-key option", env_name)
    if env_value(env_name):
        return KeyStatus(provider, True, f"the environment ({env_name})", env_name)
    try:
        resolve_api_key(provider)
    except AuthError:
        return KeyStatus(provider, False, None, env_name)
    except ConfigError:
        return KeyStatus(provider, False, "credentials.toml (unreadable)", env_name)
    return KeyStatus(provider, True, str(settings.config_dir / "credentials.toml"), env_name)


class ConsoleContext:
    """The console's view of poe-mcp: settings, client, store and simulator, reloadable.

    Args:
        settings: the settings at start (``Settings.load()``).
        simulate: always answer from the built-in simulator (``--simulate``).
        api_key: a key given on the command line (used while the provider does not change).
        open_store: opens a store to share (the MCP server's ``runtime.store``); None opens
            ``settings.store_url`` (and closes it with the console).
        token_required: whether logging in needs the bearer token (False with ``--no-auth``).
        simulator: ``(plays, base_url)`` of a simulator already running (``serve --simulate``
            prints its URL for faults): used while the console needs one playing the same
            provider, instead of a second one nobody can reach.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        simulate: bool = False,
        api_key: str | None = None,
        open_store: Callable[[], Awaitable[Store]] | None = None,
        token_required: bool = True,
        simulator: tuple[str, str] | None = None,
    ) -> None:
        self.simulate_forced = simulate
        self._explicit_key = api_key
        self._explicit_provider = settings.provider
        self._store: Store | None = None
        self._open_store = open_store
        self._owns_store = open_store is None
        self.token_required = token_required
        self.settings = settings
        self.configured = settings  # what config.toml and the environment say (no simulator)
        self.simulated = False
        self.simulated_reason = ""
        self._client: AsyncPoeClient | None = None
        self._retired: list[AsyncPoeClient] = []
        self._simulator: Simulator | None = None
        self._shared_simulator = simulator
        self._simulator_url: str | None = None
        self._simulator_provider: str | None = None
        self._lock = asyncio.Lock()
        self._balance_cache: tuple[float, str, int | None, str | None] | None = None

    # --- state -----------------------------------------------------------------------------

    async def store(self) -> Store:
        """The store (sessions, ledger, runs, logs), opened on first use."""
        if self._store is None:
            if self._open_store is not None:
                self._store = await self._open_store()
            else:
                from ..store import open_store

                opened: Any = open_store(self.settings.store_url)
                if asyncio.iscoroutine(opened):
                    opened = await opened
                self._store = opened
        assert self._store is not None
        return self._store

    async def client(self) -> AsyncPoeClient:
        """The client every console call goes through (``entry_point="console"``)."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await self._build(self.configured)
        return self._client

    def key_status(self, provider: str | None = None) -> KeyStatus:
        provider = provider or self.configured.provider
        explicit = self._explicit_key if provider == self._explicit_provider else None
        return key_status(provider, self.configured, explicit)

    # --- changes ---------------------------------------------------------------------------

    async def reload(self) -> Settings:
        """Load and validate the settings again and switch to a new client built from them.

        Raises:
            ConfigError: the settings (config.toml plus the environment) are not valid; the
                client in use stays.
        """
        settings = Settings.load(store=self.configured.store)
        async with self._lock:
            client = await self._build(settings)
            old, self._client = self._client, client
            self.configured = settings
            self._balance_cache = None
        if old is not None:
            self._retired.append(old)
            asyncio.get_running_loop().call_later(30.0, self._close_soon, old)
        return settings

    def _close_soon(self, client: AsyncPoeClient) -> None:
        # Turns started before the change finish on the old client; then it is closed.
        if client in self._retired:
            self._retired.remove(client)
            task = asyncio.ensure_future(client.aclose())
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _build(self, settings: Settings) -> AsyncPoeClient:
        from ..client import AsyncPoeClient

        store = await self.store()
        status = key_status(
            settings.provider,
            settings,
            self._explicit_key if settings.provider == self._explicit_provider else None,
        )
        api_key: str | None = None
        if not self.simulate_forced and status.set:
            explicit = self._explicit_key if settings.provider == self._explicit_provider else None
            api_key = resolve_api_key(settings.provider, explicit)
        effective = settings
        if api_key is None:
            effective = settings.with_(base_url=self._ensure_simulator(settings.provider))
            api_key = SIMULATED_API_KEY
            self.simulated = True
            self.simulated_reason = (
                "started with --simulate"
                if self.simulate_forced
                else f"no API key for provider {settings.provider!r} ({status.env_name} or "
                "credentials.toml)"
            )
        else:
            self.simulated = False
            self.simulated_reason = ""
        self.settings = effective
        return AsyncPoeClient(
            api_key,
            settings=effective,
            store=store,  # and its rate limiter (a Redis store's is shared)
            entry_point="console",
        )

    def _ensure_simulator(self, provider: str) -> str:
        """The base URL of a simulator playing ``provider`` (started when needed)."""
        from ..simulator import Simulator

        plays = "poe" if provider == "poe" else "openai"
        shared = self._shared_simulator
        if shared is not None and shared[0] == plays:
            if self._simulator is not None:
                self._simulator.stop()
                self._simulator = None
            self._simulator_url = shared[1]
            return shared[1]
        if self._simulator is not None and self._simulator_provider != plays:
            self._simulator.stop()
            self._simulator = None
        if self._simulator is None:
            self._simulator = Simulator(provider=plays).start()
            self._simulator_provider = plays
        self._simulator_url = self._simulator.base_url
        return self._simulator_url

    @property
    def simulator_url(self) -> str | None:
        return self._simulator_url if self.simulated else None

    async def balance(self) -> tuple[int | None, str | None]:
        """The Poe point balance, or None and why not (cached for a minute)."""
        import time

        from .. import _constants as C
        from ..errors import PoeError

        now = time.monotonic()
        cached = self._balance_cache
        if cached is not None and now - cached[0] < 60.0 and cached[1] == self.settings.provider:
            return cached[2], cached[3]
        value: int | None = None
        why: str | None = None
        if self.settings.provider != "poe":
            why = f"point balances exist for Poe accounts only (provider: {self.settings.provider})"
        else:
            try:
                client = await self.client()
                value = await asyncio.wait_for(client.balance(), C.DOCTOR_TIMEOUT_S)
            except (PoeError, TimeoutError) as exc:
                why = f"unavailable: {getattr(exc, 'message', None) or type(exc).__name__}"
        self._balance_cache = (now, self.settings.provider, value, why)
        return value, why

    async def aclose(self) -> None:
        """Close the clients, the store (when opened here) and the simulator."""
        for client in [*self._retired, *([self._client] if self._client else [])]:
            try:
                await client.aclose()
            except Exception:
                log.warning("error while closing a console client", exc_info=True)
        self._retired.clear()
        self._client = None
        if self._owns_store and self._store is not None:
            await self._store.aclose()
            self._store = None
        if self._simulator is not None:
            self._simulator.stop()
            self._simulator = None
