"""Fixtures shared by every test folder: a running simulator, a fresh key, isolated user dirs.

Test folders add their own ``conftest.py`` for anything narrower.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from poe_mcp.config import ENV_VARS
from poe_mcp.simulator import Simulator

_USER_PREFIXES = ("POE_", "OPENAI_")


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


def _clear_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every variable ``ENV_VARS`` lists and every ``POE_*`` / ``OPENAI_*`` one."""
    for name in {*ENV_VARS, *(n for n in os.environ if n.startswith(_USER_PREFIXES))}:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The whole session (every test, every fixture): none of the user's configuration from
    the environment (no key, no base URL, no store...), and data and config dirs of its own,
    never the user's. Fixtures and tests set what they need on top (``poe_home`` per test)."""
    user = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as mp:
        _clear_user_settings(mp)
        mp.setenv("POE_MCP_HOME", str(user / "data"))
        mp.setenv("POE_MCP_CONFIG_DIR", str(user / "config"))
        yield


@pytest.fixture
def poe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """POE_MCP_HOME and POE_MCP_CONFIG_DIR in ``tmp_path`` (returns the data dir), and none of
    the user's configuration from the environment (no key, no base URL, no store...)."""
    home = tmp_path / "data"
    _clear_user_settings(monkeypatch)
    monkeypatch.setenv("POE_MCP_HOME", str(home))
    monkeypatch.setenv("POE_MCP_CONFIG_DIR", str(tmp_path / "config"))
    return home
