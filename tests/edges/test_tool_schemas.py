"""Tool definitions callers pass are checked as JSON Schema before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client

from poe_mcp import Agent
from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import InvalidRequestError
from poe_mcp.simulator import Simulator


def definition(parameters: Any, name: str = "lookup") -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


BAD = [
    ({"type": "nonsense"}, "tools[0].function.parameters.type"),
    (
        {"type": "object", "properties": {"city": {"type": "strin"}}},
        "tools[0].function.parameters.properties.city.type",
    ),
    ({"type": "object", "required": "city"}, "tools[0].function.parameters.required"),
    ({"type": "object", "properties": {"n": {"minimum": "ten"}}},
     "tools[0].function.parameters.properties.n.minimum"),
    ({"type": "array", "items": {"type": "string"}}, "tools[0].function.parameters.type"),
    ("not a schema", "tools[0].function.parameters"),
]  # fmt: skip


def model_calls(sim: Simulator) -> int:
    return len([r for r in sim.requests() if r["path"].endswith("/chat/completions")])


@pytest.mark.parametrize(("parameters", "path"), BAD)
async def test_library_chat_refuses_before_sending(
    simulator: Simulator, api_key: str, parameters: Any, path: str
) -> None:
    before = model_calls(simulator)
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as client:
        with pytest.raises(InvalidRequestError) as refused:
            await client.chat("GPT-4.1", "hi", tools=[definition(parameters)])
        with pytest.raises(InvalidRequestError):
            async for _ in client.stream("GPT-4.1", "hi", tools=[definition(parameters)]):
                pass
    assert refused.value.message.startswith(f"{path}:")
    assert refused.value.metadata["path"] == path
    assert model_calls(simulator) == before  # nothing reached the provider


async def test_agent_refuses_a_broken_definition(simulator: Simulator, api_key: str) -> None:
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as client:
        with pytest.raises(InvalidRequestError, match=r"parameters\.type: 'nonsense'"):
            Agent(client, "GPT-4.1", tools=[definition({"type": "nonsense"})])
        good = Agent(client, "GPT-4.1", tools=[definition({"type": "object"})])
        result = await good.run("please lookup")
    assert result.stopped_reason == "pending_tool_calls"


async def test_mcp_ask_with_tools_names_the_path(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    tools = [definition({"type": "object"}, "fine"), definition({"type": "nonsense"}, "broken")]
    async with Client(make_server(simulator.base_url, simulated=True)) as mcp:
        refused = await mcp.call_tool(
            "ask_poe_with_tools", {"bot": "GPT-4.1", "prompt": "x", "tools": tools}
        )
    assert refused.is_error
    text = refused.content[0].text
    assert "tools[1].function.parameters.type" in text
    error = json.loads(text[text.index("{") :])["error"]
    assert error["metadata"]["kind"] == "invalid_request"


def test_valid_schemas_of_any_draft_pass() -> None:
    from poe_mcp._tool_schemas import check_tool_definitions

    check_tool_definitions(
        [
            definition({"type": "object", "properties": {"q": {"type": ["string", "null"]}}}),
            definition(
                {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}},
                }
            ),
            {"type": "function", "function": {"name": "no_params"}},
        ]
    )
