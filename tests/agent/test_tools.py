"""Tools from Python functions: one source for name, description, schema and validation."""

from __future__ import annotations

import asyncio
import threading
from enum import StrEnum
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from poe_mcp import ConfigError, InvalidRequestError, Tool, tool
from poe_mcp.tools import ToolRegistry


class Unit(StrEnum):
    C = "celsius"
    F = "fahrenheit"


class Point(BaseModel):
    lat: float
    lon: float


@tool
def forecast(
    city: str,
    days: Annotated[int, Field(ge=1, le=7)] = 3,
    unit: Unit = Unit.C,
    detail: Literal["short", "long"] = "short",
    where: Point | None = None,
) -> dict[str, object]:
    """Forecast the weather.

    Longer explanation that the model does not need.

    Args:
        city: the city name.
        days (int): how many days,
            from 1 to 7.
        unit: the temperature unit.
        detail: how much to say.
        where: exact coordinates, when known.

    Returns:
        the forecast.
    """
    return {"city": city, "days": days, "unit": unit.value, "at": where}


def test_schema_comes_from_signature_hints_and_docstring() -> None:
    definition = forecast.to_openai()
    assert definition["type"] == "function"
    fn = definition["function"]
    assert fn["name"] == "forecast"
    assert fn["description"] == "Forecast the weather."
    params = fn["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["city"]
    assert params["additionalProperties"] is False
    props = params["properties"]
    assert props["city"] == {"type": "string", "description": "the city name."}
    assert props["days"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 7,
        "default": 3,
        "description": "how many days, from 1 to 7.",
    }
    assert props["detail"]["enum"] == ["short", "long"]
    assert params["$defs"]["Unit"]["enum"] == ["celsius", "fahrenheit"]
    assert "title" not in str(params)  # pydantic's titles are noise to a model


def test_arguments_are_validated_and_converted() -> None:
    values = forecast.validate(
        '{"city": "Oslo", "unit": "fahrenheit", "where": {"lat": 1, "lon": 2}}'
    )
    assert values["unit"] is Unit.F
    assert values["where"] == Point(lat=1, lon=2)
    assert values["days"] == 3


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": "Oslo", "days": 9}', "days: Input should be less than or equal to 7 (got 9)"),
        ('{"days": 2}', "city: Field required"),
        ('{"city": "Oslo", "colour": "red"}', "colour: Extra inputs are not permitted"),
        ('{"city": "Oslo"', "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
    ],
)
def test_bad_arguments_get_a_message_for_the_model(arguments: str, expected: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        forecast.validate(arguments)
    assert expected in caught.value.message
    assert caught.value.message.startswith("Invalid arguments for forecast")


async def test_sync_tools_run_in_a_thread_and_async_tools_on_the_loop() -> None:
    loop_thread = threading.get_ident()

    @tool
    def where_sync() -> int:
        """Which thread."""
        return threading.get_ident()

    @tool
    async def where_async() -> int:
        """Which thread."""
        await asyncio.sleep(0)
        return threading.get_ident()

    assert await where_sync.run({}) != loop_thread
    assert await where_async.run({}) == loop_thread
    # The decorated function stays callable as before.
    assert forecast("Rome")["city"] == "Rome"


def test_decorator_options_and_bad_functions() -> None:
    @tool(name="renamed", description="Custom text.", timeout=2.5)
    def original(x: int) -> int:
        return x

    assert (original.name, original.description, original.timeout) == (
        "renamed",
        "Custom text.",
        2.5,
    )

    def star(*args: int) -> int:
        return 0

    with pytest.raises(ConfigError, match=r"\*args/\*\*kwargs"):
        tool(star)
    with pytest.raises(ConfigError, match="tool name"):
        tool(name="has space")(forecast.func)


def test_openai_definitions_are_client_executed_and_schema_checked() -> None:
    definition = {
        "type": "function",
        "function": {
            "name": "pick",
            "description": "Pick one.",
            "parameters": {
                "type": "object",
                "properties": {"n": {"type": "integer", "minimum": 0}},
                "required": ["n"],
            },
        },
    }
    pick = Tool.from_openai(definition)
    assert not pick.executable
    assert pick.to_openai() == definition
    assert pick.validate('{"n": 2}') == {"n": 2}
    with pytest.raises(InvalidRequestError, match="n: -1 is less than the minimum of 0"):
        pick.validate('{"n": -1}')
    with pytest.raises(InvalidRequestError, match="a tool definition needs"):
        Tool.from_openai({"type": "function"})


def test_registry_rejects_duplicate_names_and_wraps_functions() -> None:
    def helper(q: str) -> str:
        """Help."""
        return q

    registry = ToolRegistry([forecast, helper])
    assert registry.names() == ["forecast", "helper"]
    assert [d["function"]["name"] for d in registry.definitions()] == ["forecast", "helper"]
    with pytest.raises(ConfigError, match="two tools are named 'forecast'"):
        registry.add(forecast)
