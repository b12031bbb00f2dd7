"""Kind 3: two calls that share one id are two calls on our side, and go back as the provider wrote
them: unique ids in the library, the agent and ``ask_poe_with_tools``, mapped back to the
provider's own ids when the results are sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient
from poe_mcp.simulator import Simulator

from .conftest import CLOCK, TWO_CALLS, WEATHER, collect, upstream_calls, weather_tools
from .standin import StandIn, completion


def _sent_results(request: dict[str, Any]) -> list[tuple[str, str]]:
    """(tool_call_id, content) of the tool messages a REST request carried."""
    return [
        (m["tool_call_id"], m["content"])
        for m in request["body"]["messages"]
        if m["role"] == "tool"
    ]


def _sent_call_ids(request: dict[str, Any]) -> list[str]:
    return [
        c["id"]
        for m in request["body"]["messages"]
        if m["role"] == "assistant"
        for c in m.get("tool_calls") or ()
    ]


@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize("streamed", [True, False])
async def test_duplicate_ids_become_unique(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], backend: str, streamed: bool
) -> None:
    simulator.add_fault("quirk", quirks=["duplicate_tool_ids"])
    client = make_client(simulator.base_url, backend=backend)
    if streamed:
        _, result = await collect(client.stream("GPT-4.1", TWO_CALLS, tools=[WEATHER, CLOCK]))
    else:
        result = await client.chat("GPT-4.1", TWO_CALLS, tools=[WEATHER, CLOCK])
    assert [(c.id, c.name) for c in result.tool_calls] == [
        ("call_0", "get_weather"),
        ("call_0#2", "get_time"),
    ]
    assert len(upstream_calls(simulator, backend)) == 1


async def test_a_whole_answer_with_two_calls_sharing_an_id(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ],
    }  # fmt: skip
    standin.answer(json.dumps(completion(message, "tool_calls")), content_type="application/json")
    result = await make_client(standin.base_url).chat("m", "hi", tools=[WEATHER])
    assert [(c.id, c.arguments) for c in result.tool_calls] == [
        ("call_0", '{"city":"Paris"}'),
        ("call_0#2", '{"city":"Rome"}'),
    ]


@pytest.mark.parametrize("streamed", [True, False])
async def test_the_agent_answers_each_call_and_sends_the_providers_ids_back(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    tools = weather_tools("rain", "noon")
    simulator.add_fault("quirk", quirks=["duplicate_tool_ids"])
    agent = Agent(make_client(simulator.base_url), "GPT-4.1", tools=tools, stream=streamed)
    result = await agent.run(TWO_CALLS)
    assert [(t.call_id, t.name, t.result) for t in result.trace] == [
        ("call_0", "get_weather", "rain in Paris"),
        ("call_0#2", "get_time", "noon in Rome"),
    ]
    assert result.stopped_reason == "final"
    _first, second = upstream_calls(simulator, "openai")
    # each result reached the provider once, in order, under the id the provider chose
    assert _sent_call_ids(second) == ["call_0", "call_0"]
    assert _sent_results(second) == [("call_0", "rain in Paris"), ("call_0", "noon in Rome")]


async def test_the_bot_protocol_gets_the_providers_ids_back(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient]
) -> None:
    simulator.add_fault("quirk", quirks=["duplicate_tool_ids"])
    client = make_client(simulator.base_url, backend="legacy")
    asked = await client.chat("GPT-4.1", TWO_CALLS, tools=[WEATHER, CLOCK])
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": TWO_CALLS},
        {"role": "assistant", "content": None,
         "tool_calls": [c.to_openai() for c in asked.tool_calls]},
        *({"role": "tool", "tool_call_id": c.id, "content": f"result {n}"}
          for n, c in enumerate(asked.tool_calls)),
    ]  # fmt: skip
    answer = await client.chat("GPT-4.1", messages, tools=[WEATHER, CLOCK])
    assert "result 0" in answer.text
    assert "result 1" in answer.text
    second = upstream_calls(simulator, "legacy")[-1]["body"]
    assert [c["id"] for c in second["tool_calls"]] == ["call_0", "call_0"]
    assert [(r["tool_call_id"], r["content"]) for r in second["tool_results"]] == [
        ("call_0", "result 0"),
        ("call_0", "result 1"),
    ]


async def test_ask_poe_with_tools_tells_the_calls_apart_over_mcp(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    simulator.add_fault("quirk", quirks=["duplicate_tool_ids"])
    async with Client(make_server(simulator.base_url)) as mcp:
        first = await mcp.call_tool(
            "ask_poe_with_tools", {"bot": "GPT-4.1", "prompt": TWO_CALLS, "tools": [WEATHER, CLOCK]}
        )
        assert not first.is_error, first.content[0].text
        data = first.structured_content
        ids = [p["id"] for p in data["pending_tool_calls"]]
        assert ids == ["call_0", "call_0#2"]
        done = await mcp.call_tool(
            "ask_poe_with_tools",
            {
                "bot": "GPT-4.1",
                "session_id": data["session_id"],
                "tool_results": {"call_0": "sunny", "call_0#2": "10:00"},
            },
        )
    assert not done.is_error, done.content[0].text
    assert done.structured_content["finish_reason"] == "stop"
    trace = [(t["call_id"], t["result"]) for t in done.structured_content["trace"]]
    assert trace == [("call_0", "sunny"), ("call_0#2", "10:00")]
    second = upstream_calls(simulator, "openai")[-1]
    assert _sent_results(second) == [("call_0", "sunny"), ("call_0", "10:00")]
    assert len(upstream_calls(simulator, "openai")) == 2
