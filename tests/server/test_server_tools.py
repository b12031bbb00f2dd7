"""Every tool through the SDK's in-memory client, in both protocol eras, against the simulator."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from poe_mcp import _constants as C
from poe_mcp.server.app import build_server
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

MODES = ["auto", "legacy"]
PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def error_json(result: Any) -> dict[str, Any]:
    """The OpenAI-format error JSON that ends every tool error text."""
    assert result.is_error
    text = result.content[0].text
    return json.loads(text[text.index("{") :])["error"]


@pytest.mark.parametrize("mode", MODES)
async def test_ask_poe_answers_and_says_it_is_simulated(server: Any, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        result = await client.call_tool(
            "ask_poe", {"bot": "Claude-Sonnet-4", "prompt": "hello there"}
        )
    assert not result.is_error
    data = result.structured_content
    assert 'You said: "hello there"' in data["text"]
    assert data["model"] == "Claude-Sonnet-4"
    assert data["simulated"] is True
    assert data["new_session"] is True
    assert data["usage"]["input_tokens"] > 0
    assert data["usage"]["output_tokens"] > 0
    assert data["cost"] is not None
    assert data["cost"] > 0
    assert data["finish_reason"] == "stop"
    text = result.content[0].text
    assert data["session_id"] in text
    assert "SIMULATED" in text


@pytest.mark.parametrize("mode", MODES)
async def test_session_history_is_sent_and_system_prompt_kept(server: Any, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        first = await client.call_tool(
            "ask_poe_v2",
            {"bot": "GPT-4.1", "prompt": "first", "system": "Answer in French."},
        )
        sid = first.structured_content["session_id"]
        assert "2 messages (system prompt: yes)" in first.structured_content["text"]
        second = await client.call_tool(
            "ask_poe", {"bot": "GPT-4.1", "prompt": "second", "session_id": sid}
        )
    data = second.structured_content
    # system + first question + first answer + the new question
    assert "received 4 messages (system prompt: yes)" in data["text"]
    assert data["session_id"] == sid
    assert data["new_session"] is False
    assert data["history_messages"] == 3


async def test_unknown_session_id_is_an_error_not_a_new_conversation(server: Any) -> None:
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_poe", {"bot": "GPT-4.1", "prompt": "hi", "session_id": "my-chat-1"}
        )
    assert error_json(result)["metadata"]["kind"] == "not_found"
    assert "session 'my-chat-1' does not exist or has expired" in error_json(result)["message"]


async def test_session_expires_after_idle_ttl(make_runtime: Callable[..., ServerRuntime]) -> None:
    server = build_server(make_runtime(session_ttl_s=0.3))
    async with Client(server) as client:
        first = await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "one"})
        sid = first.structured_content["session_id"]
        await asyncio.sleep(0.5)
        again = await client.call_tool(
            "ask_poe", {"bot": "GPT-4.1", "prompt": "two", "session_id": sid}
        )
        listed = await client.call_tool("list_sessions", {})
    assert "has expired" in error_json(again)["message"]  # never a silent fresh start
    assert listed.structured_content["sessions"] == []


async def test_list_and_clear_sessions(server: Any) -> None:
    async with Client(server) as client:
        a = (
            await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "a"})
        ).structured_content
        b = (await client.call_tool("ask_poe", {"bot": "Grok-4", "prompt": "b"})).structured_content
        listed = await client.call_tool("list_sessions", {})
        ids = [s["id"] for s in listed.structured_content["sessions"]]
        assert ids == [b["session_id"], a["session_id"]]  # most recent first
        cleared = await client.call_tool("clear_session", {"session_id": a["session_id"]})
        again = await client.call_tool("clear_session", {"session_id": a["session_id"]})
        after = await client.call_tool("list_sessions", {})
    assert cleared.structured_content == {"session_id": a["session_id"], "cleared": True}
    assert again.structured_content["cleared"] is False
    assert not again.is_error
    assert [s["id"] for s in after.structured_content["sessions"]] == [b["session_id"]]


async def test_stream_reports_partial_text_as_progress(server: Any) -> None:
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    async with Client(server, mode="legacy") as client:
        result = await client.call_tool(
            "ask_poe_v2",
            {"bot": "Claude-Sonnet-4", "prompt": "stream me a reply", "stream": True},
            progress_callback=on_progress,
        )
    assert not result.is_error
    assert 'You said: "stream me a reply"' in result.structured_content["text"]
    assert any(m and m in result.structured_content["text"] and "sent" not in m for m in seen)


async def test_a_slow_answer_sends_heartbeats_and_a_quick_one_none(
    server: Any, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clients cancel calls that stay silent; quick calls send only their "sent" report."""
    monkeypatch.setattr(C, "PROGRESS_INTERVAL_S", 0.1)
    seen: list[tuple[float, str]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message or ""))

    async with Client(server, mode="legacy") as client:
        quick = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "quick"}, progress_callback=on_progress
        )
        assert [m for _, m in seen] == ["GPT-4.1: sent"]
        seen.clear()
        simulator.add_fault("delay", delay_s=0.55)
        slow = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "slow"}, progress_callback=on_progress
        )
        await asyncio.sleep(0.3)  # no heartbeat after the answer
    assert not quick.is_error
    assert not slow.is_error
    waits = [m for _, m in seen if "waiting for the answer" in m]
    assert 3 <= len(waits) <= 6, seen
    assert [p for p, _ in seen] == sorted({p for p, _ in seen})  # values only ever increase


