"""Orchestration from the command line and over MCP, against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from click.testing import CliRunner
from mcp import Client

from poe_mcp.cli import cli
from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .conftest import GOAL, TIERS

TIER_ARGS = [a for k, v in TIERS.items() for a in ("--tier", f"{k}={v}")]
ORCHESTRA_TOOLS = ["orchestrate", "get_run", "resume_run", "cancel_run"]


def _env(home: Path) -> dict[str, str]:
    return {
        "POE_API_KEY": "sk-orchestra-cli",
        "POE_MCP_HOME": str(home / "data"),
        "POE_MCP_CONFIG_DIR": str(home / "config"),
        "POE_MCP_STORE": f"sqlite:///{home / 'cli.db'}",
    }


def _cli(sim: Simulator, home: Path, *args: str) -> Any:
    return CliRunner().invoke(
        cli, ["orchestrate", *args, "--base-url", sim.base_url], env=_env(home)
    )


def test_cli_runs_a_goal_shows_tickets_live_and_prints_cost_per_tier(
    simulator: Simulator, tmp_path: Path
) -> None:
    result = _cli(simulator, tmp_path, GOAL, *TIER_ARGS)
    assert result.exit_code == 0, result.output
    assert "✓ tier 3 [T1.1]" in result.stderr  # the live view, on stderr
    assert "run run-" in result.stdout
    assert ": completed" in result.stdout
    assert "tickets: 8 completed, 0 blocked, 0 not done" in result.stdout
    for tier in ("1", "2", "3", "4"):
        assert f"tier {tier} ({TIERS[tier]})" in result.stdout

    listed = _cli(simulator, tmp_path, "--list", "--json")
    runs = json.loads(listed.stdout)
    assert runs[0]["status"] == "completed"
    shown = _cli(simulator, tmp_path, "--show", runs[0]["id"], "--json")
    state = json.loads(shown.stdout)
    assert len(state["tickets"]) == 8


def test_cli_exit_code_and_summary_name_blocked_tickets(
    simulator: Simulator, tmp_path: Path
) -> None:
    result = _cli(
        simulator, tmp_path, "Do the impossible [fail-always].", *TIER_ARGS, "--max-retries", "0"
    )
    assert result.exit_code == 1
    assert "blocked T1.1: QA:" in result.stdout


def test_cli_refuses_bad_tier_options_and_unknown_runs(
    simulator: Simulator, tmp_path: Path
) -> None:
    bad = _cli(simulator, tmp_path, "goal", "--tier", "nonsense")
    assert bad.exit_code == 2
    assert "expected TIER=MODEL" in bad.output
    poe_mcp = str(Path(sys.executable).with_name("poe-mcp"))
    env = {**os.environ, **_env(tmp_path)}
    for args, said in (
        (["goal", "--tier", "7=GPT-4.1"], "error (config): unknown tier '7'"),
        (["--resume", "run-doesnotexist"], "error (not_found): no orchestration run"),
    ):
        proc = subprocess.run(
            [poe_mcp, "orchestrate", *args, "--base-url", simulator.base_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 1
        assert proc.stderr.startswith(said), proc.stderr


@pytest_asyncio.fixture(loop_scope="session")
async def orchestra_runtime(simulator: Simulator) -> AsyncIterator[ServerRuntime]:
    settings = Settings.load(store="memory://", base_url=simulator.base_url)
    runtime = ServerRuntime(
        settings, api_key="sk-orchestra-mcp", simulated=True, tools=ORCHESTRA_TOOLS
    )
    yield runtime
    await runtime.aclose()


@pytest.mark.asyncio(loop_scope="session")
async def test_mcp_orchestrate_reports_progress_and_returns_cost_per_tier(
    orchestra_runtime: ServerRuntime,
) -> None:
    server = build_server(orchestra_runtime)
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with Client(server) as client:
        result = await client.call_tool(
            "orchestrate",
            {"goal": GOAL, "tiers": TIERS},
            progress_callback=on_progress,
        )
        assert not result.is_error, result.content
        out = result.structured_content
        assert out is not None
        assert out["status"] == "completed"
        assert out["tickets"]["completed"] == 8
        assert out["simulated"] is True
        assert set(out["cost_by_tier"]) == {"1", "2", "3", "4"}
        assert out["total_cost"] == pytest.approx(
            sum(t["cost"] for t in out["cost_by_tier"].values())
        )
        assert any("[T2.1] ticket_completed" in p for p in progress)

        state = await client.call_tool("get_run", {"run_id": out["run_id"]})
        info = state.structured_content
        assert info is not None
        assert info["running"] is False
        assert info["ticket_states"]["T1.2"]["depends_on"] == ["T1.1"]

        gone = await client.call_tool("cancel_run", {"run_id": out["run_id"]})
        assert gone.is_error
        missing = await client.call_tool("get_run", {"run_id": "run-nope"})
        assert missing.is_error
