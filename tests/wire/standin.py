"""A stand-in upstream on loopback that answers exactly the bytes a test gives it.

Real providers' quirks at the byte level (a raw U+2028 inside a ``data:`` line, an HTML page from
a CDN, a 200 ``text/plain`` error) are easiest to reproduce with a server that sends what it is
told, nothing more: a tiny Starlette app served by uvicorn on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.loopback import LoopbackServer


@dataclass
class Answer:
    pieces: list[bytes]
    status: int = 200
    content_type: str = "text/event-stream"
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StandIn:
    """Answers model calls with scripted bytes; ``/v1/models`` with ``models``."""

    models: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    _answers: list[Answer] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def bot_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot/"

    def answer(
        self,
        body: bytes | str | list[bytes],
        *,
        status: int = 200,
        content_type: str = "text/event-stream",
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Queue the next answer (``times`` requests get it). A piece that is an exception
        breaks the connection there (no end of the chunked body); a float pauses that long."""
        if isinstance(body, str):
            body = body.encode()
        pieces = body if isinstance(body, list) else [body]
        self._answers.append(Answer(pieces, status, content_type, times, dict(headers or {})))

    def sse(self, *chunks: Any, done: bool = True, end: str = "\n") -> None:
        """Queue an event stream of JSON chunks (dicts are dumped with raw non-ASCII)."""
        events = [
            f"data: {c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)}{end}{end}"
            for c in chunks
        ]
        if done:
            events.append(f"data: [DONE]{end}{end}")
        self.answer([e.encode() for e in events])

    def calls(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST"]

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.requests.append({"method": request.method, "path": request.url.path, "body": body})
        if request.method == "GET" and request.url.path.endswith("/models"):
            return JSONResponse({"object": "list", "data": self.models})
        if not self._answers:
            return JSONResponse({"error": {"message": "nothing scripted"}}, status_code=500)
        answer = self._answers[0]
        answer.times -= 1
        if answer.times <= 0:
            self._answers.pop(0)

        async def pieces() -> Any:
            for piece in answer.pieces:
                if isinstance(piece, BaseException):
                    raise piece
                if isinstance(piece, float):  # a pause of that many seconds
                    await asyncio.sleep(piece)
                    continue
                yield piece
                await asyncio.sleep(0)

        return StreamingResponse(
            pieces(), answer.status, headers=answer.headers, media_type=answer.content_type
        )


def _chunk(content: Any = None, *, finish: Any = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


chunk = _chunk


def completion(message: dict[str, Any], finish: str | None = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }


def serve(standin: StandIn) -> Iterator[StandIn]:
    """Run ``standin`` on an ephemeral loopback port for the duration of the generator."""
    app = Starlette(
        routes=[Route("/{path:path}", standin._handle, methods=["GET", "POST"])],
    )
    with LoopbackServer(app, name="the stand-in upstream") as server:
        standin.port = server.port
        yield standin