async def test_v2_parameters_reach_the_model(server: Any, simulator: Simulator) -> None:
    simulator.clear_requests()
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_poe_v2",
            {
                "bot": "Claude-Sonnet-4",
                "prompt": "one two three four five six seven",
                "max_tokens": 3,
                "temperature": 0.5,
                "params": {"thinking_budget": 1024},
            },
        )
    assert result.structured_content["finish_reason"] == "length"
    body = simulator.requests()[-1]["body"]
    assert body["max_tokens"] == 3
    assert body["temperature"] == 0.5
    assert body["thinking_budget"] == 1024


async def test_ask_poe_sends_thinking_budget(server: Any, simulator: Simulator) -> None:
    # ask_poe speaks Poe's bot protocol by default: the budget travels as a ProtocolMessage
    # parameter; with use_openai_client it is an extra body field of the REST API.
    simulator.clear_requests()
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_poe", {"bot": "Claude-Sonnet-4", "prompt": "think", "thinking": 2048}
        )
        assert not result.is_error
        assert "thinking_budget=2048" in result.structured_content["text"]
        bot_calls = [r for r in simulator.requests() if r["path"].startswith("/bot/")]
        assert bot_calls[-1]["body"]["query"][-1]["parameters"] == {"thinking_budget": 2048}

        simulator.clear_requests()
        result = await client.call_tool(
            "ask_poe",
            {
                "bot": "Claude-Sonnet-4",
                "prompt": "think",
                "thinking": 512,
                "use_openai_client": True,
            },
        )
        assert not result.is_error
        rest_calls = [r for r in simulator.requests() if r["path"] == "/v1/chat/completions"]
        assert rest_calls[-1]["body"]["thinking_budget"] == 512


async def test_attachment_really_arrives(
    make_runtime: Callable[..., ServerRuntime], tmp_path: Path
) -> None:
    # Attachments are read only inside [tools] roots (tests/security covers the refusals).
    server = build_server(make_runtime(file={"tools": {"roots": [str(tmp_path)]}}))
    image = tmp_path / "dot.png"
    image.write_bytes(PNG_1x1)
    note = tmp_path / "note.txt"
    note.write_text("hello file")
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_with_attachment",
            {
                "bot": "Claude-Sonnet-4",
                "prompt": "what is this?",
                "attachment_paths": [str(image), str(note)],
            },
        )
    assert not result.is_error, result.content[0].text
    text = result.structured_content["text"]
    assert "image/png" in text
    assert "1x1" in text
    assert "text/plain" in text


async def test_missing_attachment_is_a_clear_error(
    make_runtime: Callable[..., ServerRuntime], tmp_path: Path
) -> None:
    server = build_server(make_runtime(file={"tools": {"roots": [str(tmp_path)]}}))
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_with_attachment",
            {"bot": "GPT-4.1", "prompt": "x", "attachment_paths": [str(tmp_path / "nope.pdf")]},
        )
    err = error_json(result)
    assert err["metadata"]["kind"] == "invalid_request"
    assert "attachment not found" in err["message"]
    assert "nope.pdf" in err["message"]


