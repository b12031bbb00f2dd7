"""Fixtures for compare, consensus, fallbacks, reasoning and token accounting.

A client with a memory ledger over the shared simulator, and helpers to read what the simulator
received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store


@pytest.fixture
async def store() -> AsyncIterator[Any]:
    opened: Any = open_store("memory://")
    yield opened
    await opened.aclose()


@pytest.fixture
async def client(simulator: Simulator, api_key: str, store: Any) -> AsyncIterator[AsyncPoeClient]:
    """A client with a memory ledger, the catalog on, one quick retry, no client rate limit."""
    async with AsyncPoeClient(
        api_key, base_url=simulator.base_url, store=store, rpm=0, max_retries=1
    ) as c:
        yield c


def chat_bodies(sim: Simulator) -> list[dict[str, Any]]:
    """Bodies of the chat requests the simulator received, oldest first."""
    return [
        r["body"]
        for r in sim.requests()
        if r["path"] == "/v1/chat/completions" and isinstance(r["body"], dict)
    ]


def fail_model(sim: Simulator, model: str, status: int, **fields: Any) -> None:
    """Make every request to ``model`` fail with ``status`` (retries come back at once)."""
    sim.add_fault("status", status=status, model=model, times=50, retry_after_ms=1, **fields)


@pytest.fixture(autouse=True)
def _isolated_dirs(poe_home: Path) -> None:
    """Every test here: its own data and config dirs, no configuration from the environment."""
