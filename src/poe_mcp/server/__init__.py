"""The MCP server: Poe's models as MCP tools over stdio and streamable HTTP.

- :func:`build_server` (``app.py``): the ``MCPServer`` with the selected tools.
- :class:`ServerRuntime` (``runtime.py``): what the tools share (client, store, catalog, metrics),
  handed to every tool through the MCP lifespan context.
- ``tools/``: the tools, one module per group; ``registry.py``: which module defines each.
- :func:`serve_stdio` / :func:`serve_http` (``stdio.py``, ``http.py``): the transports.

Names are imported on first use: ``import poe_mcp.server`` does not import the MCP SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "HttpOptions",
    "ServerRuntime",
    "available_tools",
    "build_http_app",
    "build_server",
    "select_tools",
    "serve_http",
    "serve_stdio",
]

_EXPORTS = {
    "HttpOptions": "http",
    "ServerRuntime": "runtime",
    "available_tools": "registry",
    "build_http_app": "http",
    "build_server": "app",
    "select_tools": "registry",
    "serve_http": "http",
    "serve_stdio": "stdio",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover
    from .app import build_server
    from .http import HttpOptions, build_http_app, serve_http
    from .registry import available_tools, select_tools
    from .runtime import ServerRuntime
    from .stdio import serve_stdio
