"""Settings: environment variables, ``config.toml``, ``credentials.toml`` and the data dir.

Precedence, highest first: explicit arguments (CLI flags, constructor arguments), environment
variables, ``<config dir>/config.toml``, built-in defaults. This module is the one place that
reads the environment: every variable it reads is listed in :data:`ENV_VARS`.

=============== ======================================= ================== ======================
setting         environment                             config.toml        default
=============== ======================================= ================== ======================
provider        POE_MCP_PROVIDER                        provider           poe
base URL        POE_BASE_URL / OPENAI_BASE_URL          base_url           the provider's
bot / upload    POE_BOT_BASE_URL / POE_UPLOAD_BASE_URL  bot_base_url ...   derived from base URL
backend         POE_MCP_BACKEND                         backend            openai (REST API)
data dir        POE_MCP_HOME                            -                  user data dir
config dir      POE_MCP_CONFIG_DIR                      -                  user config dir
store           POE_MCP_STORE                           store              sqlite in data dir
session expiry  POE_MCP_SESSION_TTL                     session_ttl_s      3600 s
rate limit      POE_MCP_RPM                             rpm, [rate_limit]  500 per minute
prompt logging  POE_MCP_LOG_PROMPTS                     log_prompts        off
default model   POE_MCP_MODEL                           model              GPT-5-mini
full logs       POE_MCP_LOGS                            [logs]             CLI and console on
stream_options  POE_MCP_STREAM_OPTIONS                  stream_options     auto
downloads       POE_MCP_DOWNLOAD_POLICY                 [media]            auto
budgets         POE_MCP_BUDGET_<LIMIT>                  [budgets]          none
server tools    POE_MCP_TOOLS                           [server] tools     all
=============== ======================================= ================== ======================

API keys are never read from ``config.toml``: they come from the argument, ``POE_API_KEY`` /
``OPENAI_API_KEY`` / ``POE_MCP_COMPATIBLE_API_KEY`` (the ``compatible`` provider's own key, never
another provider's), or ``<config dir>/credentials.toml`` (``[poe]``, ``[openai]``,
``[compatible]`` ``api_key``); see :mod:`poe_mcp._providers`.

The tables of ``config.toml`` are validated whole at load (:mod:`poe_mcp._config_schema`) and
exposed typed: ``settings.media``, ``settings.tools``, ``settings.server``,
``settings.rate_limit``, ``settings.mcp_servers``, ``settings.budgets``, ``settings.prices``,
``settings.aliases``, ``settings.fallbacks``, ``settings.logs``; each is parsed once per
``Settings``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from . import _constants as C
from ._providers import PROVIDERS, Provider
from ._redact import describe_value, register_url_secrets
from .errors import AuthError, ConfigError

if TYPE_CHECKING:
    from ._config_schema import ConfigFile, MediaTable, RateLimitTable, ServerTable, ToolsTable
    from ._logbook import LogSettings
    from ._model_info import Price
    from .budget import BudgetLimits
    from .tools._mcp import MCPServerSpec

__all__ = ["ENV_VARS", "Settings", "config_dir", "data_dir", "key_sources", "resolve_api_key"]

_APP = "poe-mcp"
_TRUE = {"1", "true", "yes", "on"}
_KEY_VARS = tuple(p.key_env for p in PROVIDERS.values())
_BUDGET_VARS = tuple(
    f"POE_MCP_BUDGET_{name}"
    for name in ("DAILY_USD", "DAILY_TOKENS", "SESSION_USD", "SESSION_TOKENS")
)

# Every environment variable poe-mcp reads (tests clear them all). The CLI reads two of them
# through its options (POE_MCP_TOKEN, POE_MCP_TRANSPORT); everything else is read here.
T = TypeVar("T")

ENV_VARS: tuple[str, ...] = (
    *_KEY_VARS,
    "POE_BASE_URL",
    "OPENAI_BASE_URL",
    "POE_BOT_BASE_URL",
    "POE_UPLOAD_BASE_URL",
    "POE_MCP_PROVIDER",
    "POE_MCP_BACKEND",
    "POE_MCP_HOME",
    "POE_MCP_CONFIG_DIR",
    "POE_MCP_STORE",
    "POE_MCP_SESSION_TTL",
    "POE_MCP_RPM",
    "POE_MCP_LOG_PROMPTS",
    "POE_MCP_MODEL",
    "POE_MCP_LOGS",
    "POE_MCP_STREAM_OPTIONS",
    "POE_MCP_DOWNLOAD_POLICY",
    "POE_MCP_TOOLS",
    "POE_MCP_TOKEN",
    "POE_MCP_TRANSPORT",
    *_BUDGET_VARS,
)


def env_value(name: str) -> str | None:
    """The value of ``name`` (one of :data:`ENV_VARS`) in the environment; None when unset or
    empty. For code that has no :class:`Settings`; with one, use ``settings.environ``."""
    if name not in ENV_VARS:
        raise ValueError(f"{name} is not one of poe-mcp's environment variables")
    return os.environ.get(name) or None


def data_dir() -> Path:
    """Where sessions, usage, media and the model cache live (``POE_MCP_HOME``)."""
    env = env_value("POE_MCP_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(_APP, appauthor=False))


def config_dir() -> Path:
    """Where ``config.toml`` and ``credentials.toml`` live (``POE_MCP_CONFIG_DIR``)."""
    env = env_value("POE_MCP_CONFIG_DIR")
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


def key_env(provider: str) -> str:
    """The environment variable that holds ``provider``'s key."""
    return PROVIDERS.get(provider, PROVIDERS["poe"]).key_env


