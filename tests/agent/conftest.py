"""Fixtures for the agent tests: one simulator and one client per module, user dirs in tmp."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from poe_mcp import AsyncPoeClient
from poe_mcp.simulator import Simulator

TOOL_MODEL = "Claude-Sonnet-4"
NO_TOOLS_MODEL = "Llama-3.1-405B"


@pytest.fixture(scope="module")
def user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("agent-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POE_MCP_HOME", str(home / "data"))
        mp.setenv("POE_MCP_CONFIG_DIR", str(home / "config"))
        mp.delenv("POE_API_KEY", raising=False)
        yield home


@pytest.fixture(scope="module")
def sim(user_dirs: Path) -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def fresh_sim(sim: Simulator) -> Simulator:
    """The module's simulator with no queued faults and an empty request log."""
    sim.clear_faults()
    sim.clear_requests()
    return sim


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(sim: Simulator) -> AsyncIterator[AsyncPoeClient]:
    async with AsyncPoeClient("sk-agent-tests", base_url=sim.base_url) as c:
        yield c


def chat_requests(sim: Simulator) -> list[dict]:
    """The chat-completion requests the simulator received, oldest first."""
    return [r for r in sim.requests() if r.get("path", "").endswith("/chat/completions")]
