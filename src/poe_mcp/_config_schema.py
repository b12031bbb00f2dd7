"""``config.toml`` validated whole when it is loaded: every key known, every value of its type.

A wrong setting used to surface late and oddly: ``rpm = "fast"`` as a traceback in every
command, a bad ``[prices]`` entry as a failed (but paid) chat, a bad ``store`` URL as a warning
while budgets stopped applying, and a misspelt key not at all. :func:`check_config_file` runs in
``Settings.load`` and raises one :class:`~poe_mcp.errors.ConfigError` that lists every problem,
each naming the file, the key, what was expected and, for an unknown key, "did you mean".
Values that look like secrets are never quoted (:func:`~poe_mcp._redact.describe_value`).

The file's shape is the pydantic model :class:`ConfigFile` (``extra="forbid"`` everywhere, strict
types: TOML has real integers, floats and booleans). Tables whose rules live with their feature
are checked by that feature's own parser, called from here (``[budgets]``, ``[prices]``,
``[tiers]``; ``[logs]`` and ``[fallbacks]`` in ``Settings.validate``).

Adding a setting: add the field here (and read it where it takes effect); a key that is in the
schema but read nowhere would be a silent one again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import _constants as C
from ._redact import describe_value
from ._suggest import suggest
from .errors import ConfigError

__all__ = [
    "ConfigFile",
    "check_config_file",
    "check_environment",
    "check_http_url",
    "check_store_url",
    "known_keys",
]

PositiveInt = Annotated[int, Field(gt=0)]
# A model name: "" (or blanks) would fall back to the default silently.
Name = Annotated[str, Field(pattern=r"\S")]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ServerTable(_Table):
    tools: str | list[str] | None = None
    # HTTP limits (poe_mcp.server._limits.HttpLimits; each also a `serve` option)
    header_timeout_s: PositiveFloat | None = None
    body_timeout_s: PositiveFloat | None = None
    keep_alive_s: PositiveFloat | None = None
    max_connections: PositiveInt | None = None
    max_body_bytes: PositiveInt | None = None
    mcp_session_idle_s: PositiveFloat | None = None
    max_mcp_sessions: PositiveInt | None = None


class RateLimitTable(_Table):
    burst: PositiveInt | None = None
    max_wait_s: PositiveFloat | None = None


class ToolsTable(_Table):
    roots: list[str] | dict[str, str] | None = None
    commands: list[str] | None = None
    command_timeout_s: PositiveFloat | None = None
    output_cap_bytes: PositiveInt | None = None
    max_read_bytes: PositiveInt | None = None
    sandbox_commands: bool | None = None
    write: bool | None = None


class McpServerTable(_Table):
    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None
    prefix: str | None = None
    tools: list[str] | None = None
    timeout_s: PositiveFloat | None = None


class MediaTable(_Table):
    dir: str | None = None
    timeout_s: PositiveFloat | None = None
    max_bytes: PositiveInt | None = None
    progress_interval_s: PositiveFloat | None = None
    image_model: Name | None = None
    video_model: Name | None = None
    audio_model: Name | None = None
    download_policy: str | None = None


class ConfigFile(_Table):
    """Every key ``config.toml`` may hold (see the README's Configuration section)."""

    provider: Literal["poe", "openai", "compatible"] | None = None
    base_url: str | None = None
    backend: Literal["openai", "legacy"] | None = None
    store: str | None = None
    session_ttl_s: PositiveFloat | None = None
    rpm: PositiveInt | None = None
    timeout_s: PositiveFloat | None = None
    log_prompts: bool | None = None
    model: Name | None = None
    bot_base_url: str | None = None
    upload_base_url: str | None = None
    stream_options: Literal["auto", "on", "off"] | bool | None = None
    server: ServerTable | None = None
    rate_limit: RateLimitTable | None = None
    budgets: dict[str, Any] | None = None
    prices: dict[str, Any] | None = None
    tools: ToolsTable | None = None
    mcp_servers: dict[str, McpServerTable] | None = None
    media: MediaTable | None = None
    aliases: dict[str, Name] | None = None
    logs: dict[str, Any] | None = None
    fallbacks: dict[str, Any] | None = None
    tiers: dict[str, Any] | None = None


_EXPECTED: dict[str, str] = {
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a table",
    "model_type": "a table",
    "list_type": "a list",
    "greater_than": "greater than {gt}",
    "greater_than_equal": "at least {ge}",
    "literal_error": "one of {expected}",
    "string_pattern_mismatch": "a name, not blank",
}


def known_keys(path: tuple[str, ...] = ()) -> list[str]:
    """The keys allowed at ``path`` (``()`` for the top level, ``("media",)`` for a table)."""
    model: Any = ConfigFile
    for part in path:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        sub = next(
            (a for a in getattr(annotation, "__args__", (annotation,)) if _is_model(a)), None
        )
        if sub is None:
            return []
        model = sub
    return list(model.model_fields)


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    # mcp_servers.<name>.<key>: the server name is part of the table's name
    if len(parts) >= 3 and parts[0] == "mcp_servers":
        return f"[mcp_servers.{parts[1]}] {'.'.join(parts[2:])}"
    if len(parts) >= 2:
        return f"[{parts[0]}] {'.'.join(parts[1:])}"
    return parts[0] if parts else "(the file)"


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        else:
            return None
    return data


def _clean_loc(error: Any) -> tuple[Any, ...]:
    # pydantic adds the union member tried ("str", "list[str]") to the location: drop them
    return tuple(
        p for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p in _TYPE_NAMES))
    )


