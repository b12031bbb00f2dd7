"""Fixtures for the structured-output tests: clients and schemas. ``simulator`` plays Poe (chat
completions ignore response_format), ``openai_sim`` OpenAI (they honour it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator

KEY = "test-structured-key"

WEATHER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2},
        "celsius": {"type": "number", "minimum": -90, "maximum": 60},
        "sky": {"enum": ["clear", "cloudy", "rain"]},
        "hours": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": 23},
            "minItems": 2,
            "uniqueItems": True,
        },
    },
    "required": ["city", "celsius", "sky", "hours"],
    "additionalProperties": False,
}
WEATHER_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "weather", "schema": WEATHER, "strict": True},
}


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[AsyncPoeClient]:
    """A client on Poe (the simulator), with the model catalog on and no ledger."""
    async with AsyncPoeClient(KEY, base_url=simulator.base_url, store=False, rpm=0) as c:
        yield c


def model_calls(sim: Simulator) -> list[dict[str, Any]]:
    """The model requests the simulator received (not the catalog's /v1/models)."""
    return [r for r in sim.requests() if r["method"] == "POST" and r["path"] != "/sim/faults"]


@pytest.fixture(autouse=True)
def _isolated_dirs(poe_home: Path) -> None:
    """Every test here: its own data and config dirs, no configuration from the environment."""
