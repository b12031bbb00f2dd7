"""Fallback chains through the library: which failures move on, which stop, what is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings
from poe_mcp.errors import AuthError, ConfigError, InvalidRequestError, NotFoundError, PoeError
from poe_mcp.simulator import Simulator

from .conftest import chat_bodies, fail_model

CHAIN = ["Claude-Sonnet-4", "GPT-4.1"]


def _models(sim: Simulator) -> list[str]:
    return [b["model"] for b in chat_bodies(sim)]


async def test_an_overloaded_model_is_skipped(
    client: AsyncPoeClient, simulator: Simulator, store: Any
) -> None:
    fail_model(simulator, "Claude-Opus-4.1", 529)
    result = await client.chat("Claude-Opus-4.1", "hello", fallbacks=CHAIN)

    assert result.model == "Claude-Sonnet-4"
    assert 'You said: "hello"' in result.text
    skipped, answered = result.attempts
    assert (skipped.model, skipped.outcome, skipped.error_kind) == (
        "Claude-Opus-4.1",
        "skipped",
        "overloaded",
    )
    assert (answered.model, answered.outcome, answered.error_kind) == (
        "Claude-Sonnet-4",
        "ok",
        None,
    )
    assert _models(simulator) == [
        "Claude-Opus-4.1",
        "Claude-Opus-4.1",
        "Claude-Sonnet-4",
    ]  # 1 retry
    rows = sorted(await store.usage.recent(10), key=lambda r: r.ts)
    assert [(r.model, r.outcome, r.error_kind) for r in rows] == [
        ("Claude-Opus-4.1", "error", "overloaded"),
        ("Claude-Sonnet-4", "ok", None),
    ]
    assert result.to_dict()["attempts"][0]["error_kind"] == "overloaded"


async def test_an_auth_error_stops_the_chain(simulator: Simulator, store: Any) -> None:
    async with AsyncPoeClient(
        "invalid-key", base_url=simulator.base_url, store=store, rpm=0, max_retries=1
    ) as client:
        with pytest.raises(AuthError):
            await client.chat("Claude-Opus-4.1", "hello", fallbacks=CHAIN)
    assert _models(simulator) == ["Claude-Opus-4.1"]
    rows = await store.usage.recent(10)
    assert [(r.model, r.error_kind) for r in rows] == [("Claude-Opus-4.1", "auth")]


async def test_an_auth_error_of_a_fallback_stops_there(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    fail_model(simulator, "Claude-Opus-4.1", 529)
    fail_model(simulator, "Claude-Sonnet-4", 401)
    with pytest.raises(AuthError) as caught:
        await client.chat("Claude-Opus-4.1", "hello", fallbacks=CHAIN)
    assert "GPT-4.1" not in _models(simulator)
    assert "after falling back from Claude-Opus-4.1 (overloaded)" in caught.value.message
    attempts = caught.value.metadata["attempts"]
    assert [(a["model"], a["outcome"]) for a in attempts] == [
        ("Claude-Opus-4.1", "skipped"),
        ("Claude-Sonnet-4", "failed"),
    ]


@pytest.mark.parametrize(
    ("status", "fields", "kind"),
    [
        (429, {}, "rate_limit"),
        (500, {}, "upstream"),
        (502, {}, "upstream"),
        (503, {}, "upstream"),
        (529, {}, "overloaded"),
        (403, {}, "moderation"),
        (413, {}, "too_large"),
        (408, {}, "timeout"),
        (
            400,
            {"message": "This model's maximum context length is 8192 tokens"},
            "invalid_request",
        ),
    ],
)
async def test_failures_another_model_may_not_have_fall_back(
    client: AsyncPoeClient, simulator: Simulator, status: int, fields: dict[str, Any], kind: str
) -> None:
    fail_model(simulator, "Grok-4", status, **fields)
    result = await client.chat("Grok-4", "hi", fallbacks=["GPT-4.1"])
    assert result.model == "GPT-4.1"
    assert result.attempts[0].error_kind == kind


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequestError),
        (401, AuthError),
        (404, NotFoundError),
        (402, PoeError),
    ],
)
async def test_failures_the_caller_must_fix_never_fall_back(
    client: AsyncPoeClient, simulator: Simulator, status: int, error: type[PoeError]
) -> None:
    fail_model(simulator, "Grok-4", status)
    with pytest.raises(error):
        await client.chat("Grok-4", "hi", fallbacks=["GPT-4.1"])
    assert "GPT-4.1" not in _models(simulator)


async def test_an_invalid_argument_is_refused_whatever_the_chain(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    with pytest.raises(InvalidRequestError, match="web_search"):
        await client.chat("GPT-4.1", "hi", extra={"web_search": True}, fallbacks=["Grok-4"])
    assert (
        _models(simulator) == []
    )  # refused unsent: the model list says GPT-4.1 takes no web_search


async def test_the_last_failure_is_raised_with_the_whole_story(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    fail_model(simulator, "Grok-4", 529)
    fail_model(simulator, "GPT-4.1", 429)
    with pytest.raises(PoeError) as caught:
        await client.chat("Grok-4", "hi", fallbacks=["GPT-4.1"])
    assert caught.value.kind == "rate_limit"
    assert [a["outcome"] for a in caught.value.metadata["attempts"]] == ["skipped", "failed"]


async def test_a_stream_falls_back_before_its_first_delta(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    fail_model(simulator, "Claude-Opus-4.1", 503)
    text, result = "", None
    async for delta in client.stream("Claude-Opus-4.1", "stream it", fallbacks=CHAIN):
        text += delta.text
        result = delta.result or result
    assert result is not None
    assert result.model == "Claude-Sonnet-4"
    assert [a.outcome for a in result.attempts] == ["skipped", "ok"]
    assert 'You said: "stream it"' in text


def _config(home: Path, text: str) -> None:
    path = home.parent / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def test_fallbacks_from_config_toml(
    simulator: Simulator, api_key: str, poe_home: Path
) -> None:
    _config(poe_home, '[fallbacks]\n"claude-opus-4.1" = ["Claude-Sonnet-4", "GPT-4.1"]\n')
    fail_model(simulator, "Claude-Opus-4.1", 529)
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as client:
        result = await client.chat("Claude-Opus-4.1", "configured", max_tokens=100)
        assert result.model == "Claude-Sonnet-4"
        simulator.clear_requests()
        with pytest.raises(PoeError, match=r"overloaded|Simulated"):
            await client.chat("Claude-Opus-4.1", "no chain this time", fallbacks=[])
    assert set(_models(simulator)) == {"Claude-Opus-4.1"}


@pytest.mark.parametrize(
    "text",
    [
        '[fallbacks]\n"GPT-4.1" = "Grok-4"\n',
        '[fallbacks]\n"GPT-4.1" = ["gpt-4.1"]\n',
        '[fallbacks]\n"GPT-4.1" = [1, 2]\n',
        'fallbacks = "GPT-4.1"\n',
    ],
)
def test_a_bad_fallbacks_table_is_a_config_error(poe_home: Path, text: str) -> None:
    _config(poe_home, text)
    with pytest.raises(ConfigError, match="fallbacks"):
        Settings.load()


async def test_every_option_reaches_the_fallback_model(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    fail_model(simulator, "Grok-4", 503)
    result = await client.chat(
        "Grok-4",
        "one two three",
        fallbacks=["GPT-4.1"],
        system="Be terse.",
        temperature=0.2,
        max_tokens=50,
        top_p=0.9,
        stop=["zzz"],
        session_id="s-fallback",
    )
    body = chat_bodies(simulator)[-1]
    assert body["model"] == "GPT-4.1"
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["stop"]) == (
        0.2,
        50,
        0.9,
        ["zzz"],
    )
    assert result.session_id == "s-fallback"
