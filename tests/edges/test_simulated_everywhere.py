"""``simulated`` is true on every result that came from a simulator, reached by ``--simulate``
or by URL: REST, bot protocol, streams, media, agents; MCP structured content and text marks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client

from poe_mcp import Agent, tool
from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator

from .conftest import PlainProvider, run_cli

MARK = "SIMULATED"


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city name.
    """
    return f"sunny in {city}"


def test_every_simulator_answer_is_marked(simulator: Simulator) -> None:
    base = simulator.url
    for path in ("/v1/models", "/v1/models/GPT-4.1", "/v1/nothing-here"):
        assert httpx2.get(base + path).headers["x-poe-simulator"] == "1"


@pytest.mark.parametrize("backend", ["openai", "legacy"])
async def test_library_results_reached_by_url(simulator: Simulator, backend: str) -> None:
    async with AsyncPoeClient(
        "sim-url-key", base_url=simulator.base_url, store=False, rpm=0
    ) as client:  # no --simulate anywhere: only the URL points at the simulator
        chat = await client.chat("GPT-4.1", "hello", backend=backend)
        last = None
        async for delta in client.stream("GPT-4.1", "hello", backend=backend):
            last = delta.result or last
        agent = Agent(client, "GPT-4.1", tools=[get_weather], options={"backend": backend})
        run = await agent.run("get_weather city=Lisbon")
    assert chat.simulated is True
    assert last is not None
    assert last.simulated is True
    assert run.trace
    assert run.trace[0].name == "get_weather"
    assert run.simulated is True
    assert run.to_dict()["simulated"] is True


async def test_media_reached_by_url(simulator: Simulator, tmp_path: Path) -> None:
    async with AsyncPoeClient(
        "sim-url-key", base_url=simulator.base_url, store=False, rpm=0
    ) as client:
        image = await client.generate_image("a fox", output_dir=tmp_path)
    assert image.simulated is True


def test_cli_media_reached_by_url(simulator: Simulator, tmp_path: Path) -> None:
    out = run_cli(
        "image", "a fox", "--json", "-q", "-o", str(tmp_path), "--base-url", simulator.base_url,
        env={"POE_API_KEY": "sim-url-key"},
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["simulated"] is True


def _check(result: Any) -> None:
    assert not result.is_error, result.content
    assert result.structured_content["simulated"] is True
    assert MARK in result.content[0].text
    assert result.meta["poe-mcp/simulated"] is True


async def test_mcp_results_reached_by_url(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    server = make_server(simulator.base_url, simulated=False)  # a real-looking config
    async with Client(server) as mcp:
        for name, args in [
            ("ask_poe", {"bot": "GPT-4.1", "prompt": "bot protocol"}),
            ("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "rest"}),
            ("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "streamed", "stream": True}),
            ("generate_image", {"prompt": "a fox"}),
            (
                "ask_poe_with_tools",
                {
                    "bot": "GPT-4.1",
                    "prompt": "call lookup",
                    "tools": [{"type": "function", "function": {"name": "lookup",
                                                                "parameters": {"type": "object"}}}],
                },
            ),
        ]:  # fmt: skip
            _check(await mcp.call_tool(name, args))


async def test_real_answers_are_not_marked(make_server: Callable[..., Any]) -> None:
    """A provider that does not send the simulator's header: nothing is marked."""
    with PlainProvider() as provider:
        async with AsyncPoeClient(
            "real-key", provider="compatible", base_url=provider.base_url, store=False, rpm=0
        ) as client:
            result = await client.chat("plain-model", "hi")
        async with Client(make_server(provider.base_url, provider="compatible")) as mcp:
            answer = await mcp.call_tool("ask_poe_v2", {"bot": "plain-model", "prompt": "hi"})
    assert result.simulated is False
    assert answer.structured_content["simulated"] is False
    assert MARK not in answer.content[0].text
