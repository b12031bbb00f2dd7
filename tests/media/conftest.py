"""Fixtures for the media tests: isolated dirs, a slow simulator, and an edge-case file server.

The edge server is a tiny ASGI app on an ephemeral loopback port. It serves files with the
awkward answers real CDNs give (generic content types, redirects, 404s, error pages, dropped
connections, oversized bodies) and a minimal ``/v1/chat/completions`` whose reply each test sets,
so media replies in every shape can be sent through the real client.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator, make_mp3, make_mp4, make_png, make_wav
from tests.loopback import LoopbackServer

PNG = make_png(40, 20, "edge")
MP3 = make_mp3(0.5)
KEY = "test-media-key"

Send = Callable[[dict[str, Any]], Any]


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def files_in(directory: Path) -> list[Path]:
    """Everything in ``directory``, hidden temp files included (none may be left behind)."""
    return sorted(directory.iterdir()) if directory.exists() else []


def write_config(text: str) -> None:
    """Write ``config.toml`` in the test's POE_MCP_CONFIG_DIR."""
    import os

    config = Path(os.environ["POE_MCP_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(text, encoding="utf-8")


@pytest.fixture(scope="session")
def slow_sim(make_simulator: Callable[..., Simulator]) -> Simulator:
    """A simulator whose media bots take 1.2 s, like a (fast) real one."""
    return make_simulator(media_delay_s=1.2)


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[AsyncPoeClient]:
    async with AsyncPoeClient(KEY, base_url=simulator.base_url, store=False, rpm=0) as c:
        yield c


class EdgeServer:
    """Serves ``/files/<name>`` edge cases and a scripted ``/v1/chat/completions``."""

    def __init__(self) -> None:
        self.reply = ""  # the content of the next chat completion
        self.hits: Counter[str] = Counter()
        self.big = b"\x89PNG\r\n\x1a\n" + b"\x00" * 600_000  # above the inline bound
        self._server: LoopbackServer | None = None
        self.url = ""

    def file(self, name: str) -> str:
        return f"{self.url}/files/{name}"

    async def app(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        self.hits[path] += 1
        if path == "/v1/chat/completions":
            while (await receive()).get("more_body"):
                pass
            body = {
                "id": "edge-1",
                "object": "chat.completion",
                "model": "Edge-Bot",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": self.reply}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
            }  # fmt: skip
            await _answer(send, 200, "application/json", json.dumps(body).encode())
        elif path == "/v1/models":
            await _answer(send, 200, "application/json", b'{"object":"list","data":[]}')
        elif path == "/files/pic.png":
            await _answer(send, 200, "image/png", PNG)
        elif path == "/files/generic":
            await _answer(send, 200, "application/octet-stream", PNG)
        elif path == "/files/speech":
            await _answer(send, 200, "binary/octet-stream", MP3)
        elif path == "/files/redirect":
            await _answer(send, 302, "text/plain", b"", [(b"location", b"/files/pic.png")])
        elif path == "/files/page.html":
            page = b"<!doctype html><html><body>Access denied</body></html>"
            await _answer(send, 200, "text/html; charset=utf-8", page)
        elif path == "/files/liar.png":
            await _answer(send, 200, "image/png", page_json())
        elif path == "/files/drop":
            headers = [(b"content-type", b"image/png"), (b"content-length", b"5000")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": PNG[:100], "more_body": True})
            raise ConnectionResetError("edge server drops the connection on purpose")
        elif path == "/files/big-streamed":
            headers = [(b"content-type", b"image/png")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            for i in range(0, len(self.big), 50_000):
                chunk = self.big[i : i + 50_000]
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/files/big-declared":
            await _answer(send, 200, "image/png", self.big)
        elif path == "/files/flaky":
            if self.hits[path] == 1:
                await _answer(send, 503, "text/plain", b"try again")
            else:
                await _answer(send, 200, "audio/mpeg", MP3)
        else:
            await _answer(send, 404, "text/plain", b"not found")

    def start(self) -> EdgeServer:
        self._server = LoopbackServer(self.app, name="the edge server").start()
        self.url = self._server.url
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def page_json() -> bytes:
    return b'{"error": "signature expired"}'


async def _answer(
    send: Send,
    status: int,
    content_type: str,
    body: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type.encode()), *(extra or [])]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def edge() -> Iterator[EdgeServer]:
    server = EdgeServer().start()
    yield server
    server.stop()


@pytest.fixture
async def edge_client(edge: EdgeServer) -> AsyncIterator[AsyncPoeClient]:
    """A client whose "Poe API" is the edge server (its replies are set per test)."""
    async with AsyncPoeClient(
        KEY, base_url=f"{edge.url}/v1", store=False, catalog=False, rpm=0, max_retries=0
    ) as c:
        yield c


__all__ = ["MP3", "PNG", "EdgeServer", "files_in", "make_mp4", "make_wav", "png_size"]


@pytest.fixture(autouse=True)
def _isolated_dirs(poe_home: Path) -> None:
    """Every test here: its own data and config dirs, no configuration from the environment."""
