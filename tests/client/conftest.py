"""Fixtures for the client tests: clients on the shared simulator, isolated user dirs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator

KEY = "test-client-key-7f3a9c"


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[AsyncPoeClient]:
    async with AsyncPoeClient(
        KEY, base_url=simulator.base_url, store=False, catalog=False, rpm=0
    ) as c:
        yield c


def model_calls(sim: Simulator) -> list[dict[str, object]]:
    """Chat requests the simulator received (its log also holds /v1/models and /sim calls)."""
    return [r for r in sim.requests() if r["path"] == "/v1/chat/completions"]


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.elapsed = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.start


@pytest.fixture(autouse=True)
def _isolated_dirs(poe_home: Path) -> None:
    """Every test here: its own data and config dirs, no configuration from the environment."""
