"""``poe-mcp serve``: the MCP server over stdio (default) or streamable HTTP."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import _constants as C
from ..config import Settings, resolve_api_key
from ..errors import AuthError, ConfigError

__all__ = ["serve"]

SIMULATED_API_KEY = "simulated-key"  # the simulator accepts any key not starting with invalid/broke


def _notice(message: str) -> None:
    # stdout belongs to the stdio transport: every human message goes to stderr.
    click.echo(f"poe-mcp: {message}", err=True)


def _start_simulator() -> Any:
    from ..simulator import Simulator

    return Simulator().start()


@click.command()
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    envvar="POE_MCP_TRANSPORT",
    help="stdio for assistants that spawn the server; http for a shared server.",
)
@click.option("--host", default=C.HTTP_HOST, show_default=True, help="HTTP bind address.")
@click.option(
    "--port", type=int, default=C.HTTP_PORT, show_default=True, help="HTTP port (0: any free)."
)
@click.option(
    "--token",
    envvar="POE_MCP_TOKEN",
    help="Bearer token HTTP clients must send [env POE_MCP_TOKEN]. Required off loopback; on "
    "loopback one is generated and printed when absent.",
)
@click.option("--no-auth", is_flag=True, help="HTTP without a token (loopback only).")
@click.option(
    "--allowed-host",
    multiple=True,
    help="Extra Host header value to accept over HTTP (repeatable), e.g. mcp.example.com.",
)
@click.option(
    "--allowed-origin",
    multiple=True,
    help="Extra Origin to accept over HTTP (repeatable), e.g. https://app.example.com.",
)
@click.option(
    "--tools",
    "tools_spec",
    envvar="POE_MCP_TOOLS",
    help="Comma-separated tools or groups to expose (chat, sessions, models, info, agent, "
    "media, all) [env POE_MCP_TOOLS; config [server] tools]. Default: all.",
)
@click.option(
    "--store",
    help="Session/usage store URL: sqlite:///path.db (default, in the data dir), memory://, "
    "redis://host:port/db [env POE_MCP_STORE].",
)
@click.option(
    "--simulate",
    is_flag=True,
    help="Answer from the built-in offline Poe simulator (no key needed; every answer says so).",
)
@click.option(
    "--simulate-if-no-key",
    is_flag=True,
    help="Use the simulator (with a notice on stderr) when no API key is configured.",
)
@click.option(
    "--provider",
    type=click.Choice(list(C.PROVIDERS)),
    help="poe (default), openai, or compatible (any OpenAI-compatible API) [env POE_MCP_PROVIDER].",
)
@click.option(
    "--backend",
    type=click.Choice(list(C.BACKENDS)),
    help="Default backend: openai (Poe's REST API) or legacy (bot protocol) [env POE_MCP_BACKEND].",
)
@click.option("--base-url", help="API base URL [env POE_BASE_URL / OPENAI_BASE_URL].")
@click.option(
    "--session-ttl",
    type=float,
    help="Seconds of idleness after which a conversation expires (default 3600) "
    "[env POE_MCP_SESSION_TTL].",
)
@click.option("--rpm", type=int, help="Client-side requests per minute (default 500).")
def serve(
    transport: str,
    host: str,
    port: int,
    token: str | None,
    no_auth: bool,
    allowed_host: tuple[str, ...],
    allowed_origin: tuple[str, ...],
    tools_spec: str | None,
    store: str | None,
    simulate: bool,
    simulate_if_no_key: bool,
    provider: str | None,
    backend: str | None,
    base_url: str | None,
    session_ttl: float | None,
    rpm: int | None,
) -> None:
    """Run the MCP server (stdio by default; --transport http for /mcp, /health, /metrics)."""
    import anyio

    from ..server.registry import select_tools
    from ..server.runtime import ServerRuntime

    settings = Settings.load(
        provider=provider,
        backend=backend,
        base_url=base_url,
        store=store,
        session_ttl_s=session_ttl,
        rpm=rpm,
    )
    server_cfg = settings.section("server")
    tools = select_tools(tools_spec or server_cfg.get("tools"))

    api_key: str | None = None
    if not simulate:
        try:
            api_key = resolve_api_key(settings.provider)
        except AuthError:
            if not simulate_if_no_key:
                raise
            _notice(
                "no API key found (POE_API_KEY or credentials.toml): serving the built-in "
                "SIMULATOR; answers are not from real models. `poe-mcp doctor` shows where to "
                "put a key."
            )
            simulate = True

    simulator = None
    if simulate:
        simulator = _start_simulator()
        settings = settings.with_(provider="poe", base_url=simulator.base_url)
        if store is None and not os.environ.get("POE_MCP_STORE"):
            # Simulated calls must not mix with real ones in the user's usage ledger.
            settings = settings.with_(store="memory://")
        api_key = SIMULATED_API_KEY
        _notice(f"simulator running at {simulator.base_url}")

    runtime = ServerRuntime(
        settings, api_key=api_key, simulated=simulate, tools=tools, transport=transport
    )
    if simulator is not None:
        runtime.add_closer(simulator.stop)

    try:
        if transport == "stdio":
            from ..server.stdio import serve_stdio

            anyio.run(serve_stdio, runtime)
        else:
            from ..server.http import HttpOptions, resolve_token, serve_http

            bearer, generated = resolve_token(host, token, no_auth=no_auth)
            options = HttpOptions(host, port, bearer, allowed_host, allowed_origin)

            async def main() -> None:
                await serve_http(runtime, options, generated_token=generated)

            anyio.run(main)
    except KeyboardInterrupt:
        pass
    except ConfigError:
        if simulator is not None:
            simulator.stop()
        raise
    finally:
        sys.stderr.flush()
