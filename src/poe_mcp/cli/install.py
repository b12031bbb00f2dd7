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


def _visible_env() -> dict[str, str] | None:
    """Settings the server must share with this shell: the config and data dirs when moved.

    A desktop client starts servers without the shell's environment; without these the server
    would read another credentials.toml and store. Never the key.
    """
    from ..config import env_value

    env = {n: v for n in ("POE_MCP_CONFIG_DIR", "POE_MCP_HOME") if (v := env_value(n))}
    return env or None


def key_visibility(client: str, simulated: bool) -> tuple[bool, str]:
    """Whether the server ``client`` starts will find an API key, and what to say about it."""
    from ..config import Settings, key_sources

    if simulated:
        return True, "The server answers from the offline simulator when no key is configured."
    settings = Settings.load()
    provider = settings.provider_info
    env_name = provider.key_env
    creds = settings.config_dir / "credentials.toml"
    sources = key_sources(provider.name)
    if "credentials.toml" in sources:
        return True, f"The server reads the API key from {creds} (`poe-mcp doctor` checks it)."
    put_it = f'put it in {creds}:\n    [{provider.key_section}]\n    api_key = "..."'
    if sources:
        if client == "claude-code":
            return True, (
                f"The server sees {env_name} when Claude Code is started from a shell that has "
                f"it; to be independent of the shell, {put_it}"
            )
        return False, (
            f"{env_name} is set in this shell only: {client} starts servers without your "
            f"shell's environment, so the server would have no key. {put_it[0].upper()}"
            f"{put_it[1:]}"
        )
    return False, (
        f"no API key found ({env_name} or {creds}): the server will start, but every tool "
        f"that calls the API will answer with where to put one. {put_it[0].upper()}{put_it[1:]} "
        "(or install with --simulate-if-no-key to try the offline simulator meanwhile)"
    )


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
@click.option(
    "--json", "as_json", is_flag=True, help="Print what was written (or would be) as JSON."
)
def install(
    client: str,
    print_only: bool,
    name: str,
    tools_spec: str | None,
    simulate: bool,
    simulate_if_no_key: bool,
    config_path: Path | None,
    as_json: bool,
) -> None:
    """Add poe-mcp to Claude Desktop, Claude Code or Cursor (or print the entry with --print).

    Checks first that --tools names real tools, and that the server the client starts will
    find an API key: a key exported only in a shell is invisible to a desktop client, so the
    key belongs in credentials.toml (the entry never holds it).
    """
    from ..server.registry import select_tools

    args: list[str] = []
    if tools_spec:
        select_tools(tools_spec)  # ConfigError (with "did you mean") before anything is written
        args += ["--tools", tools_spec]
    if simulate:
        args.append("--simulate")
    if simulate_if_no_key:
        args.append("--simulate-if-no-key")
    entry = server_entry(client, args, _visible_env())
    key_ok, key_note = key_visibility(client, simulate or simulate_if_no_key)
    if not key_ok:
        click.echo(f"warning: {key_note}", err=True)
    if as_json:
        path = None if print_only else config_path or client_config_path(client)
        if path is not None:
            _merge(path, name, entry)
        payload = {
            "client": client,
            "name": name,
            "entry": entry,
            "written": str(path) if path else None,
            "key": {"visible": key_ok, "note": key_note},
        }
        click.echo(json.dumps(payload, indent=2))
        return
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
    click.echo(key_note if key_ok else "Fix the key as warned above, then restart the client.")
