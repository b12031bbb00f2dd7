"""Fixtures for the command-line tests: isolated user dirs, the simulator, a CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from poe_mcp.cli import cli
from poe_mcp.simulator import Simulator

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(simulator: Simulator, api_key: str, poe_home: Path) -> Invoke:
    """``invoke("chat", "hi", input=None)``: the CLI against the simulator, with a fresh key."""

    def run(*args: str, input: str | None = None, base_url: bool = True) -> Result:
        extra = ["--base-url", simulator.base_url] if base_url else []
        return CliRunner().invoke(cli, [*args, *extra], input=input, env={"POE_API_KEY": api_key})

    return run


@pytest.fixture(autouse=True)
def _isolated_dirs(poe_home: Path) -> None:
    """Every test here: its own data and config dirs, no configuration from the environment."""
