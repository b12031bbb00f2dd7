"""What ``poe-mcp doctor`` shows about the settings: the file, whether it loaded, what is in effect.

Each line is a check ``{"name", "status", "ok", "detail"}`` where ``status`` is ``ok``,
``fail`` or ``skip`` (a check that could not run is skipped, never a failure). Values are shown
as they take effect (environment over file over default); secrets never (URLs are shown without
their password, keys not at all).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._redact import describe_value, redact_url
from ..errors import PoeError

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["check", "config_file_check", "settings_checks"]


def check(name: str, status: str, detail: str) -> dict[str, Any]:
    """One doctor line; ``ok`` stays for JSON readers (a skipped check is not a failure)."""
    return {"name": name, "status": status, "ok": status != "fail", "detail": detail}


def config_file_check(config_dir: Path, error: PoeError | None) -> dict[str, Any]:
    """The config file: where it is, whether it exists, and whether it loaded."""
    path = config_dir / "config.toml"
    if error is not None:
        text = str(error)
        if error.metadata.get("config_file") or str(path) in text:
            return check("config_file", "fail", text if str(path) in text else f"{path}: {text}")
        # the file loaded (it is checked first): the environment (or an option) is at fault
        return check("environment", "fail", f"{text} ({path} is not at fault)")
    if not path.exists():
        return check("config_file", "ok", f"{path} (absent: defaults and environment apply)")
    return check("config_file", "ok", f"{path} (loaded, valid)")


def _budgets(settings: Settings) -> str:
    from ..budget import BudgetLimits

    limits = BudgetLimits.from_settings(settings)
    shown = [
        f"{name} {value}"
        for name in ("daily_usd", "daily_tokens", "session_usd", "session_tokens")
        if (value := getattr(limits, name)) is not None
    ]
    return ", ".join(shown) if shown else "none"


def _tools(settings: Settings) -> str:
    from ..server.registry import select_tools

    spec = settings.environ.get("POE_MCP_TOOLS") or settings.server.tools
    chosen = select_tools(spec)
    return f"{len(chosen)}: {', '.join(chosen)}"


def _mcp_servers(settings: Settings) -> list[dict[str, Any]]:
    lines = []
    for spec in settings.mcp_servers:
        if spec.url is not None:
            lines.append(check(f"mcp_server {spec.name}", "ok", f"{redact_url(spec.url)} (HTTP)"))
            continue
        program = spec.command or ""
        found = shutil.which(program)
        status, where = ("ok", found) if found else ("fail", "not found on PATH")
        lines.append(check(f"mcp_server {spec.name}", status, f"command {program!r}: {where}"))
    return lines


def settings_checks(settings: Settings) -> list[dict[str, Any]]:
    """Every effective setting that matters, one line each (never raises)."""
    from ..media import MediaConfig

    lines = [
        check(
            "provider",
            "ok",
            f"{settings.provider}, base URL {redact_url(settings.effective_base_url)}, "
            f"backend {settings.backend}",
        ),
        check("dirs", "ok", f"data {settings.home}, config {settings.config_dir}"),
    ]
    rows: list[tuple[str, Any]] = [
        ("store_url", lambda: redact_url(settings.store_url)),
        ("media_dir", lambda: str(MediaConfig.from_settings(settings).directory)),
        ("budgets", lambda: _budgets(settings)),
        ("rpm", lambda: f"{settings.rpm} requests per minute (client-side)"),
        ("session_ttl", lambda: f"{settings.session_ttl_s:g} s idle"),
        ("tools", lambda: _tools(settings)),
        ("aliases", lambda: _aliases(settings)),
        ("stream_options", lambda: _stream_options(settings)),
        ("logs", lambda: _logs(settings)),
        ("transport", lambda: _transport(settings)),
        ("token", lambda: _token(settings)),
    ]
    for name, value in rows:
        try:
            lines.append(check(name, "ok", str(value())))
        except PoeError as exc:
            lines.append(check(name, "fail", str(exc)))
    try:
        lines += _mcp_servers(settings)
    except PoeError as exc:
        lines.append(check("mcp_servers", "fail", str(exc)))
    return lines


def _logs(settings: Settings) -> str:
    logs = settings.logs  # [logs] with POE_MCP_LOGS over it: a bad value fails here
    who = ", ".join(sorted(logs.entry_points)) or "none"
    kept = "forever" if logs.retention_days is None else f"{logs.retention_days:g} days"
    return f"prompts and answers logged for: {who} (kept {kept})"


def _transport(settings: Settings) -> str:
    """``POE_MCP_TRANSPORT``, which ``serve`` reads through its option."""
    from ..errors import ConfigError

    value = settings.environ.get("POE_MCP_TRANSPORT")
    if value is None:
        return "stdio (serve's default; POE_MCP_TRANSPORT unset)"
    if value not in ("stdio", "http"):
        raise ConfigError(
            f"POE_MCP_TRANSPORT must be stdio or http (got {describe_value(value)}): "
            "`poe-mcp serve` would refuse to start"
        )
    return f"{value} (POE_MCP_TRANSPORT)"


def _token(settings: Settings) -> str:
    """``POE_MCP_TOKEN``, the HTTP server's and the console's bearer token (never shown)."""
    from ..server.http import check_token

    value = settings.environ.get("POE_MCP_TOKEN")
    if value is None:
        return "none set (HTTP on loopback makes or reuses one; required off loopback)"
    check_token(value, "POE_MCP_TOKEN")
    return f"set in POE_MCP_TOKEN ({len(value)} characters)"


def _stream_options(settings: Settings) -> str:
    from ..backends._optional import stream_options_mode

    mode = stream_options_mode(settings)
    return {
        "auto": "auto (sent; dropped and remembered when a provider refuses it)",
        "on": "on (always sent)",
        "off": "off (never sent; usage estimated unless the provider sends it)",
    }[mode]


def _aliases(settings: Settings) -> str:

    mine = settings.aliases
    shown = ", ".join(f"{k} -> {v}" for k, v in sorted(mine.items()))
    return f"{shown or 'none in config.toml'} (built-in: `poe-mcp models --aliases`)"
