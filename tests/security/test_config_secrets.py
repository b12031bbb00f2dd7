"""Secrets in configuration: URLs, health, error messages, and the compatible provider's key.

- ``doctor`` shows base URLs without ``user:password`` (and errors quoting them too);
- ``/health`` (no token) shows no store path; ``get_server_info`` (authenticated) does;
- an error about a mistyped setting never prints a value that looks like a key;
- the ``compatible`` provider has its own key and never sends the Poe or OpenAI key.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client
from starlette.testclient import TestClient

from poe_mcp.cli import cli
from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings, resolve_api_key
from poe_mcp.errors import AuthError, ConfigError
from poe_mcp.server.app import build_server
from poe_mcp.server.http import HttpOptions, build_http_app
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from . import hostile as hostile_module
from .hostile import Hostile
from .servers import POE_MCP, child_env

SECRET = "sk-live-4f9c2b7e1a0d8e6f3b5c9a7d2e4f6a8b"


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# --- item 5: doctor, /health, config errors --------------------------------------------------


def test_doctor_hides_the_password_of_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POE_BASE_URL", "https://zqalice:zqhunter2-pass@127.0.0.1:9/v1")
    monkeypatch.setenv("POE_API_KEY", "zq-doctor-key-123456")
    import anyio

    from poe_mcp.cli.doctor import run_checks

    checks = anyio.run(run_checks, Settings.load())
    shown = json.dumps(checks)
    assert "zqhunter2-pass" not in shown
    assert "zqalice:" not in shown
    assert "https://***@127.0.0.1:9/v1" in shown
    api = next(c for c in checks if c["name"] == "api")
    assert not api["ok"]  # nothing listens there; the error quotes the URL, redacted


async def test_health_shows_no_path_but_server_info_does(
    simulator: Simulator, tmp_path: Path, poe_home: Path
) -> None:
    db = tmp_path / "private-dir" / "poe.db"
    settings = Settings.load(store=f"sqlite:///{db}", base_url=simulator.base_url)
    runtime = ServerRuntime(
        settings,
        api_key="zq-health-key",
        simulated=True,
        transport="http",
        tools=["get_server_info"],
    )
    app = build_http_app(runtime, HttpOptions("127.0.0.1", 8000, "health-token-0123456789"))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        health = client.get("/health")
    assert health.status_code == 200
    assert "private-dir" not in health.text
    assert str(tmp_path) not in health.text
    assert health.json()["store"] == {"ok": True, "backend": "sqlite"}

    async with Client(build_server(runtime)) as mcp:
        info = await mcp.call_tool("get_server_info", {})
    assert "private-dir" in json.dumps(info.structured_content)
    await runtime.aclose()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("POE_MCP_RPM", SECRET), ("POE_MCP_SESSION_TTL", SECRET), ("POE_MCP_PROVIDER", SECRET),
     ("POE_MCP_BACKEND", SECRET)],
)  # fmt: skip
def test_a_key_in_the_wrong_variable_is_never_echoed(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    message = str(caught.value)
    assert value not in message
    assert value[:8] not in message
    assert "masked" in message
    assert variable.removeprefix("POE_MCP_").lower() in message.lower()


@pytest.mark.parametrize(
    "toml",
    [f'rpm = "{SECRET}"', f'provider = "{SECRET}"', f'[budgets]\ndaily_usd = "{SECRET}"',
     f'[server]\nmax_connections = "{SECRET}"', f'[prices]\n"gpt-4o" = ["{SECRET}", 1.0]'],
)  # fmt: skip
def test_a_key_in_the_wrong_config_entry_is_never_echoed(poe_home: Path, toml: str) -> None:
    config = poe_home.parent / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(toml + "\n")
    with pytest.raises(ConfigError) as caught:
        Settings.load()  # config.toml is validated whole at load
    message = str(caught.value)
    assert SECRET not in message
    assert SECRET[:8] not in message
    assert "masked" in message


def test_a_key_in_a_cli_option_is_never_echoed() -> None:
    proc = subprocess.run(
        [POE_MCP, "serve", "--rpm", SECRET, "--simulate"],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(Path("/nonexistent")),
    )
    assert proc.returncode != 0
    assert "--rpm" in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout
    assert SECRET[:10] not in proc.stderr


def test_ordinary_values_are_still_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POE_MCP_RPM", "fast")
    with pytest.raises(ConfigError, match="'fast'"):
        Settings.load()


# --- item 6: the compatible provider's own key ----------------------------------------------


@pytest.fixture
def other_keys(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    poe, openai = f"zq-poe-{uuid.uuid4().hex}", f"zq-openai-{uuid.uuid4().hex}"
    monkeypatch.setenv("POE_API_KEY", poe)
    monkeypatch.setenv("OPENAI_API_KEY", openai)
    return poe, openai


def test_compatible_never_takes_another_providers_key(other_keys: tuple[str, str]) -> None:
    with pytest.raises(AuthError) as caught:
        resolve_api_key("compatible")
    assert "POE_MCP_COMPATIBLE_API_KEY" in str(caught.value)
    assert "[compatible]" in str(caught.value)
    for key in other_keys:
        assert key not in str(caught.value)


async def test_compatible_sends_its_own_key(
    hostile: Hostile, other_keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    own = f"zq-cmp-{uuid.uuid4().hex}"
    monkeypatch.setenv("POE_MCP_COMPATIBLE_API_KEY", own)
    start = len(_seen())
    async with AsyncPoeClient(
        provider="compatible", base_url=hostile.base_url, store=False, catalog=False, rpm=0
    ) as client:
        await client.chat("Hostile-1", "hello")
    assert _seen()[start:] == [own]


async def test_compatible_key_from_credentials_toml(
    hostile: Hostile, other_keys: tuple[str, str], poe_home: Path
) -> None:
    own = f"zq-cmp-file-{uuid.uuid4().hex}"
    config = poe_home.parent / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "credentials.toml").write_text(
        f'[poe]\napi_key = "{other_keys[0]}"\n[openai]\napi_key = "{other_keys[1]}"\n'
        f'[compatible]\napi_key = "{own}"\n'
    )
    start = len(_seen())
    async with AsyncPoeClient(
        provider="compatible", base_url=hostile.base_url, store=False, catalog=False, rpm=0
    ) as client:
        await client.chat("Hostile-1", "hello")
    assert _seen()[start:] == [own]


def test_serve_api_key_option_reaches_the_compatible_provider(
    hostile: Hostile, other_keys: tuple[str, str], tmp_path: Path
) -> None:
    own = f"zq-cmp-cli-{uuid.uuid4().hex}"
    env = child_env(tmp_path, POE_API_KEY=other_keys[0], OPENAI_API_KEY=other_keys[1])
    start = len(_seen())
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "ask_poe_v2", "arguments": {"bot": "Hostile-1", "prompt": "hello"}}},
    ]  # fmt: skip
    proc = subprocess.Popen(
        [POE_MCP, "serve", "--provider", "compatible", "--base-url", hostile.base_url,
         "--api-key", own, "--store", "memory://"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in lines))
    proc.stdin.flush()
    replies: list[dict[str, Any]] = []
    while not any(r.get("id") == 2 for r in replies):
        line = proc.stdout.readline()
        assert line, "the server stopped without answering"
        replies.append(json.loads(line))
    proc.stdin.close()
    proc.wait(timeout=30)
    stdout = proc.stdout.read()
    stderr = proc.stderr.read() if proc.stderr else ""
    answer = next(r for r in replies if r.get("id") == 2)
    assert not answer["result"].get("isError"), answer
    assert _seen()[start:] == [own]
    assert own not in json.dumps(replies) + stdout + stderr


def test_help_and_readme_name_the_compatible_key() -> None:
    result = run_cli("serve", "--help")
    assert result.exit_code == 0
    for option in (
        "--api-key",
        "--header-timeout",
        "--body-timeout",
        "--keep-alive",
        "--max-connections",
        "--max-body-bytes",
        "--mcp-session-idle",
        "--max-mcp-sessions",
    ):
        assert option in result.output
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "POE_MCP_COMPATIBLE_API_KEY" in readme
    assert "[compatible]" in readme


def _seen() -> list[str]:
    return list(hostile_module.SEEN_KEYS)
