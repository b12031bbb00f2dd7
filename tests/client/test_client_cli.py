"""``poe-mcp chat`` against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from poe_mcp.cli import cli
from poe_mcp.simulator import Simulator

from .conftest import KEY, model_calls


def _invoke(sim: Simulator, args: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["chat", *args, "--base-url", sim.base_url],
        input=stdin,
        env={"POE_API_KEY": KEY},
    )
    return result.exit_code, result.stdout, result.stderr


def test_chat_streams_the_answer(simulator: Simulator) -> None:
    code, out, _ = _invoke(simulator, ["GPT-4.1", "hello from the shell"])
    assert code == 0
    assert 'You said: "hello from the shell"' in out


def test_chat_json_with_parameters(simulator: Simulator) -> None:
    code, out, _ = _invoke(
        simulator,
        [
            "Claude-Opus-4.1",
            "hi",
            "--json",
            "-s",
            "terse",
            "-t",
            "0.5",
            "--max-tokens",
            "200",
            "--stop",
            "zzz",
            "--param",
            "thinking_budget=64",
        ],
    )
    assert code == 0
    data = json.loads(out)
    assert data["model"] == "Claude-Opus-4.1"
    assert data["usage"]["total_tokens"] > 0
    body = model_calls(simulator)[0]["body"]
    assert isinstance(body, dict)
    assert body["thinking_budget"] == 64
    assert body["temperature"] == 0.5
    assert body["stop"] == ["zzz"]
    assert body["messages"][0]["role"] == "system"


def test_chat_reads_standard_input(simulator: Simulator) -> None:
    code, out, _ = _invoke(simulator, ["GPT-4.1", "-", "--no-stream"], stdin="piped text")
    assert code == 0
    assert "piped text" in out


def test_chat_attaches_files(simulator: Simulator, tmp_path: Path) -> None:
    doc = tmp_path / "a.pdf"
    doc.write_bytes(b"%PDF-1.4 tiny")
    code, out, _ = _invoke(simulator, ["Claude-Sonnet-4", "read it", "--attach", str(doc)])
    assert code == 0
    assert "application/pdf" in out


def test_chat_sessions_continue_across_invocations(simulator: Simulator) -> None:
    code, out, err = _invoke(simulator, ["GPT-4.1", "turn one", "--session", "new"])
    assert code == 0
    assert "received 1 messages" in out
    session = err.strip().split("session: ")[-1]
    code, out, _ = _invoke(simulator, ["GPT-4.1", "turn two", "--session", session])
    assert code == 0
    assert "received 3 messages" in out


def test_chat_errors_are_one_clear_line(simulator: Simulator) -> None:
    env = {**os.environ, "POE_API_KEY": KEY}
    proc = subprocess.run(
        [sys.executable, "-m", "poe_mcp", "chat", "No-Such-Model", "hi",
         "--base-url", simulator.base_url],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("error (not_found):")
    assert "Traceback" not in proc.stderr
    assert KEY not in proc.stderr
