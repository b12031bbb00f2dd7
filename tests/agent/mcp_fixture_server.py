"""A tiny MCP server (official SDK, stdio) whose tools a Poe model uses through the agent."""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("fixture-tools")


@server.tool()
async def lookup_capital(country: str) -> str:
    """The capital city of a country."""
    capitals = {"france": "Paris", "japan": "Tokyo", "peru": "Lima"}
    found = capitals.get(country.lower())
    if found is None:
        raise ToolError(f"no capital known for {country!r}")
    return found


@server.tool()
async def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


if __name__ == "__main__":
    server.run()
