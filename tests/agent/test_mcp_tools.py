"""Tools of another MCP server (started over stdio with the official SDK) used by a Poe model."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from poe_mcp import Agent, AsyncPoeClient, ConfigError, InvalidRequestError, ToolExecutionError
from poe_mcp.tools import MCPServerSpec, MCPToolset, mcp_servers_from_config

from .conftest import TOOL_MODEL

FIXTURE = Path(__file__).with_name("mcp_fixture_server.py")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def toolset() -> AsyncIterator[MCPToolset]:
    (spec,) = mcp_servers_from_config(
        {"fixture": {"command": sys.executable, "args": [str(FIXTURE)], "prefix": "fx_"}}
    )
    async with MCPToolset([spec]) as ts:
        yield ts


async def test_a_downstream_mcp_tool_is_used_by_a_poe_model(
    client: AsyncPoeClient, toolset: MCPToolset
) -> None:
    assert sorted(t.name for t in toolset.tools) == ["fx_lookup_capital", "fx_multiply"]
    agent = Agent(client, TOOL_MODEL, tools=toolset.tools)

    result = await agent.run("What is fx_lookup_capital country=Peru? Also fx_multiply a=6 b=7.")

    capital, product = result.trace
    assert (capital.result, product.result) == ("Lima", "42")
    assert 'fx_lookup_capital -> "Lima"' in result.text
    assert 'fx_multiply -> "42"' in result.text


async def test_a_downstream_tool_error_reaches_the_model(
    client: AsyncPoeClient, toolset: MCPToolset
) -> None:
    agent = Agent(client, TOOL_MODEL, tools=toolset.tools)
    result = await agent.run("fx_lookup_capital country=Atlantis")

    (call,) = result.trace
    assert call.error is not None
    assert "no capital known for 'Atlantis'" in call.error
    assert "Error: " in result.text


async def test_downstream_schemas_are_enforced_before_the_call(toolset: MCPToolset) -> None:
    multiply = next(t for t in toolset.tools if t.name == "fx_multiply")
    assert multiply.to_openai()["function"]["parameters"]["required"] == ["a", "b"]
    with pytest.raises(InvalidRequestError, match="'x' is not of type 'integer'"):
        multiply.validate(json.dumps({"a": "x", "b": 2}))
    capital = next(t for t in toolset.tools if t.name == "fx_lookup_capital")
    with pytest.raises(ToolExecutionError, match="no capital known"):
        await capital.run({"country": "Mars"})


async def test_only_the_listed_tools_are_offered() -> None:
    spec = MCPServerSpec(
        name="fixture", command=sys.executable, args=(str(FIXTURE),), tools=("multiply",)
    )
    async with MCPToolset([spec]) as ts:
        assert [t.name for t in ts.tools] == ["multiply"]


async def test_an_unusable_server_is_a_config_error_or_skipped() -> None:
    broken = MCPServerSpec(
        name="broken", command=sys.executable, args=("-c", "raise SystemExit(3)")
    )
    with pytest.raises(ConfigError, match="MCP server 'broken' could not be used"):
        async with MCPToolset([broken]):
            pass
    async with MCPToolset([broken], ignore_failures=True) as ts:
        assert ts.tools == []
        assert "broken" in ts.failures


def test_config_tables_are_checked() -> None:
    with pytest.raises(ConfigError, match="exactly one of 'command'"):
        mcp_servers_from_config({"x": {"args": ["a"]}})
    with pytest.raises(ConfigError, match="unknown keys"):
        mcp_servers_from_config({"x": {"command": "a", "comand": "b"}})
    (spec,) = mcp_servers_from_config(
        {
            "remote": {
                "url": "http://127.0.0.1:1/mcp",
                "headers": {"Authorization": "Bearer s3cr3t-token"},
            }
        }
    )
    assert "s3cr3t" not in repr(spec)
