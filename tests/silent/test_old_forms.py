"""Earlier servers' and OpenAI's forms: model aliases, prefixes, tool_results as a list."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import AsyncPoeClient, InvalidRequestError, NotFoundError
from poe_mcp.cli import cli
from poe_mcp.simulator import Simulator

from .conftest import error_of, sent, write_config

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


@pytest.mark.parametrize(
    ("short", "model"),
    [("claude", "Claude-Sonnet-4"), ("gpt", "GPT-4.1"), ("o3", "o3"),
     ("gemini", "Gemini-2.5-Pro"), ("GROK", "Grok-4")],
)  # fmt: skip
async def test_short_names_resolve_before_sending(
    simulator: Simulator, api_key: str, short: str, model: str
) -> None:
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        result = await client.chat(short, "hi")
    assert result.model == model
    assert [r["model"] for r in sent(simulator)] == [model]


async def test_user_aliases_and_provider_prefixes(simulator: Simulator, api_key: str) -> None:
    write_config('[aliases]\nfast = "GPT-4o-mini"\nsmart = "claude"\n')
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        fast = await client.chat("fast", "hi")
        smart = await client.chat("Smart", "hi")
        prefixed = await client.chat("anthropic/Claude-Sonnet-4", "hi")
        with pytest.raises(NotFoundError, match="made by Anthropic, not 'openai'"):
            await client.chat("openai/Claude-Sonnet-4", "hi")
    assert (fast.model, smart.model, prefixed.model) == (
        "GPT-4o-mini", "Claude-Sonnet-4", "Claude-Sonnet-4"
    )  # fmt: skip
    assert len(sent(simulator)) == 3  # the wrong prefix was refused unsent


async def test_a_prefix_the_catalog_cannot_check_is_refused(
    simulator: Simulator, api_key: str
) -> None:
    async with AsyncPoeClient(
        api_key, base_url=simulator.base_url, store=False, catalog=False
    ) as c:
        with pytest.raises(InvalidRequestError, match=r"bare name, e\.g\. 'Claude-Sonnet-4'"):
            await c.chat("anthropic/Claude-Sonnet-4", "hi")
    assert sent(simulator) == []


async def test_mcp_tools_take_short_names(server: Any, simulator: Simulator) -> None:
    async with Client(server) as client:
        asked = await client.call_tool("ask_poe", {"bot": "claude", "prompt": "hi"})
        image = await client.call_tool("generate_image", {"prompt": "a fox", "model": "image"})
    assert asked.structured_content["model"] == "Claude-Sonnet-4"
    assert image.structured_content["model"] == "GPT-Image-1"


def test_models_aliases_lists_built_in_and_config(simulator: Simulator, api_key: str) -> None:
    write_config('[aliases]\nfast = "GPT-4o-mini"\n')
    runner = CliRunner()
    out = runner.invoke(
        cli, ["models", "--aliases", "--json", "--base-url", simulator.base_url],
        env={"POE_API_KEY": api_key},
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    rows = {r["alias"]: r for r in json.loads(out.stdout)["aliases"]}
    assert rows["fast"] == {
        "alias": "fast", "model": "GPT-4o-mini", "source": "config", "candidates": [],
        "listed": True,
    }  # fmt: skip
    assert rows["claude"]["model"] == "Claude-Sonnet-4"
    assert rows["claude"]["source"] == "built-in"
    chat = runner.invoke(
        cli, ["chat", "-m", "fast", "hi", "--json", "--base-url", simulator.base_url],
        env={"POE_API_KEY": api_key},
    )  # fmt: skip
    assert json.loads(chat.stdout)["model"] == "GPT-4o-mini"


@pytest.mark.parametrize(
    "results",
    [
        lambda cid: {cid: "18 degrees and sunny"},
        lambda cid: [{"tool_call_id": cid, "content": "18 degrees and sunny"}],
        lambda cid: [{"role": "tool", "tool_call_id": cid, "content": "18 degrees and sunny"}],
    ],
)
async def test_tool_results_in_both_forms(server: Any, simulator: Simulator, results: Any) -> None:
    async with Client(server) as client:
        first = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": "GPT-4.1", "prompt": "use get_weather city=Lisbon", "tools": [WEATHER]},
        )
        pending = first.structured_content["pending_tool_calls"]
        sid = first.structured_content["session_id"]
        second = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": "GPT-4.1", "session_id": sid, "tool_results": results(pending[0]["id"])},
        )
        listed = await client.list_tools()
    assert not second.is_error, second.content[0].text
    assert second.structured_content["finish_reason"] == "stop"
    description = next(t for t in listed.tools if t.name == "ask_poe_with_tools").description
    assert "[{tool_call_id, content}]" in (description or "")


async def test_tool_results_list_without_ids_is_refused(server: Any) -> None:
    async with Client(server) as client:
        first = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": "GPT-4.1", "prompt": "use get_weather city=Rome", "tools": [WEATHER]},
        )
        bad = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": "GPT-4.1", "session_id": first.structured_content["session_id"],
             "tool_results": [{"content": "sunny"}]},
        )  # fmt: skip
    assert "tool_results[0] has no tool_call_id" in error_of(bad)["message"]


async def test_ask_poe_with_tools_takes_sampling_options(server: Any, simulator: Simulator) -> None:
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": "GPT-4.1", "prompt": "use get_weather city=Oslo", "tools": [WEATHER],
             "temperature": 0.2, "max_completion_tokens": 300},
        )  # fmt: skip
    assert not result.is_error, result.content[0].text
    (request,) = sent(simulator)
    assert (request["body"]["temperature"], request["body"]["max_tokens"]) == (0.2, 300)
