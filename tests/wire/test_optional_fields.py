"""Kind 7: optional request fields a provider refuses.

``stream_options`` (which we add to every streamed request) and the agent's
``parallel_tool_calls: true`` are dropped, and the request sent once more, when the provider's
refusal names them; the refusal is remembered per base URL. The ``stream_options`` setting
(``POE_MCP_STREAM_OPTIONS`` / ``stream_options`` in config.toml) is ``auto``, ``on`` or ``off``.
Without ``stream_options`` the usage comes from a final chunk if any, else it is estimated and
flagged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient, tool
from poe_mcp.cli import cli
from poe_mcp.errors import ConfigError, InvalidRequestError
from poe_mcp.simulator import Simulator

from .conftest import KEY, TWO_CALLS, chat_calls, collect, weather_tools
from .standin import StandIn, chunk


def _sent(sim: Simulator, field: str) -> list[bool]:
    return [field in (r["body"] or {}) for r in chat_calls(sim)]


@pytest.mark.parametrize("quirk", ["reject_stream_options", "reject_stream_options_422"])
async def test_a_refused_stream_options_is_dropped_once_and_remembered(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], quirk: str
) -> None:
    simulator.add_fault("quirk", quirks=[quirk], times=0)  # this provider, every request
    client = make_client(simulator.base_url)
    _, first = await collect(client.stream("GPT-4.1", "no options"))
    assert 'You said: "no options"' in first.text
    assert first.usage.estimated  # no usage chunk without stream_options: estimated, flagged
    assert _sent(simulator, "stream_options") == [True, False]
    assert [r["status"] for r in chat_calls(simulator)] == [400 if "422" not in quirk else 422, 200]

    # remembered for this base URL: later streams (any client in the process) leave it out
    _, second = await collect(make_client(simulator.base_url).stream("GPT-4.1", "again"))
    assert 'You said: "again"' in second.text
    assert _sent(simulator, "stream_options") == [True, False, False]


async def test_usage_still_comes_from_a_final_chunk_when_the_provider_sends_one(
    simulator: Simulator,
    make_client: Callable[..., AsyncPoeClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POE_MCP_STREAM_OPTIONS", "on")
    _, result = await collect(make_client(simulator.base_url).stream("GPT-4.1", "count"))
    assert not result.usage.estimated
    assert _sent(simulator, "stream_options") == [True]


@pytest.mark.parametrize("where", ["env", "config"])
async def test_the_setting_off_never_sends_it(
    simulator: Simulator,
    make_client: Callable[..., AsyncPoeClient],
    monkeypatch: pytest.MonkeyPatch,
    poe_home: Path,
    where: str,
) -> None:
    if where == "env":
        monkeypatch.setenv("POE_MCP_STREAM_OPTIONS", "off")
    else:
        config = poe_home.parent / "config"
        config.mkdir(exist_ok=True)
        (config / "config.toml").write_text('stream_options = "off"\n')
    simulator.add_fault("quirk", quirks=["reject_stream_options"], times=0)
    _, result = await collect(make_client(simulator.base_url).stream("GPT-4.1", "quiet"))
    assert 'You said: "quiet"' in result.text
    assert result.usage.estimated
    assert _sent(simulator, "stream_options") == [False]


async def test_the_setting_on_keeps_it_and_reports_the_refusal(
    simulator: Simulator,
    make_client: Callable[..., AsyncPoeClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POE_MCP_STREAM_OPTIONS", "on")
    simulator.add_fault("quirk", quirks=["reject_stream_options"], times=0)
    with pytest.raises(InvalidRequestError, match="stream_options: Extra inputs are not permitted"):
        await collect(make_client(simulator.base_url).stream("GPT-4.1", "strict"))
    assert _sent(simulator, "stream_options") == [True]


async def test_a_bad_setting_is_a_config_error(
    simulator: Simulator,
    make_client: Callable[..., AsyncPoeClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POE_MCP_STREAM_OPTIONS", "sometimes")
    with pytest.raises(ConfigError, match="auto, on or off"):
        await collect(make_client(simulator.base_url).stream("GPT-4.1", "x"))
    assert chat_calls(simulator) == []


@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_s_parallel_tool_calls_default_is_dropped_when_refused(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    tools = weather_tools("hail", "midnight")
    simulator.add_fault("quirk", quirks=["reject_parallel_tool_calls"], times=0)
    agent = Agent(make_client(simulator.base_url), "GPT-4.1", tools=tools, stream=streamed)
    result = await agent.run(TWO_CALLS)
    assert [t.result for t in result.trace] == ["hail in Paris", "midnight in Rome"]
    assert _sent(simulator, "parallel_tool_calls") == [True, False, False]


async def test_a_value_the_caller_chose_is_never_dropped(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient]
) -> None:
    @tool
    def get_weather(city: str) -> str:
        """Weather.

        Args:
            city: the city.
        """
        return city

    simulator.add_fault("quirk", quirks=["reject_parallel_tool_calls"], times=0)
    agent = Agent(make_client(simulator.base_url), "GPT-4.1", tools=[get_weather], parallel=False)
    with pytest.raises(InvalidRequestError, match="parallel_tool_calls"):
        await agent.run("get_weather city=Bern")
    assert _sent(simulator, "parallel_tool_calls") == [True]  # false was sent, refused, reported


async def test_ask_poe_v2_streams_through_a_provider_that_refuses_stream_options(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    simulator.add_fault("quirk", quirks=["reject_stream_options_422"], times=0)
    async with Client(make_server(simulator.base_url)) as mcp:
        result = await mcp.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "via mcp", "stream": True}
        )
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert 'You said: "via mcp"' in data["text"]
    assert data["usage"]["estimated"] is True
    assert "(estimated)" in result.content[0].text
    assert _sent(simulator, "stream_options") == [True, False]


def test_the_cli_streams_through_a_provider_that_refuses_stream_options(
    simulator: Simulator,
) -> None:
    simulator.add_fault("quirk", quirks=["reject_stream_options"], times=0)
    result = CliRunner().invoke(
        cli,
        ["chat", "-m", "GPT-4.1", "from the shell", "--stream", "--base-url", simulator.base_url],
        env={"POE_API_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    assert 'You said: "from the shell"' in result.stdout
    assert _sent(simulator, "stream_options") == [True, False]


async def test_two_refused_fields_are_dropped_one_after_the_other(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient]
) -> None:
    @tool
    def get_weather(city: str) -> str:
        """Weather.

        Args:
            city: the city.
        """
        return f"snow in {city}"

    simulator.add_fault(
        "quirk", quirks=["reject_stream_options", "reject_parallel_tool_calls"], times=0
    )
    agent = Agent(make_client(simulator.base_url), "GPT-4.1", tools=[get_weather], stream=True)
    result = await agent.run("get_weather city=Graz")
    assert [t.result for t in result.trace] == ["snow in Graz"]
    assert _sent(simulator, "stream_options") == [True, False, False, False]
    assert _sent(simulator, "parallel_tool_calls") == [True, True, False, False]


async def test_a_refusal_that_names_the_field_only_in_param(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    refusal = {"error": {"message": "Unsupported parameter.", "type": "invalid_request_error",
                         "param": "stream_options", "code": "unsupported_parameter"}}  # fmt: skip
    standin.answer(json.dumps(refusal), status=400, content_type="application/json")
    standin.sse(chunk("fine"), chunk(finish="stop"))
    _, result = await collect(make_client(standin.base_url).stream("m", "hi"))
    assert result.text == "fine"
    assert ["stream_options" in (r["body"] or {}) for r in standin.calls()] == [True, False]
