from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from poe_mcp.store import open_store
from poe_mcp.store.base import Store


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Every behaviour test runs on both backends: they must behave the same."""
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'db' / 'poe.db'}"
    s = open_store(url)
    yield s
    await s.aclose()
