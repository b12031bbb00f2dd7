"""Kind 9: a call answered under a dated snapshot id is priced by the model asked for.

OpenAI answers ``gpt-4o`` with ``gpt-4o-2024-08-06``; Mistral ``mistral-large`` with
``mistral-large-2411``; ``-latest`` and ``-preview`` are aliases. The price of the requested
model applies when the answered id is a snapshot or alias of it; another model, or no price
anywhere, stays unknown (None, flagged), never 0; budgets count what such calls cost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient
from poe_mcp._model_ids import model_family, same_model
from poe_mcp.cli import cli
from poe_mcp.config import Settings
from poe_mcp.errors import QuotaError
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store

from .conftest import KEY, chat_calls, collect
from .standin import StandIn, completion

DATED = "Mistral-Large"  # the simulator's model that answers "mistral-large-2024-08-06"


@pytest.mark.parametrize(
    ("answered", "requested", "same"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o", True),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", True),
        ("o1-2024-12-17", "o1", True),
        ("o3-mini-2025-01-31", "o3-mini", True),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet-latest", True),
        ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet", True),
        ("mistral-large-2411", "mistral-large-latest", True),
        ("gpt-4-0613", "gpt-4", True),
        ("o1-preview-2024-09-12", "o1-preview", True),
        ("gemini-1.5-pro-002", "gemini-1.5-pro", True),
        ("GPT-4o-2024-08-06", "gpt-4o", True),
        ("gpt-4o-mini-2024-07-18", "gpt-4o", False),
        ("gpt-4.1", "gpt-4o", False),
        ("o3-mini", "o3", False),
    ],
)
def test_snapshots_and_aliases_name_the_same_model(
    answered: str, requested: str, same: bool
) -> None:
    assert same_model(answered, requested) is same
    assert (model_family(answered) == model_family(requested)) is same


@pytest.mark.parametrize("streamed", [True, False])
async def test_the_requested_models_price_applies_to_its_dated_answer(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    client = make_client(simulator.base_url)
    if streamed:
        _, result = await collect(client.stream(DATED, "price me"))
    else:
        result = await client.chat(DATED, "price me")
    assert result.model == "mistral-large-2024-08-06"
    assert client.catalog is not None
    expected = await client.catalog.cost(DATED, result.usage)
    assert expected is not None
    assert expected > 0
    assert result.cost == pytest.approx(expected)


async def test_a_dated_answer_from_a_quirk_on_any_model(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient]
) -> None:
    simulator.add_fault("quirk", quirks=["dated_id", "crlf"])
    client = make_client(simulator.base_url)
    _, result = await collect(client.stream("GPT-4.1", "snap"))
    assert client.catalog is not None
    assert result.cost == pytest.approx(await client.catalog.cost("GPT-4.1", result.usage))


async def test_openai_s_dated_ids_are_priced_from_its_price_table(
    make_client: Callable[..., AsyncPoeClient], openai_sim: Simulator
) -> None:
    client = make_client(openai_sim.base_url, provider="openai")
    for model, (per_in, per_out) in {"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6)}.items():
        result = await client.chat(model, "hello")
        assert result.model.startswith(f"{model}-20")
        usage = result.usage
        expected = (usage.input_tokens * per_in + usage.output_tokens * per_out) / 1e6
        assert result.cost == pytest.approx(expected)


async def test_another_model_or_no_price_stays_unknown(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    standin.models = [
        {"id": "alpha", "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
        {"id": "beta", "pricing": {"prompt": "0.000003", "completion": "0.000004"}},
    ]
    client = make_client(standin.base_url, provider="compatible", catalog=None)

    def answer(model: str) -> None:
        body = completion({"role": "assistant", "content": "ok"})
        standin.answer(json.dumps({**body, "model": model}), content_type="application/json")

    answer("beta-2025-01-01")  # a snapshot of the model asked for: its price
    assert (await client.chat("beta", "hi")).cost == pytest.approx(3 * 3e-6 + 4 * 4e-6)
    answer("beta")  # another model than the one asked for, and priced: its own price
    assert (await client.chat("alpha", "hi")).cost == pytest.approx(3 * 3e-6 + 4 * 4e-6)
    answer("gamma-2025-01-01")  # another model, unpriced: unknown, never 0
    assert (await client.chat("alpha", "hi")).cost is None
    answer("delta-latest")  # asked for a model nobody prices
    assert (await client.chat("delta", "hi")).cost is None


async def test_budgets_count_what_dated_answers_cost(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], poe_home: Path
) -> None:
    one = (await make_client(simulator.base_url).chat(DATED, "budget")).cost
    assert one is not None
    config = poe_home.parent / "config"
    config.mkdir(exist_ok=True)
    (config / "config.toml").write_text(f"[budgets]\ndaily_usd = {one * 1.5!r}\n")
    simulator.clear_requests()
    client = make_client(simulator.base_url, store=None, budget=None)
    await client.chat(DATED, "budget")
    await client.chat(DATED, "budget")
    with pytest.raises(QuotaError):
        await client.chat(DATED, "budget")  # two priced calls spent the limit
    assert len(chat_calls(simulator)) == 2
    store = open_store(Settings.load().store_url)
    try:
        totals = await store.usage.totals(simulated=True)
    finally:
        await store.aclose()
    assert totals.unknown_cost_calls == 0  # the ledger has their cost: budgets and usage see it
    assert totals.cost == pytest.approx(2 * one)


async def test_ask_poe_v2_shows_the_cost_of_a_dated_answer(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    async with Client(make_server(simulator.base_url)) as mcp:
        result = await mcp.call_tool("ask_poe_v2", {"bot": DATED, "prompt": "what does it cost?"})
    data = result.structured_content
    assert data["model"] == "mistral-large-2024-08-06"
    assert data["cost"] is not None
    assert data["cost"] > 0
    assert "cost: unknown" not in result.content[0].text


def test_the_cli_prints_the_cost_of_a_dated_answer(simulator: Simulator) -> None:
    result = CliRunner().invoke(
        cli,
        ["chat", "-m", DATED, "cost?", "--json", "--base-url", simulator.base_url],
        env={"POE_API_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "mistral-large-2024-08-06"
    assert data["cost"] is not None
    assert data["cost"] > 0


@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_run_on_a_dated_model_has_a_cost(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    result = await Agent(make_client(simulator.base_url), DATED, stream=streamed).run("cost?")
    assert result.cost is not None
    assert result.cost > 0
    assert len(chat_calls(simulator)) == 1
