"""Over MCP: ``compare_models`` and ``consensus`` (the off-by-default ``multi`` group), and
``ask_poe_v2``'s ``fallbacks`` and ``reasoning_effort``, through the SDK's in-memory client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools, select_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .conftest import chat_bodies, fail_model

FOUR = ["Claude-Sonnet-4", "GPT-4.1", "Grok-4", "Gemini-2.5-Pro"]
MODES = ["auto", "legacy"]


@pytest.fixture
async def make_server(simulator: Simulator, api_key: str) -> AsyncIterator[Callable[..., Any]]:
    runtimes: list[ServerRuntime] = []

    def make(tools: str = "all,multi", key: str | None = None) -> Any:
        settings = Settings.load(store="memory://", base_url=simulator.base_url, max_retries=1)
        runtime = ServerRuntime(
            settings, api_key=key or api_key, simulated=True, tools=select_tools(tools)
        )
        runtimes.append(runtime)
        return build_server(runtime)

    yield make
    for runtime in runtimes:
        await runtime.aclose()


def _size(tools: list[Any]) -> int:
    return sum(
        len(json.dumps(t.model_dump(mode="json", by_alias=True, exclude_none=True))) for t in tools
    )


async def test_the_multi_group_is_off_by_default(make_server: Callable[..., Any]) -> None:
    assert "compare_models" not in available_tools()
    assert "consensus" not in select_tools("all")
    assert select_tools("multi") == ["compare_models", "consensus"]
    async with Client(make_server("all")) as client:
        default = (await client.list_tools()).tools
    async with Client(make_server("all,multi")) as client:
        everything = (await client.list_tools()).tools
    names = {t.name for t in everything}
    assert {"compare_models", "consensus", "ask_poe_v2"} <= names
    assert {t.name for t in default} == names - {"compare_models", "consensus"}
    multi = [t for t in everything if t.name in ("compare_models", "consensus")]
    assert _size(multi) < 3_200  # what enabling the group adds to every tools/list
    for tool in multi:
        assert tool.annotations is not None
        assert tool.annotations.open_world_hint is True


@pytest.mark.parametrize("mode", MODES)
async def test_compare_four_models_one_fails_with_progress_per_model(
    make_server: Callable[..., Any], simulator: Simulator, mode: str
) -> None:
    fail_model(simulator, "Grok-4", 500)
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    async with Client(make_server(), mode=mode) as client:
        result = await client.call_tool(
            "compare_models",
            {"prompt": "Tea or coffee?", "models": FOUR, "system": "Be brief."},
            progress_callback=on_progress,
        )
    assert not result.is_error
    data = result.structured_content
    assert [a["model"] for a in data["answers"]] == FOUR
    assert data["failed"] == ["Grok-4"]
    grok = data["answers"][2]
    assert grok["ok"] is False
    assert grok["error"]["metadata"]["kind"] == "upstream"
    for answer in (a for a in data["answers"] if a["ok"]):
        assert f"{answer['model']} received 2 messages" in answer["text"]
        assert answer["cost"] > 0
        assert answer["usage"]["output_tokens"] > 0
    assert data["cost"] == pytest.approx(sum(a["cost"] for a in data["answers"]))
    text = result.content[0].text
    assert "## Grok-4: FAILED (upstream)" in text
    assert "1 failed" in text
    for model in FOUR:  # one progress notification per model as it finishes
        assert sum(m.startswith(f"{model} ") for m in seen) == 1
    assert any("Grok-4 failed (upstream)" in m for m in seen)


async def test_consensus_with_stances_and_a_synthesis(
    make_server: Callable[..., Any], simulator: Simulator
) -> None:
    async with Client(make_server()) as client:
        result = await client.call_tool(
            "consensus",
            {
                "prompt": "Should we adopt Kubernetes?",
                "models": ["Claude-Sonnet-4", "GPT-4.1", "Gemini-2.5-Pro"],
                "stances": ["for", "against", "against"],
                "synthesizer": "Claude-Opus-4.1",
            },
        )
    assert not result.is_error
    data = result.structured_content
    assert "Agreement: GPT-4.1 and Gemini-2.5-Pro say no." in data["verdict"]
    assert "Disagreement: Claude-Sonnet-4 says yes" in data["verdict"]
    assert [(s["step"], s["model"], s["stance"]) for s in data["steps"]] == [
        ("answer", "Claude-Sonnet-4", "for"),
        ("answer", "GPT-4.1", "against"),
        ("answer", "Gemini-2.5-Pro", "against"),
        ("synthesis", "Claude-Opus-4.1", None),
    ]
    assert data["cost"] == pytest.approx(sum(s["cost"] for s in data["steps"]))
    text = result.content[0].text
    assert text.startswith("# Verdict (Claude-Opus-4.1)")
    assert "synthesis Claude-Opus-4.1: $" in text
    systems = {b["model"]: b["messages"][0]["content"] for b in chat_bodies(simulator)}
    assert systems["GPT-4.1"].startswith("Stance: against.")
    assert systems["Claude-Sonnet-4"].startswith("Stance: for.")


async def test_a_failed_synthesis_is_a_tool_error_that_keeps_the_answers(
    make_server: Callable[..., Any], simulator: Simulator
) -> None:
    fail_model(simulator, "Claude-Opus-4.1", 402)
    async with Client(make_server()) as client:
        result = await client.call_tool(
            "consensus",
            {"prompt": "hi", "models": ["GPT-4.1", "Grok-4"], "synthesizer": "Claude-Opus-4.1"},
        )
    assert result.is_error
    text = result.content[0].text
    assert "No verdict: the synthesis by Claude-Opus-4.1 failed" in text
    assert "## GPT-4.1 [neutral]" in text


async def test_bad_arguments_are_refused(make_server: Callable[..., Any]) -> None:
    async with Client(make_server()) as client:
        too_many = await client.call_tool("compare_models", {"prompt": "x", "models": FOUR * 3})
        bad_stance = await client.call_tool(
            "consensus", {"prompt": "x", "models": ["GPT-4.1"], "stances": ["maybe"]}
        )
    assert too_many.is_error
    assert bad_stance.is_error


@pytest.mark.parametrize("mode", MODES)
async def test_ask_poe_v2_falls_back_past_an_overloaded_model(
    make_server: Callable[..., Any], simulator: Simulator, mode: str
) -> None:
    fail_model(simulator, "Claude-Opus-4.1", 529)
    async with Client(make_server("chat"), mode=mode) as client:
        result = await client.call_tool(
            "ask_poe_v2",
            {
                "bot": "Claude-Opus-4.1",
                "prompt": "hello",
                "fallbacks": ["Claude-Sonnet-4", "GPT-4.1"],
                "reasoning_effort": "low",
            },
        )
    assert not result.is_error
    data = result.structured_content
    assert data["model"] == "Claude-Sonnet-4"
    assert [a["outcome"] for a in data["attempts"]] == ["skipped", "ok"]
    assert data["attempts"][0]["error_kind"] == "overloaded"
    assert "sent as thinking_budget=1024" in data["notes"][0]
    text = result.content[0].text
    assert "fell back from Claude-Opus-4.1 (overloaded) to Claude-Sonnet-4" in text
    assert "Parameters: thinking_budget=1024" in text
    assert data["usage"]["reasoning_tokens"] == 4


async def test_ask_poe_v2_stops_on_an_auth_error(
    make_server: Callable[..., Any], simulator: Simulator
) -> None:
    async with Client(make_server("chat", key="invalid-key")) as client:
        result = await client.call_tool(
            "ask_poe_v2", {"bot": "Claude-Opus-4.1", "prompt": "hi", "fallbacks": ["GPT-4.1"]}
        )
    assert result.is_error
    assert "[kind: auth]" in result.content[0].text
    assert [b["model"] for b in chat_bodies(simulator)] == ["Claude-Opus-4.1"]


async def test_ask_poe_v2_refuses_reasoning_for_a_model_that_cannot(
    make_server: Callable[..., Any], simulator: Simulator
) -> None:
    async with Client(make_server("chat")) as client:
        result = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "hi", "reasoning_effort": 2048}
        )
    assert result.is_error
    assert "GPT-4.1 cannot reason" in result.content[0].text
    assert chat_bodies(simulator) == []


async def test_get_usage_shows_cached_and_reasoning_tokens(
    make_server: Callable[..., Any], poe_home: Path
) -> None:
    history = "You review long documents carefully. " * 10
    async with Client(make_server("chat,info")) as client:
        first = await client.call_tool(
            "ask_poe_v2",
            {"bot": "Claude-Opus-4.1", "prompt": "read", "system": history},
        )
        await client.call_tool(
            "ask_poe_v2",
            {
                "bot": "Claude-Opus-4.1",
                "prompt": "judge",
                "session_id": first.structured_content["session_id"],
                "reasoning_effort": "high",
            },
        )
        usage = await client.call_tool("get_usage", {"include_simulated": True})
    assert not usage.is_error, usage.content[0].text
    totals = usage.structured_content["totals"]
    assert totals["reasoning_tokens"] == 64
    assert totals["cached_tokens"] > 0
    assert f"{totals['cached_tokens']} cached in" in usage.content[0].text
    assert "64 reasoning out" in usage.content[0].text
