from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator


@pytest.fixture
async def sim_client(simulator: Simulator) -> AsyncIterator[AsyncPoeClient]:
    """The real client against the simulator; the catalog under test fetches through it."""
    async with AsyncPoeClient(
        api_key="test-key", base_url=simulator.base_url, max_retries=0, store=False
    ) as client:
        yield client


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def closed_url() -> str:
    return closed_port_url()


@pytest.fixture
async def dead_client(closed_url: str) -> AsyncIterator[AsyncPoeClient]:
    async with AsyncPoeClient(
        api_key="test-key", base_url=closed_url, max_retries=0, store=False
    ) as client:
        yield client


@pytest.fixture(autouse=True)
def _isolated_dirs(poe_home: Path) -> None:
    """Every test here: its own data and config dirs, no configuration from the environment."""
