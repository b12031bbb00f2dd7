"""Fixtures for the library tests: isolated user dirs and a client on the shared simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from poe_mcp import AsyncPoeClient
from poe_mcp.simulator import Simulator
from poe_mcp.store.memory import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def client(
    simulator: Simulator, api_key: str, store: MemoryStore
) -> AsyncIterator[AsyncPoeClient]:
    """The real client against the simulator, its ledger and sessions in ``store``."""
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=store, rpm=0) as c:
        yield c


@pytest.fixture(autouse=True)
def _isolated_dirs(poe_home: Path) -> None:
    """Every test here: its own data and config dirs, no configuration from the environment."""