def _problems(errors: list[Any], data: Mapping[str, Any]) -> list[str]:
    """One line per key: a union's alternatives are joined (``a string or a list``)."""
    expected: dict[tuple[Any, ...], list[str]] = {}
    lines: list[str] = []
    for error in errors:
        loc = _clean_loc(error)
        if error["type"] == "extra_forbidden":
            lines.append(_problem(error, loc))
            continue
        ctx = error.get("ctx") or {}
        text = _EXPECTED.get(error["type"], str(error["msg"]).lower()).format(**ctx)
        expected.setdefault(loc, [])
        if text not in expected[loc]:
            expected[loc].append(text)
    for loc, texts in expected.items():
        given = describe_value(_lookup(data, loc))
        lines.append(f"{_where(loc)} must be {' or '.join(texts)} (got {given})")
    return lines


def _problem(error: Any, loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        parent, key = loc[:-1], str(loc[-1])
        allowed = known_keys(tuple(str(p) for p in parent)) if len(parent) <= 1 else []
        if parent and parent[0] == "mcp_servers":
            allowed = list(McpServerTable.model_fields)
        found = suggest(key, allowed)
        where = _where(loc)
        hint = f" (did you mean {' or '.join(repr(f) for f in found)}?)" if found else ""
        known = f"; known: {', '.join(allowed)}" if allowed and not found else ""
        if not parent and key.endswith("api_key"):
            return (
                f"{key} does not belong in config.toml: API keys go in the environment "
                "(POE_API_KEY) or credentials.toml"
            )
        return f"unknown key {where}{hint}{known}"
    return f"{_where(loc)}: {error['msg']}"


_TYPE_NAMES = frozenset(
    {"str", "int", "float", "bool", "dict", "list", "ServerTable", "RateLimitTable",
     "ToolsTable", "McpServerTable", "MediaTable", "function-after", "literal",
     "constrained-str"}
)  # fmt: skip


def check_store_url(url: str, where: str) -> None:
    """A store URL of a known form: ``memory://``, ``sqlite:///path``, ``redis(s)://...``.

    Raises:
        ConfigError: naming ``where`` it came from and the forms that work.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    ok = bool(sep) and (
        scheme == "memory"
        or (scheme == "sqlite" and rest.startswith("/") and len(rest) > 1)
        or (scheme in ("redis", "rediss") and bool(rest))
    )
    if not ok:
        from ._redact import redact_url

        raise ConfigError(
            f"{where} is not a store URL ({redact_url(url)!r}): use sqlite:///relative/path.db, "
            "sqlite:////absolute/path.db, memory:// or redis://host:port/db"
        )


def check_http_url(url: Any, where: str) -> None:
    """An ``http://`` or ``https://`` URL with a host (a base URL, an MCP server's URL).

    Raises:
        ConfigError: naming ``where`` it came from.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        ok = (
            parts is not None
            and parts.scheme.lower() in ("http", "https")
            and bool(parts.hostname)
            and (parts.port is None or parts.port > 0)  # reading it checks it: 1-65535
            and not any(c.isspace() or ord(c) < 32 for c in str(url))
        )
    except ValueError:  # a malformed port (a password holding '/' reads as one) or IPv6
        ok = False
    if not ok:
        from ._redact import redact_url

        shown = redact_url(url) if isinstance(url, str) else describe_value(url)
        raise ConfigError(
            f"{where} must be an http:// or https:// URL with a host, e.g. "
            f"https://api.poe.com/v1 (got {shown!r})"
        )


def _file_checks(data: Mapping[str, Any]) -> list[str]:
    """Values whose form the schema's types cannot state: URLs, policies, tool names."""
    problems: list[str] = []

    def url(value: Any, where: str) -> None:
        try:
            check_http_url(value, where)
        except ConfigError as exc:
            problems.append(exc.message)

    for key in ("base_url", "bot_base_url", "upload_base_url"):
        if isinstance(data.get(key), str):
            url(data[key], key)
    servers = data.get("mcp_servers")
    for name, table in (servers or {}).items() if isinstance(servers, Mapping) else ():
        if isinstance(table, Mapping) and isinstance(table.get("url"), str):
            url(table["url"], f"[mcp_servers.{name}] url")
    media = data.get("media")
    policy = media.get("download_policy") if isinstance(media, Mapping) else None
    if isinstance(policy, str) and policy.strip().lower() not in C.DOWNLOAD_POLICIES:
        problems.append(
            f"[media] download_policy must be one of {', '.join(C.DOWNLOAD_POLICIES)} "
            f"(got {describe_value(policy)})"
        )
    server = data.get("server")
    tools = server.get("tools") if isinstance(server, Mapping) else None
    if isinstance(tools, str | list) and tools:
        try:
            _check_tools(tools)
        except ConfigError as exc:
            problems.append(exc.message)
    return problems


def _check_tools(spec: str | list[str]) -> None:
    from .server.registry import select_tools  # only when [server] tools is set: imports mcp

    try:
        select_tools(spec)
    except ConfigError as exc:
        raise ConfigError(f"[server] tools: {exc.message.replace(' in --tools', '')}") from None


def _delegated(data: Mapping[str, Any]) -> list[tuple[str, Callable[[], Any]]]:
    """Sections checked by their feature's own parser (each raises ConfigError)."""
    checks: list[tuple[str, Callable[[], Any]]] = []
    if isinstance(data.get("budgets"), Mapping):
        from .budget import BudgetLimits

        checks.append(("budgets", lambda: BudgetLimits.from_mapping(data["budgets"], {})))
    if isinstance(data.get("prices"), Mapping):
        from ._model_info import parse_price_overrides

        checks.append(("prices", lambda: parse_price_overrides(data["prices"])))
    if isinstance(data.get("tiers"), Mapping):
        try:
            from .orchestra._tiers import resolve_tiers
        except ImportError:  # pragma: no cover - a build without the orchestrator
            return checks
        checks.append(("tiers", lambda: resolve_tiers(data["tiers"])))
    if isinstance(data.get("mcp_servers"), Mapping):
        from .tools._mcp import mcp_servers_from_config

        checks.append(("mcp_servers", lambda: mcp_servers_from_config(data["mcp_servers"])))
    return checks


def check_config_file(data: Mapping[str, Any], path: Path) -> None:
    """Validate a whole ``config.toml`` (its parsed content ``data``, read from ``path``).

    Raises:
        ConfigError: every problem found, one per line, naming ``path`` and each key.
    """
    if not data:
        return
    problems: list[str] = list(_impossible_numbers(data))
    flawed: set[str] = set()  # tables the schema already found wrong: said once is enough
    try:
        ConfigFile.model_validate(dict(data))
    except ValidationError as exc:
        problems += _problems(list(exc.errors()), data)
        flawed = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
    if isinstance(data.get("store"), str):
        try:
            check_store_url(data["store"], "store")
        except ConfigError as exc:
            problems.append(exc.message)
    problems += _file_checks(data)
    for section, check in _delegated(data):
        if section in flawed:
            continue
        try:
            check()
        except ConfigError as exc:
            problems.append(exc.message.replace(" in config.toml", ""))
        except (TypeError, ValueError, AttributeError):
            pass  # a shape the schema above already reported
    if problems:
        listed = "\n".join(f"  - {p}" for p in dict.fromkeys(problems))
        raise ConfigError(
            f"{path} is not valid:\n{listed}\n"
            "Fix these keys (the README's Configuration section lists every one).",
            metadata={"config_file": str(path), "problems": list(dict.fromkeys(problems))},
        )


_INT_MAX = 2**63 - 1  # TOML's own integer range; Python would take more and overflow later


def _impossible_numbers(data: Mapping[str, Any], where: str = "") -> list[str]:
    """Keys holding nan/inf or an integer past TOML's 64-bit range, wherever they are.

    ``daily_usd = nan`` compares false with everything, so a budget would silently never
    apply; such values are refused for every key rather than table by table.
    """
    found: list[str] = []
    for key, value in data.items():
        name = f"{where}.{key}" if where else str(key)
        if isinstance(value, Mapping):
            found += _impossible_numbers(value, name)
        elif isinstance(value, float) and not math.isfinite(value):
            found.append(f"{name}: {value} is not a usable number (give a finite value)")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT_MAX:
            found.append(f"{name}: the integer is out of range (at most {_INT_MAX})")
    return found


# Spellings of true and false the environment may use (POE_MCP_LOG_PROMPTS).
_ENV_TRUE = frozenset({"1", "true", "yes", "on"})
_ENV_FALSE = frozenset({"0", "false", "no", "off"})
_URL_VARS = ("POE_BASE_URL", "OPENAI_BASE_URL", "POE_BOT_BASE_URL", "POE_UPLOAD_BASE_URL")


def _env_problem(name: str, raw: str) -> str | None:
    """What is wrong with ``raw`` as the value of ``name``, or None."""
    value = raw.strip().lower()
    given = describe_value(raw)  # a key pasted into the wrong variable is never quoted
    if name == "POE_MCP_RPM":
        try:
            number = float(raw)
        except ValueError:
            number = -1.0
        if not (number >= 1 and number.is_integer()):
            return f"{name} must be a number of requests per minute, whole, >= 1 (got {given})"
    elif name == "POE_MCP_SESSION_TTL":
        try:
            ok = float(raw) > 0 and float(raw) != float("inf")
        except ValueError:
            ok = False
        if not ok:
            return f"{name} must be a number of seconds greater than 0 (got {given})"
    elif name == "POE_MCP_LOG_PROMPTS" and value not in _ENV_TRUE | _ENV_FALSE:
        return f"{name} must be true or false (1/0, yes/no, on/off; got {given})"
    elif name == "POE_MCP_DOWNLOAD_POLICY" and value not in C.DOWNLOAD_POLICIES:
        return f"{name} must be one of {', '.join(C.DOWNLOAD_POLICIES)} (got {given})"
    elif name == "POE_MCP_STREAM_OPTIONS" and value not in (
        "auto", "on", "off", *_ENV_TRUE, *_ENV_FALSE
    ):  # fmt: skip
        return f"{name} must be auto, on or off (got {given})"
    elif name in _URL_VARS:
        try:
            check_http_url(raw, name)
        except ConfigError as exc:
            return exc.message
    elif name.startswith("POE_MCP_BUDGET_"):
        from .budget import BudgetLimits

        try:
            BudgetLimits.from_mapping({}, {name: raw})
        except ConfigError as exc:
            return exc.message
    return None


def check_environment(env: Mapping[str, str]) -> None:
    """Validate poe-mcp's environment variables (``env``: name -> value, empty ones left out)
    whole, as :func:`check_config_file` does the file: a value that cannot take effect is an
    error naming the variable, never a silent default (``POE_MCP_RPM=1.7`` used to mean 1,
    ``POE_MCP_LOG_PROMPTS=maybe`` off). ``POE_MCP_LOGS`` is checked where logging starts
    (a bad value refuses CLI commands, never costs a library caller a paid answer), and
    ``POE_MCP_TOOLS`` / ``POE_MCP_TRANSPORT`` by ``serve`` (and ``doctor``).

    Raises:
        ConfigError: every problem found, one per line.
    """
    problems = [p for name, raw in env.items() if (p := _env_problem(name, raw)) is not None]
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(
            f"the environment is not valid:\n{listed}\nFix or unset these variables (the "
            "README's Configuration section lists every one).",
            metadata={"problems": problems},
        )
