"""Bad input a new user gives the library: refused at once, clearly, with nothing lost."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from poe_mcp import AsyncPoeClient, PoeClient
from poe_mcp.errors import InvalidRequestError
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store
from poe_mcp.store._logs import LogEntry, LogQuery, _fts_query
from poe_mcp.store.memory import MemoryStore

from ..redis.redis_testlib import RedisServer


def _entry(prompt: str, ts: float) -> LogEntry:
    return LogEntry(ts=ts, model="GPT-4.1", prompt=prompt, response="an answer")


def test_model_refuses_unknown_options_and_blank_names_when_made(
    client: AsyncPoeClient,
) -> None:
    with pytest.raises(TypeError, match=r"unknown chat option.*temprature"):
        client.model("GPT-4.1", temprature=0.2)  # type: ignore[call-arg]
    for name in ("", "   ", None):
        with pytest.raises(InvalidRequestError, match="a model name is needed"):
            client.model(name)  # type: ignore[arg-type]


def test_the_blocking_model_refuses_them_too(simulator: Simulator, api_key: str) -> None:
    with (
        PoeClient(api_key, base_url=simulator.base_url, store=False) as client,
        pytest.raises(TypeError, match="unknown chat option"),
    ):
        client.model("GPT-4.1", max_token=5)  # type: ignore[call-arg]


async def test_a_conversations_own_system_prompt_beats_the_models_default(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    model = client.model("GPT-4.1", system="MODEL DEFAULT")
    chat = model.conversation(system="CONVERSATION OWN")
    await chat.ask("hello there")
    sent = [r for r in simulator.requests() if "hello there" in str(r.get("body"))]
    messages = sent[-1]["body"]["messages"]
    assert messages[0] == {"role": "system", "content": "CONVERSATION OWN"}
    plain = model.conversation()  # no own prompt: the model's default applies
    await plain.ask("second talk")
    sent = [r for r in simulator.requests() if "second talk" in str(r.get("body"))]
    assert sent[-1]["body"]["messages"][0]["content"] == "MODEL DEFAULT"
    per_call = await chat.ask("third", system="PER CALL")  # a per-call prompt still wins
    assert per_call.text


@pytest.mark.parametrize(
    ("value", "hint"),
    [(None, "NoneType"), (5, "int"), ({"role": "user", "content": "x"}, "in a list")],
)
async def test_not_a_prompt_is_an_invalid_request(
    client: AsyncPoeClient, value: Any, hint: str
) -> None:
    with pytest.raises(InvalidRequestError, match=hint):
        await client.chat("GPT-4.1", value)


async def test_undecodable_text_is_refused_before_sending(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    broken = b"caf\xff".decode("utf-8", "surrogateescape")
    with pytest.raises(InvalidRequestError, match="not valid text"):
        await client.chat("GPT-4.1", broken)
    with pytest.raises(InvalidRequestError, match="message 0 is not valid text"):
        await client.chat("GPT-4.1", "fine", system=broken)
    assert not [r for r in simulator.requests() if "caf" in str(r.get("body"))]


def test_fts_queries_are_always_valid_fts5() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(prompt, response)")
    db.execute("INSERT INTO f VALUES ('in what order', 'NOT now: hello-world')")
    odd = ['"', '""', '" "', "OR*", "NOT*", "AND*", "a OR*", "NEAR(", "*", "**", "-", "x-y*",
           "\t", "(", ")", "^", ":", "prompt:", "'", "hello AND", "OR OR OR"]  # fmt: skip
    for text in odd:
        db.execute("SELECT * FROM f WHERE f MATCH ?", (_fts_query(text),)).fetchall()
    found = db.execute("SELECT * FROM f WHERE f MATCH ?", (_fts_query("OR*"),)).fetchall()
    assert len(found) == 1  # "order": the prefix, not the operator
    assert db.execute("SELECT * FROM f WHERE f MATCH ?", (_fts_query('"'),)).fetchall() == []


async def test_a_search_of_only_quotes_matches_nothing_in_every_store(tmp_path: Path) -> None:
    for url in ("memory://", f"sqlite:///{tmp_path / 'logs.db'}"):
        store: Any = open_store(url)
        try:
            await store.logs.add(_entry("hello", time.time()))
            for text in ('"', '""', "*"):
                assert await store.logs.search(LogQuery(text=text)) == [], (url, text)
            assert len(await store.logs.search(LogQuery(text="hel*"))) == 1
        finally:
            await store.aclose()


async def test_memory_store_search_of_blank_words(store: MemoryStore) -> None:
    await store.logs.add(_entry("something", time.time()))
    assert await store.logs.search(LogQuery(text='"*"')) == []


async def test_redis_purge_keeps_entries_added_meanwhile(tmp_path: Path) -> None:
    import json
    import threading

    import redis

    server = RedisServer(tmp_path).start()
    store: Any = open_store(server.url(0))
    try:
        now = time.time()
        for i in range(200):
            await store.logs.add(_entry(f"old {i}", now - 10 * 86_400))
        keys: Any = redis.Redis(port=server.port).keys("*logs")
        key = next(k.decode() for k in keys)
        pushed: list[int] = []
        stop = threading.Event()

        def another_instance() -> None:  # writes while this one applies its retention
            link = redis.Redis(port=server.port)
            while not stop.is_set():
                n = len(pushed)
                link.lpush(key, json.dumps(_entry(f"new {n}", time.time()).to_dict()))
                pushed.append(n)

        writer = threading.Thread(target=another_instance)
        writer.start()
        try:
            removed = 0
            for round_ in range(20):  # each round has old entries to drop, so each rewrites
                for i in range(10):
                    await store.logs.add(_entry(f"older {round_}.{i}", now - 10 * 86_400))
                removed += await store.logs.purge(before=now - 86_400)
        finally:
            stop.set()
            writer.join()
        assert removed == 200 + 20 * 10
        left = await store.logs.search(LogQuery(limit=100_000))
        assert len(left) == len(pushed) > 0  # every entry written meanwhile survived
    finally:
        await store.aclose()
        server.stop()


async def test_a_bad_logs_variable_never_costs_a_paid_answer(
    simulator: Simulator, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POE_MCP_LOGS", "everything")
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=MemoryStore()) as c:
        result = await c.chat("GPT-4.1", "paid for")
        assert 'You said: "paid for"' in result.text
        streamed = [d async for d in c.stream("GPT-4.1", "streamed too")]
        assert streamed[-1].result is not None
