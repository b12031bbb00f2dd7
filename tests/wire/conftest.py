"""Fixtures for the wire tests: the simulator, stand-in upstreams, clients, an MCP server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from poe_mcp import AsyncPoeClient
from poe_mcp.backends._optional import forget_rejections
from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .standin import StandIn, serve

KEY = "test-wire-key-5e2c"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time in a zone.",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string"}},
            "required": ["zone"],
        },
    },
}
TWO_CALLS = "get_weather city=Paris, then get_time zone=Rome"


@pytest.fixture(autouse=True)
def _isolated(poe_home: Path) -> Iterator[None]:
    """Own data/config dirs; no optional field remembered from another test."""
    forget_rejections()
    yield
    forget_rejections()


@pytest.fixture
def standin() -> Iterator[StandIn]:
    yield from serve(StandIn())


def chat_calls(sim: Simulator) -> list[dict[str, Any]]:
    """REST chat requests the simulator received."""
    return [r for r in sim.requests() if r["path"] == "/v1/chat/completions"]


def bot_queries(sim: Simulator) -> list[dict[str, Any]]:
    """Bot-protocol queries (fastapi_poe's error reports to the bot are not queries)."""
    return [
        r
        for r in sim.requests()
        if str(r["path"]).startswith("/bot/") and (r["body"] or {}).get("type") == "query"
    ]


def upstream_calls(sim: Simulator, backend: str) -> list[dict[str, Any]]:
    return chat_calls(sim) if backend == "openai" else bot_queries(sim)


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., AsyncPoeClient]]:
    """Clients against any base URL (closed at the end of the test)."""
    made: list[AsyncPoeClient] = []

    def make(base_url: str, **options: Any) -> AsyncPoeClient:
        options.setdefault("store", False)
        options.setdefault("rpm", 0)
        client = AsyncPoeClient(KEY, base_url=base_url, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[..., Any]]:
    """MCP servers (in memory) over a runtime against any base URL."""
    made: list[ServerRuntime] = []

    def make(base_url: str, **settings: Any) -> Any:
        cfg = Settings.load(store="memory://", base_url=base_url, **settings)
        runtime = ServerRuntime(cfg, api_key=KEY, simulated=True, tools=available_tools())
        made.append(runtime)
        return build_server(runtime)

    yield make
    for runtime in made:
        await runtime.aclose()


def error_json(result: Any) -> dict[str, Any]:
    """The OpenAI-format error JSON that ends every MCP tool error text."""
    assert result.is_error
    return dict(json.loads(result.content[0].text.rsplit("\n", 1)[-1])["error"])


async def drain(stream: AsyncIterator[Any], seen: list[str]) -> None:
    """Read a stream to its end, keeping the text the caller saw (also when it fails)."""
    async for delta in stream:
        seen.append(delta.text)


async def ask(client: Any, model: str, prompt: str, *, streamed: bool, **options: Any) -> Any:
    """The result of one call, streamed or not."""
    if streamed:
        return (await collect(client.stream(model, prompt, **options)))[1]
    return await client.chat(model, prompt, **options)


async def collect(stream: AsyncIterator[Any]) -> tuple[list[Any], Any]:
    """Every delta of a stream, and the result of its last one."""
    deltas = [d async for d in stream]
    return deltas, deltas[-1].result


def weather_tools(weather: str, time: str) -> list[Any]:
    """``get_weather`` and ``get_time`` as agent tools answering "<weather> in <city>" and
    "<time> in <zone>" (what TWO_CALLS asks for)."""
    from poe_mcp import tool

    @tool
    def get_weather(city: str) -> str:
        """Weather.

        Args:
            city: the city.
        """
        return f"{weather} in {city}"

    @tool
    def get_time(zone: str) -> str:
        """Time.

        Args:
            zone: the zone.
        """
        return f"{time} in {zone}"

    return [get_weather, get_time]
