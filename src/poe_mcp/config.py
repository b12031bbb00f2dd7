"""Settings: environment variables, ``config.toml``, ``credentials.toml`` and the data dir.

Precedence, highest first: explicit arguments (CLI flags, constructor arguments), environment
variables, ``<config dir>/config.toml``, built-in defaults.

=============== ======================================= ================== ======================
setting         environment                             config.toml        default
=============== ======================================= ================== ======================
provider        POE_MCP_PROVIDER                        provider           poe
base URL        POE_BASE_URL / OPENAI_BASE_URL          base_url           the provider's
backend         POE_MCP_BACKEND                         backend            openai (REST API)
data dir        POE_MCP_HOME                            -                  user data dir
config dir      POE_MCP_CONFIG_DIR                      -                  user config dir
store           POE_MCP_STORE                           store              sqlite in data dir
session expiry  POE_MCP_SESSION_TTL                     session_ttl_s      3600 s
rate limit      POE_MCP_RPM                             rpm                500 per minute
prompt logging  POE_MCP_LOG_PROMPTS                     log_prompts        off
default model   POE_MCP_MODEL                           model              GPT-5-mini
full logs       POE_MCP_LOGS                            [logs]             CLI and console on
=============== ======================================= ================== ======================

API keys are never read from ``config.toml``: they come from the argument, ``POE_API_KEY`` /
``OPENAI_API_KEY`` / ``POE_MCP_COMPATIBLE_API_KEY`` (the ``compatible`` provider's own key, never
another provider's), or ``<config dir>/credentials.toml`` (``[poe]``, ``[openai]``,
``[compatible]`` ``api_key``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import _constants as C
from ._redact import describe_value, register_url_secrets
from .errors import AuthError, ConfigError

__all__ = ["Settings", "config_dir", "data_dir", "resolve_api_key"]

_APP = "poe-mcp"
_TRUE = {"1", "true", "yes", "on"}


def data_dir() -> Path:
    """Where sessions, usage, media and the model cache live (``POE_MCP_HOME``)."""
    env = os.environ.get("POE_MCP_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(_APP, appauthor=False))


def config_dir() -> Path:
    """Where ``config.toml`` and ``credentials.toml`` live (``POE_MCP_CONFIG_DIR``)."""
    env = os.environ.get("POE_MCP_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(_APP, appauthor=False))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


# Each provider has its own key: the ``compatible`` provider sends its key to whatever base URL
# is configured, so it never falls back to the Poe or OpenAI key.
_KEY_ENV = {
    "poe": "POE_API_KEY",
    "openai": "OPENAI_API_KEY",
    "compatible": "POE_MCP_COMPATIBLE_API_KEY",
}


def key_env(provider: str) -> str:
    """The environment variable that holds ``provider``'s key."""
    return _KEY_ENV.get(provider, "POE_API_KEY")


def _register_known_keys(creds: dict[str, Any]) -> None:
    """Every key this process can see is a secret to scrub, whichever provider is in use
    (a model may be shown another provider's key: the environment is shared)."""
    from ._redact import register_secret

    for env_name in _KEY_ENV.values():
        register_secret(os.environ.get(env_name))
    for section in _KEY_ENV:
        table = creds.get(section)
        if isinstance(table, dict) and isinstance(table.get("api_key"), str):
            register_secret(table["api_key"])


def resolve_api_key(provider: str = "poe", explicit: str | None = None) -> str:
    """Find the API key for ``provider``: argument, environment, then ``credentials.toml``.

    Raises:
        AuthError: no key anywhere; the message says exactly where to put one.
    """
    creds_path = config_dir() / "credentials.toml"
    try:
        all_creds = _read_toml(creds_path)
    except ConfigError:
        if not explicit:
            raise
        all_creds = {}
    _register_known_keys(all_creds)
    if explicit:
        return explicit
    env_name = key_env(provider)
    value = os.environ.get(env_name)
    if value:
        return value
    section = provider if provider in _KEY_ENV else "poe"
    creds = all_creds.get(section, {})
    if isinstance(creds, dict) and creds.get("api_key"):
        return str(creds["api_key"])
    where = _KEY_PAGES.get(provider, "the provider that issued it")
    example = f'[{section}]\n      api_key = "{_KEY_EXAMPLES.get(section, "...")}"'
    raise AuthError(
        f"No API key for provider {provider!r} (get one at {where}). Put it in one of these "
        f"places:\n"
        f"  - the environment: export {env_name}=...\n"
        f"  - {creds_path}:\n"
        f"      {example}\n"
        f"  - the api_key argument of AsyncPoeClient / PoeClient (or serve --api-key)."
    )


