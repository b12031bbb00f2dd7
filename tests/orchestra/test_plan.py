"""The plan checks tier 2's answers go through: a DAG of known, unique tickets."""

from __future__ import annotations

import pytest

from poe_mcp.errors import ConfigError
from poe_mcp.orchestra import PlanError, Ticket, TierModel, check_dag, resolve_tiers


def test_the_dag_check_names_cycles_unknown_ids_and_duplicates() -> None:
    a = Ticket(id="a", target="x", depends_on=["b"])
    b = Ticket(id="b", target="y", depends_on=["a"])
    with pytest.raises(PlanError, match="cycle"):
        check_dag([a, b])
    with pytest.raises(PlanError, match="unknown ticket"):
        check_dag([Ticket(id="a", target="x", depends_on=["zz"])])
    with pytest.raises(PlanError, match="duplicate"):
        check_dag([Ticket(id="a", target="x"), Ticket(id="a", target="y")])
    order = check_dag([Ticket(id="c", target="z", depends_on=["d"]), Ticket(id="d", target="w")])
    assert order.index("d") < order.index("c")


def test_tier_models_name_a_provider_or_use_the_runs_own() -> None:
    assert TierModel.parse("openai:gpt-4o-mini") == TierModel("gpt-4o-mini", "openai")
    assert TierModel.parse("Claude-Opus-4.1") == TierModel("Claude-Opus-4.1", None)
    with pytest.raises(ConfigError, match="names no model"):
        TierModel.parse("openai:")


def test_tier_tables_merge_over_the_defaults_and_refuse_unknown_tiers() -> None:
    tiers = resolve_tiers({"1": "A"}, {3: "openai:b"})
    assert tiers["1"] == "A"
    assert tiers["3"] == "openai:b"
    assert tiers["4"] == "GPT-4o-mini"
    with pytest.raises(ConfigError, match="unknown tier '5'"):
        resolve_tiers({"5": "A"})
    with pytest.raises(ConfigError, match="must be a model name"):
        resolve_tiers({"2": 3})
