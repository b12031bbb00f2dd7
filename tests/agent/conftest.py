"""Fixtures for the agent tests: one client per module on the shared simulator, user dirs in tmp."""

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


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(simulator: Simulator, user_dirs: Path) -> AsyncIterator[AsyncPoeClient]:
    async with AsyncPoeClient("sk-agent-tests", base_url=simulator.base_url) as c:
        yield c


def chat_requests(sim: Simulator) -> list[dict]:
    """The chat-completion requests the simulator received, oldest first."""
    return [r for r in sim.requests() if r.get("path", "").endswith("/chat/completions")]
