"""Fixtures for the MCP server tests: a server over the shared simulator, in memory."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))
INSPECTOR = str(ROOT / "node_modules" / ".bin" / "mcp-inspector")


@pytest.fixture
async def make_runtime(
    simulator: Simulator, api_key: str, poe_home: Path
) -> AsyncIterator[Callable[..., ServerRuntime]]:
    """Build runtimes against the shared simulator (closed at the end of the test)."""
    made: list[ServerRuntime] = []

    def make(
        *,
        store: str = "memory://",
        tools: list[str] | None = None,
        key: str | None = None,
        **settings: Any,
    ) -> ServerRuntime:
        cfg = Settings.load(store=store, base_url=simulator.base_url, **settings)
        rt = ServerRuntime(
            cfg, api_key=key or api_key, simulated=True, tools=tools or available_tools()
        )
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.aclose()


@pytest.fixture
def runtime(make_runtime: Callable[..., ServerRuntime]) -> ServerRuntime:
    return make_runtime()


@pytest.fixture
def server(runtime: ServerRuntime) -> Any:
    return build_server(runtime)


def subprocess_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a `poe-mcp serve` subprocess: isolated dirs, no real key."""
    env = {k: v for k, v in os.environ.items() if k not in ("POE_API_KEY", "OPENAI_API_KEY")}
    env["POE_MCP_HOME"] = str(home / "data")
    env["POE_MCP_CONFIG_DIR"] = str(home / "config")
    env.update(extra)
    return env
