"""Fixtures for the edges users touch: isolated dirs, a real HTTP MCP server in a thread (for
download URLs), and CLI helpers (the simulators are the shared ``simulator`` and ``openai_sim``)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from poe_mcp.cli import cli
from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime

TOKEN = "edges-test-token-0123456789abcdef"


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=True)


@pytest.fixture
async def make_runtime(api_key: str) -> AsyncIterator[Callable[..., ServerRuntime]]:
    """Runtimes over any base URL; ``simulated`` says whether --simulate started them."""
    made: list[ServerRuntime] = []

    def make(
        base_url: str,
        *,
        simulated: bool = False,
        tools: list[str] | None = None,
        transport: str = "stdio",
        **settings: Any,
    ) -> ServerRuntime:
        cfg = Settings.load(store="memory://", base_url=base_url, **settings)
        rt = ServerRuntime(
            cfg,
            api_key=api_key,
            simulated=simulated,
            tools=tools or available_tools(),
            transport=transport,
        )
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.aclose()


@pytest.fixture
def make_server(make_runtime: Callable[..., ServerRuntime]) -> Callable[..., Any]:
    def make(base_url: str, **kwargs: Any) -> Any:
        return build_server(make_runtime(base_url, **kwargs))

    return make


class ThreadServer:
    """An ASGI app served by uvicorn on a loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Any:
        import uvicorn

        config = uvicorn.Config(self._app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        ready = threading.Event()

        def main() -> None:
            async def serve() -> None:
                task = asyncio.ensure_future(self._server.serve(sockets=[self._sock]))
                while not self._server.started and not task.done():
                    await asyncio.sleep(0.01)
                ready.set()
                await task

            asyncio.run(serve())

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        assert ready.wait(10), "the server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        assert self._thread is not None
        self._thread.join(10)
        self._sock.close()


class HttpMcp(ThreadServer):
    """``build_http_app`` (the MCP server over streamable HTTP) on a loopback port."""

    def __init__(self, runtime: ServerRuntime, token: str | None = TOKEN) -> None:
        from poe_mcp.server.http import HttpOptions, build_http_app

        self.token = token
        super().__init__(build_http_app(runtime, HttpOptions(port=0, token=token)))
        self.url = f"{self.base}/mcp"

    def client(self, mode: str = "auto") -> Any:
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        http = create_mcp_http_client(headers={"Authorization": f"Bearer {self.token}"})
        return Client(streamable_http_client(self.url, http_client=http), mode=mode)


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class PlainProvider(ThreadServer):
    """A minimal OpenAI-compatible provider that is not the simulator (no simulator header)."""

    def __init__(self) -> None:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def models(request: Request) -> JSONResponse:
            item = {"id": "plain-model", "object": "model", "created": 1, "owned_by": "me"}
            return JSONResponse({"object": "list", "data": [item]})

        async def chat(request: Request) -> JSONResponse:
            body = await request.json()
            answer = {
                "id": "plain-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "plain answer"}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            }  # fmt: skip
            return JSONResponse(answer)

        super().__init__(
            Starlette(
                routes=[
                    Route("/v1/models", models, methods=["GET"]),
                    Route("/v1/chat/completions", chat, methods=["POST"]),
                ]
            )
        )
        self.base_url = f"{self.base}/v1"


@pytest.fixture(autouse=True)
def _isolated_dirs(poe_home: Path) -> None:
    """Every test here: its own data and config dirs, no configuration from the environment."""
