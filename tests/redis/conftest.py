"""Fixtures for the Redis tests. The shared server (``redis_server``, ``redis_url``) is in
``tests/conftest.py``: ``tests/store`` runs every store scenario on Redis too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from poe_mcp.store import open_store
from poe_mcp.store.redis import RedisStore

from .redis_testlib import RedisServer


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test alone, which it may stop and restart."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[RedisStore]:
    """The Redis store on its own time (Redis's ``TIME``, Redis TTLs)."""
    s = open_store(redis_url)
    assert isinstance(s, RedisStore)
    yield s
    await s.aclose()
