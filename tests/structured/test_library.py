"""Structured output through the library: the way each provider and model gets it, validation,
the repair round and the invalid_response error, against the simulator."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from poe_mcp import (
    AsyncPoeClient,
    BalanceError,
    InvalidRequestError,
    InvalidResponseError,
    PoeClient,
    ResponseFormat,
    UpstreamError,
)
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store

from .conftest import KEY, WEATHER, WEATHER_FORMAT, model_calls


class Address(BaseModel):
    street: str
    city: str


class Person(BaseModel):
    """A person the model describes."""

    name: str = Field(min_length=3)
    age: int = Field(ge=18)
    tags: list[str]
    address: Address
    nickname: str | None = None


def _instruction(body: dict[str, Any]) -> str:
    system = [m for m in body["messages"] if m["role"] == "system"]
    assert len(system) == 1
    return str(system[0]["content"])


async def test_poe_model_with_responses_endpoint_uses_text_format(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    result = await client.chat("GPT-4.1", "Weather in Lisbon?", response_format=WEATHER_FORMAT)
    jsonschema.validate(result.parsed, WEATHER)
    assert result.parsed == json.loads(result.text)
    (call,) = model_calls(simulator)
    assert call["path"] == "/v1/responses"
    assert call["body"]["text"]["format"] == {
        "type": "json_schema",
        "name": "weather",
        "schema": WEATHER,
        "strict": True,
    }
    assert call["body"]["input"] == [{"role": "user", "content": "Weather in Lisbon?"}]
    assert result.usage.input_tokens > 0
    assert result.cost is not None


async def test_poe_model_without_responses_endpoint_is_instructed_and_validated(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    result = await client.chat(
        "Gemini-2.5-Pro", "Weather in Oslo?", system="Be brief.", response_format=WEATHER_FORMAT
    )
    jsonschema.validate(result.parsed, WEATHER)
    (call,) = model_calls(simulator)
    assert call["path"] == "/v1/chat/completions"
    body = call["body"]
    assert "response_format" not in body  # Poe's chat completions would ignore it
    instruction = _instruction(body)
    assert instruction.startswith("Be brief.")  # the caller's system prompt comes first
    assert "JSON Schema `weather`" in instruction
    assert json.dumps(WEATHER, indent=1) in instruction


async def test_bot_protocol_is_instructed(client: AsyncPoeClient, simulator: Simulator) -> None:
    result = await client.chat(
        "Claude-Sonnet-4", "Weather in Rome?", backend="legacy", response_format=WEATHER_FORMAT
    )
    jsonschema.validate(result.parsed, WEATHER)
    assert result.backend == "legacy"
    assert [c["path"] for c in model_calls(simulator)] == ["/bot/Claude-Sonnet-4"]


@pytest.mark.parametrize("provider", ["openai", "compatible"])
async def test_openai_and_compatible_providers_get_response_format_natively(
    openai_sim: Simulator, provider: str
) -> None:
    openai_sim.clear_requests()
    async with AsyncPoeClient(
        KEY, provider=provider, base_url=openai_sim.base_url, store=False, rpm=0
    ) as client:
        result = await client.chat("gpt-4o", "Weather in Paris?", response_format=WEATHER_FORMAT)
    jsonschema.validate(result.parsed, WEATHER)
    (call,) = model_calls(openai_sim)
    assert call["path"] == "/v1/chat/completions"
    assert call["body"]["response_format"] == WEATHER_FORMAT
    assert [m["role"] for m in call["body"]["messages"]] == ["user"]  # no instruction added


async def test_pydantic_model_class_gives_an_instance(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    result = await client.chat("Claude-Sonnet-4", "Describe someone", response_format=Person)
    assert isinstance(result.parsed, Person)
    assert result.parsed.age >= 18
    assert isinstance(result.parsed.address, Address)
    (call,) = model_calls(simulator)
    sent = call["body"]["text"]["format"]
    assert sent["name"] == "Person"
    assert sent["schema"] == Person.model_json_schema()
    assert "strict" not in sent  # pydantic schemas are not strict-mode schemas
    assert result.to_dict()["parsed"] == result.parsed.model_dump(mode="json")


def test_blocking_client_with_a_pydantic_model(simulator: Simulator) -> None:
    with PoeClient(KEY, base_url=simulator.base_url, store=False, rpm=0) as client:
        result = client.chat("Llama-3.1-405B", "Describe someone", response_format=Person)
    assert isinstance(result.parsed, Person)
    assert [c["path"] for c in model_calls(simulator)] == ["/v1/chat/completions"]


@pytest.mark.parametrize(
    ("model", "path"),
    [("GPT-4o-mini", "/v1/responses"), ("Llama-3.1-405B", "/v1/chat/completions")],
)
async def test_json_object(
    client: AsyncPoeClient, simulator: Simulator, model: str, path: str
) -> None:
    result = await client.chat(model, "Tell me about MCP", response_format={"type": "json_object"})
    assert isinstance(result.parsed, dict)
    assert result.parsed["you_said"] == "Tell me about MCP"
    (call,) = model_calls(simulator)
    assert call["path"] == path
    if path == "/v1/responses":
        assert call["body"]["text"]["format"] == {"type": "json_object"}
    else:
        assert "JSON object" in _instruction(call["body"])


@pytest.mark.parametrize(
    ("model", "path"),
    [("GPT-4.1", "/v1/responses"), ("Gemini-2.5-Pro", "/v1/chat/completions")],
)
async def test_one_invalid_answer_gets_one_repair_round(
    client: AsyncPoeClient, simulator: Simulator, model: str, path: str
) -> None:
    single = await client.chat(model, "Weather?", response_format=WEATHER_FORMAT)
    simulator.clear_requests()
    simulator.add_fault("invalid_json")
    result = await client.chat(model, "Weather?", response_format=WEATHER_FORMAT)
    jsonschema.validate(result.parsed, WEATHER)
    first, second = model_calls(simulator)
    assert first["path"] == second["path"] == path
    assert first["fault"] == "invalid_json"
    # The repair request replays the bad answer and says what was wrong with it.
    turns = second["body"]["input" if path == "/v1/responses" else "messages"]
    assert turns[-2]["role"] == "assistant"
    assert turns[-2]["content"].startswith("Here is the JSON you asked for:")
    assert turns[-1]["role"] == "user"
    assert "not valid" in turns[-1]["content"]
    assert "Expecting value" in turns[-1]["content"]
    # usage and cost cover both requests
    assert result.usage.input_tokens > single.usage.input_tokens
    assert result.cost is not None
    assert single.cost is not None
    assert result.cost > single.cost


async def test_schema_errors_are_fed_back(client: AsyncPoeClient, simulator: Simulator) -> None:
    # The simulator cannot satisfy a pattern: the repair round names the failing path.
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^[0-9]{4}$"}},
        "required": ["code"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "pin", "schema": schema}}
    with pytest.raises(InvalidResponseError) as caught:
        await client.chat("Grok-4", "A PIN please", response_format=fmt)
    err = caught.value
    assert err.kind == "invalid_response"
    assert err.metadata["errors"] == ["$.code: 'code' does not match '^[0-9]{4}$'"]
    assert json.loads(err.raw_text) == {"code": "code"}
    second = model_calls(simulator)[1]
    assert "$.code: 'code' does not match" in second["body"]["messages"][-1]["content"]


@pytest.mark.parametrize("model", ["GPT-4.1", "Gemini-2.5-Pro"])
async def test_always_invalid_is_an_invalid_response_error_with_the_raw_text(
    client: AsyncPoeClient, simulator: Simulator, model: str
) -> None:
    simulator.add_fault("invalid_json", times=0)  # every answer, until cleared
    with pytest.raises(InvalidResponseError) as caught:
        await client.chat(model, "Weather?", response_format=WEATHER_FORMAT)
    err = caught.value
    assert err.kind == "invalid_response"
    assert "not valid JSON" in err.message
    assert "after 1 repair round" in err.message
    assert err.raw_text.startswith("Here is the JSON you asked for:\n{")
    body = err.to_dict()["error"]
    assert body["type"] == "invalid_response_error"
    assert body["metadata"]["requests"] == 2
    assert len(model_calls(simulator)) == 2  # one answer, one repair: bounded


async def test_an_answer_cut_by_max_tokens_is_not_repaired(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    with pytest.raises(InvalidResponseError) as caught:
        await client.chat(
            "Gemini-2.5-Pro", "Weather?", max_tokens=3, response_format=WEATHER_FORMAT
        )
    assert "raise max_tokens" in caught.value.message
    assert caught.value.raw_text
    assert len(model_calls(simulator)) == 1


@pytest.mark.parametrize(
    ("response_format", "words"),
    [
        ({"type": "json_schema"}, "schema is required"),
        ({"type": "xml"}, "not supported"),
        ({"type": "json_schema", "json_shema": {"schema": {}}}, "Did you mean 'json_schema'"),
        (
            {"type": "json_schema", "json_schema": {"schema": {"type": "nonsense"}}},
            "not a valid JSON Schema",
        ),
        ({"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}}, "name must be"),
        ({"type": "json_object", "schema": {}}, "unknown key 'schema'"),
        ("json", "must be"),
    ],
)
async def test_a_bad_response_format_is_refused_before_sending(
    client: AsyncPoeClient, simulator: Simulator, response_format: Any, words: str
) -> None:
    with pytest.raises(InvalidRequestError, match=words):
        await client.chat("GPT-4.1", "hi", response_format=response_format)
    assert model_calls(simulator) == []


async def test_flat_responses_form_and_text_type_are_accepted(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    flat = {"type": "json_schema", "name": "weather", "schema": WEATHER}
    assert ResponseFormat.of(flat) == ResponseFormat.of(
        WEATHER_FORMAT.copy() | {"json_schema": {"name": "weather", "schema": WEATHER}}
    )
    result = await client.chat("GPT-4.1", "hi", response_format={"type": "text"})
    assert result.parsed is None
    assert "You said" in result.text


async def test_stream_with_response_format_arrives_whole(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    deltas = [d async for d in client.stream("GPT-4.1", "Weather?", response_format=WEATHER_FORMAT)]
    assert len(deltas) == 2
    assert deltas[1].result is not None
    assert deltas[0].text == deltas[1].result.text
    jsonschema.validate(deltas[1].result.parsed, WEATHER)


async def test_stream_options_include_usage(client: AsyncPoeClient, simulator: Simulator) -> None:
    results = []
    for options in (None, {"include_usage": True}, {"include_usage": False}):
        async for delta in client.stream("GPT-4.1", "count", stream_options=options):
            if delta.result is not None:
                results.append(delta.result)
    sent = [c["body"].get("stream_options") for c in model_calls(simulator)]
    assert sent == [{"include_usage": True}, {"include_usage": True}, {"include_usage": False}]
    assert [r.usage.estimated for r in results] == [False, False, True]


async def _call(client: AsyncPoeClient, stream: bool, call: dict[str, Any]) -> None:
    if stream:
        async for _ in client.stream("GPT-4.1", "hi", **call):
            pass
    else:
        await client.chat("GPT-4.1", "hi", **call)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        ({"stream_options": {"include_usage": True}}, "streamed calls only"),
        ({"stream": True, "stream_options": {"include_usage": "yes"}}, "true or false"),
        ({"stream": True, "stream_options": {"usage": True}}, "unknown: usage"),
        ({"stream": True, "stream_options": {}, "backend": "legacy"}, "bot protocol"),
        (
            {
                "stream": True,
                "stream_options": {"include_usage": False},
                "response_format": {"type": "json_object"},
            },
            "cannot be honoured",
        ),
    ],
)
async def test_bad_stream_options_are_refused(
    client: AsyncPoeClient, simulator: Simulator, call: dict[str, Any], words: str
) -> None:
    stream = call.pop("stream", False)
    with pytest.raises(InvalidRequestError, match=words):
        await _call(client, stream, call)
    assert model_calls(simulator) == []


async def test_each_request_of_a_repaired_call_is_a_ledger_row(simulator: Simulator) -> None:
    store = open_store("memory://")
    simulator.add_fault("invalid_json")
    async with AsyncPoeClient(KEY, base_url=simulator.base_url, store=store, rpm=0) as client:
        result = await client.chat(
            "GPT-4.1", "Weather?", session_id="s-9", response_format=WEATHER_FORMAT
        )
    rows = await store.usage.recent(10)
    await store.aclose()
    assert [(r.outcome, r.session_id) for r in rows] == [("ok", "s-9"), ("ok", "s-9")]
    assert sum(r.input_tokens for r in rows) == result.usage.input_tokens
    assert sum(r.output_tokens for r in rows) == result.usage.output_tokens
    assert sum(r.cost or 0 for r in rows) == pytest.approx(result.cost)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"sky": "rain"}', {"sky": "rain"}),
        ('\n```json\n{"sky": "rain"}\n```\n', {"sky": "rain"}),  # a fence around the whole answer
        ('```\n{"sky": "clear"}\n```', {"sky": "clear"}),
    ],
)
def test_parse_accepts_json_and_a_fenced_answer(text: str, value: Any) -> None:
    schema = {"type": "object", "properties": {"sky": {"enum": ["clear", "rain"]}}}
    fmt = ResponseFormat.of({"type": "json_schema", "json_schema": {"schema": schema}})
    assert fmt is not None
    assert fmt.parse(text) == value


@pytest.mark.parametrize(
    ("response_format", "text", "words"),
    [
        ({"type": "json_object"}, "[1, 2]", "not a JSON object"),
        ({"type": "json_object"}, "Sure! {", "not valid JSON"),
        (Person, '{"name": "Al", "age": 3, "tags": [], "address": {}}', "$.name"),
        (
            {"type": "json_schema", "json_schema": {"schema": {"format": "email"}}},
            '"not-an-email"',
            "is not a 'email'",
        ),
    ],
)
def test_parse_refuses_with_the_reasons(response_format: Any, text: str, words: str) -> None:
    fmt = ResponseFormat.of(response_format)
    assert fmt is not None
    with pytest.raises(InvalidResponseError) as caught:
        fmt.parse(text)
    assert words in caught.value.message
    assert caught.value.raw_text == text


async def test_json_object_natively_adds_a_json_instruction_only_when_needed(
    openai_sim: Simulator,
) -> None:
    openai_sim.clear_requests()
    async with AsyncPoeClient(
        KEY, provider="compatible", base_url=openai_sim.base_url, store=False, rpm=0
    ) as client:
        bare = await client.chat("gpt-4o", "Describe MCP", response_format={"type": "json_object"})
        asked = await client.chat(
            "gpt-4o", "Describe MCP as JSON", response_format={"type": "json_object"}
        )
    assert bare.parsed["you_said"] == "Describe MCP"
    assert asked.parsed["you_said"] == "Describe MCP as JSON"
    first, second = model_calls(openai_sim)
    # OpenAI refuses json_object unless the messages ask for JSON: we ask when they do not.
    assert [m["role"] for m in first["body"]["messages"]] == ["system", "user"]
    assert [m["role"] for m in second["body"]["messages"]] == ["user"]
    assert first["body"]["response_format"] == {"type": "json_object"}


async def test_responses_path_is_retried_like_chat_completions(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=503, retry_after_ms=1)
    result = await client.chat("GPT-4.1", "Weather?", response_format=WEATHER_FORMAT)
    jsonschema.validate(result.parsed, WEATHER)
    assert [(c["path"], c["status"]) for c in model_calls(simulator)] == [
        ("/v1/responses", 503),
        ("/v1/responses", 200),
    ]


async def test_responses_path_errors_keep_their_kind(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=402)
    with pytest.raises(BalanceError):
        await client.chat("GPT-4.1", "Weather?", response_format=WEATHER_FORMAT)
    simulator.add_fault("malformed")
    with pytest.raises(UpstreamError, match="malformed JSON"):
        await client.chat("GPT-4.1", "Weather?", response_format=WEATHER_FORMAT)
    assert len(model_calls(simulator)) == 2  # neither is sent again


async def test_bot_protocol_repair_round(client: AsyncPoeClient, simulator: Simulator) -> None:
    simulator.add_fault("invalid_json")
    result = await client.chat(
        "Gemini-2.5-Pro", "Weather?", backend="legacy", response_format=WEATHER_FORMAT
    )
    jsonschema.validate(result.parsed, WEATHER)
    paths = [c["path"] for c in model_calls(simulator)]
    assert paths == ["/bot/Gemini-2.5-Pro", "/bot/Gemini-2.5-Pro"]
