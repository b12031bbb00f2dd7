"""Where sessions and the usage ledger live: ``open_store(url)`` picks the backend.

==========================  ===========================================================
``memory://``               this process only (tests, throwaway runs)
``sqlite:///rel/path.db``   one file (default: ``<data dir>/poe-mcp.db``); ``sqlite:////abs``
``redis://host:port/db``    several server instances sharing work (needs the redis extra)
==========================  ===========================================================

Every backend implements :class:`~poe_mcp.store.base.Store` with the same behaviour.
``open_store(url, clock=fake)`` gives the store another time source (see
:data:`~poe_mcp.store.base.Clock`): tests move it instead of waiting for sessions to expire.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from .base import Clock, Store

__all__ = ["open_store", "open_store_async"]

# URL scheme -> module under poe_mcp.store whose ``open_store(url)`` opens it (imported on use).
# None: known scheme, backend not available in this build.
_BACKENDS: dict[str, str | None] = {
    "memory": "memory",
    "sqlite": "sqlite",
    "redis": "redis",
    "rediss": "redis",
}


def open_store(url: str, *, clock: Clock | None = None) -> Store:
    """Open the store at ``url`` (see the module docstring for the forms).

    Args:
        url: where the store lives.
        clock: the store's time, a function returning seconds since the epoch (default:
            ``time.time``, Redis's own time on Redis). It is read once here; a reading that
            is not a finite number (or raises) is a ``ConfigError`` now, a ``StoreError`` later.

    Raises:
        TypeError: ``url`` is not a string, or ``clock`` is not callable.
        ConfigError: the URL is malformed or names a backend that is not available, or the
            clock's first reading is unusable.
        StoreError: the backend exists but cannot be opened (unwritable path, newer schema...).
    """
    from ._clock import checked_clock

    if not isinstance(url, str):
        raise TypeError(f"url takes a store URL (a string), not {type(url).__name__}")
    if "\x00" in url:
        raise ConfigError("the store URL contains a NUL character")
    clock = checked_clock(clock)
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in _BACKENDS:
        raise ConfigError(
            f"unknown store URL {url!r}: use memory://, sqlite:///path/to/file.db "
            "or redis://host:port/db (POE_MCP_STORE, --store, or store = ... in config.toml)"
        )
    module = _BACKENDS[scheme.lower()]
    if module is None:
        raise ConfigError(
            f"the {scheme}:// store is not available: Redis support needs the redis extra "
            "(pip install 'poe-mcp[redis]') and a poe-mcp version that includes it. "
            "Use sqlite:///path/to/file.db (the default) for a single machine."
        )
    opener = importlib.import_module(f"{__name__}.{module}").open_store
    store: Store = opener(url, clock=clock)
    return store


async def open_store_async(url: str, *, clock: Clock | None = None) -> Store:
    """:func:`open_store` in a worker thread, for code on an event loop: opening SQLite creates
    the file, applies migrations and may wait for another process's write lock.

    Raises:
        ConfigError / StoreError: as :func:`open_store`.
    """
    import anyio

    return await anyio.to_thread.run_sync(lambda: open_store(url, clock=clock))
