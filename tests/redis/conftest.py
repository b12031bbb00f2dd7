"""Fixtures for the Redis tests: a real ``redis-server`` on a free loopback port in a tmp dir.

``scripts/ensure-redis`` (run by the Makefile) installs the server on a fresh machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from poe_mcp.store import open_store
from poe_mcp.store.redis import RedisStore

from .redis_testlib import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The Redis most tests share (each test starts from an empty one: see ``redis_url``)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A Redis URL whose database is empty at the start of the test."""
    redis_server.flush()
    return redis_server.url(0)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test alone, which it may stop and restart."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    """The Redis store, under the name the shared store scenarios (tests/store) expect."""
    s = open_store(redis_url)
    assert isinstance(s, RedisStore)
    yield s
    await s.aclose()
