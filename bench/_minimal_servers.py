"""The baselines of ``bench_server``: the smallest useful ``MCPServer`` over stdio.

Run as a script with the interpreter of the venv::

    python bench/_minimal_servers.py bare     # one tool that echoes (start-up baseline)
    python bench/_minimal_servers.py openai   # one tool that calls the openai SDK (round trip)

The ``openai`` server reads ``POE_API_KEY`` and ``POE_BASE_URL`` and creates one
``AsyncOpenAI`` (``max_retries=0``) on the first call, so neither server imports the SDK
before it answers ``initialize``: that is what a careful hand-written server does. Both log at
WARNING like ``poe-mcp serve`` (the SDK's default, INFO, writes a stderr line per upstream
request, which would slow the baseline down).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from mcp.server import MCPServer


def bare() -> MCPServer[Any]:
    """A server with one tool that echoes its argument."""
    server: MCPServer[Any] = MCPServer("bench-bare", log_level="WARNING")

    @server.tool()
    async def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    return server


def with_openai() -> MCPServer[Any]:
    """A server with one tool that asks a model through the openai SDK."""
    server: MCPServer[Any] = MCPServer("bench-openai", log_level="WARNING")
    clients: list[Any] = []

    @server.tool()
    async def ask(bot: str, prompt: str) -> str:
        """Ask a model and return its answer."""
        if not clients:
            from openai import AsyncOpenAI

            clients.append(
                AsyncOpenAI(
                    api_key=os.environ["POE_API_KEY"],
                    base_url=os.environ["POE_BASE_URL"],
                    max_retries=0,
                )
            )
        response = await clients[0].chat.completions.create(
            model=bot, messages=[{"role": "user", "content": prompt}]
        )
        return response.choices[0].message.content or ""

    return server


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "bare"
    (with_openai() if kind == "openai" else bare()).run()
