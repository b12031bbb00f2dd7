"""Streaming mode: tool-call fragments assembled by index, silent stream ends recovered."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict

import pytest

from poe_mcp import Agent, AsyncPoeClient, Delta, PoeError, tool
from poe_mcp.simulator import Simulator

from .conftest import TOOL_MODEL, chat_requests


@tool
def lookup_order(order_id: str, verbose: bool = False) -> str:
    """Find an order.

    Args:
        order_id: the order number.
        verbose: include the line items.
    """
    return f"order {order_id}: shipped"


@tool
def lookup_customer(customer_id: str) -> str:
    """Find a customer.

    Args:
        customer_id: the customer number.
    """
    return f"customer {customer_id}: Ada"


async def test_streamed_tool_call_fragments_are_assembled_by_index(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    deltas: list[Delta] = []
    agent = Agent(
        client,
        TOOL_MODEL,
        tools=[lookup_order, lookup_customer],
        stream=True,
        on_delta=deltas.append,
    )
    prompt = "lookup_order order_id=A-1001 and lookup_customer customer_id=C-77"
    result = await agent.run(prompt)

    fragments: dict[int, list[str]] = defaultdict(list)
    ids: dict[int, list[str]] = defaultdict(list)
    names: dict[int, list[str]] = defaultdict(list)
    arrival: list[int] = []  # the index of each argument fragment, in arrival order
    for delta in deltas:
        for frag in delta.tool_calls:
            fragments[frag.index].append(frag.arguments)
            if frag.arguments:
                arrival.append(frag.index)
            if frag.id:
                assert not arrival, "a call's id and name come before any argument fragment"
                ids[frag.index].append(frag.id)
            if frag.name:
                names[frag.index].append(frag.name)
    assert sorted(fragments) == [0, 1]
    assert all(len(parts) > 2 for parts in fragments.values())  # arguments came in pieces
    assert {i: n for i, n in names.items()} == {0: ["lookup_order"], 1: ["lookup_customer"]}
    # The two calls' fragments really were interleaved on the wire, not one call after the other.
    assert arrival[:4] == [0, 1, 0, 1]
    switches = sum(1 for a, b in itertools.pairwise(arrival) if a != b)
    assert switches >= 3

    order, customer = result.trace
    assert order.arguments == "".join(fragments[0])
    assert customer.arguments == "".join(fragments[1])
    assert ([order.call_id], [customer.call_id]) == (ids[0], ids[1])
    assert json.loads(order.arguments) == {"order_id": "A-1001"}
    assert json.loads(customer.arguments) == {"customer_id": "C-77"}
    assert 'lookup_order -> "order A-1001: shipped"' in result.text
    assert 'lookup_customer -> "customer C-77: Ada"' in result.text
    assert result.stream_fallbacks == 0
    assert all(r["body"].get("stream") is True for r in chat_requests(simulator))

    # The streamed answer is the same as the non-streamed one.
    plain = await Agent(client, TOOL_MODEL, tools=[lookup_order, lookup_customer]).run(prompt)
    assert plain.text == result.text


async def test_a_tool_call_stream_cut_short_is_asked_again_without_streaming(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    # The stream stops after the first fragments of the call: no finish reason, no [DONE].
    simulator.add_fault("cut", after_chunks=3)
    deltas: list[Delta] = []
    agent = Agent(client, TOOL_MODEL, tools=[lookup_order], stream=True, on_delta=deltas.append)

    result = await agent.run("lookup_order order_id=B-2")

    assert result.stream_fallbacks == 1
    assert result.stopped_reason == "final"
    assert [json.loads(t.arguments) for t in result.trace] == [{"order_id": "B-2"}]
    assert 'lookup_order -> "order B-2: shipped"' in result.text
    streamed = [r["body"].get("stream") is True for r in chat_requests(simulator)]
    assert streamed == [True, False, True]  # cut stream, plain retry, next turn streams again
    # A streaming caller is told that the cut turn was replaced by the complete answer.
    replaced = [d for d in deltas if d.replace and d.result is not None]
    assert [d.result.tool_calls[0].name for d in replaced if d.result] == ["lookup_order"]


async def test_a_stream_that_fails_again_without_streaming_is_reported(
    simulator: Simulator,
) -> None:
    simulator.add_fault("cut", after_chunks=3, times=2)
    async with AsyncPoeClient(
        "sk-agent-tests", base_url=simulator.base_url, max_retries=0
    ) as strict:
        agent = Agent(strict, TOOL_MODEL, tools=[lookup_order], stream=True)
        with pytest.raises(PoeError) as caught:
            await agent.run("lookup_order order_id=C-3")
    assert caught.value.kind == "network"  # the plain retry's own failure, not hidden
    assert [r["body"].get("stream") is True for r in chat_requests(simulator)] == [True, False]
