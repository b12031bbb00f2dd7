"""Tool-calling rules: which tools are called, with which arguments, and the final answer."""

from __future__ import annotations

import json

import openai
import pytest
from openai import OpenAI

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer", "minimum": 5},
                "exact": {"type": "boolean"},
                "score": {"type": "number"},
                "mode": {"type": "string", "enum": ["fast", "deep"]},
            },
            "required": ["query", "limit", "exact", "score", "mode"],
        },
    },
}


def _ask(client: OpenAI, text: str, tools: list[dict], **kw: object):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(
        model="GPT-4.1",
        messages=[{"role": "user", "content": text}],
        tools=tools,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_calls_every_named_tool_in_order_of_mention(client: OpenAI) -> None:
    resp = _ask(client, "first get_time zone=UTC then get_weather city=Oslo", [WEATHER, TIME])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_time", "get_weather"]  # type: ignore[union-attr]
    assert json.loads(calls[0].function.arguments) == {"zone": "UTC"}  # type: ignore[union-attr]
    assert json.loads(calls[1].function.arguments) == {"city": "Oslo", "days": 1}  # type: ignore[union-attr]
    assert len({c.id for c in calls}) == 2


def test_parallel_false_calls_only_the_first(client: OpenAI) -> None:
    resp = _ask(client, "get_weather and get_time", [WEATHER, TIME], parallel_tool_calls=False)
    assert [c.function.name for c in resp.choices[0].message.tool_calls or []] == ["get_weather"]  # type: ignore[union-attr]


def test_tool_choice_forces_a_tool(client: OpenAI) -> None:
    resp = _ask(client, "no names here", [WEATHER, TIME],
                tool_choice={"type": "function", "function": {"name": "get_time"}})  # fmt: skip
    assert [c.function.name for c in resp.choices[0].message.tool_calls or []] == ["get_time"]  # type: ignore[union-attr]


def test_required_without_a_name_calls_the_first_tool(client: OpenAI) -> None:
    resp = _ask(client, "anything", [TIME, WEATHER], tool_choice="required")
    assert [c.function.name for c in resp.choices[0].message.tool_calls or []] == ["get_time"]  # type: ignore[union-attr]


def test_auto_without_a_name_answers_in_text(client: OpenAI) -> None:
    resp = _ask(client, "just chat", [WEATHER])
    assert resp.choices[0].finish_reason == "stop"
    assert not resp.choices[0].message.tool_calls


def test_tool_choice_none_answers_in_text(client: OpenAI) -> None:
    resp = _ask(client, "get_weather please", [WEATHER], tool_choice="none")
    assert resp.choices[0].finish_reason == "stop"
    assert not resp.choices[0].message.tool_calls


def test_arguments_are_coerced_or_sampled_by_schema(client: OpenAI) -> None:
    resp = _ask(client, 'search query="two words" limit=7 exact=false', [SEARCH])
    call = (resp.choices[0].message.tool_calls or [])[0]
    args = json.loads(call.function.arguments)  # type: ignore[union-attr]
    assert args == {"query": "two words", "limit": 7, "exact": False, "score": 1.5, "mode": "fast"}
    resp = _ask(client, "search", [SEARCH])
    args = json.loads((resp.choices[0].message.tool_calls or [])[0].function.arguments)  # type: ignore[union-attr]
    assert args == {"query": "sample", "limit": 5, "exact": True, "score": 1.5, "mode": "fast"}


def test_final_reply_quotes_each_tool_result(client: OpenAI) -> None:
    first = _ask(client, "get_weather city=Rome and get_time", [WEATHER, TIME])
    calls = first.choices[0].message.tool_calls or []
    messages: list[dict] = [
        {"role": "user", "content": "get_weather city=Rome and get_time"},
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny, 24 C"},
        {"role": "tool", "tool_call_id": calls[1].id, "content": "12:00"},
    ]
    final = client.chat.completions.create(
        model="GPT-4.1", messages=messages, tools=[WEATHER, TIME]
    )  # type: ignore[arg-type, list-item]
    text = final.choices[0].message.content or ""
    assert final.choices[0].finish_reason == "stop"
    assert 'get_weather -> "sunny, 24 C"' in text
    assert 'get_time -> "12:00"' in text
    assert "received 4 messages" in text


def test_model_without_tools_refuses_them(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="Llama-3.1-405B",
            messages=[{"role": "user", "content": "get_weather"}],
            tools=[WEATHER],  # type: ignore[list-item]
        )
    assert "does not support tools" in info.value.message


def test_forcing_an_unknown_tool_is_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        _ask(client, "x", [WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}})
