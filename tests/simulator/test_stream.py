"""SSE streaming exactly as the openai SDK consumes it: chunks, tool-call deltas, usage."""

from __future__ import annotations

import json

import httpx2
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletionChunk

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}


def test_stream_text_in_several_chunks_with_usage(client: OpenAI) -> None:
    ref = client.chat.completions.create(
        model="GPT-4.1", messages=[{"role": "user", "content": "hi"}]
    )
    chunks = list(
        client.chat.completions.create(
            model="GPT-4.1",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) >= 2
    assert "".join(pieces) == ref.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert finishes.count("stop") == 1
    assert chunks[-1].choices == []
    assert chunks[-1].usage == ref.usage
    assert len({c.id for c in chunks}) == 1


def test_stream_without_include_usage_has_no_usage_chunk(client: OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="GPT-4.1", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_honours_max_tokens(client: OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="GPT-4.1", messages=[{"role": "user", "content": "hi"}], stream=True, max_tokens=2
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said"
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_streamed_tool_calls_arrive_as_deltas(aclient: AsyncOpenAI) -> None:
    no_args = {"type": "object", "properties": {}}
    lookup = {"type": "function", "function": {"name": "get_time", "parameters": no_args}}
    stream = await aclient.chat.completions.create(
        model="Claude-Sonnet-4",
        messages=[{"role": "user", "content": "use get_weather city=Paris days=3 and get_time"}],
        tools=[WEATHER, lookup],  # type: ignore[list-item]
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict[str, str]] = {}
    first_fragments: dict[int, object] = {}
    finish = None
    usage = None
    async for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for d in choice.delta.tool_calls or ():
                slot = calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
                if d.index not in first_fragments:
                    first_fragments[d.index] = d
                    assert d.id
                    assert d.function
                    assert d.function.name
                slot["id"] += d.id or ""
                slot["name"] += (d.function.name if d.function else None) or ""
                slot["arguments"] += (d.function.arguments if d.function else None) or ""
    assert finish == "tool_calls"
    assert [c["name"] for c in calls.values()] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris", "days": 3}
    assert json.loads(calls[1]["arguments"]) == {}
    assert all(c["id"].startswith("call_") for c in calls.values())
    assert usage is not None
    assert usage.completion_tokens > 0


def test_argument_fragments_are_several(http: httpx2.Client, api_key: str) -> None:
    resp = http.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {api_key}"},
        json={
            "model": "GPT-4.1",
            "messages": [{"role": "user", "content": "get_weather city=Paris"}],
            "tools": [WEATHER],
            "stream": True,
        },
    )
    assert resp.headers["content-type"].startswith("text/event-stream")
    lines = [ln for ln in resp.text.split("\n\n") if ln]
    assert lines[-1] == "data: [DONE]"
    fragments = [
        d
        for ln in lines[:-1]
        for d in json.loads(ln[6:])["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert len(fragments) >= 3
    assert "id" in fragments[0]
    assert "id" not in fragments[1]
