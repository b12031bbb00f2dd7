"""Kind 8: capabilities are yes / no / unknown; only a stated no refuses.

A ``/v1/models`` item without ``supported_features`` (OpenAI, Ollama, vLLM, LM Studio, llama.cpp)
says nothing about tools: the agent and ``ask_poe_with_tools`` send the request and let the
provider answer. Lists that state capabilities are read: Poe's ``supported_features``,
OpenRouter's ``supported_parameters``, ``capabilities`` (Ollama, LM Studio).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient, tool
from poe_mcp.catalog import ModelInfo
from poe_mcp.cli import cli
from poe_mcp.errors import InvalidRequestError
from poe_mcp.simulator import Simulator

from .conftest import KEY, WEATHER, chat_calls, error_json
from .standin import StandIn, chunk, completion

PLAIN = "Local-Llama-3.1"  # listed as {id, object, created, owned_by} only
NO_TOOLS = "Llama-3.1-405B"  # Poe's list states its features, without tools


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city.
    """
    return f"mild in {city}"


@pytest.mark.parametrize(
    ("item", "tools"),
    [
        ({"id": "gpt-x", "object": "model", "created": 1, "owned_by": "openai"}, None),
        ({"id": "llama3.1:8b", "object": "model", "owned_by": "library"}, None),
        ({"id": "m", "supported_features": ["streaming", "tools"]}, True),
        ({"id": "m", "supported_features": ["streaming"]}, False),
        ({"id": "m", "supported_parameters": ["temperature", "tools", "tool_choice"]}, True),
        ({"id": "m", "supported_parameters": ["temperature", "top_p"]}, False),
        ({"id": "m", "capabilities": ["completion", "tools"]}, True),
        ({"id": "m", "capabilities": ["completion", "vision"]}, False),
        ({"id": "m", "capabilities": ["tool_use"]}, True),
        ({"id": "m", "capabilities": {"function_calling": False}}, False),
        ({"id": "m", "capabilities": {"vision": True}}, None),
    ],
    ids=["openai-plain", "ollama-plain", "poe-yes", "poe-no", "openrouter-yes", "openrouter-no",
         "ollama-caps-yes", "ollama-caps-no", "lmstudio-tool-use", "caps-dict-no",
         "caps-dict-silent"],
)  # fmt: skip
def test_every_listing_shape_gives_yes_no_or_unknown(
    item: dict[str, Any], tools: bool | None
) -> None:
    info = ModelInfo.from_api(item, provider="compatible")
    assert info.supports_tools is tools
    assert info.capability("tools") == {True: "yes", False: "no", None: "unknown"}[tools]
    assert info.to_dict()["capabilities"]["tools"] == info.capability("tools")


async def test_the_simulators_catalog_has_all_three(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient]
) -> None:
    catalog = make_client(simulator.base_url).catalog
    assert catalog is not None
    assert (await catalog.get("GPT-4.1")).capability("tools") == "yes"
    assert (await catalog.get(NO_TOOLS)).capability("tools") == "no"
    plain = await catalog.get(PLAIN)
    assert plain.capability("tools") == "unknown"
    assert set(plain.raw) == {"id", "object", "created", "owned_by"}


@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_runs_a_model_whose_capabilities_are_unknown(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    agent = Agent(make_client(simulator.base_url), PLAIN, tools=[get_weather], stream=streamed)
    result = await agent.run("get_weather city=Turin")
    assert [t.result for t in result.trace] == ["mild in Turin"]
    assert 'get_weather -> "mild in Turin"' in result.text
    assert len(chat_calls(simulator)) == 2


@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_refuses_a_stated_no_before_sending(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    agent = Agent(make_client(simulator.base_url), NO_TOOLS, tools=[get_weather], stream=streamed)
    with pytest.raises(InvalidRequestError, match="does not support tools"):
        await agent.run("get_weather city=Turin")
    assert chat_calls(simulator) == []


async def test_a_compatible_server_with_a_plain_list_runs_an_agent(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    standin.models = [{"id": "qwen2.5-7b", "object": "model", "created": 1, "owned_by": "vllm"}]
    call = {"id": "c1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Bari"}'}}  # fmt: skip
    standin.answer(
        json.dumps(completion({"role": "assistant", "content": None, "tool_calls": [call]},
                              "tool_calls")), content_type="application/json")  # fmt: skip
    standin.sse(chunk("It is mild in Bari."), chunk(finish="stop"))
    client = make_client(standin.base_url, provider="compatible", catalog=None)
    result = await Agent(client, "qwen2.5-7b", tools=[get_weather]).run("weather in Bari?")
    assert result.text == "It is mild in Bari."  # (that server answered as a stream)
    assert [t.result for t in result.trace] == ["mild in Bari"]
    assert [r["path"] for r in standin.calls()] == ["/v1/chat/completions"] * 2


async def test_openrouter_s_stated_no_refuses(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    standin.models = [{"id": "tiny", "supported_parameters": ["temperature", "top_p"]}]
    client = make_client(standin.base_url, provider="compatible", catalog=None)
    with pytest.raises(InvalidRequestError, match="does not support tools"):
        await Agent(client, "tiny", tools=[get_weather]).run("weather?")
    assert standin.calls() == []


async def test_ask_poe_with_tools_over_mcp(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    async with Client(make_server(simulator.base_url)) as mcp:
        unknown = await mcp.call_tool(
            "ask_poe_with_tools",
            {"bot": PLAIN, "prompt": "get_weather city=Pisa", "tools": [WEATHER]},
        )
        refused = await mcp.call_tool(
            "ask_poe_with_tools",
            {"bot": NO_TOOLS, "prompt": "get_weather city=Pisa", "tools": [WEATHER]},
        )
    assert not unknown.is_error, unknown.content[0].text
    (pending,) = unknown.structured_content["pending_tool_calls"]
    assert (pending["name"], pending["arguments"]) == ("get_weather", {"city": "Pisa"})
    assert error_json(refused)["metadata"]["kind"] == "invalid_request"
    assert [r["model"] for r in chat_calls(simulator)] == [PLAIN]  # the refusal sent nothing


def test_the_cli_shows_unknown_as_unknown(simulator: Simulator) -> None:
    result = CliRunner().invoke(
        cli,
        ["models", "--search", "llama", "--json", "--base-url", simulator.base_url],
        env={"POE_API_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    found = {m["id"]: m for m in json.loads(result.stdout)["models"]}
    assert found[PLAIN]["supports_tools"] is None
    assert found[PLAIN]["capabilities"]["tools"] == "unknown"
    assert found[NO_TOOLS]["capabilities"]["tools"] == "no"
