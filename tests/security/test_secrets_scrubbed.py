"""Answers are redacted: a model that repeats the key never gets it to the caller or a store.

The hostile upstream echoes the key it was sent (split across stream chunks, as a bearer line
and inside a tool call's arguments). Through the library (both backends, streamed or not), the
MCP server, and each store (SQLite read as raw bytes, Redis dumped whole, memory through its API),
the key never appears; ``[redacted]`` stands in its place.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

import redis as redis_sync
from poe_mcp._redact import StreamScrubber, redact, register_secret
from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.runtime import ServerRuntime
from tests.redis.redis_testlib import RedisServer

from .hostile import Hostile

SAVE_TOOL = {
    "type": "function",
    "function": {
        "name": "save",
        "description": "Save a value",
        "parameters": {"type": "object", "properties": {"token": {"type": "string"}}},
    },
}


def new_key() -> str:
    return f"zq-poe-{uuid.uuid4().hex}"


def client_for(hostile: Hostile, key: str, backend: str) -> AsyncPoeClient:
    return AsyncPoeClient(
        key,
        base_url=hostile.base_url,
        backend=backend,
        store=False,
        catalog=False,
        rpm=0,
        max_retries=0,
    )


@pytest.mark.parametrize("backend", ["openai", "legacy"])
async def test_chat_answer_never_holds_the_key(hostile: Hostile, backend: str) -> None:
    key = new_key()
    async with client_for(hostile, key, backend) as client:
        result = await client.chat("Hostile-1", "echo key")
    assert key not in result.text
    assert key[: len(key) // 2] not in result.text  # not even the half sent on its own
    assert "your key is [redacted]" in result.text
    assert "Bearer [redacted]" in result.text


@pytest.mark.parametrize("backend", ["openai", "legacy"])
async def test_streamed_deltas_never_hold_the_key(hostile: Hostile, backend: str) -> None:
    key = new_key()
    shown = ""
    async with client_for(hostile, key, backend) as client:
        async for delta in client.stream("Hostile-1", "echo key"):
            if delta.result is not None:
                final = delta.result.text
                break
            assert key[:8] not in delta.text
            shown = delta.text if delta.replace else shown + delta.text
    assert key not in shown
    assert "your key is [redacted]" in shown
    assert "Bearer [redacted]" in shown
    assert shown.strip() == final.strip()


async def test_tool_call_arguments_never_hold_the_key(hostile: Hostile) -> None:
    key = new_key()
    async with client_for(hostile, key, "openai") as client:
        result = await client.chat("Hostile-1", "echo key", tools=[SAVE_TOOL])
    assert result.tool_calls
    arguments = result.tool_calls[0].arguments
    assert key not in arguments
    assert json.loads(arguments) == {"token": "[redacted]"}


def test_stream_scrubber_holds_back_any_split_of_a_secret() -> None:
    secret = f"zq-pk-{uuid.uuid4().hex}"
    register_secret(secret)
    text = f"a {secret} b Bearer {uuid.uuid4().hex} c {secret}"
    for size in (1, 2, 3, 5, 7, 11, 40):
        scrubber = StreamScrubber()
        emitted = [scrubber.feed(text[i : i + size]) for i in range(0, len(text), size)]
        emitted.append(scrubber.flush())
        assert all(secret[:6] not in piece for piece in emitted)
        assert "".join(emitted) == redact(text)


def test_bearer_tokens_of_any_origin_are_redacted() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.abcdefghijklmnopqrstuvwxyz0123"
    assert token not in redact(f"curl -H 'Authorization: Bearer {token}'")
    assert "Bearer YOUR_TOKEN" in redact("send Bearer YOUR_TOKEN")  # documentation stays


def redis_contents(url: str) -> bytes:
    """Every key and value of a Redis database, read by type (DUMP may compress)."""
    raw = redis_sync.Redis.from_url(url)
    out: list[bytes] = []
    for name in raw.scan_iter("*"):
        out.append(name)
        kind = raw.type(name)
        if kind == b"string":
            out.append(raw.get(name) or b"")
        elif kind == b"list":
            out.extend(raw.lrange(name, 0, -1))
        elif kind == b"hash":
            for field, value in raw.hgetall(name).items():
                out.extend((field, value))
        elif kind == b"set":
            out.extend(raw.smembers(name))
        elif kind == b"zset":
            out.extend(raw.zrange(name, 0, -1))
        elif kind == b"stream":
            for _, fields in raw.xrange(name):
                for field, value in fields.items():
                    out.extend((field, value))
    raw.close()
    return b"\n".join(out)


# --- through the MCP server, into every store ----------------------------------------------


def _runtime(hostile: Hostile, key: str, store: str) -> ServerRuntime:
    settings = Settings.load(store=store, base_url=hostile.base_url, log_prompts=True)
    return ServerRuntime(settings, api_key=key, simulated=False, tools=["ask_poe_v2", "ask_poe"])


async def _ask_through_mcp(runtime: ServerRuntime, key: str) -> dict[str, Any]:
    async with Client(build_server(runtime)) as mcp:
        result = await mcp.call_tool(
            "ask_poe_v2",
            # The caller's own prompt holds the key too: it must not be stored either.
            {"bot": "Hostile-1", "prompt": f"echo key (mine is {key})", "stream": True},
        )
        again = await mcp.call_tool(
            "ask_poe", {"bot": "Hostile-1", "prompt": "echo key", "use_openai_client": False}
        )
    assert not result.is_error, result.content
    assert not again.is_error, again.content
    for answer in (result, again):
        assert key not in json.dumps(answer.structured_content)
        assert key not in answer.content[0].text
    assert "[redacted]" in result.structured_content["text"]
    return dict(result.structured_content)


async def test_sqlite_store_never_holds_the_key(hostile: Hostile, tmp_path: Path) -> None:
    key = new_key()
    db = tmp_path / "store.db"
    runtime = _runtime(hostile, key, f"sqlite:///{db}")
    try:
        answer = await _ask_through_mcp(runtime, key)
        session = await (await runtime.store()).sessions.get(answer["session_id"])
        recent = await (await runtime.store()).usage.recent(10)
    finally:
        await runtime.aclose()
    assert session is not None
    assert "[redacted]" in json.dumps(session.messages)
    assert any(r.prompt and "[redacted]" in r.prompt for r in recent)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert key.encode() not in raw
    assert key[: len(key) // 2].encode() not in raw


async def test_memory_store_never_holds_the_key(hostile: Hostile) -> None:
    key = new_key()
    runtime = _runtime(hostile, key, "memory://")
    try:
        answer = await _ask_through_mcp(runtime, key)
        store = await runtime.store()
        session = await store.sessions.get(answer["session_id"])
        recent = await store.usage.recent(10)
    finally:
        await runtime.aclose()
    assert session is not None
    dumped = json.dumps(session.messages) + json.dumps([r.prompt for r in recent])
    assert key not in dumped
    assert "[redacted]" in dumped


async def test_redis_store_never_holds_the_key(hostile: Hostile, redis_server: RedisServer) -> None:
    key = new_key()
    redis_server.flush()
    runtime = _runtime(hostile, key, redis_server.url(3))
    try:
        await _ask_through_mcp(runtime, key)
    finally:
        await runtime.aclose()
    dumped = redis_contents(redis_server.url(3))
    assert dumped
    assert key.encode() not in dumped
    assert b"[redacted]" in dumped


@pytest.mark.parametrize("odd", ["", '"', "\\", "\t"])
def test_tool_results_are_scrubbed_whatever_characters_the_secret_holds(odd: str) -> None:
    """The MCP result net (``for_output``) checks one JSON dump of the result first; a secret
    with a character JSON escapes must still be found, in values and keys alike."""
    from poe_mcp._sanitize import for_output

    secret = f"zq-tok{odd}en-{uuid.uuid4().hex}"
    register_secret(secret)
    result = {
        "content": [{"type": "text", "text": f"here: {secret}."}],
        "structuredContent": {"text": secret, secret: 1, "n": [1, 2.5, None, True]},
    }
    cleaned = for_output(result)
    assert secret not in json.dumps(cleaned, ensure_ascii=False)
    assert cleaned["content"][0]["text"] == "here: [redacted]."
    assert cleaned["structuredContent"] == {
        "text": "[redacted]",
        "[redacted]": 1,
        "n": [1, 2.5, None, True],
    }
    clean = {"content": [{"type": "text", "text": "nothing secret \ud800 here"}]}
    assert for_output(clean)["content"][0]["text"] == "nothing secret \ufffd here"
