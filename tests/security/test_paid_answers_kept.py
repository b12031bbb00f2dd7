"""Answers already paid for are never lost to what a provider put in them.

A lone surrogate in the text (valid JSON: ``"\\ud800"``) once made the session write fail with
``internal``; usage with non-numbers did the same. Now the text is stored and returned with
U+FFFD in place of each lone surrogate, and impossible usage counts are unknown (estimated and
flagged), through both backends and every store.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from mcp import Client

from poe_mcp._sanitize import clean_text
from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.runtime import ServerRuntime
from tests.redis.redis_testlib import RedisServer

from .hostile import Hostile

REPLACEMENT = "\ufffd"


def has_lone_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def client_for(hostile: Hostile, backend: str) -> AsyncPoeClient:
    return AsyncPoeClient(
        f"zq-key-{uuid.uuid4().hex}",
        base_url=hostile.base_url,
        backend=backend,
        store=False,
        catalog=False,
        rpm=0,
        max_retries=0,
    )


def test_clean_text_replaces_lone_surrogates_and_keeps_pairs() -> None:
    assert clean_text("a\ud800b") == f"a{REPLACEMENT}b"
    assert clean_text("\udc00") == REPLACEMENT
    assert clean_text("\ud83d\ude00") == "\U0001f600"  # a pair written as two code points
    assert clean_text("plain é 😀") == "plain é 😀"


@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize("stream", [False, True])
async def test_lone_surrogate_answer_is_returned(
    hostile: Hostile, backend: str, stream: bool
) -> None:
    async with client_for(hostile, backend) as client:
        if stream:
            pieces = []
            async for delta in client.stream("Hostile-1", "surrogate"):
                if delta.result is not None:
                    result = delta.result
                    break
                pieces.append(delta.text)
            assert not has_lone_surrogate("".join(pieces))
        else:
            result = await client.chat("Hostile-1", "surrogate")
    assert result.text == f"lone {REPLACEMENT} here"
    assert not has_lone_surrogate(result.model)


def _runtime(hostile: Hostile, store: str) -> ServerRuntime:
    settings = Settings.load(store=store, base_url=hostile.base_url, log_prompts=True)
    return ServerRuntime(
        settings, api_key=f"zq-key-{uuid.uuid4().hex}", tools=["ask_poe", "ask_poe_v2"]
    )


async def _two_turns(runtime: ServerRuntime) -> str:
    """A surrogate answer on each backend, in one session; returns the session id."""
    async with Client(build_server(runtime)) as mcp:
        first = await mcp.call_tool("ask_poe_v2", {"bot": "Hostile-1", "prompt": "surrogate"})
        assert not first.is_error, first.content[0].text
        session_id = first.structured_content["session_id"]
        second = await mcp.call_tool(
            "ask_poe", {"bot": "Hostile-1", "prompt": "surrogate", "session_id": session_id}
        )
        assert not second.is_error, second.content[0].text
    for answer in (first, second):
        assert answer.structured_content["text"] == f"lone {REPLACEMENT} here"
    assert second.structured_content["backend"] == "legacy"
    return str(session_id)


async def _check_store(runtime: ServerRuntime, session_id: str) -> None:
    store = await runtime.store()
    session = await store.sessions.get(session_id)
    assert session is not None
    answers = [m["content"] for m in session.messages if m["role"] == "assistant"]
    assert answers == [f"lone {REPLACEMENT} here"] * 2
    recent = await store.usage.recent(10)
    assert [r.outcome for r in recent].count("ok") == 2


async def test_sqlite_keeps_the_answer(hostile: Hostile, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    runtime = _runtime(hostile, f"sqlite:///{db}")
    try:
        session_id = await _two_turns(runtime)
        await _check_store(runtime, session_id)
    finally:
        await runtime.aclose()
    # And a fresh reader of the file sees valid UTF-8 with the replacement character.
    with sqlite3.connect(db) as conn:
        texts = [row[0] for row in conn.execute("SELECT * FROM sqlite_master")]
        assert texts
        dumped = "\n".join(conn.iterdump())
    assert REPLACEMENT in dumped


async def test_memory_store_keeps_the_answer(hostile: Hostile) -> None:
    runtime = _runtime(hostile, "memory://")
    try:
        session_id = await _two_turns(runtime)
        await _check_store(runtime, session_id)
    finally:
        await runtime.aclose()


async def test_redis_keeps_the_answer(hostile: Hostile, redis_server: RedisServer) -> None:
    redis_server.flush()
    runtime = _runtime(hostile, redis_server.url(4))
    try:
        session_id = await _two_turns(runtime)
        await _check_store(runtime, session_id)
    finally:
        await runtime.aclose()


IMPOSSIBLE_USAGE = [
    '{"prompt_tokens": "many", "completion_tokens": 3}',
    '{"prompt_tokens": -5, "completion_tokens": 3}',
    '{"prompt_tokens": 4, "completion_tokens": -1}',
    '{"prompt_tokens": 1e30, "completion_tokens": 3}',
    '{"prompt_tokens": 4, "completion_tokens": 999999999999}',
    '{"prompt_tokens": NaN, "completion_tokens": 3}',
    '{"prompt_tokens": Infinity, "completion_tokens": 3}',
    '{"prompt_tokens": 12.5, "completion_tokens": 3}',
    '{"prompt_tokens": [1], "completion_tokens": {"a": 1}}',
    '{"prompt_tokens": true, "completion_tokens": 3}',
    '{"prompt_tokens": 4, "completion_tokens": "3"}',
]


@pytest.mark.parametrize("usage", IMPOSSIBLE_USAGE)
@pytest.mark.parametrize("stream", [False, True])
async def test_impossible_usage_is_unknown_and_flagged(
    hostile: Hostile, usage: str, stream: bool
) -> None:
    async with client_for(hostile, "openai") as client:
        if stream:
            result = None
            async for delta in client.stream("Hostile-1", f"usage {usage}"):
                result = delta.result or result
            assert result is not None
        else:
            result = await client.chat("Hostile-1", f"usage {usage}")
    assert result.text == "counted"
    assert result.usage.estimated is True
    assert 0 < result.usage.input_tokens < 1000
    assert 0 <= result.usage.output_tokens < 1000


async def test_believable_usage_is_kept(hostile: Hostile) -> None:
    usage = '{"prompt_tokens": 40, "completion_tokens": 2.0}'
    async with client_for(hostile, "openai") as client:
        result = await client.chat("Hostile-1", f"usage {usage}")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (40, 2)
    assert result.usage.estimated is False


async def test_impossible_usage_through_mcp_is_flagged(hostile: Hostile) -> None:
    runtime = _runtime(hostile, "memory://")
    try:
        async with Client(build_server(runtime)) as mcp:
            result = await mcp.call_tool(
                "ask_poe_v2",
                {"bot": "Hostile-1", "prompt": 'usage {"prompt_tokens": "x"}', "stream": True},
            )
        recent = await (await runtime.store()).usage.recent(5)
    finally:
        await runtime.aclose()
    assert not result.is_error, result.content[0].text
    assert result.structured_content["usage"]["estimated"] is True
    assert "(estimated)" in result.content[0].text
    assert recent[0].estimated is True
    assert json.loads(json.dumps(result.structured_content))["text"] == "counted"