@pytest.mark.parametrize("mode", MODES)
async def test_bad_arguments_come_back_as_readable_tool_errors(server: Any, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        bad_temp = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "x", "temperature": 3}
        )
        too_many_stops = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "x", "stop": ["a", "b", "c", "d", "e"]}
        )
        missing = await client.call_tool("ask_poe", {"bot": "GPT-4.1"})
        bad_session = await client.call_tool("clear_session", {"session_id": "no spaces!"})
        # The server is still fine afterwards.
        ok = await client.call_tool("list_sessions", {})
    assert "temperature" in bad_temp.content[0].text
    assert error_json(bad_temp)["metadata"]["kind"] == "invalid_request"
    assert "stop" in too_many_stops.content[0].text
    assert "prompt" in missing.content[0].text
    assert missing.is_error
    assert error_json(bad_session)["metadata"]["kind"] == "invalid_request"
    assert not ok.is_error


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request"),
        (402, "balance"),
        (403, "moderation"),
        (404, "not_found"),
        (413, "too_large"),
        (429, "rate_limit"),
        (500, "upstream"),
        (502, "upstream"),
        (503, "upstream"),
        (529, "overloaded"),
    ],
)
async def test_upstream_errors_become_tool_errors_with_their_kind(
    make_runtime: Callable[..., ServerRuntime], simulator: Simulator, status: int, kind: str
) -> None:
    server = build_server(make_runtime(max_retries=0))
    simulator.add_fault("status", status=status)
    async with Client(server) as client:
        failed = await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "x"})
        after = await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "y"})
    err = error_json(failed)
    assert err["metadata"]["kind"] == kind
    assert f"[kind: {kind}]" in failed.content[0].text
    assert not after.is_error  # the server survived


async def test_auth_and_network_faults(
    make_runtime: Callable[..., ServerRuntime], simulator: Simulator
) -> None:
    bad_key = build_server(make_runtime(key="invalid-key", max_retries=0))
    async with Client(bad_key) as client:
        result = await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "x"})
    assert error_json(result)["metadata"]["kind"] == "auth"
    assert "invalid-key" not in result.content[0].text

    server = build_server(make_runtime(max_retries=0))
    simulator.add_fault("drop")
    async with Client(server) as client:
        dropped = await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "x"})
        simulator.add_fault("cut", after_chunks=2)
        cut = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "a long enough reply", "stream": True}
        )
        sessions = await client.call_tool("list_sessions", {})
    assert error_json(dropped)["metadata"]["kind"] == "network"
    assert error_json(cut)["metadata"]["kind"] == "incomplete_stream"
    # Failed turns leave no half-conversation behind.
    assert sessions.structured_content["sessions"] == []


async def test_unknown_model_suggests_close_names(server: Any) -> None:
    async with Client(server) as client:
        result = await client.call_tool("ask_poe", {"bot": "Claude-Sonet-4", "prompt": "x"})
    err = error_json(result)
    assert err["metadata"]["kind"] == "not_found"
    assert "Claude-Sonnet-4" in err["message"]


async def test_cancelled_call_leaves_the_server_working(
    runtime: ServerRuntime, simulator: Simulator
) -> None:
    server = build_server(runtime)
    simulator.add_fault("delay", delay_s=5)
    async with Client(server, mode="legacy") as client:
        started = time.monotonic()
        with pytest.raises(Exception, match=r"(?i)timed out|timeout"):
            await client.call_tool(
                "ask_poe", {"bot": "GPT-4.1", "prompt": "slow"}, read_timeout_seconds=0.5
            )
        assert time.monotonic() - started < 3
        ok = await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "fast"})
        sessions = await client.call_tool("list_sessions", {})
    assert not ok.is_error
    assert len(sessions.structured_content["sessions"]) == 1  # only the answered turn
    await asyncio.sleep(0.1)
    assert 'outcome="cancelled"' in runtime.metrics.render()


async def test_models_tools_come_from_the_live_catalog(server: Any) -> None:
    async with Client(server) as client:
        everything = await client.call_tool("list_available_models", {})
        images = await client.call_tool("list_available_models_v2", {"modality": "image"})
        no_tools = await client.call_tool(
            "list_available_models_v2", {"supports_tools": False, "modality": "text"}
        )
        claude = await client.call_tool("list_available_models_v2", {"query": "claude"})
    ids = [m["id"] for m in everything.structured_content["models"]]
    assert "Claude-Sonnet-4" in ids
    assert "Veo-3" in ids
    assert [m["id"] for m in images.structured_content["models"]] == ["GPT-Image-1"]
    assert "Llama-3.1-405B" in [m["id"] for m in no_tools.structured_content["models"]]
    assert all("Claude" in m["id"] for m in claude.structured_content["models"])
    unpriced = [m for m in everything.structured_content["models"] if m["id"] == "Assistant"]
    assert unpriced[0]["input_usd_per_mtok"] is None  # unknown, never 0
    assert "price unknown" in everything.content[0].text


