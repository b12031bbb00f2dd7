"""Orchestration under attack through the CLI and MCP: what a terminal or a client shows."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client
from mcp_types import ElicitResult

from poe_mcp.cli import cli, main
from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .conftest import TIERS

ORCHESTRA_TOOLS = ["orchestrate", "get_run", "resume_run", "cancel_run"]
TIER_ARGS = [a for k, v in TIERS.items() for a in ("--tier", f"{k}={v}")]


def _env(home: Path) -> dict[str, str]:
    return {
        "POE_API_KEY": "sk-orchestra-attack",
        "POE_MCP_HOME": str(home / "data"),
        "POE_MCP_CONFIG_DIR": str(home / "config"),
        "POE_MCP_STORE": f"sqlite:///{home / 'cli.db'}",
    }


def _main(
    sim: Simulator, home: Path, mp: pytest.MonkeyPatch, cap: Any, *args: str
) -> tuple[int, str, str]:
    """``poe-mcp orchestrate ARGS`` in process, through the script's own entry point."""
    for key, value in _env(home).items():
        mp.setenv(key, value)
    with pytest.raises(SystemExit) as ended:
        main(["orchestrate", *args, "--base-url", sim.base_url])
    out, err = cap.readouterr()
    return int(ended.value.code or 0), out, err


