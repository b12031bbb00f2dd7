"""Prompt and answer logs: every backend stores, filters, searches and purges the same way."""

from __future__ import annotations

import time

from poe_mcp.store._logs import LogEntry, LogQuery
from poe_mcp.store.base import Store


def entry(prompt: str, response: str = "an answer", **kw: object) -> LogEntry:
    base: dict[str, object] = {"ts": time.time(), "model": "GPT-4.1"}
    base.update(kw)
    return LogEntry(prompt=prompt, response=response, **base)  # type: ignore[arg-type]


async def test_logs_filter_search_order_and_purge(store: Store) -> None:
    now = time.time()
    await store.logs.add(entry("about lighthouses", ts=now - 3 * 86_400, session_id="a"))
    await store.logs.add(entry("rate limiters", "GCRA spaces requests", ts=now - 60,
                               model="Claude-Sonnet-4", session_id="a"))  # fmt: skip
    await store.logs.add(entry("tea", "Green tea and black tea", ts=now, attachments=("a.pdf",)))

    newest = await store.logs.search(LogQuery())
    assert [e.prompt for e in newest] == ["tea", "rate limiters", "about lighthouses"]
    assert all(e.id is not None for e in newest)
    assert newest[0].attachments == ("a.pdf",)
    oldest = await store.logs.search(LogQuery(oldest_first=True, limit=2))
    assert [e.prompt for e in oldest] == ["about lighthouses", "rate limiters"]

    assert [e.prompt for e in await store.logs.search(LogQuery(text="gcra"))] == ["rate limiters"]
    assert [e.prompt for e in await store.logs.search(LogQuery(text="tea green"))] == ["tea"]
    assert await store.logs.search(LogQuery(text="tea zebra")) == []
    by_model = await store.logs.search(LogQuery(model="claude-sonnet-4"))
    assert [e.prompt for e in by_model] == ["rate limiters"]
    assert len(await store.logs.search(LogQuery(session_id="a"))) == 2
    recent = await store.logs.search(LogQuery(since=now - 86_400))
    assert [e.prompt for e in recent] == ["tea", "rate limiters"]
    assert [e.prompt for e in await store.logs.search(LogQuery(until=now - 120))] == [
        "about lighthouses"
    ]

    assert await store.logs.purge(before=now - 86_400) == 1
    assert len(await store.logs.search(LogQuery())) == 2
    assert await store.logs.purge() == 2
    assert await store.logs.search(LogQuery()) == []


async def test_odd_search_text_is_not_a_syntax_error(store: Store) -> None:
    await store.logs.add(entry('what does "x AND (y" mean?', "C's parentheses"))
    for text in ('"x AND (y"', "(y", "C's", "mean?", "AND", "-x"):
        await store.logs.search(LogQuery(text=text))  # never raises
    found = await store.logs.search(LogQuery(text="parentheses"))
    assert len(found) == 1
