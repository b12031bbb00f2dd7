"""Cost from the catalog's prices, the usage ledger, budgets and key redaction."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from poe_mcp import errors as E
from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store

from .conftest import model_calls

SECRET = "sk-poe-very-secret-key-4242"


async def test_cost_matches_the_catalog_price_and_calls_are_recorded(
    simulator: Simulator,
) -> None:
    store = open_store("memory://")
    async with AsyncPoeClient(SECRET, base_url=simulator.base_url, store=store, rpm=0) as client:
        result = await client.chat("Claude-Sonnet-4", "price this", session_id="s-1")
        models = {m["id"]: m for m in await client.list_models()}
        with pytest.raises(E.NotFoundError):
            await client.chat("No-Such-Model", "hi")
    pricing = models["Claude-Sonnet-4"]["pricing"]
    expected = result.usage.input_tokens * float(pricing["prompt"]) + (
        result.usage.output_tokens * float(pricing["completion"])
    )
    assert result.cost == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert result.session_id == "s-1"

    rows = await store.usage.recent(10)
    ok = next(r for r in rows if r.outcome == "ok")
    failed = next(r for r in rows if r.outcome == "error")
    assert (ok.model, ok.session_id, ok.cost, ok.entry_point) == (
        "Claude-Sonnet-4",
        "s-1",
        result.cost,
        "library",
    )
    assert ok.input_tokens == result.usage.input_tokens
    assert ok.request_id == result.request_id
    assert ok.prompt is None  # prompts are not logged unless asked
    assert (failed.error_kind, failed.model) == ("not_found", "No-Such-Model")
    await store.aclose()


async def test_unknown_price_stays_unknown(simulator: Simulator) -> None:
    async with AsyncPoeClient(SECRET, base_url=simulator.base_url, store=False) as client:
        models = await client.list_models()
        unpriced = next(m["id"] for m in models if not (m.get("pricing") or {}).get("prompt"))
        result = await client.chat(unpriced, "how much?")
    assert result.cost is None


async def test_the_default_ledger_is_sqlite_in_the_data_dir(
    simulator: Simulator, poe_home: Path
) -> None:
    async with AsyncPoeClient(SECRET, base_url=simulator.base_url, catalog=False) as client:
        await client.chat("GPT-4.1", "remember me")
    store = open_store(f"sqlite:///{poe_home / 'poe-mcp.db'}")
    rows = await store.usage.recent(5)
    await store.aclose()
    assert [r.model for r in rows] == ["GPT-4.1"]


async def test_a_budget_refuses_before_sending(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POE_MCP_BUDGET_SESSION_TOKENS", "10")
    store = open_store("memory://")
    async with AsyncPoeClient(SECRET, base_url=simulator.base_url, store=store) as client:
        await client.chat("GPT-4.1", "first turn", session_id="budgeted")
        sent = len(model_calls(simulator))
        with pytest.raises(E.QuotaError) as info:
            await client.chat("GPT-4.1", "second turn", session_id="budgeted")
    assert "session" in str(info.value)
    assert len(model_calls(simulator)) == sent  # refused before anything was sent
    await store.aclose()


async def test_the_key_never_reaches_logs_errors_or_reprs(
    simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    simulator.add_fault("status", status=503, retry_after_ms=1, message=f"echo {SECRET}")
    async with AsyncPoeClient(
        SECRET, base_url=simulator.base_url, store=False, catalog=False, rpm=0
    ) as client:
        texts.append(repr(client))
        await client.chat("GPT-4.1", "hello")  # retried after an error that echoed the key
        simulator.add_fault("status", status=400, message=f"bad key {SECRET}")
        with pytest.raises(E.InvalidRequestError) as info:
            await client.chat("GPT-4.1", "hello")
        texts += [str(info.value), repr(info.value), info.value.to_json()]
        async for _ in client.stream("GPT-4.1", "stream"):
            pass
    bad_key = "invalid-" + SECRET
    async with AsyncPoeClient(bad_key, base_url=simulator.base_url, store=False) as bad:
        with pytest.raises(E.AuthError) as auth:
            await bad.chat("GPT-4.1", "hi")
    texts += [str(auth.value), auth.value.to_json(), caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    assert caplog.records  # the SDK and the client did log at debug level
    for text in texts:
        assert SECRET not in text
