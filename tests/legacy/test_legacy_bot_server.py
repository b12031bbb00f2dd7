"""The legacy backend against a real fastapi_poe bot server (``fp.make_app`` on loopback).

The bot records what it receives, so these tests check what actually crossed the wire.
"""

from __future__ import annotations

from typing import Any

import pytest

from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import (
    BalanceError,
    IncompleteStreamError,
    InvalidRequestError,
    ModerationError,
    NetworkError,
    PoeError,
    TooLargeError,
    UpstreamError,
)
from poe_mcp.simulator import Simulator
from poe_mcp.types import Attachment, Delta

from .conftest import KEY, WEATHER, BotServer, drain, png, upload_calls


async def test_messages_system_temperature_and_stop_arrive_as_protocol_messages(
    bot_client: AsyncPoeClient, bot_server: BotServer
) -> None:
    history = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": "second question"}]},
    ]
    result = await bot_client.chat(
        "MyBot", history, system="Be brief.", temperature=0.3, stop=["END", "STOP"]
    )
    assert result.text == "got 4 messages; last: second question"
    assert result.backend == "legacy"
    assert result.finish_reason == "stop"
    sent = bot_server.last
    assert [(m.role, m.content) for m in sent.query] == [
        ("system", "Be brief."),
        ("user", "first question"),
        ("bot", "first answer"),
        ("user", "second question"),
    ]
    assert sent.temperature == 0.3
    assert sent.stop_sequences == ["END", "STOP"]
    assert bot_server.bot.auth[-1] == f"Bearer {KEY}"


async def test_bot_parameters_go_on_the_last_user_message_only(
    bot_client: AsyncPoeClient, bot_server: BotServer
) -> None:
    history = [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "now think hard"},
    ]
    await bot_client.chat("MyBot", history, extra={"thinking_budget": 2048, "web_search": True})
    query = bot_server.last.query
    assert query[-1].parameters == {"thinking_budget": 2048, "web_search": True}
    assert all(m.parameters == {} for m in query[:-1])


async def test_replace_response_replaces_the_text_so_far(
    bot_client: AsyncPoeClient, bot_server: BotServer
) -> None:
    deltas: list[Delta] = [d async for d in bot_client.stream("MyBot", "replace")]
    shown = [(d.text, d.replace) for d in deltas if d.result is None]
    # The key scrubber may hold back a tail that could start a key until the next delta, so
    # delta boundaries vary; what a reader shows (replace resets, else append) may not.
    screen = ""
    for text, replace in shown:
        screen = text if replace else screen + text
    assert "Draft".startswith(shown[0][0])
    assert [r for _, r in shown].count(True) == 1
    assert next(t for t, r in shown if r).startswith("Final")
    assert screen == "Final answer (done)"
    final = deltas[-1].result
    assert final is not None
    assert final.text == "Final answer (done)"
    chat = await bot_client.chat("MyBot", "replace")
    assert chat.text == "Final answer (done)"


async def test_file_events_come_back_as_attachments(
    bot_client: AsyncPoeClient, bot_server: BotServer
) -> None:
    result = await bot_client.chat("MyBot", "file")
    assert result.text == "here it is"
    assert result.attachments == (
        Attachment("https://files.example/cat.png", "image/png", "cat.png"),
    )


@pytest.mark.parametrize(
    ("command", "kind", "cls"),
    [
        ("error insufficient_fund no", "balance", BalanceError),
        ("error user_message_too_long no", "too_large", TooLargeError),
        ("error user_caused_error no", "invalid_request", InvalidRequestError),
        ("error privacy_authorization_error no", "moderation", ModerationError),
        ("error none yes", "upstream", UpstreamError),
        ("error none no", "upstream", UpstreamError),  # as on REST; not retried
    ],
)
async def test_error_events_map_to_our_kinds(
    bot_client: AsyncPoeClient, command: str, kind: str, cls: type[PoeError]
) -> None:
    with pytest.raises(cls) as caught:
        await bot_client.chat("MyBot", command)
    assert caught.value.kind == kind
    assert "failed with" in caught.value.message
    assert "MyBot" in caught.value.message
    error_type = command.split()[1]
    if error_type != "none":
        assert caught.value.to_dict()["error"]["metadata"]["error_type"] == error_type


async def test_an_error_event_after_streamed_text_breaks_the_stream_with_the_partial_text(
    bot_client: AsyncPoeClient,
) -> None:
    seen: list[str] = []
    with pytest.raises(IncompleteStreamError) as caught:
        await drain(bot_client.stream("MyBot", "error insufficient_fund no"), seen)
    assert seen == ["partial "]
    assert caught.value.partial_text == "partial "
    assert caught.value.metadata["cause"] == "balance"


async def test_a_crashing_bot_is_an_error_not_an_empty_answer(
    bot_client: AsyncPoeClient,
) -> None:
    # fastapi_poe reports a crash as an error event that forbids retries: an upstream failure
    # (the bot's, not the caller's), as the same failure is on REST, and final.
    with pytest.raises(UpstreamError, match="unexpected issue") as caught:
        await bot_client.chat("MyBot", "crash")
    assert not caught.value.retryable


