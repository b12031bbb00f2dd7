"""Fixtures for orchestration tests: a client per test (on the shared simulator) with its own
store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from poe_mcp import AsyncPoeClient
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store
from poe_mcp.store.base import Store

# Simulated models with known prices, so per-tier cost is a real number.
TIERS = {
    "1": "Claude-Opus-4.1",
    "2": "Claude-Sonnet-4",
    "3": "GPT-4.1",
    "4": "GPT-4o-mini",
    "escalation": "Claude-Opus-4.1",
}
# 3 tracks (sentences) of 3, 3 and 2 tickets (parts): 8 tickets; the parts after the first of
# each track depend on the first, so they can run in parallel.
GOAL = (
    "Build the lexer, add token kinds and add error spans. "
    "Write the parser, add the AST and add parser tests. "
    "Document the API and add examples."
)


@pytest.fixture(scope="module")
def user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("orchestra-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POE_MCP_HOME", str(home / "data"))
        mp.setenv("POE_MCP_CONFIG_DIR", str(home / "config"))
        mp.delenv("POE_API_KEY", raising=False)
        yield home


@pytest_asyncio.fixture(loop_scope="session")
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    yield opened
    await opened.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def client(
    simulator: Simulator, store: Store, user_dirs: Path
) -> AsyncIterator[AsyncPoeClient]:
    async with AsyncPoeClient("sk-orchestra", base_url=simulator.base_url, store=store, rpm=0) as c:
        yield c
