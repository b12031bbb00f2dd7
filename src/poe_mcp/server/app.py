"""Build the ``MCPServer`` with the selected tools."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from .. import __version__
from .._sanitize import for_output
from ._guard import validation_error_text
from .prompts import register_prompts
from .registry import ToolLoader
from .resources import PoeServer
from .runtime import ServerRuntime

__all__ = ["SERVER_NAME", "build_server"]

SERVER_NAME = "poe-mcp"

_INSTRUCTIONS = (
    "Tools to ask Poe's models (Claude, GPT, Gemini, Grok, Llama and more) and keep "
    "conversations with them. Answers end with a session_id: pass it back to continue. "
    "Use list_available_models_v2 to pick a model."
)

_VALIDATION = re.compile(
    r"^Error executing tool (\S+): \d+ validation errors? for \S+\n(.*)$", re.S
)


def _pydantic_detail(text: str) -> str:
    """``field\\n  Input should be ... [type=...]`` lines -> ``field: Input should be ...``."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("For further")]
    pairs: list[str] = []
    for i in range(0, len(lines) - 1, 2):
        message = re.sub(r"\s*\[type=.*$", "", lines[i + 1].strip())
        pairs.append(f"{lines[i].strip()}: {message}")
    return "; ".join(pairs) or text.strip()


class _Observe:
    """Middleware: counts requests, gives bad-argument errors the common error format, and
    scrubs every result."""

    def __init__(self, runtime: ServerRuntime) -> None:
        self.runtime = runtime

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.request_id is None:  # a notification
            return await call_next(ctx)
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await call_next(ctx)
            outcome = "ok"
        finally:
            self.runtime.metrics.request(ctx.method, outcome)
        if ctx.method == "tools/call" and isinstance(result, dict) and result.get("isError"):
            result = self._rewrite_validation(result, started)
        if isinstance(result, dict):
            # The last net for every result (tools, resources, prompts): no active key or
            # bearer token, whatever a model, a file or a tool put in it.
            cleaned: dict[str, Any] = for_output(result)
            return cleaned
        return result

    def _rewrite_validation(self, result: dict[str, Any], started: float) -> dict[str, Any]:
        content = result.get("content") or []
        first = content[0] if content else None
        if not isinstance(first, dict) or not isinstance(first.get("text"), str):
            return result
        match = _VALIDATION.match(first["text"])
        if match is None:
            return result
        tool = match.group(1)
        self.runtime.metrics.tool_call(
            tool, "error", time.perf_counter() - started, "invalid_request"
        )
        text = validation_error_text(tool, _pydantic_detail(match.group(2)))
        return {**result, "content": [{"type": "text", "text": text}]}


def build_server(
    runtime: ServerRuntime,
    *,
    token_verifier: TokenVerifier | None = None,
    auth: AuthSettings | None = None,
) -> MCPServer[Any]:
    """The MCP server exposing ``runtime.tools``.

    Args:
        runtime: shared state; ``runtime.tools`` names the tools to expose.
        token_verifier: bearer-token check for HTTP (with ``auth``).
        auth: the SDK's auth settings, required with ``token_verifier``.
    """
    tools = ToolLoader(runtime, runtime.tools).load()
    runtime.tools = [t.name for t in tools]

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[ServerRuntime]:
        # What every tool reads (tools.runtime(ctx)). The transports close the runtime, once,
        # when they stop: each in-memory client enters this lifespan anew.
        yield runtime

    server: MCPServer[Any] = PoeServer(  # + resources (catalog, media); see resources.py
        SERVER_NAME,
        title="Poe models",
        version=__version__,
        instructions=_INSTRUCTIONS,
        tools=tools,
        middleware=[_Observe(runtime)],
        lifespan=lifespan,
        log_level="WARNING",
        token_verifier=token_verifier,
        auth=auth,
        runtime=runtime,
    )
    register_prompts(server, runtime)
    return server