def _register_known_keys(creds: dict[str, Any]) -> None:
    """Every key this process can see is a secret to scrub, whichever provider is in use
    (a model may be shown another provider's key: the environment is shared)."""
    from ._redact import register_secret

    for spec in PROVIDERS.values():
        register_secret(os.environ.get(spec.key_env))
        table = creds.get(spec.key_section)
        if isinstance(table, dict) and isinstance(table.get("api_key"), str):
            register_secret(table["api_key"])


def _file_key(provider: str) -> tuple[str | None, Path, dict[str, Any] | None]:
    """The key of ``credentials.toml`` for ``provider`` (and the path, and the whole file)."""
    path = config_dir() / "credentials.toml"
    creds = _read_toml(path)
    table = creds.get(PROVIDERS.get(provider, PROVIDERS["poe"]).key_section, {})
    value = table.get("api_key") if isinstance(table, dict) else None
    return (str(value) if value else None), path, creds


def key_sources(provider: str) -> tuple[str, ...]:
    """Where ``provider``'s key is found, in the order :func:`resolve_api_key` looks:
    ``environment (POE_API_KEY)`` and/or ``credentials.toml`` (never the key itself)."""
    env_name = key_env(provider)
    found = [f"environment ({env_name})"] if os.environ.get(env_name) else []
    try:
        if _file_key(provider)[0]:
            found.append("credentials.toml")
    except ConfigError:
        pass  # an unreadable file holds no usable key
    return tuple(found)


def resolve_api_key(provider: str = "poe", explicit: str | None = None) -> str:
    """Find the API key for ``provider``: argument, environment, then ``credentials.toml``.

    Raises:
        AuthError: no key anywhere; the message says exactly where to put one.
        ConfigError: the key found cannot go in an HTTP header (a space, a line break, an
            accented letter): the message names where it was found, never the key.
    """
    try:
        from_file, creds_path, creds = _file_key(provider)
    except ConfigError:
        if not explicit:
            raise
        from_file, creds_path, creds = None, config_dir() / "credentials.toml", None
    _register_known_keys(creds or {})
    spec = PROVIDERS.get(provider, PROVIDERS["poe"])
    # Whitespace around a pasted key is never part of it; a blank one is no key at all.
    sources = (
        ("the api_key argument", explicit),
        (spec.key_env, os.environ.get(spec.key_env)),
        (f"{creds_path} [{spec.key_section}] api_key", from_file),
    )
    for where, value in sources:
        if isinstance(value, str) and value.strip():
            return _sendable_key(value.strip(), where)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"api_key takes a string, not {type(value).__name__}")
    where = spec.key_page or "the provider that issued it"
    tables = ", ".join(f"[{p.key_section}]" for p in PROVIDERS.values())
    example = f'[{spec.key_section}]\n      api_key = "{spec.key_example}"'
    raise AuthError(
        f"No API key for provider {provider!r} (get one at {where}). Put it in one of these "
        f"places:\n"
        f"  - the environment: export {spec.key_env}=...\n"
        f"  - {creds_path}:\n"
        f"      {example}\n"
        f"    (one table per provider: {tables})\n"
        f"  - the api_key argument of AsyncPoeClient / PoeClient (or serve --api-key)."
    )


