"""Fixtures for "nothing silent": servers, clients and the CLI over the shared simulator."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator


def write_config(text: str) -> Path:
    """Write ``config.toml`` in the test's config dir (``POE_MCP_CONFIG_DIR``); returns its path."""
    path = Path(os.environ["POE_MCP_CONFIG_DIR"]) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def shared_dir(tmp_path: Path) -> Path:
    """A folder MCP callers may attach files from (``[tools] roots``)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    write_config(f'[tools]\nroots = ["{folder}"]\n')
    return folder


@pytest.fixture
async def make_server(simulator: Simulator, api_key: str) -> AsyncIterator[Callable[..., Any]]:
    """Build MCP servers over the shared simulator (their runtimes are closed at the end)."""
    made: list[ServerRuntime] = []

    def make(*, store: str = "memory://", key: str | None = None, **settings: Any) -> Any:
        cfg = Settings.load(store=store, base_url=simulator.base_url, **settings)
        runtime = ServerRuntime(
            cfg, api_key=key or api_key, simulated=True, tools=available_tools()
        )
        made.append(runtime)
        return build_server(runtime)

    yield make
    for runtime in made:
        await runtime.aclose()


@pytest.fixture
def server(make_server: Callable[..., Any]) -> Any:
    return make_server()


def error_of(result: Any) -> dict[str, Any]:
    """The OpenAI-format error JSON that ends every tool error text."""
    assert result.is_error, result.content[0].text
    text = result.content[0].text
    return dict(json.loads(text[text.rindex("\n{") + 1 :])["error"])


def sent(sim: Simulator) -> list[dict[str, Any]]:
    """Model requests the simulator received (REST chat and bot protocol), oldest first."""
    return [
        r
        for r in sim.requests()
        if r["path"] == "/v1/chat/completions" or r["path"].startswith("/bot/")
    ]


def said(result: Any) -> str:
    """What a CliRunner result told the user on stderr (an error not yet printed included)."""
    return str(result.stderr) + (str(result.exception) if result.exception else "")


@pytest.fixture(autouse=True)
def _isolated_dirs(poe_home: Path) -> None:
    """Every test here: its own data and config dirs, no configuration from the environment."""
