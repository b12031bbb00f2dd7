"""The console inside ``poe-mcp serve --transport http``: mounted at ``/console`` beside ``/mcp``.

It shares the server's store (sessions, ledger, runs) and bearer token; its own client records
``entry_point="console"``. The server's Host/Origin guard and body limits already wrap every
path, ``/console`` included. Closed with the server (``runtime.add_closer``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Mount

from .. import _constants as C

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..server.runtime import ServerRuntime

__all__ = ["mount_console"]


def mount_console(
    app: Starlette,
    runtime: ServerRuntime,
    token: str | None,
    *,
    body_max_bytes: int | None = None,
) -> None:
    """Add the console to the server's app (the lifespan of a mounted app does not run, so the
    runtime closes it). ``body_max_bytes``: the server's request body limit (``--max-body-bytes``),
    which attachments must fit in."""
    from ._app import build_console_app, close_console
    from ._context import ConsoleContext

    context = ConsoleContext(
        runtime.settings,
        simulate=runtime.simulated,
        api_key=None if runtime.simulated else runtime.api_key,
        open_store=runtime.store,
        token_required=token is not None,
        # serve --simulate already runs one (its URL printed for faults): the console uses it
        simulator=(
            (runtime.settings.provider, runtime.settings.effective_base_url)
            if runtime.simulated
            else None
        ),
    )
    console_app = build_console_app(context, token, body_max_bytes=body_max_bytes)
    app.router.routes.append(Mount(C.CONSOLE_PATH, console_app))

    async def close() -> None:
        await close_console(console_app)

    runtime.add_closer(close)
