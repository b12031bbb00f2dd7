"""Settings and API-key resolution, as a user configures them."""

from __future__ import annotations

from pathlib import Path

import pytest

from poe_mcp.config import Settings, resolve_api_key
from poe_mcp.errors import AuthError, ConfigError


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (
        "POE_API_KEY",
        "OPENAI_API_KEY",
        "POE_BASE_URL",
        "OPENAI_BASE_URL",
        "POE_MCP_STORE",
        "POE_MCP_BACKEND",
        "POE_MCP_PROVIDER",
        "POE_MCP_RPM",
        "POE_MCP_SESSION_TTL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POE_MCP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("POE_MCP_CONFIG_DIR", str(tmp_path / "config"))
    (tmp_path / "config").mkdir()
    return tmp_path / "config"


def test_missing_key_says_where_to_put_it(dirs: Path) -> None:
    with pytest.raises(AuthError) as info:
        resolve_api_key("poe")
    text = str(info.value)
    assert "POE_API_KEY" in text
    assert str(dirs / "credentials.toml") in text
    assert "[poe]" in text
    assert "[openai]" in text
    assert info.value.kind == "auth"


def test_key_precedence(dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (dirs / "credentials.toml").write_text(
        '[poe]\napi_key = "from-file"\n[openai]\napi_key = "sk-file"\n'
    )
    assert resolve_api_key("poe") == "from-file"
    assert resolve_api_key("openai") == "sk-file"
    monkeypatch.setenv("POE_API_KEY", "from-env")
    assert resolve_api_key("poe") == "from-env"
    assert resolve_api_key("poe", "explicit") == "explicit"


def test_broken_credentials_file_is_a_config_error(dirs: Path) -> None:
    (dirs / "credentials.toml").write_text("[poe\napi_key = ")
    with pytest.raises(ConfigError, match=r"credentials\.toml"):
        resolve_api_key("poe")


def test_settings_layers(dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (dirs / "config.toml").write_text('rpm = 100\nbackend = "legacy"\n[budgets]\ndaily_usd = 2.5\n')
    settings = Settings.load()
    assert settings.rpm == 100
    assert settings.backend == "legacy"
    assert settings.section("budgets") == {"daily_usd": 2.5}
    assert settings.store_url.startswith("sqlite:///")
    assert settings.store_url.endswith("poe-mcp.db")
    assert settings.effective_base_url == "https://api.poe.com/v1"
    monkeypatch.setenv("POE_MCP_RPM", "50")
    assert Settings.load().rpm == 50
    assert Settings.load(rpm=7).rpm == 7


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"POE_MCP_PROVIDER": "bard"}, "unknown provider"),
        ({"POE_MCP_BACKEND": "grpc"}, "unknown backend"),
        ({"POE_MCP_RPM": "lots"}, "must be a number"),
        ({"POE_MCP_PROVIDER": "compatible"}, "needs a base URL"),
    ],
)
def test_bad_settings_are_clear(
    dirs: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        Settings.load()


def test_openai_provider_defaults(dirs: Path) -> None:
    settings = Settings.load(provider="openai")
    assert settings.effective_base_url == "https://api.openai.com/v1"
