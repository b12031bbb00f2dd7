"""``ask_poe_v2`` with ``response_format`` and ``stream_options`` over MCP (in-memory client)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from mcp import Client

from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .conftest import KEY, WEATHER, WEATHER_FORMAT, model_calls


@pytest.fixture
async def server(simulator: Simulator) -> Any:
    settings = Settings.load(store="memory://", base_url=simulator.base_url)
    runtime = ServerRuntime(settings, api_key=KEY, simulated=True, tools=available_tools())
    yield build_server(runtime)
    await runtime.aclose()


def _error(result: Any) -> dict[str, Any]:
    assert result.is_error
    text = result.content[0].text
    return dict(json.loads(text[text.index("{") :])["error"])


Call = Callable[..., Any]


async def _ask(server: Any, **arguments: Any) -> Any:
    async with Client(server) as client:
        return await client.call_tool("ask_poe_v2", {"prompt": "Weather in Lisbon?", **arguments})


async def test_tool_schema_declares_both_parameters(server: Any) -> None:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    props = tools["ask_poe_v2"].input_schema["properties"]
    assert "response_format" in props
    assert "stream_options" in props


@pytest.mark.parametrize(("bot", "path"), [("GPT-4.1", "/v1/responses"),
                                           ("Gemini-2.5-Pro", "/v1/chat/completions")])  # fmt: skip
async def test_response_format_gives_validated_json(
    server: Any, simulator: Simulator, bot: str, path: str
) -> None:
    result = await _ask(server, bot=bot, response_format=WEATHER_FORMAT)
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    jsonschema.validate(data["parsed"], WEATHER)
    assert json.loads(data["text"]) == data["parsed"]
    assert result.content[0].text.startswith(data["text"])  # the JSON is what the model reads
    assert [c["path"] for c in model_calls(simulator)] == [path]


async def test_streamed_call_with_response_format(server: Any, simulator: Simulator) -> None:
    result = await _ask(server, bot="GPT-4.1", stream=True, response_format={"type": "json_object"})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["parsed"]["you_said"] == "Weather in Lisbon?"


async def test_repair_round_over_mcp(server: Any, simulator: Simulator) -> None:
    simulator.add_fault("invalid_json")
    result = await _ask(server, bot="GPT-4.1", response_format=WEATHER_FORMAT)
    assert not result.is_error, result.content[0].text
    jsonschema.validate(result.structured_content["parsed"], WEATHER)
    assert len(model_calls(simulator)) == 2


async def test_always_invalid_is_an_invalid_response_tool_error(
    server: Any, simulator: Simulator
) -> None:
    simulator.add_fault("invalid_json", times=0)
    result = await _ask(server, bot="Gemini-2.5-Pro", response_format=WEATHER_FORMAT)
    error = _error(result)
    assert error["metadata"]["kind"] == "invalid_response"
    assert "not valid JSON" in error["message"]
    assert len(model_calls(simulator)) == 2


async def test_bad_response_format_is_a_tool_error_before_sending(
    server: Any, simulator: Simulator
) -> None:
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nonsense"}}}
    result = await _ask(server, bot="GPT-4.1", response_format=bad)
    error = _error(result)
    assert error["metadata"]["kind"] == "invalid_request"
    assert "not a valid JSON Schema" in error["message"]
    assert model_calls(simulator) == []


async def test_stream_options_include_usage_takes_effect(server: Any, simulator: Simulator) -> None:
    kept = await _ask(server, bot="GPT-4.1", stream=True)
    dropped = await _ask(
        server, bot="GPT-4.1", stream=True, stream_options={"include_usage": False}
    )
    assert kept.structured_content["usage"]["estimated"] is False
    assert dropped.structured_content["usage"]["estimated"] is True
    sent = [c["body"]["stream_options"] for c in model_calls(simulator)]
    assert sent == [{"include_usage": True}, {"include_usage": False}]


async def test_stream_options_without_stream_is_refused(server: Any, simulator: Simulator) -> None:
    result = await _ask(server, bot="GPT-4.1", stream_options={"include_usage": True})
    error = _error(result)
    assert error["metadata"]["kind"] == "invalid_request"
    assert "stream=true" in error["message"]
    assert model_calls(simulator) == []
