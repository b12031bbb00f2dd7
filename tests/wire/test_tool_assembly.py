"""Kind 2: streamed tool calls assembled the way providers really send them, on both backends.

A fragment with an ``id`` not seen before starts a new call whatever its ``index`` says; an
``id`` seen once and then omitted continues that call; ``index`` may be missing or ``-1`` (one
whole call per chunk).
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
from .standin import StandIn, chunk

TOOL_QUIRKS = ["tool_index_zero", "tool_no_index", "tool_index_negative", "tool_ids_every_fragment"]
EXPECTED = [("get_weather", {"city": "Paris"}), ("get_time", {"zone": "Rome"})]


def calls(result: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, json.loads(c.arguments)) for c in result.tool_calls]


def _call(index: int | None, call_id: str | None, name: str | None, args: str) -> dict[str, Any]:
    item: dict[str, Any] = {"function": {"arguments": args}}
    if index is not None:
        item["index"] = index
    if call_id is not None:
        item["id"] = call_id
        item["type"] = "function"
    if name is not None:
        item["function"]["name"] = name
    return item


async def test_a_new_id_at_the_same_index_starts_a_new_call(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    # The example of the issue: two parallel calls, both at index 0.
    standin.sse(
        chunk(tool_calls=[_call(0, "call_a", "get_weather", '{"city":"Paris"}')]),
        chunk(tool_calls=[_call(0, "call_b", "get_weather", '{"city":"Rome"}')]),
        chunk(finish="tool_calls"),
    )
    _, result = await collect(make_client(standin.base_url).stream("m", "hi", tools=[WEATHER]))
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("call_a", "get_weather", '{"city":"Paris"}'),
        ("call_b", "get_weather", '{"city":"Rome"}'),
    ]


@pytest.mark.parametrize(
    "fragments",
    [
        # id on the first fragment only, then omitted: the call continues
        [_call(0, "call_a", "get_weather", ""), _call(0, None, None, '{"city":'),
         _call(0, None, None, '"Paris"}'), _call(1, "call_b", "get_time", '{"zone"'),
         _call(1, None, None, ':"Rome"}')],
        # no index at all: one whole call per chunk
        [_call(None, "call_a", "get_weather", '{"city":"Paris"}'),
         _call(None, "call_b", "get_time", '{"zone":"Rome"}')],
        # index -1, as some providers send it
        [_call(-1, "call_a", "get_weather", '{"city":"Paris"}'),
         _call(-1, "call_b", "get_time", '{"zone":"Rome"}')],
        # no index, id only first, arguments in pieces
        [_call(None, "call_a", "get_weather", '{"ci'), _call(None, None, None, 'ty":"Paris"}'),
         _call(None, "call_b", "get_time", ""), _call(None, None, None, '{"zone":"Rome"}')],
        # no ids at all, every call at index 0: a name after complete arguments is a new call
        [_call(0, None, "get_weather", '{"city":"Paris"}'),
         _call(0, None, "get_time", '{"zone":'), _call(0, None, None, '"Rome"}')],
    ],
    ids=["id-then-omitted", "no-index", "index-minus-one", "no-index-pieces", "no-ids"],
)  # fmt: skip
@pytest.mark.parametrize("backend", ["openai", "legacy"])
async def test_field_shapes_of_streamed_tool_calls(
    standin: StandIn,
    make_client: Callable[..., AsyncPoeClient],
    fragments: list[dict[str, Any]],
    backend: str,
) -> None:
    chunks = [chunk(tool_calls=[f]) for f in fragments] + [chunk(finish="tool_calls")]
    if backend == "openai":
        standin.sse(*chunks)
    else:  # the bot protocol carries the same chunks in its json events
        events = ['event: meta\ndata: {"content_type": "text/markdown"}\n\n']
        events += [f"event: json\ndata: {json.dumps(c)}\n\n" for c in chunks]
        events.append("event: done\ndata: {}\n\n")
        standin.answer([e.encode() for e in events])
    client = make_client(standin.base_url, backend=backend)
    deltas, result = await collect(client.stream("m", "hi", tools=[WEATHER, CLOCK]))
    assert calls(result) == EXPECTED
    assert result.finish_reason == "tool_calls"
    assert len({c.id for c in result.tool_calls}) == 2
    # the deltas carry our index: assembling them by index gives the same calls
    by_index: dict[int, str] = {}
    for delta in deltas:
        for fragment in delta.tool_calls:
            by_index[fragment.index] = by_index.get(fragment.index, "") + fragment.arguments
    assert [json.loads(a) for _, a in sorted(by_index.items())] == [args for _, args in EXPECTED]
    assert len(standin.calls()) == 1


@pytest.mark.parametrize("quirk", TOOL_QUIRKS)
@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize("streamed", [True, False])
async def test_simulated_tool_call_shapes_through_the_library(
    simulator: Simulator,
    make_client: Callable[..., AsyncPoeClient],
    quirk: str,
    backend: str,
    streamed: bool,
) -> None:
    simulator.add_fault("quirk", quirks=[quirk])
    client = make_client(simulator.base_url, backend=backend)
    if streamed:
        _, result = await collect(client.stream("GPT-4.1", TWO_CALLS, tools=[WEATHER, CLOCK]))
    else:
        result = await client.chat("GPT-4.1", TWO_CALLS, tools=[WEATHER, CLOCK])
    assert calls(result) == EXPECTED
    assert len(upstream_calls(simulator, backend)) == 1


@pytest.mark.parametrize("quirk", TOOL_QUIRKS)
@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_runs_each_call_with_its_own_arguments(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], quirk: str, streamed: bool
) -> None:
    simulator.add_fault("quirk", quirks=[quirk], times=2)
    agent = Agent(
        make_client(simulator.base_url),
        "GPT-4.1",
        tools=weather_tools("rain", "noon"),
        stream=streamed,
    )
    result = await agent.run(TWO_CALLS)
    assert [(t.name, t.result) for t in result.trace] == [
        ("get_weather", "rain in Paris"),
        ("get_time", "noon in Rome"),
    ]
    assert 'get_weather -> "rain in Paris"; get_time -> "noon in Rome"' in result.text
    assert result.stream_fallbacks == 0
    assert len(upstream_calls(simulator, "openai")) == 2


@pytest.mark.parametrize("quirk", TOOL_QUIRKS)
async def test_ask_poe_with_tools_over_mcp_lists_each_pending_call(
    simulator: Simulator, make_server: Callable[..., Any], quirk: str
) -> None:
    simulator.add_fault("quirk", quirks=[quirk])
    async with Client(make_server(simulator.base_url)) as mcp:
        result = await mcp.call_tool(
            "ask_poe_with_tools", {"bot": "GPT-4.1", "prompt": TWO_CALLS, "tools": [WEATHER, CLOCK]}
        )
    assert not result.is_error, result.content[0].text
    pending = result.structured_content["pending_tool_calls"]
    assert [(p["name"], p["arguments"]) for p in pending] == EXPECTED
    assert len({p["id"] for p in pending}) == 2
    assert len(upstream_calls(simulator, "openai")) == 1
