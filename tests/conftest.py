"""Fixtures shared by every test folder: a running simulator, a fresh key, isolated user dirs.

Test folders add their own ``conftest.py`` for anything narrower.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from poe_mcp.simulator import Simulator


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    """One simulator on an ephemeral loopback port for the whole session (per xdist worker).

    Shared: give each test its own key (``api_key``) so balances and rate windows stay apart,
    and clear faults you queue (``simulator.clear_faults()``).
    """
    with Simulator() as sim:
        yield sim


@pytest.fixture
def api_key() -> str:
    """A key no other test uses: its own balance, points history and rate window."""
    return f"test-{uuid.uuid4().hex}"


# Everything the user's environment could use to configure poe-mcp.
CONFIG_ENV = (
    "POE_MCP_DOWNLOAD_POLICY",
    "POE_API_KEY",
    "OPENAI_API_KEY",
    "POE_BASE_URL",
    "OPENAI_BASE_URL",
    "POE_BOT_BASE_URL",
    "POE_UPLOAD_BASE_URL",
    "POE_MCP_PROVIDER",
    "POE_MCP_BACKEND",
    "POE_MCP_STORE",
    "POE_MCP_RPM",
    "POE_MCP_SESSION_TTL",
    "POE_MCP_TOOLS",
    "POE_MCP_TOKEN",
    "POE_MCP_LOG_PROMPTS",
    "POE_MCP_MODEL",
    "POE_MCP_LOGS",
    "POE_MCP_STREAM_OPTIONS",
)


@pytest.fixture
def poe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """POE_MCP_HOME and POE_MCP_CONFIG_DIR in ``tmp_path`` (returns the data dir), and none of
    the user's configuration from the environment (no key, no base URL, no store...)."""
    home = tmp_path / "data"
    monkeypatch.setenv("POE_MCP_HOME", str(home))
    monkeypatch.setenv("POE_MCP_CONFIG_DIR", str(tmp_path / "config"))
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    return home
