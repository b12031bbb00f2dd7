"""``tools/list`` stays small: every schema sits in the calling model's context on every call.

Measured as the brief states it: each tool's ``model_dump(mode="json", by_alias=True,
exclude_none=True)``, serialised by ``json.dumps`` with its default separators (the larger of the
usual spellings), summed over the tools exposed by default (optional groups such as ``multi``
and ``orchestra`` are off unless named).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp import Client

from poe_mcp.server.registry import available_tools
from poe_mcp.simulator import Simulator

GOAL = 12_000


async def test_default_tools_list_is_under_the_goal(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    async with Client(make_server(simulator.base_url, tools=available_tools())) as mcp:
        tools = (await mcp.list_tools()).tools
    size = sum(
        len(json.dumps(t.model_dump(mode="json", by_alias=True, exclude_none=True))) for t in tools
    )
    assert size < GOAL, f"tools/list is {size} characters"
    media = next(t for t in tools if t.name == "generate_image")
    assert media.output_schema is not None
    assert {"resources", "urls", "paths"} <= set(media.output_schema["properties"])
