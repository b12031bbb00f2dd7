"""A hostile upstream on loopback: a "model" that repeats the key it was sent, answers with
lone surrogates or impossible usage, over both Poe's REST API and the bot protocol.

The behaviour is chosen by the last user message (so concurrent tests never interfere):

    "echo key"          the answer repeats the caller's key, split across stream chunks, and a
                        "Bearer <key>" line; a tool call (with ``tools``) carries it in arguments
    "surrogate"         the answer holds a lone surrogate (``\\ud800``, JSON-escaped on the wire)
                        in its text and in its model name
    "usage <json>"      a normal answer whose ``usage`` is exactly ``<json>`` (raw: NaN works)
    anything else       "ok: <message>"
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.loopback import LoopbackServer

SURROGATE_JSON = "lone \\ud800 here"  # what travels on the wire (valid JSON)
SEEN_KEYS: list[str] = []  # every key the upstream was sent, in order (tests read it)


def _key(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    key = auth[7:] if auth.lower().startswith("bearer ") else auth
    SEEN_KEYS.append(key)
    return key


def _last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def _plan(prompt: str, key: str) -> tuple[list[str], str, str]:
    """(raw JSON string literals of the answer's pieces, raw model literal, raw usage JSON)."""
    usage = '{"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}'
    model = '"Hostile-1"'
    if prompt.startswith("echo key"):
        half = len(key) // 2
        pieces = ["your key is ", key[:half], key[half:], f".\nAuthorization: Bearer {key}"]
        return [json.dumps(p) for p in pieces], model, usage
    if prompt.startswith("surrogate"):
        return [f'"{SURROGATE_JSON}"'], '"Hostile-\\udc00"', usage
    if prompt.startswith("usage "):
        return [json.dumps("counted")], model, prompt[len("usage ") :]
    return [json.dumps(f"ok: {prompt}")], model, usage


async def chat(request: Request) -> Response:
    body = await request.json()
    key = _key(request)
    prompt = _last_user(body.get("messages") or [])
    pieces, model, usage = _plan(prompt, key)
    tool_calls = ""
    if body.get("tools") and prompt.startswith("echo key"):
        args = json.dumps(json.dumps({"token": key}))
        tool_calls = (
            f',"tool_calls":[{{"id":"call_1","type":"function","function":'
            f'{{"name":"save","arguments":{args}}}}}]'
        )
    if not body.get("stream"):
        text = json.dumps("".join(json.loads(p) for p in pieces))
        raw = (
            f'{{"id":"cmpl-1","object":"chat.completion","model":{model},"choices":[{{"index":0,'
            f'"message":{{"role":"assistant","content":{text}{tool_calls}}},'
            f'"finish_reason":"stop"}}],"usage":{usage}}}'
        )
        return Response(raw, media_type="application/json")

    async def events() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield (
                f'data: {{"id":"c","object":"chat.completion.chunk","model":{model},'
                f'"choices":[{{"index":0,"delta":{{"content":{piece}}},"finish_reason":null}}]}}'
                "\n\n"
            ).encode()
        yield (
            f'data: {{"id":"c","object":"chat.completion.chunk","model":{model},'
            f'"choices":[{{"index":0,"delta":{{}},"finish_reason":"stop"}}]}}\n\n'
        ).encode()
        yield f'data: {{"id":"c","choices":[],"usage":{usage}}}\n\n'.encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def bot(request: Request) -> Response:
    body = await request.json()
    if body.get("type") != "query":
        return JSONResponse({})  # fastapi_poe's settings / error reports
    key = _key(request)
    query = body.get("query") or []
    prompt = next((m["content"] for m in reversed(query) if m.get("role") == "user"), "")
    pieces, _, _ = _plan(str(prompt), key)

    async def events() -> AsyncIterator[bytes]:
        yield b'event: meta\ndata: {"content_type": "text/markdown"}\n\n'
        for piece in pieces:
            yield f'event: text\ndata: {{"text": {piece}}}\n\n'.encode()
        yield b"event: done\ndata: {}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": "Hostile-1", "object": "model"}]})


class Hostile:
    """The upstream running in a thread; ``base_url`` is its REST base (``.../v1``)."""

    def __init__(self) -> None:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", chat, methods=["POST"]),
                Route("/v1/models", models, methods=["GET"]),
                Route("/bot/{name}", bot, methods=["POST"]),
            ]
        )
        self._server = LoopbackServer(app, name="the hostile upstream")
        self.port = self._server.port
        self.base_url = f"{self._server.url}/v1"

    def __enter__(self) -> Hostile:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


def running() -> Iterator[Hostile]:
    with Hostile() as upstream:
        yield upstream
