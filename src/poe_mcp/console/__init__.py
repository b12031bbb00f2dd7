"""The web console: settings, streamed discussion, cost dashboard and orchestration runs.

Served by poe-mcp itself at ``/console``: ``poe-mcp console`` (loopback, prints the URL) or
``poe-mcp serve --transport http`` (beside ``/mcp``). A thin adapter over the library: turns go
through :class:`~poe_mcp.conversation.Conversation` (and :class:`~poe_mcp.Agent` for turns with
tools), models through the catalog, figures through the ledger's rollups, runs through the
orchestrator. Templates (Jinja2, autoescaped), htmx, uPlot and the styles ship in the package:
no CDN, no build step, works offline.

Security: the same bearer token as ``/mcp`` logs a browser in (an HttpOnly, SameSite=Strict
session cookie, kept server-side); every state-changing request needs the session's CSRF token
and a same-origin ``Origin``; Host and Origin are checked as for ``/mcp``; the API key never
reaches the browser (see ``_auth`` and ``_context``).

Pages: ``/console/discussion``, ``/console/dashboard``, ``/console/runs``, ``/console/compare``,
``/console/settings``.
"""

from __future__ import annotations

from ._app import build_console_app, close_console, standalone_app
from ._context import ConsoleContext

__all__ = ["ConsoleContext", "build_console_app", "close_console", "standalone_app"]
