"""The tool-call loop against the simulator: what a user of ``Agent`` sees."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

import pytest
from pydantic import Field

from poe_mcp import Agent, AsyncPoeClient, InvalidRequestError, Tool, tool
from poe_mcp import _constants as C
from poe_mcp.simulator import Simulator

from .conftest import NO_TOOLS_MODEL, TOOL_MODEL, chat_requests

SLEEP_S = 0.4


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city name.
    """
    return f"sunny in {city}"


@tool
def ping() -> str:
    """Answer pong."""
    return "pong"


def _sleeper(name: str, *, sync: bool) -> Tool:
    if sync:

        def slow(label: str = "x") -> str:
            time.sleep(SLEEP_S)
            return f"{name} slept"

    else:

        async def slow(label: str = "x") -> str:  # type: ignore[misc]
            await asyncio.sleep(SLEEP_S)
            return f"{name} slept"

    slow.__doc__ = f"Sleep a little ({name})."
    return tool(name=name)(slow)


async def test_single_call_result_reaches_the_model(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    agent = Agent(client, TOOL_MODEL, tools=[get_weather])
    result = await agent.run("Use get_weather city=Paris please")

    assert result.stopped_reason == "final"
    assert result.turns == 2
    assert 'get_weather -> "sunny in Paris"' in result.text
    (call,) = result.trace
    assert (call.name, json.loads(call.arguments), call.error) == (
        "get_weather",
        {"city": "Paris"},
        None,
    )
    assert call.result == "sunny in Paris"
    assert call.turn == 1
    assert result.usage.total_tokens > 0
    assert result.cost is not None
    assert result.cost > 0
    # The conversation is plain JSON a caller can store and send back.
    roles = [m["role"] for m in json.loads(json.dumps(result.messages))]
    assert roles == ["user", "assistant", "tool", "assistant"]
    # The tool was offered to the model in OpenAI format, with the docstring's descriptions.
    first = chat_requests(simulator)[0]["body"]
    (offered,) = first["tools"]
    assert offered["function"]["name"] == "get_weather"
    assert offered["function"]["description"] == "The weather in a city."
    assert (
        offered["function"]["parameters"]["properties"]["city"]["description"] == "the city name."
    )


async def test_parallel_calls_overlap_in_time(client: AsyncPoeClient, simulator: Simulator) -> None:
    names = ["slow_a", "slow_b", "slow_c", "slow_d"]
    tools = [_sleeper(n, sync=i % 2 == 0) for i, n in enumerate(names)]  # sync ones use threads
    agent = Agent(client, TOOL_MODEL, tools=tools)

    result = await agent.run("call " + " and ".join(names))

    assert [t.name for t in result.trace] == names
    assert all(t.result == f"{t.name} slept" for t in result.trace)
    # Four calls of SLEEP_S each: run together they take about SLEEP_S, not 4 x SLEEP_S.
    assert SLEEP_S <= result.tools_s < 2 * SLEEP_S
    assert chat_requests(simulator)[0]["body"]["parallel_tool_calls"] is True


async def test_sequential_mode_asks_for_one_call_at_a_time(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    tools = [_sleeper("slow_a", sync=False), _sleeper("slow_b", sync=True)]
    agent = Agent(client, TOOL_MODEL, tools=tools, parallel=False)

    result = await agent.run("call slow_a and slow_b")

    assert [t.name for t in result.trace] == ["slow_a"]
    assert chat_requests(simulator)[0]["body"]["parallel_tool_calls"] is False
    assert result.stopped_reason == "final"


async def test_max_turns_stops_the_loop_and_the_conversation_can_continue(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    agent = Agent(client, TOOL_MODEL, tools=[get_weather], max_turns=1)
    result = await agent.run("get_weather city=Oslo")

    assert result.stopped_reason == "max_turns"
    assert result.turns == 1
    assert result.text == ""
    assert result.trace[0].result == "sunny in Oslo"
    assert result.messages[-1]["role"] == "tool"  # every call is answered: the state is valid
    assert len(chat_requests(simulator)) == 1

    more = await Agent(client, TOOL_MODEL, tools=[get_weather]).run(result.messages)
    assert more.stopped_reason == "final"
    assert 'get_weather -> "sunny in Oslo"' in more.text


async def test_a_raising_tool_gives_the_model_its_error(client: AsyncPoeClient) -> None:
    @tool
    def explode() -> str:
        """Always fails."""
        raise ValueError("the fuse was lit")

    agent = Agent(client, TOOL_MODEL, tools=[explode, ping])
    result = await agent.run("call explode, then ping")

    assert result.stopped_reason == "final"
    failed, fine = result.trace
    assert failed.error == "ValueError: the fuse was lit"
    assert fine.error is None
    assert 'explode -> "Error: ValueError: the fuse was lit"' in result.text
    assert 'ping -> "pong"' in result.text


async def test_a_slow_tool_times_out_without_holding_up_the_others(
    client: AsyncPoeClient,
) -> None:
    @tool
    async def hang() -> str:
        """Never finishes in time."""
        await asyncio.sleep(30)
        return "too late"

    agent = Agent(client, TOOL_MODEL, tools=[hang, ping], tool_timeout=0.2)
    started = time.perf_counter()
    result = await agent.run("call hang and ping")

    assert time.perf_counter() - started < 5
    hung, fine = result.trace
    assert hung.error == "Tool hang timed out after 0.2 s."
    assert fine.result == "pong"
    assert 'hang -> "Error: Tool hang timed out after 0.2 s."' in result.text


async def test_a_tool_can_set_its_own_timeout(client: AsyncPoeClient) -> None:
    @tool(timeout=0.1)
    async def quick_or_nothing() -> str:
        """Allowed 0.1 s."""
        await asyncio.sleep(5)
        return "late"

    result = await Agent(client, TOOL_MODEL, tools=[quick_or_nothing], tool_timeout=60).run(
        "call quick_or_nothing"
    )
    assert result.trace[0].error == "Tool quick_or_nothing timed out after 0.1 s."


async def test_bad_arguments_are_corrected_after_the_error_is_fed_back(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    seen: list[int] = []

    @tool
    def count_items(count: int) -> str:
        """Count things.

        Args:
            count: how many.
        """
        seen.append(count)
        return f"counted {count}"

    agent = Agent(client, TOOL_MODEL, tools=[count_items, ping])
    result = await agent.run("count_items count=abc, and ping")

    # The bad arguments never reached the function; the corrected call ran once.
    assert seen == [1]
    assert result.stopped_reason == "final"
    assert result.turns == 3
    failed, pong, fixed = result.trace
    assert (failed.name, json.loads(failed.arguments), failed.turn) == (
        "count_items",
        {"count": "abc"},
        1,
    )
    assert failed.error is not None
    assert failed.error.startswith("Invalid arguments for count_items:")
    assert "count: Input should be a valid integer" in failed.error
    assert (pong.result, pong.turn) == ("pong", 1)  # only the failed call is asked again
    assert (fixed.name, json.loads(fixed.arguments), fixed.turn) == ("count_items", {"count": 1}, 2)
    assert (fixed.result, fixed.error) == ("counted 1", None)
    assert 'count_items -> "counted 1"' in result.text
    # The model read the validation error as the failed call's result.
    second = chat_requests(simulator)[1]["body"]["messages"]
    fed_back = next(m for m in second if m.get("tool_call_id") == failed.call_id)
    assert fed_back["content"].startswith("Error: Invalid arguments for count_items:")
    assert "call the tool again" in fed_back["content"]


async def test_arguments_the_model_never_gets_right_stop_after_the_retry_bound(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    calls: list[str] = []

    # The simulated model does not understand ``pattern``: its retries keep the bad value.
    @tool
    def book_room(code: Annotated[str, Field(pattern=r"^[A-Z]{3}-[0-9]{3}$")]) -> str:
        """Book a room by its code, e.g. ABC-123."""
        calls.append(code)
        return "booked"

    result = await Agent(client, TOOL_MODEL, tools=[book_room]).run("book_room code=lobby")

    assert calls == []
    assert result.stopped_reason == "invalid_tool_arguments"
    assert result.turns == C.TOOL_ARG_RETRIES + 1
    assert len(chat_requests(simulator)) == C.TOOL_ARG_RETRIES + 1  # no request after the bound
    assert [t.turn for t in result.trace] == list(range(1, C.TOOL_ARG_RETRIES + 2))
    assert all(t.error and "should match pattern" in t.error for t in result.trace)
    assert result.text == ""
    assert result.messages[-1]["role"] == "tool"  # every call answered: the state stays valid


async def test_simulated_model_fixes_values_to_fit_the_schema(client: AsyncPoeClient) -> None:
    schema = {
        "type": "object",
        "properties": {
            "size": {"type": "string", "enum": ["small", "large"]},
            "count": {"type": "integer", "minimum": 5, "maximum": 9},
            "note": {"type": "string"},
            "ratio": {"type": "number", "exclusiveMaximum": 1, "default": 0.25},
        },
        "required": ["size", "count", "note"],
    }
    definition = {"type": "function", "function": {"name": "order", "parameters": schema}}
    bad = '{"size": "huge", "count": 50, "note": "keep me", "ratio": 3}'
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "order"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "order", "arguments": bad}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Invalid arguments for order: ..."},
    ]
    chat = await client.chat(TOOL_MODEL, messages, tools=[definition])

    (retry,) = chat.tool_calls
    assert retry.name == "order"
    assert retry.id != "c1"
    assert json.loads(retry.arguments) == {"size": "small", "count": 5, "note": "keep me"}
    # Any other tool result is answered as usual.
    messages[-1]["content"] = "ordered"
    assert (
        'order -> "ordered"' in (await client.chat(TOOL_MODEL, messages, tools=[definition])).text
    )


async def test_tool_choice_forces_a_named_tool_on_the_first_request_only(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    agent = Agent(client, TOOL_MODEL, tools=[get_weather], tool_choice={"name": "get_weather"})
    result = await agent.run("Hello there")

    assert [t.name for t in result.trace] == ["get_weather"]
    first, second = (r["body"] for r in chat_requests(simulator))
    assert first["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert second["tool_choice"] == "auto"  # or the model could never answer


async def test_tool_choice_none_and_required(client: AsyncPoeClient) -> None:
    none = await Agent(client, TOOL_MODEL, tools=[get_weather], tool_choice="none").run(
        "get_weather city=Nice"
    )
    assert none.trace == []
    assert none.turns == 1

    required = await Agent(client, TOOL_MODEL, tools=[get_weather], tool_choice="required").run(
        "Tell me something"
    )
    assert [t.name for t in required.trace] == ["get_weather"]

    with pytest.raises(InvalidRequestError, match="not one of the tools"):
        Agent(client, TOOL_MODEL, tools=[get_weather], tool_choice={"name": "nope"})


async def test_token_budget_stops_before_the_next_request(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    agent = Agent(client, TOOL_MODEL, tools=[get_weather], budget_tokens=10)
    result = await agent.run("get_weather city=Bern")

    assert result.stopped_reason == "budget"
    assert len(chat_requests(simulator)) == 1
    assert result.usage.total_tokens >= 10


async def test_usd_budget_stops_before_the_next_request(client: AsyncPoeClient) -> None:
    agent = Agent(client, TOOL_MODEL, tools=[get_weather], budget_usd=1e-9)
    result = await agent.run("get_weather city=Bern")
    assert result.stopped_reason == "budget"
    assert result.turns == 1


async def test_model_without_tool_support_fails_before_any_chat_request(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    agent = Agent(client, NO_TOOLS_MODEL, tools=[get_weather])
    with pytest.raises(InvalidRequestError, match="does not support tools"):
        await agent.run("get_weather city=Paris")
    assert chat_requests(simulator) == []


async def test_client_executed_tools_round_trip(client: AsyncPoeClient) -> None:
    definition = {
        "type": "function",
        "function": {
            "name": "open_editor",
            "description": "Open a file in the user's editor (runs on the caller's side).",
            "parameters": {
                "type": "object",
                "properties": {"file": {"type": "string"}},
                "required": ["file"],
            },
        },
    }
    agent = Agent(client, TOOL_MODEL, tools=[get_weather, definition])
    first = await agent.run("get_weather city=Kyiv then open_editor file=notes.md")

    assert first.stopped_reason == "pending_tool_calls"
    (pending,) = first.pending_tool_calls
    assert (pending.name, json.loads(pending.arguments)) == ("open_editor", {"file": "notes.md"})
    assert [(t.name, t.executed_by) for t in first.trace] == [
        ("get_weather", "agent"),
        ("open_editor", "pending"),
    ]

    with pytest.raises(InvalidRequestError, match="missing results"):
        await agent.run(first.messages)
    with pytest.raises(InvalidRequestError, match="did not ask for"):
        await agent.run(first.messages, tool_results={"call_unknown": "x"})

    # A fresh agent (e.g. in the next MCP call) continues from the stored conversation.
    later = Agent(client, TOOL_MODEL, tools=[get_weather, definition])
    done = await later.run(
        json.loads(json.dumps(first.messages)), tool_results={pending.id: {"opened": True}}
    )
    assert done.stopped_reason == "final"
    assert 'open_editor -> "{"opened":true}"' in done.text
    assert 'get_weather -> "sunny in Kyiv"' in done.text
    assert [(t.name, t.executed_by, t.turn) for t in done.trace] == [("open_editor", "client", 0)]


async def test_resume_accepts_an_error_for_a_client_executed_call(client: AsyncPoeClient) -> None:
    definition = {"type": "function", "function": {"name": "ask_user", "parameters": {}}}
    agent = Agent(client, TOOL_MODEL, tools=[definition])
    first = await agent.run("ask_user")
    done = await agent.resume(first, {first.pending_tool_calls[0].id: RuntimeError("declined")})
    assert done.trace[0].error == "declined"
    assert 'ask_user -> "Error: declined"' in done.text


async def test_system_prompt_and_messages_input(client: AsyncPoeClient) -> None:
    agent = Agent(client, TOOL_MODEL, tools=[get_weather], system="Be brief.")
    result = await agent.run(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "get_weather city=Cairo"},
        ]
    )
    assert result.messages[0] == {"role": "system", "content": "Be brief."}
    assert "(system prompt: yes)" in result.text
    assert "received 6 messages" in result.text
