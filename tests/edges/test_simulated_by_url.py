"""A simulator reached by URL (not --simulate) is still named as such by the info tools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp import Client

from poe_mcp.simulator import Simulator


async def test_model_listings_and_server_info_say_simulated_when_reached_by_url(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    server = make_server(simulator.base_url, simulated=False)
    async with Client(server) as mcp:
        listed = await mcp.call_tool("list_available_models", {})
        found = await mcp.call_tool("list_available_models_v2", {"query": "claude"})
        info = await mcp.call_tool("get_server_info", {})
    for result in (listed, found, info):
        assert not result.is_error, result.content
        assert result.structured_content is not None
        assert result.structured_content["simulated"] is True
    assert "SIMULATED (built-in offline simulator" in listed.content[0].text
    assert "SIMULATED" in info.content[0].text
