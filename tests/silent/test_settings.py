"""config.toml is validated whole at load; doctor shows what is in effect; install checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from poe_mcp import AsyncPoeClient, ConfigError, Settings, StoreError
from poe_mcp.cli import cli
from poe_mcp.simulator import Simulator

from .conftest import said, sent, write_config

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))
SECRET = "sk-live-0123456789abcdefghijklmnopqrstuv"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('rpm = "fast"', "rpm must be a whole number (got 'fast')"),
        ("rmp = 500", "unknown key rmp (did you mean 'rpm'?)"),
        ('store = "postgres://db/x"', "store is not a store URL"),
        ('[prices]\n"gpt-4o" = "cheap"', "[prices] 'gpt-4o' must be [input, output]"),
        ("[media]\ntimeout = 5", "unknown key [media] timeout (did you mean 'timeout_s'?)"),
        ('[mcp_servers.search]\ncomand = "uvx"', "[mcp_servers.search] comand (did you mean"),
        ("[budgets]\ndialy_usd = 1", "Did you mean 'daily_usd'?"),
        ("session_ttl_s = 0", "session_ttl_s must be greater than 0"),
        ('log_prompts = "yes"', "log_prompts must be true or false (got 'yes')"),
        ("[rate_limit]\nburst = true", "[rate_limit] burst must be a whole number"),
        ('backend = "rest"', "backend must be one of 'openai' or 'legacy'"),
        ("[aliases]\nfast = 3", "[aliases] fast must be a string"),
    ],
)
def test_bad_settings_are_config_errors_naming_file_and_key(text: str, says: str) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        Settings.load()
    assert says in str(info.value)
    assert str(path) in str(info.value)
    assert info.value.kind == "config"


def test_every_problem_is_listed_and_secrets_are_not_echoed() -> None:
    write_config(f'provider = "{SECRET}"\napi_key = "{SECRET}"\nrpm = "fast"\n')
    with pytest.raises(ConfigError) as info:
        Settings.load()
    text = str(info.value)
    assert SECRET not in text
    assert "(masked)" in text
    assert "API keys go in the environment (POE_API_KEY) or credentials.toml" in text
    assert len(info.value.metadata["problems"]) == 3


async def test_a_bad_price_stops_the_chat_before_it_is_paid(
    simulator: Simulator, api_key: str
) -> None:
    write_config('[prices]\n"GPT-4.1" = [1.0]\n')
    with pytest.raises(ConfigError, match=r"\[prices\] 'GPT-4.1'"):
        async with AsyncPoeClient(api_key, base_url=simulator.base_url) as client:
            await client.chat("GPT-4.1", "hi")
    assert sent(simulator) == []


def test_cli_prints_one_config_error_line_not_a_traceback(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("POE_", "OPENAI_"))},
        "POE_MCP_CONFIG_DIR": str(tmp_path / "config"),
        "POE_MCP_HOME": str(tmp_path / "data"),
    }
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text('rpm = "fast"\n')
    for command in (["usage"], ["models"], ["sessions", "list"], ["serve"]):
        out = subprocess.run(
            [POE_MCP, *command], env=env, capture_output=True, text=True, timeout=60, input=""
        )
        assert out.returncode == 1, (command, out.stderr)
        assert out.stderr.startswith("error (config): "), (command, out.stderr)
        assert "rpm must be a whole number" in out.stderr
        assert "Traceback" not in out.stderr


def test_the_store_from_the_environment_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POE_MCP_STORE", "sqlite://relative.db")
    with pytest.raises(ConfigError, match=r"POE_MCP_STORE.*is not a store URL"):
        Settings.load()


def test_doctor_shows_the_file_and_every_effective_setting(poe_home: Path) -> None:
    write_config(
        'rpm = 120\nsession_ttl_s = 900\n[budgets]\ndaily_usd = 2.5\n[media]\ndir = "/tmp/pix"\n'
        '[server]\ntools = "chat,sessions"\n[aliases]\nfast = "GPT-4o-mini"\n'
        '[mcp_servers.present]\ncommand = "ls"\n[mcp_servers.absent]\ncommand = "no-such-prog-x"\n'
    )
    out = CliRunner().invoke(cli, ["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert "(loaded, valid)" in checks["config_file"]["detail"]
    assert checks["rpm"]["detail"].startswith("120 requests per minute")
    assert checks["session_ttl"]["detail"] == "900 s idle"
    assert checks["budgets"]["detail"] == "daily_usd 2.5"
    assert checks["media_dir"]["detail"] == "/tmp/pix"
    assert checks["tools"]["detail"].startswith("5: ask_poe")
    assert "fast -> GPT-4o-mini" in checks["aliases"]["detail"]
    assert str(poe_home) in checks["store_url"]["detail"]
    assert checks["mcp_server present"]["status"] == "ok"
    assert checks["mcp_server absent"]["status"] == "fail"
    assert "not found on PATH" in checks["mcp_server absent"]["detail"]
    # no key: the API checks are skipped, not failed
    assert checks["api"]["status"] == "skip"
    assert checks["api_key"]["status"] == "fail"
    text = CliRunner().invoke(cli, ["doctor"]).stdout
    assert "[SKIP] api: skipped: no API key" in text


def test_doctor_reports_a_file_that_does_not_load() -> None:
    path = write_config("rmp = 5\n")
    out = CliRunner().invoke(cli, ["doctor"])
    assert out.exit_code == 1
    assert f"[FAIL] config_file: {path} is not valid" in out.stdout
    assert "did you mean 'rpm'" in out.stdout
    assert "[SKIP] api: skipped: the settings did not load" in out.stdout


def test_install_validates_tools_and_warns_about_an_invisible_key(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(cli, ["install", "cursor", "--print", "--tools", "chat,sesions"])
    assert bad.exit_code != 0
    assert "Did you mean 'sessions'" in said(bad)
    target = tmp_path / "mcp.json"
    shell_only = runner.invoke(
        cli, ["install", "claude-desktop", "--config", str(target)], env={"POE_API_KEY": SECRET}
    )
    assert "POE_API_KEY is set in this shell only" in shell_only.stderr
    assert "credentials.toml" in shell_only.stderr
    assert SECRET not in target.read_text()
    creds = Path(os.environ["POE_MCP_CONFIG_DIR"]) / "credentials.toml"
    creds.parent.mkdir(parents=True, exist_ok=True)
    creds.write_text(f'[poe]\napi_key = "{SECRET}"\n')
    visible = runner.invoke(cli, ["install", "claude-desktop", "--config", str(target), "--json"])
    assert json.loads(visible.stdout)["key"]["visible"] is True
    entry = json.loads(target.read_text())["mcpServers"]["poe"]
    # the moved config dir is passed on, so the server reads the same credentials.toml
    assert entry["env"]["POE_MCP_CONFIG_DIR"] == os.environ["POE_MCP_CONFIG_DIR"]
    assert SECRET not in target.read_text()


async def test_budgets_never_stop_applying_silently(
    simulator: Simulator, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a store that cannot be opened: budgets cannot count, so the call is refused unsent
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's folder should be")
    monkeypatch.setenv("POE_MCP_BUDGET_DAILY_USD", "1")
    monkeypatch.setenv("POE_MCP_STORE", f"sqlite:///{blocker / 'poe.db'}")
    async with AsyncPoeClient(api_key, base_url=simulator.base_url) as client:
        with pytest.raises(StoreError, match=r"budgets are set .* cannot be opened"):
            await client.chat("GPT-4.1", "hi")
    assert sent(simulator) == []
