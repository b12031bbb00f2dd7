"""``consensus`` through the library: stances, a synthesis naming agreement, every step priced."""

from __future__ import annotations

from typing import Any

import pytest

from poe_mcp import consensus
from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import InvalidRequestError, PoeError
from poe_mcp.multi import Stance, stance_instruction
from poe_mcp.simulator import Simulator

from .conftest import chat_bodies, fail_model

PANEL = ["Claude-Sonnet-4", "GPT-4.1", "Grok-4"]


async def test_stances_reach_each_model_and_the_verdict_names_agreement(
    client: AsyncPoeClient, simulator: Simulator, store: Any
) -> None:
    sides: list[Stance] = ["for", "against", "against"]
    result = await consensus(
        client,
        "Should we rewrite the billing service in Rust?",
        PANEL,
        stances=sides,
        synthesizer="Claude-Opus-4.1",
        system="You are a senior engineer.",
    )

    by_model = {b["model"]: b for b in chat_bodies(simulator)}
    for model, stance in zip(PANEL, sides, strict=True):
        system = by_model[model]["messages"][0]
        assert system["role"] == "system"
        assert system["content"].startswith("You are a senior engineer.")
        assert stance_instruction(stance) in system["content"]
    assert [a.stance for a in result.panel.answers] == ["for", "against", "against"]
    assert "Opinion: yes" in result.panel.answer("Claude-Sonnet-4").text
    assert "Opinion: no" in result.panel.answer("GPT-4.1").text

    judged = by_model["Claude-Opus-4.1"]["messages"][-1]["content"]
    for model in PANEL:  # the synthesizer read every answer, labelled with its model and stance
        assert f"{model} (stance:" in judged
    assert result.synthesizer == "Claude-Opus-4.1"
    assert "Agreement: GPT-4.1 and Grok-4 say no." in result.text
    assert "Disagreement: Claude-Sonnet-4 says yes" in result.text
    assert "Verdict: no (2 of 3 answers)." in result.text

    steps = result.steps()
    assert [(s["step"], s["model"]) for s in steps] == [
        *[("answer", m) for m in PANEL],
        ("synthesis", "Claude-Opus-4.1"),
    ]
    assert all(s["cost"] > 0 for s in steps)
    assert result.cost == pytest.approx(sum(s["cost"] for s in steps))
    assert result.usage.total_tokens == sum(s["usage"]["total_tokens"] for s in steps)
    assert len(await store.usage.recent(10)) == 4  # three answers and the synthesis


async def test_one_model_twice_with_opposite_stances(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    result = await consensus(
        client, "Is remote work better?", ["GPT-4.1", "GPT-4.1"], stances=["for", "against"]
    )
    assert [a.stance for a in result.panel.answers] == ["for", "against"]
    assert result.synthesizer == "GPT-4.1"  # the first model by default
    assert "Verdict: undecided" in result.text


async def test_stances_by_model_name_and_neutral_by_default(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    result = await consensus(
        client, "Tabs or spaces?", ["GPT-4.1", "Claude-Sonnet-4"], stances={"gpt-4.1": "against"}
    )
    assert [a.stance for a in result.panel.answers] == ["against", "neutral"]
    neutral = chat_bodies(simulator)[0:2]
    assert any(stance_instruction("neutral") in b["messages"][0]["content"] for b in neutral)


@pytest.mark.parametrize(
    ("stances", "match"),
    [
        (["for", "sideways"], "for, against, neutral"),
        (["for", "for", "for"], "at most one stance per model"),
        ({"Grok-4": "for"}, "not in the panel"),
    ],
)
async def test_bad_stances_are_refused_before_anything_is_sent(
    client: AsyncPoeClient, simulator: Simulator, stances: Any, match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        await consensus(client, "hi", ["GPT-4.1", "Claude-Sonnet-4"], stances=stances)
    assert chat_bodies(simulator) == []


async def test_a_failed_panel_model_is_named_to_the_synthesizer(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    fail_model(simulator, "Grok-4", 529)
    result = await consensus(client, "Ship it?", PANEL, stances=["for", "against", "for"])
    assert result.ok
    assert result.panel.answer("Grok-4").error is not None
    judged = chat_bodies(simulator)[-1]["messages"][-1]["content"]
    assert "Grok-4 (stance: for)\n[no answer: the model failed (overloaded)]" in judged
    assert "Verdict: undecided (1 of 2 answers each way)." in result.text


async def test_no_verdict_without_answers(client: AsyncPoeClient, simulator: Simulator) -> None:
    fail_model(simulator, "GPT-4.1", 503)
    fail_model(simulator, "Grok-4", 403)
    with pytest.raises(PoeError, match="no panel model answered") as caught:
        await consensus(client, "hi", ["GPT-4.1", "Grok-4"], synthesizer="Claude-Opus-4.1")
    assert caught.value.kind == "upstream"
    assert "Claude-Opus-4.1" not in [b["model"] for b in chat_bodies(simulator)]


async def test_a_failed_synthesis_keeps_the_answers(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    fail_model(simulator, "Claude-Opus-4.1", 402)
    result = await consensus(client, "hi", ["GPT-4.1", "Grok-4"], synthesizer="Claude-Opus-4.1")
    assert not result.ok
    assert result.verdict is None
    assert result.synthesis_error is not None
    assert result.synthesis_error.kind == "balance"
    assert len(result.panel.succeeded) == 2
    assert result.steps()[-1]["error"]["metadata"]["kind"] == "balance"
    assert result.cost == pytest.approx(result.panel.cost)