def test_cli_errors_are_one_line_and_name_the_tier(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    code, _, err = _main(simulator, tmp_path, monkeypatch, capsys, "Do it.", "--tier", "3=No-Such")
    assert code == 1
    assert err.startswith("error (not_found): tier 3 (worker) model 'No-Such': Unknown model")
    assert "Traceback" not in err

    code, out, _ = _main(simulator, tmp_path, monkeypatch, capsys, "Do it.", *TIER_ARGS, "--json")
    assert code == 0
    run_id = json.loads(out)["id"]
    code, _, err = _main(simulator, tmp_path, monkeypatch, capsys, "--resume", run_id)
    assert code == 1
    assert err.startswith(f"error (invalid_request): run {run_id} has nothing left to resume")


def test_cli_refuses_options_that_would_have_no_effect(
    simulator: Simulator, tmp_path: Path
) -> None:
    outline = tmp_path / "outline.txt"
    outline.write_text("src/", encoding="utf-8")
    for args, said in (
        (["--list", "--tier", "3=GPT-4.1"], "--list runs nothing, so --tier would have no"),
        (["--show", "run-x", "--step", "--max-retries", "1"], "so --step, --max-retries would"),
        (["--resume", "run-x", "--outline", str(outline)], "--outline is part of the stored run"),
        (["Do it.", "--budget-usd", "0"], "0.0 is not in the range x>0"),
    ):
        result = CliRunner().invoke(
            cli, ["orchestrate", *args, "--base-url", simulator.base_url], env=_env(tmp_path)
        )
        assert result.exit_code == 2, result.output
        assert said in result.output


def test_cli_step_mode_without_a_terminal_refuses_run_command(
    simulator: Simulator, tmp_path: Path
) -> None:
    root = tmp_path / "work"
    root.mkdir()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(
        f'[tools]\nroots = ["{root}"]\ncommands = ["true"]\n', encoding="utf-8"
    )
    args = ["orchestrate", "Call run_command program=true.", "--step", "--json", *TIER_ARGS]
    result = CliRunner().invoke(cli, [*args, "--base-url", simulator.base_url], env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "step mode without a terminal: tools that change things will be refused" in (
        result.stderr
    )
    output = json.loads(result.stdout)["tickets"]["T1.1"]["output"]
    assert "was not run" in output
    assert "exit code" not in output


def test_cli_ctrl_c_at_a_step_prompt_ends_at_once_and_the_run_resumes(
    simulator: Simulator, tmp_path: Path
) -> None:
    poe_mcp = str(Path(sys.executable).with_name("poe-mcp"))
    env = {**os.environ, **_env(tmp_path)}
    leader, follower = pty.openpty()  # a real terminal, so step mode asks
    command = [poe_mcp, "orchestrate", "Build A, add B. Write C.", "--step", *TIER_ARGS]
    proc = subprocess.Popen(
        [*command, "--base-url", simulator.base_url],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    try:
        assert proc.stderr is not None
        os.set_blocking(proc.stderr.fileno(), False)
        seen = b""
        deadline = time.monotonic() + 30
        while b"allow? [y/N]" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.read() or b""
            time.sleep(0.02)
        assert b"allow? [y/N]" in seen, seen.decode()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=5)  # it used to wait for Enter; later it aborted at exit
        os.set_blocking(proc.stderr.fileno(), True)
        err = (seen + proc.stderr.read()).decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    assert code == 130
    assert "Traceback" not in err
    assert "Fatal Python error" not in err
    line = next(x for x in err.splitlines() if x.startswith("interrupted: run run-"))
    run_id = line.split()[2]
    assert f"`poe-mcp orchestrate --resume {run_id}`" in line

    runner = CliRunner()
    base = ["--base-url", simulator.base_url]
    shown = runner.invoke(cli, ["orchestrate", "--show", run_id, "--json", *base], env=env)
    assert json.loads(shown.stdout)["status"] == "cancelled"
    resumed = runner.invoke(cli, ["orchestrate", "--resume", run_id, *base], env=env)
    assert resumed.exit_code == 0, resumed.output
    assert "tickets: 3 completed, 0 blocked, 0 not done" in resumed.stdout


# -- MCP ---------------------------------------------------------------------------------------


def _runtime(sim: Simulator, tools: dict[str, Any] | None = None) -> ServerRuntime:
    settings = Settings.load(store="memory://", base_url=sim.base_url)
    if tools is not None:
        settings = settings.with_(file={**settings.file, "tools": tools})
    return ServerRuntime(settings, api_key="sk-attack-mcp", simulated=True, tools=ORCHESTRA_TOOLS)


@pytest.mark.asyncio(loop_scope="session")
async def test_mcp_step_mode_asks_through_elicitation_before_a_mutating_tool(
    simulator: Simulator, tmp_path: Path
) -> None:
    runtime = _runtime(simulator, {"roots": [str(tmp_path)], "commands": ["true"]})
    asked: list[str] = []

    async def answer(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        tool_calls = [m for m in asked if "run_command(" in m]
        if "run_command(" in params.message and len(tool_calls) == 1:
            return ElicitResult(action="decline")  # the first change is refused
        return ElicitResult(action="accept", content={"approve": True})

    try:
        # The initialize-era session Claude Desktop, Claude Code and Cursor open: elicitation
        # can ask mid-call.
        server = build_server(runtime)
        async with Client(server, elicitation_callback=answer, mode="legacy") as client:
            result = await client.call_tool(
                "orchestrate",
                {
                    "goal": "Call run_command program=true. Call run_command program=true.",
                    "tiers": TIERS,
                    "step": True,
                },
            )
    finally:
        await runtime.aclose()
    assert not result.is_error, result.content
    out = result.structured_content
    assert out is not None
    assert out["status"] == "completed"
    # Each ticket was asked about first, then each call of the tool that changes things.
    assert sum("run ticket" in m for m in asked) == 2
    assert sum("run_command(" in m for m in asked) == 2
    outputs = sorted(out["outputs"].values())
    assert "exit code: 0" in outputs[0] + outputs[1]
    assert any("was not run" in o for o in outputs), "the declined call ran anyway"


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_mcp_step_mode_without_a_way_to_ask_refuses_mutating_tools_and_says_so(
    simulator: Simulator, tmp_path: Path, mode: Any
) -> None:
    """A legacy client without elicitation, or a stateless (2026-07-28) session, which has no
    server-to-client requests inside a call even when the client could elicit."""
    runtime = _runtime(simulator, {"roots": [str(tmp_path)], "commands": ["true"]})
    asked: list[str] = []

    async def answer(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    callback = answer if mode == "auto" else None
    try:
        async with Client(build_server(runtime), elicitation_callback=callback, mode=mode) as c:
            result = await c.call_tool(
                "orchestrate",
                {"goal": "Call run_command program=true.", "tiers": TIERS, "step": True},
            )
    finally:
        await runtime.aclose()
    out = result.structured_content
    assert out is not None
    assert out["tickets"]["completed"] == 1, "the ticket itself goes ahead"
    assert "was not run" in out["outputs"]["T1.1"]
    assert "exit code" not in out["outputs"]["T1.1"]
    assert out["step_questions"] == "unavailable"
    assert "tools that change things were refused" in str(result.content)
    assert asked == []


@pytest.mark.asyncio(loop_scope="session")
async def test_mcp_simulated_server_answers_every_provider_from_the_simulator(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a real provider would need its key
    runtime = _runtime(simulator)
    try:
        async with Client(build_server(runtime)) as client:
            result = await client.call_tool(
                "orchestrate",
                {"goal": "Build the lexer.", "tiers": {**TIERS, "3": "openai:gpt-4o-mini"}},
            )
    finally:
        await runtime.aclose()
    out = result.structured_content
    assert out is not None, result.content
    assert out["status"] == "completed"
    assert out["cost_by_tier"]["3"]["calls"] == 1
    assert out["simulated"] is True


@pytest.mark.asyncio(loop_scope="session")
async def test_mcp_two_resumes_of_one_run_do_not_both_run(simulator: Simulator) -> None:
    runtime = _runtime(simulator)
    try:
        async with Client(build_server(runtime)) as client:
            first = await client.call_tool(
                "orchestrate", {"goal": "Do A. Do B.", "tiers": TIERS, "budget_usd": 0.001}
            )
            assert first.structured_content is not None
            assert first.structured_content["status"] == "stopped"
            run_id = first.structured_content["run_id"]
            simulator.add_fault("delay", delay_s=0.3, model="GPT-4.1", times=0)
            try:
                one, two = await asyncio.gather(
                    client.call_tool("resume_run", {"run_id": run_id}),
                    client.call_tool("resume_run", {"run_id": run_id}),
                )
            finally:
                simulator.clear_faults()
    finally:
        await runtime.aclose()
    results = sorted([one, two], key=lambda r: bool(r.is_error))
    assert not results[0].is_error
    assert results[0].structured_content is not None
    assert results[0].structured_content["status"] == "completed"
    assert results[1].is_error
    assert "is running; cancel_run it first" in str(results[1].content)
