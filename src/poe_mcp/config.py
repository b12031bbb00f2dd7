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
=============== ======================================= ================== ======================

API keys are never read from ``config.toml``: they come from the argument, ``POE_API_KEY`` /
``OPENAI_API_KEY``, or ``<config dir>/credentials.toml`` (``[poe] api_key``, ``[openai] api_key``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import _constants as C
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


_KEY_ENV = {"poe": "POE_API_KEY", "openai": "OPENAI_API_KEY", "compatible": "OPENAI_API_KEY"}


def resolve_api_key(provider: str = "poe", explicit: str | None = None) -> str:
    """Find the API key for ``provider``: argument, environment, then ``credentials.toml``.

    Raises:
        AuthError: no key anywhere; the message says exactly where to put one.
    """
    if explicit:
        return explicit
    env_name = _KEY_ENV.get(provider, "POE_API_KEY")
    value = os.environ.get(env_name)
    if value:
        return value
    creds_path = config_dir() / "credentials.toml"
    section = "openai" if provider in ("openai", "compatible") else "poe"
    creds = _read_toml(creds_path).get(section, {})
    if isinstance(creds, dict) and creds.get("api_key"):
        return str(creds["api_key"])
    raise AuthError(
        f"No API key for provider {provider!r}. Put it in one of these places:\n"
        f"  - the environment: export {env_name}=...  "
        f"(Poe keys: https://poe.com/api_key; OpenAI: OPENAI_API_KEY)\n"
        f"  - {creds_path}:\n"
        f'      [poe]\n      api_key = "your-poe-key"\n'
        f'      [openai]\n      api_key = "sk-..."\n'
        f"  - the api_key argument of AsyncPoeClient / PoeClient.\n"
        f"Or try everything offline against the built-in simulator: poe-mcp serve --simulate"
    )


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


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
    file: dict[str, Any] = field(default_factory=dict)  # the whole config.toml, for other sections

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read config.toml and the environment; ``overrides`` that are not None win."""
        cdir = config_dir()
        file = _read_toml(cdir / "config.toml")
        values: dict[str, Any] = {"config_dir": cdir, "home": data_dir(), "file": file}
        for key in ("provider", "base_url", "backend", "store", "log_prompts"):
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
        if self.provider not in C.PROVIDERS:
            raise ConfigError(
                f"unknown provider {self.provider!r}: use one of {', '.join(C.PROVIDERS)}"
            )
        if self.backend not in C.BACKENDS:
            raise ConfigError(
                f"unknown backend {self.backend!r}: use one of {', '.join(C.BACKENDS)}"
            )
        if self.provider == "compatible" and not self.base_url:
            raise ConfigError(
                "provider 'compatible' needs a base URL (OPENAI_BASE_URL or base_url=)"
            )
        if self.rpm < 1:
            raise ConfigError(f"rpm must be at least 1, got {self.rpm}")
        if self.session_ttl_s <= 0:
            raise ConfigError("session_ttl_s must be positive")

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
