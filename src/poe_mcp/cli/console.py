"""``poe-mcp console``: the web console on loopback (settings, discussion, dashboard, runs)."""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any

import click

from .. import _constants as C
from ._options import token_option
from ._serve_extras import announce

__all__ = ["console"]

_HELP = f"""Open the web console: AI settings, a streaming discussion, the cost dashboard and
orchestration runs, in the browser.

\b
Starts on http://127.0.0.1:{C.CONSOLE_PORT}{C.CONSOLE_PATH}/ and prints the URL; log in with
the bearer token it prints (the same token `poe-mcp serve --transport http` uses, kept in
<data dir>/http-token). --open opens the browser and logs it in. Without an API key for the
configured provider (or with --simulate) answers come from the built-in simulator, and every
page says so. `poe-mcp serve --transport http` serves the same console at {C.CONSOLE_PATH}.
"""


@click.command("console", help=_HELP)
@click.option("--host", default=C.HTTP_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=int,
    default=C.CONSOLE_PORT,
    show_default=True,
    help="Port (0: any free port).",
)
@token_option(
    "Bearer token that logs a browser in [env POE_MCP_TOKEN]. Required off loopback; on "
    "loopback the one kept in <data dir>/http-token is used (made when missing)."
)
@click.option("--new-token", is_flag=True, help="Make a new kept token instead of reusing it.")
@click.option("--no-auth", is_flag=True, help="No login at all (loopback only).")
@click.option("--open", "open_browser", is_flag=True, help="Open the console in the browser.")
@click.option(
    "--simulate",
    is_flag=True,
    help="Answer from the built-in offline simulator even when a key is configured.",
)
@click.option(
    "--api-key",
    "api_key_option",
    help="API key of the configured provider, instead of the environment or credentials.toml "
    "(other users can see command lines: prefer those).",
)
@click.option("--store", help="Session/usage store URL [env POE_MCP_STORE] (see `serve --help`).")
@click.option(
    "--allowed-host", multiple=True, help="Extra Host header value to accept (repeatable)."
)
@click.option("--allowed-origin", multiple=True, help="Extra Origin to accept (repeatable).")
def console(
    host: str,
    port: int,
    token: str | None,
    new_token: bool,
    no_auth: bool,
    open_browser: bool,
    simulate: bool,
    api_key_option: str | None,
    store: str | None,
    allowed_host: tuple[str, ...],
    allowed_origin: tuple[str, ...],
) -> None:
    """Run the web console until interrupted."""
    import anyio

    from ..config import Settings
    from ..console import ConsoleContext, build_console_app, standalone_app
    from ..server.http import is_loopback, resolve_token
    from ._serve_extras import TOKEN_FILE, stored_token

    settings = Settings.load(store=store)
    kept = None
    if token is None and not no_auth and is_loopback(host):
        token, _ = stored_token(settings.home, new=new_token)
        kept = settings.home / TOKEN_FILE
    bearer, _generated = resolve_token(host, token, no_auth=no_auth)
    context = ConsoleContext(
        settings, simulate=simulate, api_key=api_key_option, token_required=bearer is not None
    )
    app = standalone_app(
        build_console_app(context, bearer),
        host=host,
        allowed_hosts=allowed_host,
        allowed_origins=allowed_origin,
    )

    async def main() -> None:
        import uvicorn

        from ..server.http import _bind

        sock = _bind(host, port)
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        url = f"http://{shown}:{bound_port}{C.CONSOLE_PATH}/"
        await context.client()  # says now whether answers will be simulated
        click.echo(f"poe-mcp console: {url}")
        if bearer is not None:
            where = f" (kept in {kept})" if kept else ""
            announce(f"log in with the bearer token{where}: {bearer}")
        else:
            announce("authentication is OFF (--no-auth, loopback only)")
        if context.simulated:
            announce(f"SIMULATED: {context.simulated_reason}; answers are not from real models")
        sys.stdout.flush()
        if open_browser:
            target = f"{url}login" + (f"#token={bearer}" if bearer else "")
            threading.Timer(0.5, _open, args=(target,)).start()
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        server: Any = uvicorn.Server(config)
        try:
            await server.serve(sockets=[sock])
        finally:
            sock.close()

    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(main)


def _open(url: str) -> None:
    import webbrowser

    if not webbrowser.open(url):
        announce(f"could not open a browser: open {url.split('#')[0]} yourself")
