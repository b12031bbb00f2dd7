"""Kind 1: SSE read as the WHATWG spec says, on both backends.

A line ends only at ``\\n``, ``\\r\\n`` or ``\\r``; JSON strings may hold U+2028, U+2029 and U+0085
raw; comments, ``event:``/``id:``/``retry:`` lines, keep-alives, ``data: : keepalive`` and
multi-line ``data`` all occur in the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient, tool
from poe_mcp.cli import cli
from poe_mcp.simulator import SEPARATORS, Simulator

from .conftest import KEY, WEATHER, chat_calls, collect, upstream_calls
from .standin import StandIn, chunk

RAW = "one\u2028two\u2029three\u0085four"  # each splits a line for str.splitlines()
FRAMINGS = ["crlf", "cr", "sse_fields", "comments", "keepalives", "multiline_data"]


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
async def test_raw_separators_inside_json_strings_keep_the_answer(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], end: str
) -> None:
    standin.sse(chunk(RAW[:9]), chunk(RAW[9:]), chunk(finish="stop"), end=end)
    client = make_client(standin.base_url)
    deltas, result = await collect(client.stream("m", "hi"))
    assert result.text == RAW
    assert "".join(d.text for d in deltas) == RAW
    assert result.finish_reason == "stop"
    assert len(standin.calls()) == 1  # read once, never retried


async def test_comments_fields_keepalives_and_multiline_data_are_read_as_the_spec_says(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    first = json.dumps(chunk("Hello, "), ensure_ascii=False)
    cut = first.index(",") + 1
    body = (
        "retry: 3000\r\n"
        ": this is a comment\r\n\r\n"
        f"id: 1\nevent: message\ndata: {first[:cut]}\ndata: {first[cut:]}\n\n"
        "data: : keepalive\n\n"
        "data:\n\n"
        ": keep-alive\r\r"
        f"data: {json.dumps(chunk('wor'))}\r\r"
        f"data:{json.dumps(chunk('ld' + RAW[3]))}\r\n\r\n"
        f"data: {json.dumps(chunk(finish='stop'))}\n\n"
        "data: [DONE]\n\n"
    )
    standin.answer(body)
    _, streamed = await collect(make_client(standin.base_url).stream("m", "hi"))
    assert streamed.text == "Hello, world\u2028"
    assert streamed.finish_reason == "stop"
    # the same bytes answering a request that did not stream (a server that always streams)
    standin.answer(body)
    whole = await make_client(standin.base_url).chat("m", "hi")
    assert (whole.text, whole.finish_reason) == (streamed.text, "stop")
    assert len(standin.calls()) == 2


async def test_a_leading_byte_order_mark_is_ignored(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    events = [f"data: {json.dumps(chunk('with BOM'))}\n\n", "data: [DONE]\n\n"]
    standin.answer(["\ufeff".encode() + events[0].encode(), events[1].encode()])
    _, result = await collect(make_client(standin.base_url).stream("m", "hi"))
    assert (result.text, result.finish_reason) == ("with BOM", "stop")


async def test_the_bot_protocol_reads_raw_separators_crlf_and_comments(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    events = [
        'event: meta\r\ndata: {"content_type": "text/markdown"}\r\n\r\n',
        ": ping from a proxy\r\n\r\n",
        f'event: text\r\ndata: {{"text": "{RAW[:9]}"}}\r\n\r\n',
        f'event: text\rdata: {{"text": "{RAW[9:]}"}}\r\r',
        "event: done\ndata: {}\n\n",
    ]
    standin.answer([e.encode() for e in events])
    client = make_client(standin.base_url, backend="legacy")
    _deltas, result = await collect(client.stream("MyBot", "hi"))
    assert result.text == RAW
    assert [r["path"] for r in standin.calls()] == ["/bot/MyBot"]


@pytest.mark.parametrize("quirk", [*FRAMINGS, "unicode_separators"])
@pytest.mark.parametrize("streamed", [True, False])
async def test_simulated_framings_through_the_library(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], quirk: str, streamed: bool
) -> None:
    client = make_client(simulator.base_url)
    plain = await client.chat("GPT-4.1", "frame me")
    simulator.clear_requests()
    simulator.add_fault("quirk", quirks=[quirk])
    if streamed:
        _, result = await collect(client.stream("GPT-4.1", "frame me"))
    else:
        result = await client.chat("GPT-4.1", "frame me")
    expected = plain.text + (SEPARATORS if quirk == "unicode_separators" else "")
    assert result.text == expected
    assert result.finish_reason == "stop"
    assert not result.usage.estimated  # the usage chunk was read too
    assert len(chat_calls(simulator)) == 1


@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_reads_every_framing_at_once(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    @tool
    def get_weather(city: str) -> str:
        """The weather in a city.

        Args:
            city: the city.
        """
        return f"sunny in {city}\u2028(really)"

    noisy = ["crlf", "comments", "keepalives", "multiline_data", "unicode_separators"]
    simulator.add_fault("quirk", quirks=noisy, times=2)
    agent = Agent(make_client(simulator.base_url), "GPT-4.1", tools=[get_weather], stream=streamed)
    result = await agent.run("get_weather city=Oslo")
    assert [(t.name, t.arguments) for t in result.trace] == [("get_weather", '{"city": "Oslo"}')]
    assert 'get_weather -> "sunny in Oslo\u2028(really)"' in result.text
    assert result.text.endswith(SEPARATORS)
    assert result.turns == 2
    assert len(upstream_calls(simulator, "openai")) == 2


def test_the_cli_prints_an_answer_with_raw_separators(simulator: Simulator) -> None:
    simulator.add_fault("quirk", quirks=["unicode_separators", "crlf", "keepalives"])
    result = CliRunner().invoke(
        cli,
        ["chat", "-m", "GPT-4.1", "hello cli", "--stream", "--base-url", simulator.base_url],
        env={"POE_API_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    assert 'You said: "hello cli"' in result.stdout
    assert SEPARATORS.strip() in result.stdout
    assert len(chat_calls(simulator)) == 1


@pytest.mark.parametrize("stream", [True, False])
async def test_ask_poe_v2_over_mcp_reads_every_framing(
    simulator: Simulator, make_server: Callable[..., Any], stream: bool
) -> None:
    simulator.add_fault(
        "quirk", quirks=["cr", "sse_fields", "multiline_data", "unicode_separators"]
    )
    async with Client(make_server(simulator.base_url)) as mcp:
        result = await mcp.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "over mcp", "stream": stream}
        )
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["text"].endswith(SEPARATORS)
    assert data["finish_reason"] == "stop"
    assert len(chat_calls(simulator)) == 1


@pytest.mark.parametrize("quirk", FRAMINGS)
async def test_bot_protocol_tool_calls_survive_rest_framings_on_the_other_backend(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], quirk: str
) -> None:
    # the same quirk on the bot protocol changes nothing there (its framing is fastapi_poe's)
    simulator.add_fault("quirk", quirks=[quirk])
    client = make_client(simulator.base_url, backend="legacy")
    result = await client.chat("GPT-4.1", "get_weather city=Lima", tools=[WEATHER])
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("get_weather", '{"city": "Lima"}')
    ]
    assert len(upstream_calls(simulator, "legacy")) == 1
