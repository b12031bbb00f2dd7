"""A session keeps the tool definitions an agent's caller gave, and a turn is stored without
reading the session back (``extend``), on every backend."""

from __future__ import annotations

from poe_mcp.store.base import Store

TOOL = {
    "type": "function",
    "function": {"name": "open_editor", "parameters": {"type": "object", "properties": {}}},
}


async def test_tool_definitions_are_kept_until_replaced(store: Store) -> None:
    await store.sessions.append("t", [{"role": "user", "content": "a"}], ttl_s=60, tools=[TOOL])
    await store.sessions.extend("t", [{"role": "assistant", "content": "b"}], ttl_s=60)
    kept = await store.sessions.get("t")
    assert kept is not None
    assert kept.tools == [TOOL]  # an append that names no tools keeps them
    other = {**TOOL, "function": {**TOOL["function"], "name": "close_editor"}}
    await store.sessions.extend("t", [{"role": "user", "content": "c"}], ttl_s=60, tools=[other])
    replaced = await store.sessions.get("t")
    assert replaced is not None
    assert replaced.tools == [other]
    assert [m["content"] for m in replaced.messages] == ["a", "b", "c"]
    plain = await store.sessions.append("p", [{"role": "user", "content": "x"}], ttl_s=60)
    assert plain.tools is None


async def test_extend_stores_like_append_and_renews_the_session(store: Store) -> None:
    returned: object = await store.sessions.extend(  # type: ignore[func-returns-value]
        "e", [{"role": "user", "content": "1"}], model="GPT-4.1", backend="openai", ttl_s=60
    )
    assert returned is None
    await store.sessions.extend("e", [{"role": "assistant", "content": "2"}], ttl_s=60)
    got = await store.sessions.get("e")
    assert got is not None
    assert [m["content"] for m in got.messages] == ["1", "2"]
    assert (got.model, got.backend) == ("GPT-4.1", "openai")
    (info,) = [i for i in await store.sessions.list() if i.id == "e"]
    assert info.turns == 1
