"""The stdio transport: what Claude Desktop, Claude Code and Cursor spawn."""

from __future__ import annotations

from .app import build_server
from .runtime import ServerRuntime

__all__ = ["serve_stdio"]


async def serve_stdio(runtime: ServerRuntime) -> None:
    """Serve MCP on stdin/stdout until the client closes it, then close the runtime."""
    server = build_server(runtime)
    try:
        await server.run_stdio_async()
    finally:
        await runtime.aclose()
