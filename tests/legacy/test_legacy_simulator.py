"""The legacy backend through ``AsyncPoeClient`` against the simulator's ``/bot/`` endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from poe_mcp import AsyncPoeClient, PoeClient
from poe_mcp import _constants as C
from poe_mcp._providers import Provider, bot_urls
from poe_mcp.backends import BackendOptions, create_backend
from poe_mcp.config import Settings
from poe_mcp.errors import (
    AuthError,
    BalanceError,
    ConfigError,
    IncompleteStreamError,
    InvalidRequestError,
    ModerationError,
    NotFoundError,
    RequestTimeoutError,
    TooLargeError,
    UpstreamError,
)
from poe_mcp.simulator import Simulator

from .conftest import KEY, WEATHER, bot_calls, drain, png, upload_calls


def client_for(sim: Simulator, key: str = KEY, **kw: Any) -> AsyncPoeClient:
    kw.setdefault("backend", "legacy")
    return AsyncPoeClient(key, base_url=sim.base_url, store=False, catalog=False, rpm=0, **kw)


def test_bot_urls_follow_the_rest_base_url() -> None:
    assert bot_urls("https://api.poe.com/v1") == (C.POE_BOT_BASE_URL, C.POE_UPLOAD_BASE_URL)
    assert bot_urls("http://127.0.0.1:8787/v1/") == (
        "http://127.0.0.1:8787/bot/",
        "http://127.0.0.1:8787/poe_api/",
    )
    assert bot_urls("https://proxy.example/poe/v1") == (
        "https://proxy.example/poe/bot/",
        "https://proxy.example/poe/poe_api/",
    )


async def test_chat_over_the_bot_protocol(legacy: AsyncPoeClient, simulator: Simulator) -> None:
    result = await legacy.chat("GPT-4.1", "hello bot", system="Be kind.")
    assert result.text.startswith('You said: "hello bot"')
    assert "received 2 messages (system prompt: yes)" in result.text
    assert (result.backend, result.finish_reason) == ("legacy", "stop")
    assert result.request_id
    calls = bot_calls(simulator)
    assert [c["path"] for c in calls] == ["/bot/GPT-4.1"]
    assert calls[0]["body"]["query"][0]["role"] == "system"


async def test_usage_is_estimated_and_says_so(legacy: AsyncPoeClient) -> None:
    prompt = "x" * 400
    result = await legacy.chat("GPT-4.1", prompt)
    assert result.usage.estimated
    assert result.usage.input_tokens == 400 // C.CHARS_PER_TOKEN
    assert result.usage.output_tokens == -(-len(result.text) // C.CHARS_PER_TOKEN)
    assert result.to_dict()["usage"]["estimated"] is True


async def test_usage_ledger_records_legacy_calls_as_estimated(
    simulator: Simulator, tmp_path: Path
) -> None:
    from poe_mcp.store import open_store

    store: Any = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    if hasattr(store, "__await__"):
        store = await store
    try:
        async with AsyncPoeClient(
            KEY, base_url=simulator.base_url, backend="legacy", store=store, catalog=False, rpm=0
        ) as client:
            await client.chat("GPT-4.1", "count me")
        (record,) = await store.usage.recent(5)
        assert (record.backend, record.estimated, record.outcome) == ("legacy", True, "ok")
        assert record.input_tokens > 0
        assert record.output_tokens > 0
    finally:
        await store.aclose()


async def test_reasoning_placeholder_is_replaced_while_streaming(legacy: AsyncPoeClient) -> None:
    text = ""
    replaced = False
    final = None
    async for delta in legacy.stream("Claude-Sonnet-4", "stream this please"):
        if delta.result is not None:
            final = delta.result
            continue
        replaced = replaced or delta.replace
        text = delta.text if delta.replace else text + delta.text
    assert replaced
    assert final is not None
    assert text == final.text
    assert "Thinking" not in final.text
    assert final.text.startswith('You said: "stream this please"')


async def test_thinking_budget_reaches_the_bot(legacy: AsyncPoeClient) -> None:
    result = await legacy.chat("Claude-Sonnet-4", "think", extra={"thinking_budget": 1024})
    assert "Parameters: thinking_budget=1024" in result.text


async def test_image_and_file_parts_are_uploaded_and_seen_by_the_bot(
    legacy: AsyncPoeClient, simulator: Simulator, tmp_path: Path
) -> None:
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 291)
    image = png()
    result = await legacy.chat("GPT-4.1", "what is this", attachments=[image, pdf])
    assert f"image/png {len(image)} bytes 64x48 px" in result.text
    assert "application/pdf 300 bytes (a.pdf)" in result.text
    uploads = upload_calls(simulator)
    assert len(uploads) == 2
    assert all(u["status"] == 200 for u in uploads)
    sent = bot_calls(simulator)[0]["body"]["query"][-1]["attachments"]
    assert all(a["url"].startswith(simulator.url + "/uploads/") for a in sent)


async def test_local_files_of_any_type_are_uploaded(
    legacy: AsyncPoeClient, simulator: Simulator, tmp_path: Path
) -> None:
    blob = tmp_path / "data.bin"
    blob.write_bytes(bytes(range(256)) * 4)
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n")
    result = await legacy.chat("GPT-4.1", "files", attachments=[blob, notes])
    assert "application/octet-stream 1024 bytes (data.bin)" in result.text
    assert "(notes.md)" in result.text


async def test_history_attachments_are_uploaded_once(
    legacy: AsyncPoeClient, simulator: Simulator
) -> None:
    part = {"type": "image_url", "image_url": {"url": _data_uri(png(10, 10))}}
    turn1 = [{"role": "user", "content": [{"type": "text", "text": "look"}, part]}]
    first = await legacy.chat("GPT-4.1", turn1)
    turn2 = [
        *turn1,
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "again"},
    ]
    second = await legacy.chat("GPT-4.1", turn2)
    assert "received 3 messages" in second.text
    assert len(upload_calls(simulator)) == 1


def _data_uri(data: bytes, media_type: str = "image/png") -> str:
    import base64

    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


async def test_an_oversized_attachment_is_refused_before_any_upload(
    legacy: AsyncPoeClient, simulator: Simulator
) -> None:
    size = C.MAX_ATTACHMENT_BYTES + 3
    huge = "A" * (size * 4 // 3 + 4)
    part = {
        "type": "file",
        "file": {
            "filename": "big.bin",
            "file_data": "data:application/octet-stream;base64," + huge,
        },
    }
    with pytest.raises(TooLargeError, match=r"'big\.bin'.*limit is 52\.4 MB"):
        await legacy.chat("GPT-4.1", [{"role": "user", "content": ["take this", part]}])
    assert upload_calls(simulator) == []
    assert bot_calls(simulator) == []


async def test_upload_failures_are_clear_and_retryable_ones_are_retried(
    legacy: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=400, path="/poe_api/", message="bad form")
    with pytest.raises(InvalidRequestError, match=r"uploading attachment 'image\.png' failed"):
        await legacy.chat("GPT-4.1", "pic", attachments=[png(5, 5)])
    simulator.add_fault("status", status=503, path="/poe_api/")
    result = await legacy.chat("GPT-4.1", "pic", attachments=[png(6, 6)])
    assert "6x6 px" in result.text
    assert [u["status"] for u in upload_calls(simulator)] == [400, 503, 200]


async def test_an_attachment_url_is_fetched_by_the_upload_endpoint(
    legacy: AsyncPoeClient, simulator: Simulator
) -> None:
    made = await legacy.chat("GPT-Image-1", "a red square")
    (image,) = made.attachments
    assert image.content_type == "image/png"
    message = [
        {"type": "text", "text": "describe"},
        {"type": "image_url", "image_url": {"url": image.url}},
    ]
    result = await legacy.chat("GPT-4.1", [{"role": "user", "content": message}])
    assert "Attachments: image/png" in result.text
    (upload,) = upload_calls(simulator)
    assert upload["body"]["download_url"] == image.url


async def test_tool_calls_and_tool_results_over_the_simulator(legacy: AsyncPoeClient) -> None:
    first = await legacy.chat("GPT-4.1", "get_weather city=Paris", tools=[WEATHER])
    assert first.finish_reason == "tool_calls"
    (call,) = first.tool_calls
    assert (call.name, call.parsed_arguments()) == ("get_weather", {"city": "Paris"})
    messages = [
        {"role": "user", "content": "get_weather city=Paris"},
        {"role": "assistant", "content": None, "tool_calls": [call.to_openai()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = await legacy.chat("GPT-4.1", messages, tools=[WEATHER])
    assert 'Tool results: get_weather -> "sunny"' in second.text
    assert second.tool_calls == ()


async def test_switching_backends_mid_conversation_carries_the_history(
    simulator: Simulator,
) -> None:
    async with client_for(simulator, backend=None) as client:
        history: list[dict[str, Any]] = [{"role": "user", "content": "my name is Ada"}]
        rest = await client.chat("GPT-4.1", history)
        assert rest.backend == "openai"
        history += [
            {"role": "assistant", "content": rest.text},
            {"role": "user", "content": "who am I?"},
        ]
        bot = await client.chat("GPT-4.1", history, backend="legacy")
        assert bot.backend == "legacy"
        assert 'You said: "who am I?"' in bot.text
        assert "received 3 messages" in bot.text
        sent = bot_calls(simulator)[-1]["body"]["query"]
        assert [(m["role"], m["content"]) for m in sent] == [
            ("user", "my name is Ada"),
            ("bot", rest.text),
            ("user", "who am I?"),
        ]
        history += [
            {"role": "assistant", "content": bot.text},
            {"role": "user", "content": "and now?"},
        ]
        back = await client.chat("GPT-4.1", history)
        assert back.backend == "openai"
        assert "received 5 messages" in back.text


async def test_a_rest_tool_call_is_answered_over_the_bot_protocol(simulator: Simulator) -> None:
    async with client_for(simulator, backend="openai") as client:
        first = await client.chat("GPT-4.1", "get_weather city=Rome", tools=[WEATHER])
        (call,) = first.tool_calls
        messages = [
            {"role": "user", "content": "get_weather city=Rome"},
            {"role": "assistant", "content": None, "tool_calls": [call.to_openai()]},
            {"role": "tool", "tool_call_id": call.id, "content": "hot"},
        ]
        second = await client.chat("GPT-4.1", messages, tools=[WEATHER], backend="legacy")
        assert 'Tool results: get_weather -> "hot"' in second.text


async def test_error_events_from_the_simulator(simulator: Simulator) -> None:
    async with client_for(simulator, key="broke-legacy") as broke:
        with pytest.raises(BalanceError):
            await broke.chat("GPT-4.1", "hi")
    async with client_for(simulator) as client:
        with pytest.raises(TooLargeError, match="too long"):
            await client.chat("ElevenLabs", "word " * 8_000)
        with pytest.raises(InvalidRequestError, match="bogus"):
            await client.chat("GPT-4.1", "hi", extra={"bogus": 1})
        simulator.add_fault(
            "stream_error",
            after_chunks=1,
            allow_retry=False,
            error_type="privacy_authorization_error",
            message="not allowed",
        )
        with pytest.raises(ModerationError, match="not allowed"):
            await client.chat("GPT-4.1", "hi")


async def test_http_errors_keep_their_kinds(simulator: Simulator) -> None:
    async with client_for(simulator, key="invalid-legacy") as bad:
        with pytest.raises(AuthError):
            await bad.chat("GPT-4.1", "hi")
    async with client_for(simulator, max_retries=0) as client:
        with pytest.raises(NotFoundError):
            await client.chat("No-Such-Bot", "hi")


async def test_retryable_error_events_and_statuses_are_retried_by_the_client(
    simulator: Simulator,
) -> None:
    async with client_for(simulator) as client:
        simulator.add_fault("stream_error", after_chunks=2, allow_retry=True)
        result = await client.chat("GPT-4.1", "try again")
        assert 'You said: "try again"' in result.text
        assert len(bot_calls(simulator)) == 2

        simulator.clear_requests()
        simulator.add_fault("status", status=429, retry_after_ms=20)
        result = await client.chat("GPT-4.1", "slow down")
        assert [c["status"] for c in bot_calls(simulator)] == [429, 200]

        simulator.clear_requests()
        simulator.add_fault("stream_error", after_chunks=1, allow_retry=False)
        # The same kind as on REST (upstream); allow_retry=false makes it final.
        with pytest.raises(UpstreamError) as final:
            await client.chat("GPT-4.1", "no retry")
        assert not final.value.retryable
        assert len(bot_calls(simulator)) == 1


async def test_a_cut_stream_is_retried_in_chat_and_incomplete_in_stream(
    simulator: Simulator,
) -> None:
    async with client_for(simulator) as client:
        simulator.add_fault("cut", after_chunks=3)
        result = await client.chat("GPT-4.1", "cut me")
        assert 'You said: "cut me"' in result.text

        simulator.add_fault("cut", after_chunks=3)
        seen: list[str] = []
        with pytest.raises(IncompleteStreamError) as caught:
            await drain(client.stream("GPT-4.1", "cut me"), seen)
        assert seen
        # What was shown, plus any tail the key scrubber was still holding back.
        assert caught.value.partial_text.startswith("".join(seen))
        assert 'You said: "cut me"' in caught.value.partial_text

        # An answer that breaks the protocol is not retried: the same request gets it again.
        simulator.clear_requests()
        simulator.add_fault("malformed")
        with pytest.raises(UpstreamError, match="breaks the bot protocol") as broken:
            await client.chat("GPT-4.1", "garbled")
        assert not broken.value.retryable
        queries = [c for c in bot_calls(simulator) if (c["body"] or {}).get("type") == "query"]
        assert len(queries) == 1  # (fastapi_poe reports the bad event to the bot: not a query)


async def test_list_models_comes_from_the_rest_catalog(simulator: Simulator) -> None:
    settings = Settings.load(base_url=simulator.base_url)
    options = BackendOptions(
        api_key=KEY, provider=Provider.from_settings(settings), timeout_s=30.0, settings=settings
    )
    backend = create_backend("legacy", options)
    try:
        models = await backend.list_models()
    finally:
        await backend.aclose()
    assert "Claude-Sonnet-4" in {m["id"] for m in models}


async def test_the_openai_provider_has_no_bot_protocol() -> None:
    async with AsyncPoeClient(
        "sk-test", provider="openai", backend="legacy", store=False, catalog=False, rpm=0
    ) as client:
        with pytest.raises(ConfigError, match="bot protocol"):
            await client.chat("gpt-4o", "hi")


async def test_a_retry_exhausted_upstream_error_names_the_bot(simulator: Simulator) -> None:
    async with client_for(simulator, max_retries=0) as client:
        simulator.add_fault("stream_error", after_chunks=1, allow_retry=True, message="flaky")
        with pytest.raises(UpstreamError, match=r"GPT-4\.1: flaky"):
            await client.chat("GPT-4.1", "hi")


async def test_a_per_call_timeout_bounds_the_wait_for_the_bot(simulator: Simulator) -> None:
    async with client_for(simulator, max_retries=0) as client:
        simulator.add_fault("delay", delay_s=1.0)
        with pytest.raises(RequestTimeoutError, match=r"sent nothing for 0\.2 s"):
            await client.chat("GPT-4.1", "slow", timeout=0.2)


def test_the_blocking_client_speaks_the_bot_protocol(simulator: Simulator) -> None:
    with PoeClient(
        KEY, base_url=simulator.base_url, backend="legacy", store=False, catalog=False, rpm=0
    ) as client:
        result = client.chat("GPT-4.1", "from a script")
        streamed = list(client.stream("Claude-Sonnet-4", "and streaming"))
    assert result.backend == "legacy"
    assert 'You said: "from a script"' in result.text
    final = streamed[-1].result
    assert final is not None
    assert final.text.startswith('You said: "and streaming"')
