"""``poe-mcp serve``: the MCP server over stdio (default) or streamable HTTP."""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import _constants as C
from .._redact import redact_url
from ..config import Settings, resolve_api_key
from ..errors import AuthError, ConfigError
from ._options import token_option
from ._serve_extras import announce

__all__ = ["serve"]

SIMULATED_API_KEY = "simulated-key"  # the simulator accepts any key not starting with invalid/broke


def simulator_store_url(settings: Settings) -> str:
    """Where ``--simulate`` keeps sessions and usage: a SQLite file of its own in the data dir."""
    return f"sqlite:///{settings.home / 'simulator' / 'poe-mcp.db'}"


def _start_simulator(provider: str) -> Any:
    from ..simulator import Simulator

    # --provider openai gets the simulator's OpenAI mode (OpenAI's ids, list and errors)
    return Simulator(provider="openai" if provider == "openai" else "poe").start()


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
@token_option(
    "Bearer token HTTP clients must send [env POE_MCP_TOKEN]. Required off loopback; on "
    "loopback one is generated and printed when absent."
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
    "media, all) [env POE_MCP_TOOLS; config [server] tools]. Default: all. The multi group "
    "(compare_models, consensus) and the orchestra group (orchestrate, get_run, resume_run, "
    "cancel_run) are off unless named: --tools all,multi,orchestra.",
)
@click.option(
    "--store",
    help="Session/usage store URL: sqlite:///path.db (default, in the data dir), memory://, "
    "redis://host:port/db [env POE_MCP_STORE].",
)
@click.option(
    "--simulate",
    is_flag=True,
    help="Answer from the built-in offline Poe simulator (no key needed; every answer says so; "
    "with --provider openai it plays OpenAI's API). Simulated sessions and usage are kept "
    "apart from real ones, on disk in <data dir>/simulator/poe-mcp.db (unless --store / "
    "POE_MCP_STORE names a store).",
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
@click.option(
    "--download-policy",
    type=click.Choice(list(C.DOWNLOAD_POLICIES)),
    help="Where media downloads may connect: public (refuse loopback, private, link-local and "
    "other non-public addresses, checked after DNS and on every redirect; the provider's own "
    "host stays allowed), any, or auto (public when --host is not loopback, else any) "
    "[env POE_MCP_DOWNLOAD_POLICY; config [media] download_policy]. Default: auto.",
)
@click.option(
    "--stream-options",
    type=click.Choice(["auto", "on", "off"]),
    help="stream_options on streamed requests: auto (sent; dropped and remembered per base URL "
    "when a provider refuses it), on (always), off (never; usage is then estimated unless the "
    "provider sends it) [env POE_MCP_STREAM_OPTIONS; config stream_options]. Default: auto.",
)
@click.option(
    "--api-key",
    "api_key_option",
    help="API key of the chosen provider, instead of POE_API_KEY / OPENAI_API_KEY / "
    "POE_MCP_COMPATIBLE_API_KEY or credentials.toml (other users can see command lines: "
    "prefer those).",
)
@click.option(
    "--header-timeout",
    type=float,
    help=f"HTTP: seconds for a request's headers to arrive, else 408 and closed "
    f"(default {C.HTTP_HEADER_TIMEOUT_S:g}) [config [server] header_timeout_s].",
)
@click.option(
    "--body-timeout",
    type=float,
    help=f"HTTP: seconds for a request's body to arrive (default {C.HTTP_BODY_TIMEOUT_S:g}) "
    "[config [server] body_timeout_s].",
)
@click.option(
    "--keep-alive",
    type=float,
    help=f"HTTP: seconds an idle keep-alive connection stays open (default "
    f"{C.HTTP_KEEP_ALIVE_S:g}) [config [server] keep_alive_s].",
)
@click.option(
    "--max-connections",
    type=int,
    help=f"HTTP: open connections at most; more get 503 (default {C.HTTP_MAX_CONNECTIONS}) "
    "[config [server] max_connections].",
)
@click.option(
    "--max-body-bytes",
    type=int,
    help=f"HTTP: largest request body; larger gets 413 (default {C.HTTP_MAX_BODY_BYTES}) "
    "[config [server] max_body_bytes].",
)
@click.option(
    "--mcp-session-idle",
    type=float,
    help=f"HTTP: seconds after which an MCP session with no request ends, and an open event "
    f"stream (GET /mcp) is closed (default {C.MCP_SESSION_IDLE_S:g}) [config [server] "
    "mcp_session_idle_s].",
)
@click.option(
    "--max-mcp-sessions",
    type=int,
    help=f"HTTP: open MCP sessions at most; a new one beyond gets 503 (default "
    f"{C.MCP_MAX_SESSIONS}) [config [server] max_mcp_sessions].",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False),
    help="Append the server's log to this file instead of standard error.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text or as one JSON object each. Over HTTP every tool call logs one line "
    "(tool, outcome, model, tokens, cost, latency; the prompt only with POE_MCP_LOG_PROMPTS).",
)
@click.option(
    "--new-token",
    is_flag=True,
    help="HTTP on loopback without --token: make a new bearer token instead of reusing the one "
    "kept in the data dir (<data dir>/http-token, mode 0600).",
)
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
    download_policy: str | None,
    stream_options: str | None,
    api_key_option: str | None,
    header_timeout: float | None,
    body_timeout: float | None,
    keep_alive: float | None,
    max_connections: int | None,
    max_body_bytes: int | None,
    mcp_session_idle: float | None,
    max_mcp_sessions: int | None,
    log_file: str | None,
    log_format: str,
    new_token: bool,
) -> None:
    """Run the MCP server (stdio by default; --transport http for /mcp, /health, /metrics)."""
    from ._serve_extras import configure_logging

    configure_logging(transport=transport, log_file=log_file, log_format=log_format)
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
        stream_options=stream_options,
    )
    tools = select_tools(tools_spec or settings.server.tools)

    api_key: str | None = None
    if not simulate:
        try:
            api_key = resolve_api_key(settings.provider, api_key_option)
        except AuthError:
            if not simulate_if_no_key:
                # Start anyway: the client then shows each tool's actionable auth error
                # instead of "connection closed" (a server that exits says nothing there).
                announce(
                    f"no API key found for provider {settings.provider!r}: the server starts, "
                    "and tools that call the API answer with where to put one (`poe-mcp "
                    "doctor` checks it). A key exported only in a shell is invisible to a "
                    "desktop client: put it in credentials.toml or the client's env."
                )
            else:
                simulate = True
        if simulate and api_key is None:
            announce(
                "no API key found (POE_API_KEY or credentials.toml): serving the built-in "
                "SIMULATOR; answers are not from real models. `poe-mcp doctor` shows where to "
                "put a key."
            )
            simulate = True

    simulator = None
    if simulate:
        simulator = _start_simulator(settings.provider)
        settings = settings.with_(provider=simulator.provider, base_url=simulator.base_url)
        if store is None and "POE_MCP_STORE" not in settings.environ:
            # Simulated sessions and usage live apart from real ones, on disk, so a client
            # that starts the server per call still continues its conversations.
            settings = settings.with_(store=simulator_store_url(settings))
        api_key = SIMULATED_API_KEY
        announce(
            f"simulator running at {simulator.base_url}; simulated sessions and usage are kept "
            f"in {redact_url(settings.store_url)}, apart from real ones"
        )

    from .._netpolicy import server_download_policy

    runtime = ServerRuntime(
        settings,
        api_key=api_key,
        simulated=simulate,
        tools=tools,
        transport=transport,
        download_policy=server_download_policy(
            settings, download_policy, transport=transport, host=host
        ),
    )
    if simulator is not None:
        runtime.add_closer(simulator.stop)

    try:
        if transport == "stdio":
            from ..server.stdio import serve_stdio

            anyio.run(serve_stdio, runtime)
        else:
            from ..server._limits import HttpLimits
            from ..server.http import HttpOptions, resolve_token, serve_http

            limits = HttpLimits.from_config(
                settings.section("server"),
                header_timeout_s=header_timeout,
                body_timeout_s=body_timeout,
                keep_alive_s=keep_alive,
                max_connections=max_connections,
                max_body_bytes=max_body_bytes,
                mcp_session_idle_s=mcp_session_idle,
                max_mcp_sessions=max_mcp_sessions,
            )
            from ..server.http import is_loopback
            from ._serve_extras import TOKEN_FILE, client_lines, stored_token

            kept: Any = None
            made = False
            if token is None and not no_auth and is_loopback(host):
                token, made = stored_token(settings.home, new=new_token)
                kept = settings.home / TOKEN_FILE
            bearer, generated = resolve_token(host, token, no_auth=no_auth)
            shown = f"[{host}]" if ":" in host else host
            url = f"http://{shown}:{port}{C.HTTP_MCP_PATH}" if port else None
            announce(*client_lines(url, bearer, path=kept, made=made))
            options = HttpOptions(host, port, bearer, allowed_host, allowed_origin, limits)

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