# Where each provider's users get a key (the compatible provider's is whoever runs it).
_KEY_PAGES = {"poe": "https://poe.com/api_key", "openai": "https://platform.openai.com/api-keys"}
_KEY_EXAMPLES = {"poe": "your-poe-key", "openai": "sk-...", "compatible": "the server's key"}


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        # A key pasted into the wrong variable must not be printed: describe_value masks it.
        raise ConfigError(f"{name} must be a number, got {describe_value(raw)}") from None


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings. Build with :meth:`Settings.load`; change with :meth:`with_`."""

    provider: str = "poe"
    base_url: str | None = None
    backend: str = "openai"
    home: Path = field(default_factory=data_dir)
    config_dir: Path = field(default_factory=config_dir)
    store: str | None = None
    session_ttl_s: float = float(C.SESSION_TTL_S)
    rpm: int = C.POE_RPM
    timeout_s: float = C.DEFAULT_TIMEOUT_S
    max_retries: int = C.DEFAULT_MAX_RETRIES
    log_prompts: bool = False
    model: str = C.DEFAULT_CHAT_MODEL  # `poe-mcp chat` and the other commands without -m
    file: dict[str, Any] = field(default_factory=dict)  # the whole config.toml, for other sections

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read config.toml and the environment; ``overrides`` that are not None win."""
        cdir = config_dir()
        file = _read_toml(cdir / "config.toml")
        from ._config_schema import check_config_file

        check_config_file(file, cdir / "config.toml")  # whole file, before any value is used
        values: dict[str, Any] = {"config_dir": cdir, "home": data_dir(), "file": file}
        for key in ("provider", "base_url", "backend", "store", "log_prompts", "model"):
            if key in file:
                values[key] = file[key]
        for key, typ in (("session_ttl_s", float), ("rpm", int), ("timeout_s", float)):
            if key in file:
                values[key] = typ(file[key])

        env = os.environ
        if env.get("POE_MCP_PROVIDER"):
            values["provider"] = env["POE_MCP_PROVIDER"]
        provider = str(overrides.get("provider") or values.get("provider") or "poe")
        base_env = "POE_BASE_URL" if provider == "poe" else "OPENAI_BASE_URL"
        if env.get(base_env):
            values["base_url"] = env[base_env]
        if env.get("POE_MCP_BACKEND"):
            values["backend"] = env["POE_MCP_BACKEND"]
        if env.get("POE_MCP_STORE"):
            values["store"] = env["POE_MCP_STORE"]
        if env.get("POE_MCP_MODEL"):
            values["model"] = env["POE_MCP_MODEL"]
        if env.get("POE_MCP_LOG_PROMPTS"):
            values["log_prompts"] = env["POE_MCP_LOG_PROMPTS"].lower() in _TRUE
        ttl = _env_float("POE_MCP_SESSION_TTL")
        if ttl is not None:
            values["session_ttl_s"] = ttl
        rpm = _env_float("POE_MCP_RPM")
        if rpm is not None:
            values["rpm"] = int(rpm)

        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def validate(self) -> None:
        # A password in a URL is a secret: error texts that quote the URL must not show it.
        register_url_secrets(self.base_url)
        if self.store:
            from ._config_schema import check_store_url

            check_store_url(
                self.store, "the store (POE_MCP_STORE, --store or store in config.toml)"
            )
        if self.provider not in C.PROVIDERS:
            raise ConfigError(
                f"unknown provider {describe_value(self.provider)}: use one of "
                f"{', '.join(C.PROVIDERS)}"
            )
        if self.backend not in C.BACKENDS:
            raise ConfigError(
                f"unknown backend {describe_value(self.backend)}: use one of "
                f"{', '.join(C.BACKENDS)}"
            )
        if self.provider == "compatible" and not self.base_url:
            raise ConfigError(
                "provider 'compatible' needs a base URL (OPENAI_BASE_URL or base_url=)"
            )
        if self.rpm < 1:
            raise ConfigError(f"rpm must be at least 1, got {describe_value(self.rpm)}")
        if self.session_ttl_s <= 0:
            raise ConfigError("session_ttl_s must be positive")
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("model in config.toml (or POE_MCP_MODEL) must be a model name")
        if "logs" in self.file:
            from ._logbook import log_settings

            log_settings(self)  # [logs]: known keys, booleans, retention_days >= 0
        if "fallbacks" in self.file:
            from ._fallback import parse_fallbacks

            parse_fallbacks(self.section("fallbacks"))  # model -> [fallback models]

    @property
    def effective_base_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return C.OPENAI_BASE_URL if self.provider == "openai" else C.POE_BASE_URL

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{self.home / 'poe-mcp.db'}"

    @property
    def media_dir(self) -> Path:
        return self.home / "media"

    def section(self, name: str) -> dict[str, Any]:
        """A table of config.toml (``[budgets]``, ``[prices]``, ``[mcp_servers]``...), or {}."""
        value = self.file.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] in config.toml must be a table")
        return value
