"""Streaming: deltas, the assembled result, retries before the first chunk only, breaks."""

from __future__ import annotations

import json

import pytest

from poe_mcp import errors as E
from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator
from poe_mcp.types import Delta

from .conftest import model_calls

PROMPT = "Tell me a long story about streams and rivers and the sea."


async def _collect(client: AsyncPoeClient, **kwargs: object) -> tuple[list[Delta], str]:
    deltas: list[Delta] = []
    text = ""
    async for delta in client.stream("GPT-4.1", PROMPT, **kwargs):  # type: ignore[arg-type]
        deltas.append(delta)
        text += delta.text
    return deltas, text


async def _drain(client: AsyncPoeClient, seen: list[str]) -> None:
    async for delta in client.stream("GPT-4.1", PROMPT):
        seen.append(delta.text)


async def test_stream_yields_text_then_the_assembled_result_with_usage(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    deltas, text = await _collect(client)
    result = deltas[-1].result
    assert result is not None
    assert all(d.result is None and d.text for d in deltas[:-1])
    assert len(deltas) > 3
    assert result.text == text
    assert PROMPT in text
    assert result.finish_reason == "stop"
    assert result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0
    assert not result.usage.estimated  # asked for include_usage, and got it
    assert result.request_id
    assert result.latency_s > 0
    body = model_calls(simulator)[0]["body"]
    assert isinstance(body, dict)
    assert body["stream_options"] == {"include_usage": True}


async def test_a_stream_failing_before_its_first_chunk_is_retried(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=503, retry_after_ms=10)
    deltas, _ = await _collect(client)
    assert deltas[-1].result is not None
    simulator.add_fault("cut", after_chunks=0)
    deltas, _ = await _collect(client)
    assert deltas[-1].result is not None
    assert len(model_calls(simulator)) == 4


async def test_a_stream_cut_after_it_started_keeps_the_partial_text(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("cut", after_chunks=3)
    seen: list[str] = []
    with pytest.raises(E.IncompleteStreamError) as info:
        await _drain(client, seen)
    seen_text = "".join(seen)
    assert seen_text
    assert info.value.partial_text == seen_text
    assert len(model_calls(simulator)) == 1  # never retried once the caller saw text


async def test_an_error_event_mid_stream_keeps_the_partial_text_and_its_cause(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("stream_error", after_chunks=2, message="the model fell over")
    seen: list[str] = []
    with pytest.raises(E.IncompleteStreamError) as info:
        await _drain(client, seen)
    seen_text = "".join(seen)
    assert seen_text
    assert info.value.partial_text == seen_text
    assert "the model fell over" in str(info.value)
    assert info.value.metadata["cause"] in {"upstream", "invalid_request"}
    assert json.loads(info.value.to_json())["error"]["metadata"]["kind"] == "incomplete_stream"


async def test_streamed_tool_calls_are_assembled_by_index(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": name,
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
        for name in ("get_weather", "get_time")
    ]
    fragments = 0
    result = None
    async for delta in client.stream(
        "GPT-4.1", "call get_weather and get_time with city=Paris", tools=tools
    ):
        fragments += len(delta.tool_calls)
        result = delta.result or result
    assert result is not None
    assert result.finish_reason == "tool_calls"
    assert fragments > len(result.tool_calls)  # arguments really arrived in pieces
    assert [c.name for c in result.tool_calls] == ["get_weather", "get_time"]
    assert all(c.parsed_arguments()["city"] == "Paris" for c in result.tool_calls)
    assert len({c.id for c in result.tool_calls}) == 2


async def test_tool_calls_without_streaming(client: AsyncPoeClient) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    result = await client.chat(
        "GPT-4.1", "please lookup", tools=[tool], tool_choice="auto", parallel_tool_calls=False
    )
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls[0].name == "lookup"
    assert result.tool_calls[0].to_openai()["type"] == "function"
