"""Money prints one way everywhere, with enough digits to be non-zero: MCP text, CLI, budget
messages and Python reprs all use ``format_usd``."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from poe_mcp._money import format_usd
from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import QuotaError
from poe_mcp.simulator import Simulator

from .conftest import run_cli

# What the old fixed-decimal formats printed for a real but tiny cost.
ZEROS = re.compile(r"\$0\.0000(?!\d)|\$0\.000000(?!\d)")


async def test_mcp_text_shows_tiny_costs(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    async with Client(make_server(simulator.base_url, simulated=True)) as mcp:
        tiny = await mcp.call_tool(
            "ask_poe_v2", {"bot": "GPT-4o-mini", "prompt": "hi", "max_tokens": 1}
        )
        image = await mcp.call_tool("generate_image", {"prompt": "a fox"})
        usage = await mcp.call_tool("get_usage", {"include_simulated": True})
    cost = tiny.structured_content["cost"]
    assert 0 < cost < 0.000005
    assert f"cost: {format_usd(cost)}" in tiny.content[0].text
    assert re.fullmatch(r"\$0\.00000[1-9]\d", format_usd(cost))  # two significant digits
    assert "cost: $0.04" in image.content[0].text
    total = usage.structured_content["totals"]["cost"]
    assert format_usd(total) in usage.content[0].text
    for text in (tiny.content[0].text, image.content[0].text, usage.content[0].text):
        assert not ZEROS.search(text)


async def test_reprs_and_budget_messages(
    simulator: Simulator, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as client:
        result = await client.chat("GPT-4o-mini", "hi", max_tokens=1)
    assert f"cost={format_usd(result.cost)}" in repr(result)
    assert re.search(r"cost=\$0\.00000[1-9]\d,", repr(result))

    monkeypatch.setenv("POE_MCP_BUDGET_DAILY_USD", "0.000001")
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, rpm=0) as client:
        await client.chat("GPT-4o-mini", "hi", max_tokens=1)  # spends over the limit
        with pytest.raises(QuotaError) as refused:
            await client.chat("GPT-4o-mini", "hi", max_tokens=1)
    assert "of $0.0000010 used" in refused.value.message
    assert not ZEROS.search(refused.value.message)


def test_cli_usage_prints_the_same_amounts(simulator: Simulator, poe_home: Path) -> None:
    import asyncio

    async def spend() -> float:
        async with AsyncPoeClient("cli-money", base_url=simulator.base_url, rpm=0) as client:
            result = await client.chat("GPT-4o-mini", "hi", max_tokens=1)
        assert result.cost is not None
        return result.cost

    cost = asyncio.run(spend())
    out = run_cli("usage", "--include-simulated", "--recent", "1")
    assert out.exit_code == 0, out.output
    assert format_usd(cost) in out.stdout
    assert not ZEROS.search(out.stdout)
    assert os.environ["POE_MCP_HOME"] == str(poe_home)
