"""Bad input to compare, consensus and fallbacks: refused once, up front, or reported honestly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp.cli import cli
from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings
from poe_mcp.errors import InvalidRequestError
from poe_mcp.multi import compare, consensus
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import select_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .conftest import chat_bodies, fail_model


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"temperature": 9}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"reasoning_effort": "ultra"}, "reasoning_effort"),
        ({"reasoning_effort": -1}, "reasoning_effort"),
        ({"reasoning_effort": True}, "reasoning_effort"),
    ],
)
async def test_a_bad_option_is_refused_once_before_anything_is_sent(
    client: AsyncPoeClient, simulator: Simulator, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        await compare(client, "hi", ["GPT-4.1", "Claude-Sonnet-4"], **options)
    with pytest.raises(InvalidRequestError, match=match):
        await consensus(client, "hi", ["GPT-4.1", "Claude-Sonnet-4"], **options)
    assert chat_bodies(simulator) == []


async def test_a_misspelt_option_is_a_type_error_before_sending(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    with pytest.raises(TypeError, match="temprature"):
        await compare(client, "hi", ["GPT-4.1"], temprature=0.5)  # type: ignore[call-arg]
    assert chat_bodies(simulator) == []


async def test_no_prompt_is_an_invalid_request(client: AsyncPoeClient) -> None:
    with pytest.raises(InvalidRequestError, match="a prompt"):
        await compare(client, None, ["GPT-4.1"])  # type: ignore[arg-type]


def test_cli_compare_with_a_bad_temperature_is_one_error(
    simulator: Simulator, api_key: str
) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "compare",
            "-m",
            "GPT-4.1",
            "-m",
            "Grok-4",
            "-t",
            "9",
            "hi",
            "--base-url",
            simulator.base_url,
        ],
        env={"POE_API_KEY": api_key},
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, InvalidRequestError)
    assert chat_bodies(simulator) == []


async def test_an_unknown_fallback_model_is_passed_over(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    fail_model(simulator, "GPT-4.1", 529)
    result = await client.chat("GPT-4.1", "hi", fallbacks=["No-Such-Model", "Claude-Sonnet-4"])
    assert result.model == "Claude-Sonnet-4"
    story = [(a.model, a.outcome, a.error_kind) for a in result.attempts]
    assert story == [
        ("GPT-4.1", "skipped", "overloaded"),
        ("No-Such-Model", "skipped", "not_found"),
        ("Claude-Sonnet-4", "ok", None),
    ]


async def test_an_unknown_first_model_still_never_falls_back(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    from poe_mcp.errors import NotFoundError

    with pytest.raises(NotFoundError):
        await client.chat("No-Such-Model", "hi", fallbacks=["Claude-Sonnet-4"])
    assert [b["model"] for b in chat_bodies(simulator)] == ["No-Such-Model"]


@pytest.fixture
async def server(simulator: Simulator, api_key: str) -> AsyncIterator[Any]:
    settings = Settings.load(store="memory://", base_url=simulator.base_url, max_retries=1)
    runtime = ServerRuntime(
        settings, api_key=api_key, simulated=True, tools=select_tools("all,multi")
    )
    yield build_server(runtime)
    await runtime.aclose()


async def test_compare_models_where_no_model_answered_is_a_tool_error(server: Any) -> None:
    async with Client(server) as mcp:
        none = await mcp.call_tool("compare_models", {"prompt": "hi", "models": ["No-A", "No-B"]})
        some = await mcp.call_tool(
            "compare_models", {"prompt": "hi", "models": ["GPT-4.1", "No-B"]}
        )
    assert none.is_error
    assert none.structured_content is not None
    assert none.structured_content["failed"] == ["No-A", "No-B"]
    assert not some.is_error
