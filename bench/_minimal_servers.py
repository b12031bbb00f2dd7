"""The baselines of ``bench_server``: the smallest useful ``MCPServer`` over stdio.

Run as a script with the interpreter of the venv::

    python bench/_minimal_servers.py bare     # one tool that echoes (start-up baseline)
    python bench/_minimal_servers.py openai   # one tool that calls the openai SDK (round trip)
    python bench/_minimal_servers.py openai-structured  # the same, returning structured output
    python bench/_minimal_servers.py openai-http PORT  # the ``openai`` one over streamable HTTP

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
from pydantic import BaseModel


class Answer(BaseModel):
    """The structured result ``ask_poe_v2`` returns, minus the session bookkeeping."""

    text: str
    model: str
    usage: dict[str, int] | None = None
    finish_reason: str | None = None


def bare() -> MCPServer[Any]:
    """A server with one tool that echoes its argument."""
    server: MCPServer[Any] = MCPServer("bench-bare", log_level="WARNING")

    @server.tool()
    async def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    return server


def with_openai(*, structured: bool = False) -> MCPServer[Any]:
    """A server with one tool that asks a model through the openai SDK.

    With ``structured`` the tool returns an :class:`Answer` (``structuredContent`` plus an
    output schema the client validates), the shape poe-mcp's chat tools return.
    """
    server: MCPServer[Any] = MCPServer("bench-openai", log_level="WARNING")
    clients: list[Any] = []

    async def complete(bot: str, prompt: str) -> Any:
        if not clients:
            from openai import AsyncOpenAI

            clients.append(
                AsyncOpenAI(
                    api_key=os.environ["POE_API_KEY"],
                    base_url=os.environ["POE_BASE_URL"],
                    max_retries=0,
                )
            )
        return await clients[0].chat.completions.create(
            model=bot, messages=[{"role": "user", "content": prompt}]
        )

    if structured:

        @server.tool(name="ask")
        async def ask_structured(bot: str, prompt: str) -> Answer:
            """Ask a model and return its answer with usage."""
            response = await complete(bot, prompt)
            usage = response.usage
            return Answer(
                text=response.choices[0].message.content or "",
                model=bot,
                usage={
                    "input_tokens": usage.prompt_tokens,
                    "output_tokens": usage.completion_tokens,
                }
                if usage
                else None,
                finish_reason=response.choices[0].finish_reason,
            )

    else:

        @server.tool()
        async def ask(bot: str, prompt: str) -> str:
            """Ask a model and return its answer."""
            response = await complete(bot, prompt)
            return response.choices[0].message.content or ""

    return server


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "bare"
    if kind == "bare":
        bare().run()
    elif kind == "openai-http":
        # The SDK's own streamable HTTP runner (uvicorn, no auth, no Host/Origin check).
        with_openai().run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        with_openai(structured=kind == "openai-structured").run()
