"""Kind 6: how streams end in the field.

A clean ``[DONE]`` without any finish reason is a finished answer (``stop``, flagged inferred);
``finish_reason: ""`` on intermediate chunks means nothing; a usage chunk may have
``choices: []``; a stream that ends without ``[DONE]`` but with a finish reason is whole; one
that just stops keeps its partial text in the error and in the MCP tool result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient
from poe_mcp.cli import cli
from poe_mcp.errors import IncompleteStreamError
from poe_mcp.simulator import Simulator

from .conftest import KEY, WEATHER, chat_calls, collect, drain, error_json
from .standin import StandIn, chunk


@pytest.mark.parametrize("quirk", ["no_finish_reason", "empty_finish_reason", "no_done"])
async def test_streams_that_end_cleanly_are_finished_answers(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], quirk: str
) -> None:
    client = make_client(simulator.base_url)
    plain = await client.chat("GPT-4.1", "end well")
    simulator.clear_requests()
    simulator.add_fault("quirk", quirks=[quirk])
    _, result = await collect(client.stream("GPT-4.1", "end well"))
    assert result.text == plain.text
    assert result.finish_reason == "stop"
    assert result.finish_inferred is (quirk == "no_finish_reason")
    assert not result.usage.estimated  # the usage chunk (choices: []) was read
    assert len(chat_calls(simulator)) == 1


async def test_done_without_finish_reason_after_tool_calls_infers_tool_calls(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    call = {"index": 0, "id": "c1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}  # fmt: skip
    standin.sse(chunk(None, tool_calls=[call]), {"id": "x", "choices": [], "usage": None})
    _, result = await collect(make_client(standin.base_url).stream("m", "hi", tools=[WEATHER]))
    assert (result.finish_reason, result.finish_inferred) == ("tool_calls", True)
    assert [c.name for c in result.tool_calls] == ["get_weather"]


@pytest.mark.parametrize("backend", ["openai", "legacy"])
async def test_a_stream_that_just_stops_keeps_its_partial_text(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], backend: str
) -> None:
    if backend == "openai":
        simulator.add_fault("quirk", quirks=["no_done_no_finish"])
    else:
        simulator.add_fault("cut", after_chunks=3)
    seen: list[str] = []
    with pytest.raises(IncompleteStreamError) as info:
        await drain(make_client(simulator.base_url, backend=backend).stream("GPT-4.1", "hi"), seen)
    assert "".join(seen)
    assert info.value.partial_text == "".join(seen)
    assert info.value.to_dict()["error"]["metadata"]["partial_text"] == "".join(seen)


@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_accepts_a_stream_without_finish_reason(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    simulator.add_fault("quirk", quirks=["no_finish_reason"], times=2)
    agent = Agent(make_client(simulator.base_url), "GPT-4.1", stream=streamed)
    result = await agent.run("just answer")
    assert 'You said: "just answer"' in result.text
    assert result.stopped_reason == "final"
    assert result.stream_fallbacks == 0  # no second request without streaming
    assert len(chat_calls(simulator)) == 1


async def test_over_mcp_the_answer_is_accepted_and_the_turn_stored(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    simulator.add_fault("quirk", quirks=["no_finish_reason"])
    async with Client(make_server(simulator.base_url)) as mcp:
        first = await mcp.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "remember me", "stream": True}
        )
        assert not first.is_error, first.content[0].text
        data = first.structured_content
        assert data["finish_reason"] == "stop"
        assert 'You said: "remember me"' in data["text"]
        second = await mcp.call_tool(
            "ask_poe_v2",
            {"bot": "GPT-4.1", "prompt": "and now?", "session_id": data["session_id"]},
        )
    # the first turn was stored: the second request carried it (user, assistant, user)
    assert "received 3 messages" in second.structured_content["text"]
    assert len(chat_calls(simulator)) == 2


async def test_over_mcp_a_broken_stream_keeps_the_partial_text_in_the_tool_result(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    simulator.add_fault("quirk", quirks=["no_done_no_finish"])
    async with Client(make_server(simulator.base_url)) as mcp:
        result = await mcp.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "cut me off", "stream": True}
        )
    error = error_json(result)
    assert error["metadata"]["kind"] == "incomplete_stream"
    assert 'You said: "cut me off"' in error["metadata"]["partial_text"]
    assert len(chat_calls(simulator)) == 1


def test_the_cli_prints_an_answer_whose_stream_had_no_finish_reason(simulator: Simulator) -> None:
    simulator.add_fault("quirk", quirks=["no_finish_reason"])
    result = CliRunner().invoke(
        cli,
        ["chat", "-m", "GPT-4.1", "no finish", "--stream", "--base-url", simulator.base_url],
        env={"POE_API_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    assert 'You said: "no finish"' in result.stdout
    assert len(chat_calls(simulator)) == 1
