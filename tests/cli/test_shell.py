"""Shell integration: completion scripts, -v anywhere, --json on data commands, colours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from poe_mcp.cli import cli
from poe_mcp.cli._term import color_on, fail
from poe_mcp.simulator import Simulator

from .conftest import Invoke

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort -F"), ("zsh", "#compdef poe-mcp"), ("fish", "complete")],
)
def test_completion_scripts(shell: str, marker: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0
    assert marker in result.stdout
    assert "_POE_MCP_COMPLETE" in result.stdout


def test_completion_answers_commands_and_options() -> None:
    def complete(words: str, cword: int) -> list[str]:
        env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(cword),
               "_POE_MCP_COMPLETE": "bash_complete"}  # fmt: skip
        out = subprocess.run([POE_MCP], env=env, capture_output=True, text=True, timeout=30)
        return [line.split(",", 1)[1] for line in out.stdout.splitlines()]

    assert complete("poe-mcp lo", 1) == ["logs"]
    assert {"completion", "chat"} <= set(complete("poe-mcp c", 1))
    assert "--max-tokens" in complete("poe-mcp chat --max", 2)
    assert complete("poe-mcp completion f", 2) == ["fish"]


def test_verbose_after_the_subcommand(invoke: Invoke) -> None:
    result = invoke("chat", "-m", "GPT-4.1", "hi", "-vv")
    assert result.exit_code == 0, result.output
    assert " DEBUG " in result.stderr
    assert invoke("sessions", "list", "-v", base_url=False).exit_code == 0
    assert invoke("logs", "export", "--help", "-v", base_url=False).exit_code == 0


def test_sessions_clear_and_install_print_json(invoke: Invoke, tmp_path: Path) -> None:
    data = json.loads(invoke("chat", "-m", "GPT-4.1", "hi", "--json").stdout)
    cleared = invoke("sessions", "clear", data["session_id"], "--json", base_url=False)
    assert json.loads(cleared.stdout) == {"cleared": data["session_id"]}
    target = tmp_path / "mcp.json"
    installed = invoke("install", "cursor", "--config", str(target), "--json", base_url=False)
    payload = json.loads(installed.stdout)
    assert payload["written"] == str(target)
    assert payload["entry"]["args"][0] == "serve"
    assert json.loads(target.read_text())["mcpServers"]["poe"] == payload["entry"]
    shown = json.loads(invoke("install", "cursor", "--print", "--json", base_url=False).stdout)
    assert shown["written"] is None


def test_colours_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Tty:
        encoding = "utf-8"

        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert color_on(Tty())  # type: ignore[arg-type]
    monkeypatch.setattr(sys, "stderr", Tty())
    assert fail("boom").startswith("\x1b[")
    monkeypatch.setenv("NO_COLOR", "1")
    assert not color_on(Tty())  # type: ignore[arg-type]
    assert fail("boom") == "boom"


def test_image_open_and_sidecar(simulator: Simulator, api_key: str, tmp_path: Path) -> None:
    # a stand-in for xdg-open that notes what it was asked to open
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opened = tmp_path / "opened.txt"
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    opener.chmod(0o755)
    env = {**os.environ, "POE_API_KEY": api_key, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "DISPLAY": ":0"}  # fmt: skip
    out = subprocess.run(
        [POE_MCP, "image", "A lighthouse at dawn!", "-o", str(tmp_path / "pics"), "--open",
         "-q", "--base-url", simulator.base_url],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path.name.startswith("a-lighthouse-at-dawn-GPT-Image-1-")
    assert opened.read_text().strip() == str(path)
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["prompt"] == "A lighthouse at dawn!"
    assert sidecar["model"] == "GPT-Image-1"
    assert sidecar["cost_usd"] == pytest.approx(0.04)
