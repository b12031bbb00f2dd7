"""Budgets: limits from config and environment, refused before anything is sent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from poe_mcp.budget import BudgetGuard, BudgetLimits, start_of_utc_day
from poe_mcp.catalog import Catalog
from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings
from poe_mcp.errors import ConfigError, QuotaError
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store
from poe_mcp.store.base import UsageRecord


def spent(tokens: int = 0, cost: float | None = 0.0, **kw: object) -> UsageRecord:
    fields: dict[str, object] = {
        "ts": time.time(),
        "provider": "poe",
        "backend": "openai",
        "model": "Claude-Sonnet-4",
        "outcome": "ok",
        "input_tokens": tokens,
        "cost": cost,
    }
    fields.update(kw)
    return UsageRecord(**fields)  # type: ignore[arg-type]


def test_limits_from_config_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text("[budgets]\ndaily_usd = 2.5\nsession_tokens = 1000\n")
    limits = BudgetLimits.from_settings(Settings.load())
    assert limits == BudgetLimits(
        daily_usd=2.5, session_tokens=1000, config_file=str(config / "config.toml")
    )
    assert limits.active
    env = {"POE_MCP_BUDGET_DAILY_USD": "9", "POE_MCP_BUDGET_DAILY_TOKENS": "5000"}
    both = BudgetLimits.from_mapping({"daily_usd": 2.5}, env)
    assert (both.daily_usd, both.daily_tokens) == (9.0, 5000)  # the environment wins
    assert not BudgetLimits.from_mapping({}, {}).active


@pytest.mark.parametrize(
    ("table", "env", "message"),
    [
        ({"dialy_usd": 1}, {}, "unknown key"),
        ({"daily_usd": "lots"}, {}, "must be an amount in USD"),
        ({"session_tokens": -1}, {}, "cannot be negative"),
        ({}, {"POE_MCP_BUDGET_DAILY_TOKENS": "1.5k"}, "POE_MCP_BUDGET_DAILY_TOKENS must be"),
    ],
)
def test_bad_limits_are_config_errors(
    table: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        BudgetLimits.from_mapping(table, env)


async def test_daily_limits_count_today_only(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'poe.db'}")
    try:
        await store.usage.record(spent(900, 0.9, ts=start_of_utc_day() - 60))  # yesterday
        await store.usage.record(spent(600, 0.6))
        guard = BudgetGuard(store.usage, BudgetLimits(daily_tokens=1000, daily_usd=1.0))
        await guard.check(session_id=None, model="m", estimated_input_tokens=400)
        with pytest.raises(QuotaError) as info:
            await guard.check(session_id=None, model="m", estimated_input_tokens=401)
        err = info.value
        assert err.kind == "quota"
        assert "Daily budget reached: 600 of 1,000 tokens used today (UTC)" in str(err)
        assert "about 401 tokens more" in str(err)
        assert "POE_MCP_BUDGET_DAILY_TOKENS" in str(err)
        assert "daily_tokens = <new limit> under [budgets]" in str(err)
        assert err.metadata["limit"] == "daily_tokens"
        assert err.metadata["used"] == 600

        await store.usage.record(spent(0, 0.45))
        with pytest.raises(QuotaError, match=r"\$1\.05 of \$1\.00") as info:
            await guard.check(session_id=None, model="m")
        assert info.value.metadata["limit"] == "daily_usd"
        assert "00:00 UTC" in str(info.value)
    finally:
        await store.aclose()


async def test_session_limit_and_unknown_prices_named(tmp_path: Path) -> None:
    store = open_store("memory://")
    await store.usage.record(spent(10, 0.30, session_id="s1"))
    await store.usage.record(spent(10, None, session_id="s1", model="Assistant"))
    await store.usage.record(spent(10, 5.0, session_id="other"))
    guard = BudgetGuard(store.usage, BudgetLimits(session_usd=0.25))
    await guard.check(session_id="other-new", model="m")
    await guard.check(session_id=None, model="m")  # no session, no session limit
    with pytest.raises(QuotaError) as info:
        await guard.check(session_id="s1", model="m")
    text = str(info.value)
    assert "Session budget reached: $0.30 of $0.25 used in session s1" in text
    assert "1 calls of unknown price are not included" in text
    assert "start a new session" in text
    assert "POE_MCP_BUDGET_SESSION_USD" in text


async def test_the_estimate_is_priced_by_the_catalog(simulator: Simulator) -> None:
    async with AsyncPoeClient(
        api_key="k", base_url=simulator.base_url, max_retries=0, store=False
    ) as client:
        catalog = Catalog(client.list_models)
        store = open_store("memory://")
        await store.usage.record(spent(0, 0.99))
        guard = BudgetGuard(store.usage, BudgetLimits(daily_usd=1.0), catalog=catalog)
        # Claude-Sonnet-4 input: $3 per million tokens; 3,000 tokens = $0.009 (fits)
        await guard.check(session_id=None, model="Claude-Sonnet-4", estimated_input_tokens=3000)
        with pytest.raises(QuotaError, match=r"about \$0\.015 more"):
            await guard.check(session_id=None, model="Claude-Sonnet-4", estimated_input_tokens=5000)
        # an unknown price cannot be estimated, so it does not block
        await guard.check(session_id=None, model="Assistant", estimated_input_tokens=10**6)


async def test_client_refuses_before_sending(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POE_MCP_BUDGET_SESSION_TOKENS", "20")
    store = open_store(f"sqlite:///{tmp_path / 'poe.db'}")
    async with AsyncPoeClient(
        api_key="budget-key", base_url=simulator.base_url, max_retries=0, store=store
    ) as client:
        first = await client.chat("Claude-Sonnet-4", "hello there", session_id="tight")
        assert first.usage.total_tokens >= 20
        simulator.clear_requests()
        with pytest.raises(QuotaError, match="Session budget reached") as info:
            await client.chat("Claude-Sonnet-4", "again", session_id="tight")
        assert info.value.metadata["limit"] == "session_tokens"
        sent = [r for r in simulator.requests() if r["path"].endswith("/chat/completions")]
        assert sent == []  # nothing reached the provider
        await client.chat("Claude-Sonnet-4", "other session", session_id="fresh")
    rows = await store.usage.recent()
    await store.aclose()
    assert [(r.session_id, r.outcome, r.error_kind) for r in rows] == [
        ("fresh", "ok", None),
        ("tight", "error", "quota"),
        ("tight", "ok", None),
    ]