async def test_a_stream_without_done_is_incomplete(
    bot_client: AsyncPoeClient, bot_server: BotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POE_BOT_BASE_URL", bot_server.url + "raw/")
    async with AsyncPoeClient(
        KEY,
        base_url=bot_client.base_url,
        backend="legacy",
        store=False,
        catalog=False,
        rpm=0,
        max_retries=0,
    ) as client:
        with pytest.raises(IncompleteStreamError) as caught:
            await drain(client.stream("nodone", "hi"))
        assert caught.value.partial_text == "half an ans"
        # chat() saw nothing reach the caller: a retryable kind, so the retry layer may resend
        # (network, as a non-streamed REST answer cut short is).
        with pytest.raises(NetworkError, match="without finishing"):
            await client.chat("nodone", "hi")


async def test_tool_call_chunks_are_assembled_and_the_second_round_carries_results(
    bot_client: AsyncPoeClient, bot_server: BotServer
) -> None:
    first = await bot_client.chat("MyBot", "weather in Paris", tools=[WEATHER])
    assert first.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.parsed_arguments()) for c in first.tool_calls] == [
        ("call_w1", "get_weather", {"city": "Paris"})
    ]
    sent_tools = bot_server.last.tools
    assert sent_tools is not None
    assert sent_tools[0].function.name == "get_weather"
    assert sent_tools[0].function.parameters.required == ["city"]

    streamed = [d async for d in bot_client.stream("MyBot", "weather in Paris", tools=[WEATHER])]
    fragments = [f for d in streamed for f in d.tool_calls]
    assert "".join(f.arguments for f in fragments) == '{"city": "Paris"}'
    assert fragments[0].name == "get_weather"

    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "weather in Paris"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [c.to_openai() for c in first.tool_calls],
        },
        {"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 21 C"},
    ]
    second = await bot_client.chat("MyBot", messages, tools=[WEATHER])
    assert second.text == "got 1 messages; last: weather in Paris; get_weather -> sunny, 21 C"
    sent = bot_server.last
    assert sent.tool_calls is not None
    assert sent.tool_results is not None
    assert sent.tool_calls[0].function.arguments == '{"city": "Paris"}'
    assert (sent.tool_results[0].tool_call_id, sent.tool_results[0].name) == (
        "call_w1",
        "get_weather",
    )


async def test_finished_tool_rounds_in_history_become_text_of_the_bot_turn(
    bot_client: AsyncPoeClient, bot_server: BotServer
) -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
    }
    history = [
        {"role": "user", "content": "weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "snow"},
        {"role": "assistant", "content": "It snows in Oslo."},
        {"role": "user", "content": "thanks"},
    ]
    result = await bot_client.chat("MyBot", history)
    assert result.text == "got 3 messages; last: thanks"
    bot_turn = bot_server.last.query[1]
    assert bot_turn.role == "bot"
    assert bot_turn.content == (
        '[called get_weather({"city":"Oslo"})]\n[get_weather returned: snow]\nIt snows in Oslo.'
    )
    assert bot_server.last.tool_results is None


async def test_tool_choice_none_sends_no_tools(
    bot_client: AsyncPoeClient, bot_server: BotServer
) -> None:
    result = await bot_client.chat("MyBot", "weather in Paris", tools=[WEATHER], tool_choice="none")
    assert result.tool_calls == ()
    assert bot_server.last.tools is None


async def test_attachments_are_uploaded_and_sent_by_url(
    bot_client: AsyncPoeClient, bot_server: BotServer, simulator: Simulator, tmp_path: Any
) -> None:
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    simulator.clear_requests()
    await bot_client.chat(
        "MyBot", [{"role": "user", "content": ["see these", png()]}], attachments=[report]
    )
    sent = bot_server.last.query[-1]
    assert sent.content == "see these"
    assert [(a.name, a.content_type) for a in sent.attachments] == [
        ("image.png", "image/png"),
        ("report.csv", "text/csv"),
    ]
    assert all(a.url.startswith(simulator.url + "/uploads/") for a in sent.attachments)
    uploads = upload_calls(simulator)
    assert len(uploads) == 2
    assert sorted(u["body"]["bytes"] for u in uploads) == sorted([len(png()), 8])


async def test_bot_and_upload_urls_can_come_from_config_toml(
    bot_server: BotServer, simulator: Simulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "config.toml").write_text(
        f'bot_base_url = "{bot_server.url}"\nupload_base_url = "{simulator.upload_base_url}"\n'
    )
    monkeypatch.setenv("POE_MCP_CONFIG_DIR", str(config))
    async with AsyncPoeClient(
        KEY,
        base_url="https://api.poe.com/v1",
        backend="legacy",
        store=False,
        catalog=False,
        rpm=0,
        max_retries=0,
    ) as client:
        result = await client.chat("MyBot", "configured", attachments=[png(3, 3)])
    assert result.text == "got 1 messages; last: configured"
    assert bot_server.last.query[0].attachments[0].url.startswith(simulator.url + "/uploads/")