def _sendable_key(key: str, where: str) -> str:
    """``key`` when an HTTP header can carry it: printable ASCII without spaces.

    Raises:
        ConfigError: naming where the key came from, never the key.
    """
    if all(33 <= ord(c) <= 126 for c in key):
        return key
    bad = next(c for c in key if not 33 <= ord(c) <= 126)
    what = (
        "a space"
        if bad == " "
        else "a line break or control character"
        if ord(bad) < 32 or ord(bad) == 127
        else "a non-ASCII character"
    )
    raise ConfigError(
        f"the API key ({where}) cannot be sent: it holds {what}, and a key is printable ASCII "
        "without spaces. Copy it again from the provider's page (give the key alone, without "
        "'Bearer ' or quotes)."
    )


def _env_float(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        # A key pasted into the wrong variable must not be printed: describe_value masks it.
        raise ConfigError(f"{name} must be a number, got {describe_value(raw)}") from None


# settings field -> (environment variable, config.toml key); the environment wins
_FROM_ENV_OR_FILE = {
    "provider": ("POE_MCP_PROVIDER", "provider"),
    "backend": ("POE_MCP_BACKEND", "backend"),
    "store": ("POE_MCP_STORE", "store"),
    "model": ("POE_MCP_MODEL", "model"),
    "bot_base_url": ("POE_BOT_BASE_URL", "bot_base_url"),
    "upload_base_url": ("POE_UPLOAD_BASE_URL", "upload_base_url"),
    "stream_options": ("POE_MCP_STREAM_OPTIONS", "stream_options"),
}


class _Derived(Generic[T]):
    """A value derived from :class:`Settings` (a typed section of ``config.toml``, the
    provider), made on first use by ``make(settings)`` and kept for the life of the settings."""

    def __init__(self, make: Callable[[Settings], T], doc: str) -> None:
        self.make = make
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, settings: None, owner: type) -> _Derived[T]: ...

    @overload
    def __get__(self, settings: Settings, owner: type) -> T: ...

    def __get__(self, settings: Settings | None, owner: type) -> _Derived[T] | T:
        if settings is None:
            return self
        try:
            value: T = settings._parsed[self.name]
        except KeyError:
            value = settings._parsed[self.name] = self.make(settings)
        return value


# How each derived value is made; imported on first use, so the package import stays light.


def _config(settings: Settings) -> ConfigFile:
    from ._config_schema import ConfigFile, check_config_file

    check_config_file(settings.file, settings.config_dir / "config.toml")  # readable errors
    return ConfigFile.model_validate(settings.file)


def _media(settings: Settings) -> MediaTable:
    from ._config_schema import MediaTable

    return settings.config.media or MediaTable()


def _tools(settings: Settings) -> ToolsTable:
    from ._config_schema import ToolsTable

    return settings.config.tools or ToolsTable()


def _server(settings: Settings) -> ServerTable:
    from ._config_schema import ServerTable

    return settings.config.server or ServerTable()


def _rate_limit(settings: Settings) -> RateLimitTable:
    from ._config_schema import RateLimitTable

    return settings.config.rate_limit or RateLimitTable()


def _mcp_servers(settings: Settings) -> list[MCPServerSpec]:
    from .tools._mcp import mcp_servers_from_config

    return mcp_servers_from_config(settings.section("mcp_servers"))


def _budgets(settings: Settings) -> BudgetLimits:
    from .budget import BudgetLimits

    table, where = settings.section("budgets"), str(settings.config_dir / "config.toml")
    return BudgetLimits.from_mapping(table, settings.environ, config_file=where)


def _prices(settings: Settings) -> dict[str, Price]:
    from ._model_info import parse_price_overrides

    return parse_price_overrides(settings.section("prices"))


def _aliases(settings: Settings) -> dict[str, str]:
    from ._aliases import parse_aliases

    return parse_aliases(settings.section("aliases"), settings.config_dir)


def _fallbacks(settings: Settings) -> dict[str, list[str]]:
    from ._fallback import parse_fallbacks

    return parse_fallbacks(settings.section("fallbacks"))


