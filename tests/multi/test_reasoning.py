"""One ``reasoning_effort``, mapped per model family from the catalog, refused where it can't."""

from __future__ import annotations

from typing import Any

import pytest

from poe_mcp import Agent
from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import InvalidRequestError
from poe_mcp.simulator import Simulator

from .conftest import chat_bodies


def _sent(sim: Simulator) -> dict[str, Any]:
    """The last chat body, without the fields every request has."""
    body = chat_bodies(sim)[-1]
    return {k: v for k, v in body.items() if k not in ("model", "messages", "stream")}


@pytest.mark.parametrize(
    ("model", "effort", "sent"),
    [
        # Claude and Gemini declare a token budget: levels become budgets, budgets go as they are.
        ("Claude-Sonnet-4", "low", {"thinking_budget": 1024}),
        ("Claude-Sonnet-4", "medium", {"thinking_budget": 8192}),
        ("Claude-Sonnet-4", "high", {"thinking_budget": 24576}),
        ("Claude-Sonnet-4", 3000, {"thinking_budget": 3000}),
        ("Gemini-2.5-Pro", "high", {"thinking_budget": 24576}),
        ("Claude-Opus-4.1", 0, {"thinking_budget": 0}),
        # Grok declares a level: levels go as they are, budgets become the nearest level.
        ("Grok-4", "high", {"reasoning_effort": "high"}),
        ("Grok-4", 100, {"reasoning_effort": "low"}),
        ("Grok-4", 8000, {"reasoning_effort": "medium"}),
        ("Grok-4", 20000, {"reasoning_effort": "high"}),
        ("Grok-4", 0, {"reasoning_effort": "low"}),
    ],
)
async def test_the_effort_is_mapped_to_what_each_family_takes(
    client: AsyncPoeClient, simulator: Simulator, model: str, effort: Any, sent: dict[str, Any]
) -> None:
    result = await client.chat(model, "think about it", reasoning_effort=effort)
    assert _sent(simulator) == sent
    (note,) = result.notes
    name, value = next(iter(sent.items()))
    assert f"{name}={value!r}" in note
    assert f"Parameters: {name}={value}" in result.text  # what the model received


async def test_reasoning_tokens_come_back_and_are_counted(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    plain = await client.chat("Claude-Sonnet-4", "same question")
    thought = await client.chat("Claude-Sonnet-4", "same question", reasoning_effort="high")
    assert plain.usage.reasoning_tokens == 0
    assert thought.usage.reasoning_tokens == 64
    assert thought.usage.output_tokens >= 64 + 1  # reasoning is part of the output tokens
    assert "thinking, budget 24576" in thought.reasoning  # apart from the answer
    assert "tokens of reasoning" not in thought.text


async def test_a_model_that_cannot_reason_refuses_before_sending(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    with pytest.raises(InvalidRequestError, match=r"GPT-4\.1 cannot reason") as caught:
        await client.chat("GPT-4.1", "hi", reasoning_effort="high")
    assert "Claude" in caught.value.message  # it names reasoning models to use instead
    assert caught.value.metadata["reasoning"] is False
    assert chat_bodies(simulator) == []


async def test_a_model_without_a_declared_control_gets_openai_s_field(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    result = await client.chat("GPT-5-mini", "hi", reasoning_effort=20000)
    assert _sent(simulator) == {"reasoning_effort": "high"}
    assert "OpenAI's reasoning_effort='high'" in result.notes[0]
    assert "unknown" in result.notes[0]
    assert result.usage.reasoning_tokens > 0


async def test_unknown_capability_is_sent_the_openai_way_and_noted(
    simulator: Simulator, api_key: str
) -> None:
    async with AsyncPoeClient(
        api_key, base_url=simulator.base_url, store=False, catalog=False, rpm=0
    ) as client:
        result = await client.chat("Grok-4", "hi", reasoning_effort="medium")
    assert _sent(simulator) == {"reasoning_effort": "medium"}
    assert "is not in the model catalog" in result.notes[0]


@pytest.mark.parametrize(
    ("model", "effort", "extra", "match"),
    [
        ("Claude-Sonnet-4", 40000, None, "between 0 and 32768"),
        ("Claude-Sonnet-4", "high", {"thinking_budget": 10}, "give one of them"),
        ("Claude-Sonnet-4", "extreme", None, "low, medium, high or a token budget"),
        ("Claude-Sonnet-4", -1, None, "low, medium, high or a token budget"),
    ],
)
async def test_bad_efforts_are_refused(
    client: AsyncPoeClient,
    simulator: Simulator,
    model: str,
    effort: Any,
    extra: dict[str, Any] | None,
    match: str,
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        await client.chat(model, "hi", reasoning_effort=effort, extra=extra)
    assert chat_bodies(simulator) == []


async def test_each_model_of_a_chain_gets_its_own_mapping(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=529, model="Grok-4", times=5, retry_after_ms=1)
    result = await client.chat(
        "Grok-4", "hi", reasoning_effort="high", fallbacks=["GPT-4.1", "Claude-Sonnet-4"]
    )
    assert result.model == "Claude-Sonnet-4"
    assert [(a.model, a.outcome, a.error_kind) for a in result.attempts] == [
        ("Grok-4", "skipped", "overloaded"),
        ("GPT-4.1", "skipped", "invalid_request"),  # cannot reason: passed over, never sent
        ("Claude-Sonnet-4", "ok", None),
    ]
    sent = [(b["model"], b.get("reasoning_effort"), b.get("thinking_budget")) for b in
            chat_bodies(simulator)]  # fmt: skip
    assert ("GPT-4.1", None, None) not in sent
    assert sent[-1] == ("Claude-Sonnet-4", None, 24576)
    assert all(s == ("Grok-4", "high", None) for s in sent[:-1])


async def test_the_agent_takes_one_reasoning_effort(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    agent = Agent(client, "Claude-Sonnet-4", reasoning_effort="low")
    result = await agent.run("think briefly")
    assert "Parameters: thinking_budget=1024" in result.text
    assert all(b.get("thinking_budget") == 1024 for b in chat_bodies(simulator))
    with pytest.raises(InvalidRequestError):
        Agent(client, "Claude-Sonnet-4", reasoning_effort="lots")  # type: ignore[arg-type]
