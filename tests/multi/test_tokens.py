"""Cached and reasoning tokens: read from usage, priced from the catalog, kept in the ledger."""

from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from poe_mcp import PoeClient
from poe_mcp.cli import cli
from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store
from poe_mcp.store._migrations import MIGRATIONS
from poe_mcp.store.base import UsageRecord
from poe_mcp.types import Usage

HISTORY = [
    {"role": "system", "content": "You are a careful reviewer of long design documents. " * 8},
    {"role": "user", "content": "Read the design."},
    {"role": "assistant", "content": "Read it."},
    {"role": "user", "content": "Is it sound?"},
]


async def test_cached_and_reasoning_tokens_are_priced_from_the_catalog(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    result = await client.chat("Claude-Opus-4.1", HISTORY, reasoning_effort="medium")
    usage = result.usage
    assert usage.cached_tokens > 0  # the history before the last question came from the cache
    assert usage.cached_tokens < usage.input_tokens
    assert usage.reasoning_tokens == 32

    price = (await client.list_models())[0]["pricing"]
    assert price["input_cache_read"] is not None
    exact = (
        Decimal(price["prompt"]) * (usage.input_tokens - usage.cached_tokens)
        + Decimal(price["input_cache_read"]) * usage.cached_tokens
        + Decimal(price["completion"]) * usage.output_tokens  # reasoning is output
    )
    assert result.cost == float(exact)
    full = (
        Decimal(price["prompt"]) * usage.input_tokens
        + Decimal(price["completion"]) * usage.output_tokens
    )
    assert result.cost < float(full)


async def test_models_without_a_cache_price_report_no_cached_tokens(
    client: AsyncPoeClient,
) -> None:
    result = await client.chat("GPT-4.1", HISTORY)
    assert result.usage.cached_tokens == 0
    assert result.usage.reasoning_tokens == 0


async def test_streamed_answers_carry_the_details_too(client: AsyncPoeClient) -> None:
    result = None
    async for delta in client.stream("Gemini-2.5-Pro", HISTORY, reasoning_effort=2560):
        result = delta.result or result
    assert result is not None
    assert result.usage.reasoning_tokens == 10
    assert result.usage.cached_tokens > 0


def test_usage_details_are_read_from_every_shape() -> None:
    openai = Usage.from_openai(
        {
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "prompt_tokens_details": {"cached_tokens": 60, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 30},
        }
    )
    assert openai == Usage(100, 50, reasoning_tokens=30, cached_tokens=60)
    anthropic = Usage.from_openai(
        {
            "prompt_tokens": 100,
            "completion_tokens": 5,
            "cache_read_input_tokens": 40,
            "cache_creation_input_tokens": 20,
        }
    )
    assert anthropic == Usage(100, 5, cached_tokens=40, cache_write_tokens=20)
    junk = Usage.from_openai(
        {
            "prompt_tokens": 7,
            "completion_tokens": None,
            "prompt_tokens_details": None,
            "completion_tokens_details": {"reasoning_tokens": "many"},
        }
    )
    assert junk == Usage(7, 0)
    assert Usage.from_openai({"total_tokens": 3}) is None
    summed = Usage(1, 2, reasoning_tokens=1, cached_tokens=1) + Usage(3, 4, cached_tokens=2)
    assert (summed.reasoning_tokens, summed.cached_tokens) == (1, 3)
    assert summed.to_dict()["cached_tokens"] == 3


def test_cache_prices_apply_and_fall_back_to_the_input_price() -> None:
    from poe_mcp.catalog import ModelInfo, parse_price_overrides

    priced = parse_price_overrides(
        {"m": {"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75}}
    )["m"]
    usage = Usage(1_000_000, 1_000_000, cached_tokens=500_000, cache_write_tokens=100_000)
    assert priced.cost(usage) == Decimal("1.2") + Decimal("0.15") + Decimal("0.375") + 15
    plain = ModelInfo.from_api({"id": "p", "pricing": {"prompt": "0.000003", "completion": "0"}})
    assert plain.cost(Usage(1000, 0, cached_tokens=400)) == pytest.approx(0.003)
    listed = ModelInfo.from_api(
        {"id": "c", "pricing": {"prompt": "0.000003", "input_cache_read": "0.0000003"}}
    )
    assert listed.to_dict()["pricing"]["cache_read_per_mtok"] == pytest.approx(0.3)


async def test_the_ledger_keeps_and_sums_the_details(tmp_path: Path) -> None:
    store: Any = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        for cached, reasoning in ((10, 5), (0, 7)):
            await store.usage.record(
                UsageRecord(
                    ts=time.time(),
                    provider="poe",
                    backend="openai",
                    model="Claude-Opus-4.1",
                    outcome="ok",
                    input_tokens=100,
                    output_tokens=50,
                    cost=0.01,
                    cached_tokens=cached,
                    reasoning_tokens=reasoning,
                )
            )
        totals = await store.usage.totals()
        (group,) = await store.usage.breakdown("model")
        (last, _) = await store.usage.recent(2)
    finally:
        await store.aclose()
    assert (totals.cached_tokens, totals.reasoning_tokens) == (10, 12)
    assert (group.totals.cached_tokens, group.totals.reasoning_tokens) == (10, 12)
    assert (last.cached_tokens, last.reasoning_tokens) == (0, 7)


async def test_a_ledger_from_before_the_details_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at REAL NOT NULL)"
    )
    for migration in (m for m in MIGRATIONS if m.name != "usage_token_details"):
        if migration.version > 4:
            continue
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO _migrations VALUES (?, ?, ?)", (migration.version, migration.name, 0.0)
        )
    conn.execute(
        "INSERT INTO usage (ts, provider, backend, model, outcome, input_tokens, output_tokens) "
        "VALUES (1.0, 'poe', 'openai', 'GPT-4.1', 'ok', 10, 20)"
    )
    conn.close()
    store: Any = open_store(f"sqlite:///{path}")
    try:
        (old,) = await store.usage.recent(5)
        totals = await store.usage.totals()
    finally:
        await store.aclose()
    assert (old.input_tokens, old.cached_tokens, old.reasoning_tokens) == (10, 0, 0)
    assert totals.reasoning_tokens == 0


def test_usage_shows_cached_and_reasoning_tokens(
    simulator: Simulator, api_key: str, poe_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{poe_home / 'usage.db'}"
    monkeypatch.setenv("POE_MCP_STORE", url)
    with PoeClient(api_key, base_url=simulator.base_url, rpm=0) as client:
        result = client.chat("Claude-Opus-4.1", HISTORY, reasoning_effort="high")
    runner = CliRunner()
    text = runner.invoke(cli, ["usage", "--store", url, "--recent", "5", "--include-simulated"])
    assert text.exit_code == 0, text.output
    cached = f"{result.usage.cached_tokens:,}"
    assert f"{cached} input tokens came from the prompt cache" in text.stdout
    assert "64 output tokens were reasoning" in text.stdout
    assert "CACHED IN" in text.stdout
    assert "REASONING" in text.stdout
    assert f"[{cached} cached, 64 reasoning]" in text.stdout
    data = json.loads(
        runner.invoke(cli, ["usage", "--store", url, "--json", "--include-simulated"]).stdout
    )
    assert data["totals"]["reasoning_tokens"] == 64
    assert data["totals"]["cached_tokens"] == result.usage.cached_tokens
