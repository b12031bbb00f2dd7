"""Kind 4: the shapes of ``content`` and ``arguments``.

Text parts are the answer; thinking parts and ``reasoning_content`` go to ``reasoning`` (never
into the answer); ``null`` content with tool calls is fine; object arguments are serialised; any
shape no provider sends is an ``UpstreamError`` naming the field (not retried), never a bare
``TypeError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient
from poe_mcp.cli import cli
from poe_mcp.errors import UpstreamError
from poe_mcp.simulator import THINKING, Simulator

from .conftest import (
    CLOCK,
    KEY,
    TWO_CALLS,
    WEATHER,
    chat_calls,
    collect,
    upstream_calls,
    weather_tools,
)
from .standin import StandIn, chunk, completion


@pytest.mark.parametrize("streamed", [True, False])
async def test_content_parts_give_the_answer_and_keep_thinking_apart(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    client = make_client(simulator.base_url)
    plain = await client.chat("GPT-4.1", "parts please")
    simulator.clear_requests()
    simulator.add_fault("quirk", quirks=["content_parts"])
    if streamed:
        deltas, result = await collect(client.stream("GPT-4.1", "parts please"))
        assert "".join(d.text for d in deltas) == plain.text
        assert "".join(d.reasoning for d in deltas) == THINKING
    else:
        result = await client.chat("GPT-4.1", "parts please")
    assert result.text == plain.text
    assert result.reasoning == THINKING
    assert THINKING not in result.text
    assert len(chat_calls(simulator)) == 1


@pytest.mark.parametrize(
    ("message", "text", "reasoning"),
    [
        ({"content": [{"type": "thinking", "thinking": "2+2..."},
                      {"type": "text", "text": "The answer is 4."}]}, "The answer is 4.", "2+2..."),
        ({"content": "The answer is 4.", "reasoning_content": "2+2..."},
         "The answer is 4.", "2+2..."),
        ({"content": [{"type": "output_text", "text": "The answer "},
                      {"type": "text", "text": {"value": "is 4.", "annotations": []}}]},
         "The answer is 4.", ""),
        ({"content": None, "refusal": "I can't help with that."}, "I can't help with that.", ""),
        ({"content": [{"type": "reasoning", "text": "hm"}, "The answer is 4."]},
         "The answer is 4.", "hm"),
    ],
    ids=["thinking-part", "reasoning-content", "text-value", "refusal", "bare-string-part"],
)  # fmt: skip
async def test_whole_answers_in_every_content_shape(
    standin: StandIn,
    make_client: Callable[..., AsyncPoeClient],
    message: dict[str, Any],
    text: str,
    reasoning: str,
) -> None:
    standin.answer(
        json.dumps(completion({"role": "assistant", **message})), content_type="application/json"
    )
    result = await make_client(standin.base_url).chat("m", "hi")
    assert (result.text, result.reasoning) == (text, reasoning)


@pytest.mark.parametrize("backend", ["openai", "legacy"])
async def test_streamed_parts_and_object_arguments(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], backend: str
) -> None:
    chunks = [
        chunk([{"type": "thinking", "thinking": "weather?"}]),
        chunk([{"type": "text", "text": "Checking. "}]),
        chunk(
            None,
            tool_calls=[
                {
                    "index": 0,
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                }
            ],
        ),
        chunk(finish="tool_calls"),
    ]
    if backend == "openai":
        standin.sse(*chunks)
    else:
        events = ['event: meta\ndata: {"content_type": "text/markdown"}\n\n']
        events += [f"event: json\ndata: {json.dumps(c)}\n\n" for c in chunks]
        standin.answer([*(e.encode() for e in events), b"event: done\ndata: {}\n\n"])
    client = make_client(standin.base_url, backend=backend)
    _, result = await collect(client.stream("m", "hi", tools=[WEATHER]))
    assert result.text == "Checking. "
    assert result.reasoning == "weather?"
    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (completion({"role": "assistant", "content": 42}), "message.content"),
        (completion({"role": "assistant", "content": None, "tool_calls": "call it"}),
         "message.tool_calls"),
        (completion({"role": "assistant", "content": [{"type": "text", "text": 5}]}),
         "message.content"),
        (completion({"role": "assistant", "content": None,
                     "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": 7}}]}),
         "arguments"),
        ({"id": "x", "choices": {"message": "hi"}}, "choices"),
        ([1, 2, 3], "JSON list"),
    ],
    ids=["content-number", "tool-calls-text", "text-part-number", "arguments-number",
         "choices-object", "list-body"],
)  # fmt: skip
async def test_unexpected_shapes_are_clear_upstream_errors_not_retried(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], body: Any, where: str
) -> None:
    standin.answer(json.dumps(body), content_type="application/json", times=5)
    with pytest.raises(UpstreamError) as info:
        await make_client(standin.base_url).chat("m", "hi")
    assert info.value.kind == "upstream"
    assert where in info.value.message
    assert not info.value.retryable
    assert len(standin.calls()) == 1


async def test_an_unexpected_shape_in_a_stream_is_an_upstream_error(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    standin.sse(chunk("fine so far, "), chunk({"unexpected": True, "text": 3}))
    client = make_client(standin.base_url)
    with pytest.raises(Exception) as info:
        await collect(client.stream("m", "hi"))
    error = info.value
    assert not isinstance(error, TypeError)
    assert error.kind == "incomplete_stream"  # type: ignore[attr-defined]
    assert error.partial_text == "fine so far, "  # type: ignore[attr-defined]
    assert error.metadata["cause"] == "upstream"  # type: ignore[attr-defined]
    assert len(standin.calls()) == 1


@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_runs_tools_whose_arguments_came_as_objects(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    tools = weather_tools("fog", "dusk")
    simulator.add_fault("quirk", quirks=["object_arguments", "content_parts"], times=2)
    agent = Agent(make_client(simulator.base_url), "GPT-4.1", tools=tools, stream=streamed)
    result = await agent.run(TWO_CALLS)
    assert [(t.name, t.result, t.error) for t in result.trace] == [
        ("get_weather", "fog in Paris", None),
        ("get_time", "dusk in Rome", None),
    ]
    assert THINKING not in result.text
    assert len(upstream_calls(simulator, "openai")) == 2


async def test_mcp_tools_show_the_answer_without_the_thinking(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    simulator.add_fault("quirk", quirks=["content_parts"])
    simulator.add_fault("quirk", quirks=["object_arguments"])
    async with Client(make_server(simulator.base_url)) as mcp:
        answer = await mcp.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "think quietly", "stream": True}
        )
        tools = await mcp.call_tool(
            "ask_poe_with_tools", {"bot": "GPT-4.1", "prompt": TWO_CALLS, "tools": [WEATHER, CLOCK]}
        )
    assert not answer.is_error, answer.content[0].text
    assert 'You said: "think quietly"' in answer.structured_content["text"]
    assert THINKING not in answer.content[0].text
    pending = tools.structured_content["pending_tool_calls"]
    assert [(p["name"], p["arguments"]) for p in pending] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"zone": "Rome"}),
    ]
    assert len(chat_calls(simulator)) == 2


def test_the_cli_prints_the_answer_without_the_thinking(simulator: Simulator) -> None:
    simulator.add_fault("quirk", quirks=["content_parts"])
    result = CliRunner().invoke(
        cli,
        [
            "chat",
            "-m",
            "GPT-4.1",
            "parts on the shell",
            "--no-stream",
            "--base-url",
            simulator.base_url,
        ],
        env={"POE_API_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    assert 'You said: "parts on the shell"' in result.stdout
    assert THINKING not in result.stdout
    assert "[{" not in result.stdout