async def test_get_usage_counts_calls_and_cost(server: Any) -> None:
    async with Client(server) as client:
        a = await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "x"})
        await client.call_tool("ask_poe", {"bot": "Assistant", "prompt": "y"})
        usage = await client.call_tool("get_usage", {"by": "model"})
        one = await client.call_tool(
            "get_usage", {"session_id": a.structured_content["session_id"]}
        )
    totals = usage.structured_content["totals"]
    assert totals["calls"] == 2
    assert totals["unknown_cost_calls"] == 1
    assert totals["cost"] == pytest.approx(a.structured_content["cost"])
    assert {g["key"] for g in usage.structured_content["groups"]} == {"GPT-4.1", "Assistant"}
    assert one.structured_content["totals"]["calls"] == 1


@pytest.mark.parametrize("tool", ["get_usage", "clear_session"])
async def test_a_malformed_session_id_is_the_same_error_on_every_session_tool(
    server: Any, tool: str
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(tool, {"session_id": "no spaces/allowed"})
    assert result.is_error
    assert "[kind: invalid_request]" in result.content[0].text
    assert "session_id must be" in result.content[0].text


async def test_server_info_never_shows_the_key(server: Any, api_key: str) -> None:
    async with Client(server) as client:
        await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "x"})
        info = await client.call_tool("get_server_info", {})
    data = info.structured_content
    assert data["simulated"] is True
    assert data["api_key_configured"] is True
    assert data["provider"] == "poe"
    assert data["store"]["ok"] is True
    assert "ask_poe" in data["tools"]
    assert data["rate_limit"]["rpm"] > 0
    assert api_key not in json.dumps(data)
    assert api_key not in info.content[0].text
    assert "SIMULATED" in info.content[0].text


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_is_complete_annotated_and_small(server: Any, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        listed = await client.list_tools()
    wire = listed.model_dump_json(by_alias=True, exclude_none=True)
    assert len(wire) < 12_000
    tools = {t.name: t for t in listed.tools}
    assert {"ask_poe", "ask_with_attachment", "ask_poe_v2", "clear_session", "list_sessions",
            "list_available_models", "list_available_models_v2", "get_usage",
            "get_server_info"} <= set(tools)  # fmt: skip
    for tool in tools.values():
        assert tool.title
        assert tool.description
        assert tool.annotations is not None
    assert tools["ask_poe"].annotations.open_world_hint is True
    assert tools["list_sessions"].annotations.read_only_hint is True
    assert tools["clear_session"].annotations.destructive_hint is True
    temp = tools["ask_poe_v2"].input_schema["properties"]["temperature"]
    assert temp["minimum"] == 0
    assert temp["maximum"] == 2
    output_schema = tools["ask_poe"].output_schema
    assert output_schema is not None
    out = output_schema["properties"]
    assert {"text", "model", "session_id", "usage", "cost", "finish_reason"} <= set(out)


async def test_tools_selection(make_runtime: Callable[..., ServerRuntime]) -> None:
    from poe_mcp.server.registry import select_tools

    server = build_server(make_runtime(tools=select_tools("ask_poe,sessions")))
    async with Client(server) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        hidden = await client.call_tool("get_usage", {})
    assert names == ["ask_poe", "clear_session", "list_sessions"]
    assert hidden.is_error


def test_tools_selection_rejects_unknown_names() -> None:
    from poe_mcp.errors import ConfigError
    from poe_mcp.server.registry import select_tools

    with pytest.raises(ConfigError, match="unknown tool 'ask_bard'"):
        select_tools("ask_poe,ask_bard")


async def test_every_mcp_call_lands_in_the_ledger_ok_or_not(
    make_runtime: Any, simulator: Simulator, tmp_path: Path
) -> None:
    runtime = make_runtime(store=f"sqlite:///{tmp_path / 'ledger.db'}")
    async with Client(build_server(runtime)) as client:
        ok = await client.call_tool("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "fine"})
        simulator.add_fault("status", status=402, model="GPT-4.1")
        failed = await client.call_tool("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "broke"})
    assert not ok.is_error
    assert failed.is_error
    assert "[kind: balance]" in failed.content[0].text
    store = await runtime.store()
    rows = sorted(await store.usage.recent(), key=lambda r: r.ts)
    assert [(r.outcome, r.error_kind, r.entry_point) for r in rows] == [
        ("ok", None, "mcp"),
        ("error", "balance", "mcp"),
    ]
    assert rows[0].session_id == ok.structured_content["session_id"]
    assert rows[0].cost == pytest.approx(ok.structured_content["cost"])
    assert rows[0].prompt is None  # prompts are kept only with prompt logging on
