"""Fixtures for the bot-protocol backend: the simulator, and a real fastapi_poe bot server.

``bot_server`` runs ``fp.make_app(RecordingBot(), allow_without_key=True)`` under uvicorn on an
ephemeral loopback port in a thread. The bot records every query it receives and answers by the
last user message:

    "replace"                     text "Draft", replace_response "Final answer", text " (done)"
    "file"                        a file event, then text "here it is"
    "error <type|none> <retry>"   an error event (retry: yes|no)
    "crash"                       the bot raises (fastapi_poe sends its own error event)
    "weather ..." with tools      json tool-call chunks for get_weather(city=Paris)
    anything else                 "got <n> messages; last: <text>" (+ tool results, if any)

``POST /raw/nodone`` answers an event stream that ends without the protocol's ``done``.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastapi_poe as fp
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from PIL import Image
from sse_starlette import ServerSentEvent

from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator
from poe_mcp.types import Delta
from tests.loopback import LoopbackServer

KEY = "test-legacy-key-4b1d"


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def png(width: int = 64, height: int = 48) -> bytes:
    """A real PNG of the given size (the simulator reports its pixel size back)."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "blue").save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
async def legacy(simulator: Simulator) -> AsyncIterator[AsyncPoeClient]:
    """A client whose default backend is the bot protocol, on the simulator."""
    async with AsyncPoeClient(
        KEY, base_url=simulator.base_url, backend="legacy", store=False, catalog=False, rpm=0
    ) as client:
        yield client


def bot_calls(sim: Simulator) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if str(r["path"]).startswith("/bot/")]


def upload_calls(sim: Simulator) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if str(r["path"]).startswith("/poe_api/")]


# --- a real fastapi_poe bot server ---------------------------------------------------------


def _chunk(delta: dict[str, Any], finish: str | None = None) -> ServerSentEvent:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return ServerSentEvent(data=json.dumps(body), event="json")


@dataclass
class RecordingBot(fp.PoeBot):
    """A bot that keeps every query (and its Authorization header) it receives."""

    received: list[fp.QueryRequest] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)

    async def get_response_with_context(
        self, request: fp.QueryRequest, context: fp.types.RequestContext
    ) -> AsyncIterator[fp.PartialResponse | ServerSentEvent]:
        self.received.append(request)
        self.auth.append(context.http_request.headers.get("authorization", ""))
        last = next(m for m in reversed(request.query) if m.role == "user").content
        words = last.split()
        if last == "replace":
            yield fp.PartialResponse(text="Draft")
            yield fp.PartialResponse(text="Final answer", is_replace_response=True)
            yield fp.PartialResponse(text=" (done)")
        elif last == "file":
            yield self.file_event(
                url="https://files.example/cat.png", content_type="image/png", name="cat.png"
            )
            yield fp.PartialResponse(text="here it is")
        elif words and words[0] == "error":
            error_type = None if words[1] == "none" else words[1]
            yield fp.PartialResponse(text="partial ")
            yield fp.ErrorResponse(
                text=f"failed with {words[1]}",
                allow_retry=words[2] == "yes",
                error_type=error_type,  # type: ignore[arg-type]
            )
        elif last == "crash":
            raise RuntimeError("bot bug")
        elif words and words[0] == "weather" and request.tools and not request.tool_results:
            yield _chunk({"role": "assistant", "content": ""})
            head = {"index": 0, "id": "call_w1", "type": "function"}
            yield _chunk(
                {"tool_calls": [{**head, "function": {"name": "get_weather", "arguments": ""}}]}
            )
            for piece in ('{"city"', ': "Par', 'is"}'):
                yield _chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            yield _chunk({}, "tool_calls")
        else:
            text = f"got {len(request.query)} messages; last: {last}"
            for result in request.tool_results or ():
                text += f"; {result.name} -> {result.content}"
            yield fp.PartialResponse(text=text)

    async def get_settings(self, setting: fp.SettingsRequest) -> fp.SettingsResponse:
        return fp.SettingsResponse(allow_attachments=True)


@dataclass
class BotServer:
    url: str
    bot: RecordingBot

    @property
    def last(self) -> fp.QueryRequest:
        return self.bot.received[-1]


def _raw_routes(app: FastAPI) -> None:
    async def nodone(request: Request) -> Response:
        body = await request.json()
        if body.get("type") != "query":
            return JSONResponse({})  # fastapi_poe's error report about the missing 'done'

        async def events() -> AsyncIterator[bytes]:
            yield b'event: meta\ndata: {"content_type": "text/markdown"}\n\n'
            yield b'event: text\ndata: {"text": "half an ans"}\n\n'

        return StreamingResponse(events(), media_type="text/event-stream")

    app.add_api_route("/raw/nodone", nodone, methods=["POST"])


@pytest.fixture(scope="session")
def bot_server() -> Iterator[BotServer]:
    bot = RecordingBot(path="/{bot_name}")
    bot.should_insert_attachment_messages = False  # the test checks the attachments as sent
    app = FastAPI()
    _raw_routes(app)
    fp.make_app(bot, allow_without_key=True, app=app)
    with LoopbackServer(app, name="the bot server") as server:
        yield BotServer(url=f"{server.url}/", bot=bot)


@pytest.fixture
async def bot_client(
    bot_server: BotServer, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncPoeClient]:
    """The bot protocol pointed at the recording bot (explicit bot base URL); uploads and the
    REST API stay on the simulator."""
    monkeypatch.setenv("POE_BOT_BASE_URL", bot_server.url)
    monkeypatch.setenv("POE_UPLOAD_BASE_URL", simulator.upload_base_url)
    bot_server.bot.received.clear()
    bot_server.bot.auth.clear()
    async with AsyncPoeClient(
        KEY,
        base_url=simulator.base_url,
        backend="legacy",
        store=False,
        catalog=False,
        rpm=0,
        max_retries=0,
    ) as client:
        yield client


async def drain(source: AsyncIterator[Delta], seen: list[str] | None = None) -> None:
    """Consume a stream, keeping each delta's text in ``seen`` (which survives an error)."""
    async for delta in source:
        if seen is not None and delta.result is None:
            seen.append(delta.text)


@pytest.fixture(autouse=True)
def _isolated_dirs(poe_home: Path) -> None:
    """Every test here: its own data and config dirs, no configuration from the environment."""
