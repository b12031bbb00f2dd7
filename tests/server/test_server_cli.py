"""The MCP Inspector CLI as an independent client, and `install` / `doctor` / `serve --help`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from poe_mcp.cli import cli
from poe_mcp.simulator import Simulator

from .conftest import INSPECTOR, POE_MCP, subprocess_env
from .test_server_transports import TOKEN, start_http

pytestmark = pytest.mark.timeout(60)  # the MCP Inspector CLI (node) and server processes


def inspector(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(tmp_path)
    # The Inspector gives a stdio server only a minimal environment: pass the isolated dirs on.
    isolation: list[str] = []
    if args and args[0] == POE_MCP:
        for name in ("POE_MCP_HOME", "POE_MCP_CONFIG_DIR"):
            isolation += ["-e", f"{name}={env[name]}"]
    return subprocess.run(
        [INSPECTOR, "--cli", *isolation, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_inspector_stdio_list_and_call(tmp_path: Path) -> None:
    serve = [POE_MCP, "serve", "--simulate"]
    listed = inspector(tmp_path, *serve, "--method", "tools/list")
    assert listed.returncode == 0, listed.stderr
    names = [t["name"] for t in json.loads(listed.stdout)["tools"]]
    assert "ask_poe" in names
    assert "get_server_info" in names
    assert "warning" not in listed.stderr.lower()  # portable schemas

    called = inspector(
        tmp_path, *serve, "--method", "tools/call", "--tool-name", "ask_poe",
        "--tool-args-json", json.dumps({"bot": "Gemini-2.5-Pro", "prompt": "from inspector"}),
    )  # fmt: skip
    assert called.returncode == 0, called.stderr
    result = json.loads(called.stdout)
    assert 'You said: \\"from inspector\\"' in json.dumps(result["content"])
    assert result["structuredContent"]["simulated"] is True


def test_inspector_sees_tool_errors(tmp_path: Path) -> None:
    failed = inspector(
        tmp_path, POE_MCP, "serve", "--simulate", "--method", "tools/call",
        "--tool-name", "ask_poe_v2",
        "--tool-args-json", '{"bot": "GPT-4.1", "prompt": "x", "top_p": 2}',
    )  # fmt: skip
    assert failed.returncode == 5


def test_inspector_over_http_with_and_without_token(tmp_path: Path) -> None:
    proc, url = start_http(tmp_path, "--token", TOKEN)
    try:
        ok = inspector(
            tmp_path, url, "--transport", "http", "--header", f"Authorization: Bearer {TOKEN}",
            "--method", "tools/call", "--tool-name", "list_sessions", "--tool-args-json", "{}",
        )  # fmt: skip
        denied = inspector(tmp_path, url, "--transport", "http", "--method", "tools/list")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert ok.returncode == 0, ok.stderr
    assert denied.returncode == 3


def test_serve_help_documents_every_knob() -> None:
    out = CliRunner().invoke(cli, ["serve", "--help"])
    assert out.exit_code == 0
    for option in ("--transport", "--host", "--port", "--token", "--tools", "--store",
                   "--simulate", "--simulate-if-no-key", "--provider", "--backend",
                   "--allowed-host", "--allowed-origin", "--session-ttl"):  # fmt: skip
        assert option in out.output


@pytest.mark.parametrize("client", ["claude-desktop", "claude-code", "cursor"])
def test_install_print_and_write(client: str, tmp_path: Path, poe_home: Path) -> None:
    printed = CliRunner().invoke(cli, ["install", client, "--print", "--tools", "chat"])
    assert printed.exit_code == 0, printed.output
    entry = json.loads(printed.stdout.split("\n\n# or:")[0])["mcpServers"]["poe"]
    assert entry["args"] == ["serve", "--tools", "chat"]
    assert entry["command"].endswith("poe-mcp")

    target = tmp_path / "client" / "config.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}, "theme": "dark"}))
    wrote = CliRunner().invoke(cli, ["install", client, "--config", str(target)])
    assert wrote.exit_code == 0, wrote.output
    data = json.loads(target.read_text())
    assert set(data["mcpServers"]) == {"other", "poe"}
    assert data["theme"] == "dark"
    assert "api_key" not in target.read_text().lower()


def test_doctor_reports_without_showing_the_key(
    simulator: Simulator, poe_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = CliRunner().invoke(cli, ["doctor", "--json"])
    assert missing.exit_code == 1
    checks = {c["name"]: c for c in json.loads(missing.output)["checks"]}
    assert checks["api_key"]["ok"] is False
    assert "POE_API_KEY" in checks["api_key"]["detail"]

    key = "sk-doctor-secret-123"
    monkeypatch.setenv("POE_API_KEY", key)
    monkeypatch.setenv("POE_BASE_URL", simulator.base_url)
    ok = CliRunner().invoke(cli, ["doctor"])
    assert ok.exit_code == 0, ok.output
    assert "[ok  ] api:" in ok.output
    assert "[ok  ] store:" in ok.output
    assert "[ok  ] key_valid: accepted;" in ok.output
    assert key not in ok.output

    monkeypatch.setenv("POE_API_KEY", "invalid-doctor-key-456")
    rejected = CliRunner().invoke(cli, ["doctor", "--json"])
    assert rejected.exit_code == 1
    checks = {c["name"]: c for c in json.loads(rejected.output)["checks"]}
    assert checks["api"]["ok"] is True  # the model list needs no key
    assert checks["key_valid"]["ok"] is False
    assert "[kind: auth]" in checks["key_valid"]["detail"]
    assert "invalid-doctor-key-456" not in rejected.output
