"""Simulated calls are marked in the ledger and kept apart from real usage and budgets."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from mcp import Client, StdioServerParameters

from poe_mcp import AsyncPoeClient, QuotaError
from poe_mcp.budget import BudgetGuard, BudgetLimits
from poe_mcp.cli import cli
from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store
from poe_mcp.store.base import UsageRecord

from .conftest import error_of

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))


def real_row(tokens: int) -> UsageRecord:
    return UsageRecord(
        ts=time.time(), provider="poe", backend="openai", model="GPT-4.1", outcome="ok",
        input_tokens=tokens, cost=0.001,
    )  # fmt: skip


async def test_every_row_says_whether_it_was_simulated(
    simulator: Simulator, api_key: str, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'poe.db'}")
    try:
        await store.usage.record(real_row(10))
        async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=store) as client:
            await client.chat("GPT-4.1", "hello")
            await client.chat("GPT-4.1", "again")
        rows = await store.usage.recent(10)
        assert [r.simulated for r in rows] == [True, True, False]
        assert (await store.usage.totals(simulated=False)).calls == 1
        assert (await store.usage.totals(simulated=True)).calls == 2
        assert (await store.usage.totals()).calls == 3
        by_model = await store.usage.breakdown("model", simulated=False)
        assert [(g.key, g.totals.calls) for g in by_model] == [("GPT-4.1", 1)]
    finally:
        await store.aclose()


async def test_simulated_calls_never_spend_a_real_budget(
    simulator: Simulator, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POE_MCP_BUDGET_DAILY_TOKENS", "60")
    store = open_store(f"sqlite:///{tmp_path / 'poe.db'}")
    try:
        async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=store) as client:
            await client.chat("GPT-4.1", "a prompt long enough to use some of the budget " * 2)
            # the simulator's own (simulated) budget is now spent: simulated calls stop
            with pytest.raises(QuotaError, match="Daily budget reached"):
                await client.chat("GPT-4.1", "more")
        spent = await store.usage.totals(simulated=True)
        assert spent.input_tokens + spent.output_tokens >= 60
        # ... but the real budget is untouched: a real call would pass
        guard = BudgetGuard(store.usage, BudgetLimits(daily_tokens=60))
        await guard.check(session_id=None, model="GPT-4.1", estimated_input_tokens=10)
    finally:
        await store.aclose()


async def test_get_usage_counts_real_calls_unless_asked(
    simulator: Simulator, api_key: str, poe_home: Path
) -> None:
    # A server pointed at a simulator by URL (the README's offline setup): not --simulate.
    settings = Settings.load(store="memory://", base_url=simulator.base_url)
    runtime = ServerRuntime(settings, api_key=api_key, simulated=False, tools=available_tools())
    try:
        async with Client(build_server(runtime)) as client:
            await client.call_tool("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "hi"})
            real = await client.call_tool("get_usage", {})
            everything = await client.call_tool("get_usage", {"include_simulated": True})
    finally:
        await runtime.aclose()
    assert real.structured_content["totals"]["calls"] == 0
    assert "1 simulated call(s) not counted; include_simulated=true adds them" in (
        real.content[0].text
    )
    assert everything.structured_content["totals"]["calls"] == 1


def test_cli_usage_counts_real_calls_unless_asked(
    simulator: Simulator, api_key: str, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'poe.db'}"
    runner = CliRunner()
    env = {"POE_API_KEY": api_key}
    chat = runner.invoke(
        cli,
        ["chat", "-m", "GPT-4.1", "hi", "--no-stream", "--base-url", simulator.base_url],
        env={**env, "POE_MCP_STORE": store_url},
    )
    assert chat.exit_code == 0, chat.stderr
    real = runner.invoke(cli, ["usage", "--store", store_url, "--json"], env=env)
    both = runner.invoke(cli, ["usage", "--store", store_url, "--json", "--include-simulated"])
    text = runner.invoke(cli, ["usage", "--store", store_url])
    assert json.loads(real.stdout)["totals"]["calls"] == 0
    assert json.loads(real.stdout)["simulated"] == "excluded"
    assert json.loads(both.stdout)["totals"]["calls"] == 1
    assert "1 call answered by the simulator not counted; --include-simulated adds them" in (
        text.stderr
    )


def _stdio(tmp_path: Path, *args: str) -> StdioServerParameters:
    env = {
        "POE_MCP_HOME": str(tmp_path / "data"),
        "POE_MCP_CONFIG_DIR": str(tmp_path / "config"),
        "PATH": "/usr/bin:/bin",
    }
    return StdioServerParameters(command=POE_MCP, args=["serve", *args], env=env)


@pytest.mark.timeout(60)  # several CLI processes
async def test_simulate_keeps_sessions_on_disk_apart_from_real_ones(tmp_path: Path) -> None:
    # A client that starts the server per call (as the README's transcript does) continues.
    async with Client(_stdio(tmp_path, "--simulate")) as client:
        first = await client.call_tool(
            "ask_poe_v2", {"bot": "Claude-Sonnet-4", "prompt": "Write a haiku about the sea"}
        )
    sid = first.structured_content["session_id"]
    async with Client(_stdio(tmp_path, "--simulate")) as client:
        second = await client.call_tool(
            "ask_poe_v2",
            {"bot": "Claude-Sonnet-4", "prompt": "Now translate it", "session_id": sid},
        )
        info = await client.call_tool("get_server_info", {})
    assert second.structured_content["history_messages"] == 2
    store = info.structured_content["store"]["url"]
    assert store.endswith("/data/simulator/poe-mcp.db")
    assert not (tmp_path / "data" / "poe-mcp.db").exists()  # the real store was never touched


async def test_serve_without_a_key_answers_tools_with_the_auth_error(tmp_path: Path) -> None:
    async with Client(_stdio(tmp_path)) as client:
        tools = (await client.list_tools()).tools
        asked = await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "hi"})
        models = await client.call_tool("list_available_models", {})
        info = await client.call_tool("get_server_info", {})
    assert len(tools) >= 13
    for result in (asked, models):
        error = error_of(result)
        assert error["metadata"]["kind"] == "auth"
        assert "POE_API_KEY" in error["message"]
        assert "credentials.toml" in error["message"]
    assert "MISSING" in info.content[0].text
    assert "credentials.toml" in info.content[0].text


def test_serve_help_and_banner_say_where_simulated_sessions_live() -> None:
    out = CliRunner().invoke(cli, ["serve", "--help"])
    assert "simulator/poe-mcp.db" in out.output
