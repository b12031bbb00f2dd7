"""The simulator's side of structured output: valid instances of many schemas, ``/v1/responses``,
``response_format`` ignored on Poe and honoured in OpenAI mode, and the ``invalid_json`` fault."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import jsonschema
import pytest
from openai import OpenAI
from pydantic import BaseModel, Field

from poe_mcp.simulator import Simulator, schema_instance

from .conftest import KEY, WEATHER, WEATHER_FORMAT, model_calls


class Leaf(BaseModel):
    label: str = Field(min_length=5, max_length=6)
    weight: float = Field(gt=0, le=1)


class Tree(BaseModel):
    name: str
    leaves: list[Leaf] = Field(min_length=3)
    parent: Tree | None = None
    kind: str = Field(pattern="^x", default="x1")


SCHEMAS: dict[str, dict[str, Any]] = {
    "weather": WEATHER,
    "pydantic $defs, $ref, anyOf null, recursion": Tree.model_json_schema(),
    "formats": {
        "type": "object",
        "properties": {
            f: {"type": "string", "format": f}
            for f in ("date-time", "date", "time", "email", "ipv4", "ipv6", "uuid", "hostname")
        },
        "required": ["date", "email"],
    },
    "numbers": {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "exclusiveMinimum": 10, "multipleOf": 7},
            "b": {"type": "number", "maximum": -3.5},
            "c": {"type": "integer", "minimum": 5, "maximum": 5},
            "d": {"type": "number", "exclusiveMaximum": 0, "exclusiveMinimum": -1},
        },
        "required": ["a", "b", "c", "d"],
    },
    "arrays": {
        "type": "array",
        "prefixItems": [{"const": "head"}, {"type": "boolean"}],
        "items": {"type": "string", "maxLength": 2},
        "minItems": 4,
        "uniqueItems": True,
    },
    "allOf and nested": {
        "allOf": [
            {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
            {
                "properties": {
                    "y": {
                        "type": "object",
                        "properties": {"z": {"type": "null"}},
                        "required": ["z"],
                    }
                },
                "required": ["y"],
            },
        ],
    },
    "open object with minProperties": {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 3},
        "minProperties": 2,
    },
    "nullable type list": {"type": ["null", "string"], "enum": ["on", "off", None]},
    "strings in a unique array": {
        "type": "array",
        "items": {"type": "string", "maxLength": 1},
        "minItems": 5,
        "uniqueItems": True,
    },
    "oneOf": {"oneOf": [{"type": "string", "minLength": 3}, {"type": "integer"}]},
    "draft-07 definitions": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"id": {"type": "string", "format": "uuid"}},
        "type": "object",
        "properties": {"ids": {"type": "array", "items": {"$ref": "#/definitions/id"}}},
        "required": ["ids"],
    },
}


@pytest.mark.parametrize("schema", SCHEMAS.values(), ids=list(SCHEMAS))
def test_instances_validate(schema: dict[str, Any]) -> None:
    value = schema_instance(schema)
    cls = jsonschema.validators.validator_for(schema)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(value)
    assert schema_instance(schema) == value  # deterministic


def test_pattern_is_not_understood() -> None:
    # Documented limit: a real model can miss a pattern too; the client's repair round handles it.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(schema_instance({"type": "string", "pattern": "^x"}), {"pattern": "^x"})


def _openai(sim: Simulator) -> OpenAI:
    return OpenAI(api_key=KEY, base_url=sim.base_url, max_retries=0)


def test_responses_endpoint_answers_text_format(simulator: Simulator) -> None:
    client = _openai(simulator)
    answer = client.responses.create(
        model="Claude-Sonnet-4",
        instructions="Be exact.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]}],
        text={"format": {"type": "json_schema", "name": "weather", "schema": WEATHER}},
        max_output_tokens=500,
    )
    assert answer.status == "completed"
    jsonschema.validate(json.loads(answer.output_text), WEATHER)
    assert answer.usage is not None
    assert answer.usage.input_tokens > 0
    plain = client.responses.create(model="GPT-4.1", input="hello")
    assert 'You said: "hello"' in plain.output_text


def test_responses_endpoint_cut_by_max_output_tokens(simulator: Simulator) -> None:
    answer = _openai(simulator).responses.create(
        model="GPT-4.1",
        input="Weather?",
        text={"format": {"type": "json_schema", "name": "weather", "schema": WEATHER}},
        max_output_tokens=2,
    )
    assert answer.status == "incomplete"
    assert answer.incomplete_details is not None
    assert answer.incomplete_details.reason == "max_output_tokens"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"model": "Gemini-2.5-Pro", "input": "x"}, 400, "not served by /v1/responses"),
        ({"model": "GPT-4.1", "input": "x", "stream": True}, 400, "without streaming"),
        ({"model": "GPT-4.1", "input": []}, 400, "'input'"),
        ({"model": "Nope-1", "input": "x"}, 404, "does not exist"),
        ({"model": "GPT-4.1", "input": "x", "thinking_budget": 5}, 400, "Unrecognized"),
        (
            {"model": "GPT-4.1", "input": "x", "text": {"format": {"type": "json_schema"}}},
            400,
            "'schema'",
        ),
    ],
)
def test_responses_endpoint_refusals(
    simulator: Simulator, body: dict[str, Any], status: int, words: str
) -> None:
    answer = httpx2.post(
        f"{simulator.base_url}/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert answer.status_code == status
    assert words in answer.json()["error"]["message"]


def test_poe_chat_completions_ignore_response_format(simulator: Simulator) -> None:
    answer = _openai(simulator).chat.completions.create(
        model="GPT-4.1",
        messages=[{"role": "user", "content": "Weather?"}],
        response_format=WEATHER_FORMAT,  # type: ignore[arg-type]
    )
    assert answer.choices[0].message.content is not None
    assert answer.choices[0].message.content.startswith('You said: "Weather?"')


def test_openai_mode_honours_response_format(openai_sim: Simulator) -> None:
    answer = _openai(openai_sim).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather?"}],
        response_format=WEATHER_FORMAT,  # type: ignore[arg-type]
    )
    jsonschema.validate(json.loads(answer.choices[0].message.content or ""), WEATHER)


def test_invalid_json_fault_once_then_always_until_cleared(simulator: Simulator) -> None:
    client = _openai(simulator)

    def ask() -> str:
        answer = client.responses.create(
            model="GPT-4.1", input="x", text={"format": {"type": "json_object"}}
        )
        return answer.output_text

    queued = httpx2.post(f"{simulator.url}/sim/faults", json={"kind": "invalid_json"})
    assert queued.status_code == 200
    assert ask().startswith("Here is the JSON you asked for:")
    assert json.loads(ask())["you_said"] == "x"
    httpx2.post(f"{simulator.url}/sim/faults", json={"kind": "invalid_json", "times": 0})
    assert all(ask().startswith("Here is the JSON") for _ in range(3))
    httpx2.delete(f"{simulator.url}/sim/faults")
    assert json.loads(ask())["you_said"] == "x"
    assert [c["fault"] for c in model_calls(simulator) if "fault" in c] == ["invalid_json"] * 4


def test_catalog_lists_the_responses_endpoint_where_served(simulator: Simulator) -> None:
    models = {m["id"]: m for m in httpx2.get(f"{simulator.base_url}/models").json()["data"]}
    assert "/v1/responses" in models["GPT-4.1"]["supported_endpoints"]
    assert models["Gemini-2.5-Pro"]["supported_endpoints"] == ["/v1/chat/completions"]
