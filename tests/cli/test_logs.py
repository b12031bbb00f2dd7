"""``poe-mcp logs``: what the CLI logged, searched, filtered, exported; per-entry-point switch."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from poe_mcp import AsyncPoeClient
from poe_mcp.simulator import Simulator

from .conftest import Invoke


def _chat(invoke: Invoke, *args: str) -> None:
    result = invoke("chat", *args)
    assert result.exit_code == 0, result.output


def test_logs_list_search_and_filter(invoke: Invoke) -> None:
    _chat(invoke, "-m", "GPT-4.1", "How do lighthouses work?")
    _chat(invoke, "-m", "Claude-Sonnet-4", "Explain the GCRA rate limiter")
    _chat(invoke, "-c", "-m", "Claude-Sonnet-4", "And token buckets?")

    listed = invoke("logs", base_url=False)
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "TIME", "MODEL", "SESSION", "PROMPT", "ANSWER"]
    assert "And token buckets?" in lines[1]  # newest first
    assert len(lines) == 4

    found = json.loads(invoke("logs", "-q", "lighthouses", "--json", base_url=False).stdout)
    assert [e["prompt"] for e in found] == ["How do lighthouses work?"]
    assert found[0]["model"] == "GPT-4.1"
    assert 'You said: "How do lighthouses work?"' in found[0]["response"]
    assert found[0]["entry_point"] == "cli"
    assert found[0]["cost"] > 0

    # words anywhere in the prompt or the answer; a phrase; a prefix
    assert len(json.loads(invoke("logs", "-q", "received", "--json", base_url=False).stdout)) == 3
    phrase = invoke("logs", "-q", '"token buckets"', "--json", base_url=False).stdout
    assert len(json.loads(phrase)) == 1
    assert len(json.loads(invoke("logs", "-q", "light*", "--json", base_url=False).stdout)) == 1

    by_model = json.loads(invoke("logs", "-m", "claude-sonnet-4", "--json", base_url=False).stdout)
    assert len(by_model) == 2
    session = by_model[0]["session_id"]
    assert by_model[1]["session_id"] == session
    in_session = invoke("logs", "--session", session, "--json", base_url=False).stdout
    assert len(json.loads(in_session)) == 2
    assert (
        invoke("logs", "--since", "1h", "-n", "1", "--json", base_url=False).stdout.count(
            '"prompt"'
        )
        == 1
    )
    assert (
        json.loads(invoke("logs", "--until", "2000-01-01", "--json", base_url=False).stdout) == []
    )
    assert "no logged prompts match" in invoke("logs", "-q", "zebra", base_url=False).stderr


def test_export_a_conversation_as_markdown(invoke: Invoke, tmp_path: Path) -> None:
    _chat(invoke, "-m", "GPT-4.1", "-s", "Be a poet", "Write a haiku about the sea")
    _chat(invoke, "-c", "-m", "Grok-4", "Now in French")
    out = tmp_path / "talk.md"
    result = invoke("logs", "export", "-o", str(out), base_url=False)  # the last conversation
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Conversation ")
    assert text.index("## System prompt\n\nBe a poet") < text.index("Write a haiku")
    assert (
        text.index("## GPT-4.1") < text.index("## You\n\nNow in French") < text.index("## Grok-4")
    )
    assert "tokens · $" in text
    session = json.loads(invoke("logs", "--json", base_url=False).stdout)[0]["session_id"]
    assert invoke("logs", "export", session, base_url=False).stdout == text
    missing = invoke("logs", "export", "no-such-session", base_url=False)
    assert missing.exit_code == 1


def test_no_log_and_the_mcp_default_off(invoke: Invoke, simulator: Simulator, api_key: str) -> None:
    _chat(invoke, "--no-log", "secret plans")
    assert json.loads(invoke("logs", "--json", base_url=False).stdout) == []

    async def as_mcp(entry_point: str) -> None:
        async with AsyncPoeClient(
            api_key, base_url=simulator.base_url, entry_point=entry_point
        ) as client:
            await client.chat("GPT-4.1", f"from {entry_point}")

    import asyncio

    asyncio.run(as_mcp("mcp"))
    asyncio.run(as_mcp("library"))
    assert json.loads(invoke("logs", "--json", base_url=False).stdout) == []
    config = Path(os.environ["POE_MCP_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[logs]\nmcp = true\n")
    asyncio.run(as_mcp("mcp"))
    logged = json.loads(invoke("logs", "--json", base_url=False).stdout)
    assert [e["prompt"] for e in logged] == ["from mcp"]


def test_retention_and_clear(invoke: Invoke) -> None:
    config = Path(os.environ["POE_MCP_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[logs]\nretention_days = 0\n")  # 0 keeps everything
    _chat(invoke, "one")
    _chat(invoke, "two")
    result = invoke("logs", "clear", "--older-than", "1d", "--yes", "--json", base_url=False)
    assert json.loads(result.stdout) == {"deleted": 0}
    result = invoke("logs", "clear", "--yes", base_url=False)
    assert "deleted 2 log entries" in result.stdout
    config.write_text("[logs]\nretention_dayz = 3\n")
    bad = invoke("chat", "hi")
    assert bad.exit_code == 1
    assert "retention_days" in str(bad.exception)


async def test_entries_older_than_the_retention_period_are_deleted(
    simulator: Simulator, api_key: str, poe_home: Path
) -> None:
    from poe_mcp.store import open_store
    from poe_mcp.store._logs import LogEntry, LogQuery

    config = Path(os.environ["POE_MCP_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[logs]\nlibrary = true\nretention_days = 7\n")
    store = open_store(f"sqlite:///{poe_home / 'retention.db'}")
    try:
        old = LogEntry(ts=time.time() - 30 * 86_400, model="GPT-4.1", prompt="old", response="x")
        await store.logs.add(old)
        async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=store) as client:
            await client.chat("GPT-4.1", "new")
        prompts = [e.prompt for e in await store.logs.search(LogQuery())]
        assert prompts == ["new"]
    finally:
        await store.aclose()
