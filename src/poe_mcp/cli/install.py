"""``poe-mcp install claude-desktop|claude-code|cursor [--print]``: add the server to a client.

The entry runs ``poe-mcp serve`` by its absolute path (assistants start servers without your
shell's PATH). The API key is never written into a client's config: the server reads it from
``POE_API_KEY`` or ``credentials.toml`` (``poe-mcp doctor`` says where).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError

__all__ = ["client_config_path", "install", "server_entry"]

_CLIENTS = ("claude-desktop", "claude-code", "cursor")


def client_config_path(client: str) -> Path:
    """Where ``client`` reads its MCP servers (user scope)."""
    home = Path.home()
    if client == "claude-desktop":
        if sys.platform == "darwin":
            return (
                home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
            )
        if sys.platform == "win32":
            appdata = Path(os.environ.get("APPDATA", home / "AppData" / "Roaming"))
            return appdata / "Claude" / "claude_desktop_config.json"
        return home / ".config" / "Claude" / "claude_desktop_config.json"
    if client == "claude-code":
        return home / ".claude.json"
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    raise ConfigError(f"unknown client {client!r}: use one of {', '.join(_CLIENTS)}")


def _command() -> str:
    found = shutil.which("poe-mcp")
    if found:
        return str(Path(found).resolve())
    beside = Path(sys.executable).with_name("poe-mcp")
    return str(beside) if beside.exists() else "poe-mcp"


def server_entry(client: str, args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``mcpServers`` entry for ``client``."""
    entry: dict[str, Any] = {"command": _command(), "args": ["serve", *args]}
    if client == "claude-code":
        entry = {"type": "stdio", **entry}
    if env:
        entry["env"] = env
    return entry


def _merge(path: Path, name: str, entry: dict[str, Any]) -> None:
    try:
        current: Any = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; fix or move it, then run again") from exc
    if not isinstance(current, dict):
        raise ConfigError(f"{path} does not hold a JSON object; fix or move it, then run again")
    servers = current.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f'"mcpServers" in {path} is not an object')
    servers[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # the client never reads half a file


@click.command()
@click.argument("client", type=click.Choice(_CLIENTS))
@click.option("--print", "print_only", is_flag=True, help="Print the configuration; write nothing.")
@click.option("--name", default="poe", show_default=True, help="Server name in the client.")
@click.option("--tools", "tools_spec", help="Tools to expose (passed to `serve --tools`).")
@click.option("--simulate", is_flag=True, help="Configure the offline simulator (a demo).")
@click.option(
    "--simulate-if-no-key", is_flag=True, help="Fall back to the simulator when no key is set."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write this file instead of the client's default one.",
)
def install(
    client: str,
    print_only: bool,
    name: str,
    tools_spec: str | None,
    simulate: bool,
    simulate_if_no_key: bool,
    config_path: Path | None,
) -> None:
    """Add poe-mcp to Claude Desktop, Claude Code or Cursor (or print the entry with --print)."""
    args: list[str] = []
    if tools_spec:
        args += ["--tools", tools_spec]
    if simulate:
        args.append("--simulate")
    if simulate_if_no_key:
        args.append("--simulate-if-no-key")
    entry = server_entry(client, args)
    if print_only:
        click.echo(json.dumps({"mcpServers": {name: entry}}, indent=2))
        if client == "claude-code":
            click.echo(
                f"\n# or: claude mcp add {name} -- {entry['command']} serve {' '.join(args)}"
            )
        return
    path = config_path or client_config_path(client)
    _merge(path, name, entry)
    click.echo(f"Added MCP server {name!r} to {path}. Restart {client} to load it.")
    click.echo("The API key is read from POE_API_KEY or credentials.toml (`poe-mcp doctor`).")