def _logs(settings: Settings) -> LogSettings:
    from ._logbook import parse_log_settings

    return parse_log_settings(settings.section("logs"), settings.environ.get("POE_MCP_LOGS"))


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings. Build with :meth:`Settings.load`; change with :meth:`with_`.

    Attributes:
        environ: the values of :data:`ENV_VARS` at load time, API keys left out (features
            read their variable here, never from ``os.environ``).
        file: the whole ``config.toml`` as parsed; prefer the typed sections.
    """

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
    bot_base_url: str | None = None
    upload_base_url: str | None = None
    stream_options: str | bool | None = None  # auto | on | off (backends/_optional.py)
    file: dict[str, Any] = field(default_factory=dict)  # the whole config.toml
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    _parsed: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read config.toml and the environment; ``overrides`` that are not None win."""
        cdir = config_dir()
        file = _read_toml(cdir / "config.toml")
        from ._config_schema import check_config_file

        check_config_file(file, cdir / "config.toml")  # whole file, before any value is used
        env = {n: v for n in ENV_VARS if n not in _KEY_VARS and (v := os.environ.get(n))}
        from ._config_schema import check_environment

        check_environment(env)  # every variable, before any value is used
        values: dict[str, Any] = {
            "config_dir": cdir, "home": data_dir(), "file": file, "environ": env,
        }  # fmt: skip
        for key in ("base_url", "log_prompts"):
            if key in file:
                values[key] = file[key]
        for key, typ in (("session_ttl_s", float), ("rpm", int), ("timeout_s", float)):
            if key in file:
                values[key] = typ(file[key])
        for key, (env_name, file_key) in _FROM_ENV_OR_FILE.items():
            value = env.get(env_name, file.get(file_key))
            if value is not None:
                values[key] = value
        provider = str(overrides.get("provider") or values.get("provider") or "poe")
        base_env = PROVIDERS.get(provider, PROVIDERS["compatible"]).base_env
        if env.get(base_env):
            values["base_url"] = env[base_env]
        if env.get("POE_MCP_LOG_PROMPTS"):
            values["log_prompts"] = env["POE_MCP_LOG_PROMPTS"].lower() in _TRUE
        ttl = _env_float(env, "POE_MCP_SESSION_TTL")
        if ttl is not None:
            values["session_ttl_s"] = ttl
        rpm = _env_float(env, "POE_MCP_RPM")
        if rpm is not None:
            values["rpm"] = int(rpm)

        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> Settings:
        """A copy with the given fields changed (None values leave a field as it is)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def validate(self) -> None:
        """Refuse settings that cannot work, with a ConfigError naming the setting."""
        # A password in a URL is a secret: error texts that quote the URL must not show it.
        register_url_secrets(self.base_url)
        from ._config_schema import check_http_url

        for name, url in (
            (
                "the base URL (POE_BASE_URL / OPENAI_BASE_URL, --base-url or base_url)",
                self.base_url,
            ),
            ("bot_base_url (POE_BOT_BASE_URL)", self.bot_base_url),
            ("upload_base_url (POE_UPLOAD_BASE_URL)", self.upload_base_url),
        ):
            if url:  # never a traceback from the HTTP layer, never the password
                register_url_secrets(url)
                check_http_url(url, name)
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
            self.logs  # noqa: B018 - parsed now: known keys, booleans, retention_days >= 0
        if "fallbacks" in self.file:
            self.fallbacks  # noqa: B018 - parsed now: model -> [fallback models]

    # --- derived values, each made on first use and kept (see _Derived) ------------------

    provider_info = _Derived(
        Provider.from_settings,
        "The provider these settings name: key variable, REST, bot, upload, account URLs.",
    )
    config = _Derived(_config, "The whole ``config.toml``, validated (``ConfigFile``).")
    media = _Derived(_media, "``[media]``: directory, timeouts, sizes, default models.")
    tools = _Derived(_tools, "``[tools]``: roots, commands and limits of the built-in tools.")
    server = _Derived(_server, "``[server]``: exposed tools and HTTP limits.")
    rate_limit = _Derived(_rate_limit, "``[rate_limit]``: burst and longest wait of the limiter.")
    mcp_servers = _Derived(_mcp_servers, "``[mcp_servers.<name>]``: the agent's MCP servers.")
    budgets = _Derived(_budgets, "``[budgets]`` with ``POE_MCP_BUDGET_*`` over it.")
    prices = _Derived(_prices, "``[prices]``: USD per million tokens, by lower-case model id.")
    aliases = _Derived(_aliases, "``[aliases]``: lower-case alias -> model name.")
    fallbacks = _Derived(_fallbacks, "``[fallbacks]``: lower-case model -> the models after it.")
    logs = _Derived(_logs, "``[logs]`` with ``POE_MCP_LOGS`` over it: who logs, how long.")

    @property
    def effective_base_url(self) -> str:
        """The REST base URL requests go to (the provider's, or the configured one)."""
        return self.provider_info.base_url

    @property
    def store_url(self) -> str:
        """The store's URL: the configured one, else SQLite in the home folder."""
        return self.store or f"sqlite:///{self.home / 'poe-mcp.db'}"

    @property
    def media_dir(self) -> Path:
        """The folder downloaded media files are saved in."""
        return self.home / "media"

    def section(self, name: str) -> dict[str, Any]:
        """A table of config.toml as parsed, or {} (prefer the typed sections above)."""
        value = self.file.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] in config.toml must be a table")
        return value
