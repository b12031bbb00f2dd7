from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from poe_mcp.store import open_store
from poe_mcp.store.base import Store

from ..conftest import FakeClock


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each backend (Redis: an empty database of the session's server)."""
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'db' / 'poe.db'}"


@pytest.fixture
async def store(store_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    """Every behaviour test runs on every backend, on the test's ``clock``: they must behave
    the same."""
    s = open_store(store_url, clock=clock)
    yield s
    await s.aclose()
