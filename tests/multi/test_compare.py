"""``compare`` through the library: every model at once, a failure stays with its model."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from poe_mcp import PoeClient, compare
from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import InvalidRequestError
from poe_mcp.simulator import Simulator

from .conftest import chat_bodies, fail_model

FOUR = ["Claude-Sonnet-4", "GPT-4.1", "Grok-4", "Gemini-2.5-Pro"]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


async def test_four_models_one_fails_the_others_answer(
    client: AsyncPoeClient, simulator: Simulator, store: Any
) -> None:
    fail_model(simulator, "Grok-4", 500)
    arrived: list[str] = []
    table = await compare(
        client, "Tea or coffee?", FOUR, on_answer=lambda a: arrived.append(a.model)
    )

    assert [a.model for a in table.answers] == FOUR  # the order asked, not the order of arrival
    assert sorted(arrived) == sorted(FOUR)
    grok = table.answer("grok-4")
    assert not grok.ok
    assert grok.error is not None
    assert grok.error.kind == "upstream"
    assert grok.cost == 0.0
    assert [a.model for a in table.failed] == ["Grok-4"]
    texts = {a.text for a in table.succeeded}
    assert len(texts) == 3  # distinct answers, each naming its model
    for answer in table.succeeded:
        assert f"{answer.model} received" in answer.text
        assert answer.usage.input_tokens > 0
        assert answer.usage.output_tokens > 0
        assert answer.cost is not None
        assert answer.cost > 0
        assert answer.latency_s > 0
    assert table.cost == pytest.approx(sum(a.cost or 0 for a in table.succeeded))
    assert table.usage.output_tokens == sum(a.usage.output_tokens for a in table.answers)
    data = table.to_dict()
    assert data["failed"] == ["Grok-4"]
    assert data["answers"][2]["error"]["metadata"]["kind"] == "upstream"

    rows = await store.usage.recent(20)  # every call is in the ledger, the failure included
    assert sorted((r.model, r.outcome) for r in rows) == sorted(
        [(m, "ok") for m in FOUR if m != "Grok-4"] + [("Grok-4", "error")]
    )


async def test_the_models_are_asked_at_once(client: AsyncPoeClient, simulator: Simulator) -> None:
    for model in FOUR:
        simulator.add_fault("delay", delay_s=0.4, model=model)
    await client.chat("GPT-4.1", "warm up the connection pool")
    started = time.perf_counter()
    table = await compare(client, "slow question", FOUR)
    wall = time.perf_counter() - started
    assert not table.failed
    assert 0.4 <= table.wall_s <= wall
    assert wall < 0.4 * 2  # four models one after another would take 1.6 s


async def test_every_model_gets_the_same_request(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    table = await compare(
        client,
        "What is in the picture?",
        ["Claude-Sonnet-4", "GPT-4.1"],
        system="Answer in one line.",
        attachments=[PNG],
        temperature=0.3,
        max_tokens=300,
    )
    assert not table.failed
    bodies = chat_bodies(simulator)
    assert sorted(b["model"] for b in bodies) == ["Claude-Sonnet-4", "GPT-4.1"]
    first, second = ({k: v for k, v in b.items() if k != "model"} for b in bodies)
    assert first == second
    assert first["temperature"] == 0.3
    assert first["messages"][0] == {"role": "system", "content": "Answer in one line."}
    parts = first["messages"][1]["content"]
    assert any(p.get("type") == "image_url" for p in parts)
    for answer in table.answers:
        assert "Attachments: image/png" in answer.text
        assert "system prompt: yes" in answer.text


@pytest.mark.parametrize(
    ("models", "options", "match"),
    [
        ([], {}, "at least one model"),
        (["GPT-4.1"] * 9, {}, "at most 8 models"),
        ("GPT-4.1", {}, "a list of model names"),
        (["GPT-4.1", ""], {}, "model names"),
        (["GPT-4.1", "Grok-4"], {"fallbacks": ["Claude-Sonnet-4"]}, "fallbacks do not apply"),
    ],
)
async def test_bad_comparisons_are_refused_before_anything_is_sent(
    client: AsyncPoeClient, simulator: Simulator, models: Any, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        await compare(client, "hi", models, **options)
    assert chat_bodies(simulator) == []


async def test_configured_fallbacks_do_not_apply_to_a_comparison(
    simulator: Simulator, api_key: str, poe_home: Any
) -> None:
    config = poe_home.parent / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[fallbacks]\n"Grok-4" = ["GPT-4.1"]\n')
    fail_model(simulator, "Grok-4", 529)
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as c:
        table = await compare(c, "hi", ["Grok-4", "Claude-Sonnet-4"])
    assert table.answer("Grok-4").error is not None
    assert sorted(b["model"] for b in chat_bodies(simulator)).count("GPT-4.1") == 0


def test_the_blocking_client_compares_too(simulator: Simulator, api_key: str) -> None:
    with PoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as client:
        table = client.compare("hello", ["GPT-4.1", "Claude-Sonnet-4"], max_tokens=50)
        verdict = client.consensus(
            "Is it?", ["GPT-4.1", "Claude-Sonnet-4"], stances=["for", "against"]
        )
    assert [a.ok for a in table.answers] == [True, True]
    assert "Verdict:" in verdict.text
