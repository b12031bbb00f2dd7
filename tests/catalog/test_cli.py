"""``poe-mcp models``, ``usage`` and ``sessions`` against the simulator and a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from poe_mcp.cli import cli
from poe_mcp.cli.usage import parse_since
from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings
from poe_mcp.errors import AuthError, NotFoundError
from poe_mcp.simulator import CATALOG as SIM_CATALOG
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store


@pytest.fixture
def env(simulator: Simulator, tmp_path: Path) -> dict[str, str]:
    return {
        "POE_API_KEY": "cli-key",
        "POE_BASE_URL": simulator.base_url,
        "POE_MCP_HOME": str(tmp_path / "home"),
        "POE_MCP_CONFIG_DIR": str(tmp_path / "config"),
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)


def ok(env: dict[str, str], *args: str) -> Result:
    result = run(env, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_models_table_and_filters(env: dict[str, str]) -> None:
    out = ok(env, "models").stdout
    assert "Claude-Sonnet-4" in out
    assert "$3.00 in / $15.00 out per 1M tokens" in out  # one money format everywhere
    assert "$0.04 per call" in out
    assert next(line for line in out.splitlines() if line.startswith("Assistant")).endswith(
        "unknown"
    )
    tools = ok(env, "models", "--tools").stdout
    assert "GPT-4.1" in tools
    assert "Llama-3.1-405B" not in tools
    assert "Veo-3" not in tools
    video = json.loads(ok(env, "models", "--modality", "video", "--json").stdout)
    assert [m["id"] for m in video["models"]] == ["Veo-3"]
    assert video["models"][0]["pricing"]["per_request"] == 0.75
    found = json.loads(ok(env, "models", "--search", "anthropic", "--json").stdout)
    assert {m["id"] for m in found["models"]} == {"Claude-Opus-4.1", "Claude-Sonnet-4"}


def test_models_cache_refresh_and_offline(tmp_path: Path) -> None:
    env = {
        "POE_API_KEY": "cli-key",
        "POE_MCP_HOME": str(tmp_path / "home"),
        "POE_MCP_CONFIG_DIR": str(tmp_path / "config"),
    }
    with Simulator() as sim:
        env["POE_BASE_URL"] = sim.base_url
        assert json.loads(ok(env, "models", "--json").stdout)["source"] == "live"
        assert json.loads(ok(env, "models", "--json").stdout)["source"] == "cache"
        assert json.loads(ok(env, "models", "--json", "--refresh").stdout)["source"] == "live"
    # the same provider is now unreachable: --refresh falls back to the cached list, and says so
    result = ok(env, "models", "--refresh", "--json")
    assert "offline:" in result.stderr
    listed = json.loads(result.stdout)
    assert listed["source"] == "offline"
    assert listed["stale"] is False  # fetched moments ago, just unreachable now
    assert len(listed["models"]) == len(SIM_CATALOG)


@pytest.mark.timeout(60)  # CLI processes waiting on a refused connection
def test_models_unreachable_without_cache_is_a_clear_error(tmp_path: Path, closed_url: str) -> None:
    env = {
        "POE_API_KEY": "cli-key",
        "POE_BASE_URL": closed_url,
        "POE_MCP_HOME": str(tmp_path / "home"),
        "POE_MCP_CONFIG_DIR": str(tmp_path / "config"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "poe_mcp", "models"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error (network): The model list could not be fetched")
    assert "no copy is cached yet" in proc.stderr
    assert "Traceback" not in proc.stderr


def _calls_through_the_library(sim: Simulator) -> None:
    async def go() -> None:
        async with AsyncPoeClient(
            api_key="lib-key", base_url=sim.base_url, max_retries=0
        ) as client:
            await client.chat("Claude-Sonnet-4", "first", session_id="s-lib")
            await client.chat("Assistant", "unpriced", session_id="s-lib")
        async with AsyncPoeClient(
            api_key="invalid-key", base_url=sim.base_url, max_retries=0
        ) as bad:
            with pytest.raises(AuthError):
                await bad.chat("GPT-4.1", "refused")

    asyncio.run(go())


def test_usage_reports_library_and_cli_calls(
    env: dict[str, str], simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _calls_through_the_library(simulator)
    ok(env, "chat", "GPT-4.1", "from the command line", "--no-stream")

    # every call here was answered by the simulator: only counted when asked
    real = json.loads(ok(env, "usage", "--json").stdout)
    assert real["totals"]["calls"] == 0
    report = json.loads(ok(env, "usage", "--json", "--recent", "10", "--include-simulated").stdout)
    totals = report["totals"]
    assert totals["calls"] == 4
    assert totals["errors"] == 1
    assert totals["unknown_cost_calls"] == 1  # Assistant: flagged, not added as 0
    groups = {g["key"]: g for g in report["groups"]}
    assert groups["Assistant"]["cost"] == 0.0
    assert groups["Assistant"]["unknown_cost_calls"] == 1
    assert groups["GPT-4.1"]["errors"] == 1
    recent = report["recent"]
    assert [r["entry_point"] for r in recent] == ["cli", "library", "library", "library"]
    failed = recent[1]
    assert (failed["outcome"], failed["error_kind"], failed["cost"]) == ("error", "auth", None)
    assert all(r["prompt"] is None for r in recent)  # prompt logging is off by default

    # the cost recorded equals the catalog price times the tokens
    sonnet = next(r for r in recent if r["model"] == "Claude-Sonnet-4")
    expected = sonnet["input_tokens"] * 0.000003 + sonnet["output_tokens"] * 0.000015
    assert sonnet["cost"] == pytest.approx(expected, rel=1e-12)

    text = ok(env, "usage", "--by", "session", "--include-simulated").stdout
    assert "4 calls, 1 failed" in text
    assert "1 call without a known price" in text
    assert "s-lib" in text
    assert "(none)" in text
    by_day = ok(env, "usage", "--by", "day", "--since", "today", "--include-simulated").stdout
    assert time.strftime("%Y-%m-%d", time.gmtime()) in by_day
    future = json.loads(ok(env, "usage", "--json", "--since", "2999-01-01").stdout)
    assert future["totals"]["calls"] == 0


def test_usage_balance_comes_from_the_account(env: dict[str, str], simulator: Simulator) -> None:
    result = ok(env, "usage", "--balance", "--json")
    assert json.loads(result.stdout)["balance_points"] == simulator.balance("cli-key")
    broke = run({**env, "POE_API_KEY": "broke-key"}, "usage", "--balance", "--json")
    assert broke.exit_code == 0
    assert json.loads(broke.stdout)["balance_points"] == 0
    invalid = run({**env, "POE_API_KEY": "invalid-key"}, "usage", "--balance")
    assert isinstance(invalid.exception, AuthError)


def test_since_forms() -> None:
    now = 1_800_000_000.0
    assert parse_since("24h", now) == now - 86_400
    assert parse_since("30m", now) == now - 1800
    assert parse_since("2w", now) == now - 14 * 86_400
    assert parse_since("2026-01-31", now) == 1_769_817_600.0  # naive ISO is UTC
    assert parse_since("2026-01-31T01:00:00+01:00", now) == 1_769_817_600.0
    assert parse_since("today", now) == 1_799_971_200.0


def test_bad_since_is_a_usage_error(env: dict[str, str]) -> None:
    result = run(env, "usage", "--since", "yesterday-ish")
    assert result.exit_code == 2
    assert "use a duration" in result.output


def test_sessions_list_show_clear(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    async def seed() -> None:
        store = open_store(Settings.load().store_url)
        await store.sessions.append(
            "conv-1",
            [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "look"},
                                             {"type": "image_url", "image_url": {"url": "x"}}]},
                {"role": "assistant", "content": "a cat"},
            ],
            model="Claude-Sonnet-4",
            ttl_s=3600,
        )  # fmt: skip
        await store.aclose()

    asyncio.run(seed())
    listing = ok(env, "sessions").stdout
    assert "conv-1" in listing
    assert "Claude-Sonnet-4" in listing
    as_json = json.loads(ok(env, "sessions", "list", "--json").stdout)
    assert as_json[0]["turns"] == 1

    shown = ok(env, "sessions", "show", "conv-1").stdout
    assert "[system]\nbe brief" in shown
    assert "look\n<image_url>" in shown
    assert "[assistant]\na cat" in shown
    full = json.loads(ok(env, "sessions", "show", "conv-1", "--json").stdout)
    assert len(full["messages"]) == 3

    assert "cleared session conv-1" in ok(env, "sessions", "clear", "conv-1").stdout
    assert isinstance(run(env, "sessions", "clear", "conv-1").exception, NotFoundError)
    assert isinstance(run(env, "sessions", "show", "conv-1").exception, NotFoundError)
    assert "no live sessions" in ok(env, "sessions").stderr
