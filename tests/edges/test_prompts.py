"""MCP beyond tools: prompts built on the tools, and what resources/list offers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client

from poe_mcp.server.registry import select_tools
from poe_mcp.simulator import Simulator

MODES = ["auto", "legacy"]


@pytest.mark.parametrize("mode", MODES)
async def test_prompts_are_listed_with_arguments(
    simulator: Simulator, make_server: Callable[..., Any], mode: str
) -> None:
    async with Client(make_server(simulator.base_url), mode=mode) as mcp:
        prompts = {p.name: p for p in (await mcp.list_prompts()).prompts}
        resources = {str(r.uri) for r in (await mcp.list_resources()).resources}
    assert set(prompts) == {"second_opinion", "model_comparison", "review_diff"}
    args = {name: {a.name: a.required for a in p.arguments or []} for name, p in prompts.items()}
    assert args["second_opinion"] == {"question": True, "model": False}
    assert args["model_comparison"] == {"prompt": True, "models": True}
    assert args["review_diff"] == {"diff": True, "model": False, "focus": False}
    for prompt in prompts.values():
        assert prompt.description
        assert prompt.title
        assert all(a.description for a in prompt.arguments or [])
    assert "poe://models" in resources


async def test_prompts_fill_their_arguments_and_name_the_tools(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"
    async with Client(make_server(simulator.base_url)) as mcp:
        opinion = await mcp.get_prompt(
            "second_opinion", {"question": "Is P = NP?", "model": "Gemini-2.5-Pro"}
        )
        compared = await mcp.get_prompt(
            "model_comparison", {"prompt": "Explain TCP", "models": "Claude-Sonnet-4, GPT-4.1"}
        )
        review = await mcp.get_prompt("review_diff", {"diff": diff, "focus": "security"})
        # the default model comes from the settings
        default = await mcp.get_prompt("second_opinion", {"question": "why?"})
    text = opinion.messages[0].content.text
    assert opinion.messages[0].role == "user"
    assert "Is P = NP?" in text
    assert "'Gemini-2.5-Pro'" in text
    assert "ask_poe_v2" in text
    text = compared.messages[0].content.text
    assert "Explain TCP" in text
    assert "Claude-Sonnet-4, GPT-4.1" in text
    text = review.messages[0].content.text
    assert f"```diff\n{diff}\n```" in text
    assert "security" in text
    assert "bot=" in default.messages[0].content.text


async def test_prompts_follow_the_exposed_tools(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    async with Client(make_server(simulator.base_url, tools=select_tools("ask_poe"))) as mcp:
        only_ask = (await mcp.get_prompt("second_opinion", {"question": "q"})).messages
    async with Client(make_server(simulator.base_url, tools=select_tools("sessions"))) as mcp:
        none = (await mcp.list_prompts()).prompts
    assert "ask_poe tool" in only_ask[0].content.text
    assert none == []  # no chat tool: no prompt would work
