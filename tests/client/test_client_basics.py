"""What a user of the library sees: results, messages, attachments, providers, the sync client."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image

from poe_mcp import PoeClient
from poe_mcp import errors as E
from poe_mcp._messages import attachment_part
from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator

from .conftest import KEY, model_calls


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_chat_returns_text_usage_and_request_metadata(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    result = await client.chat(
        "gpt-4.1", "What is GCRA?", system="Be brief.", max_tokens=500, temperature=0.2
    )
    assert "What is GCRA?" in result.text
    assert "received 2 messages" in result.text
    assert "system prompt: yes" in result.text
    assert result.finish_reason == "stop"
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens > 0
    assert result.request_id
    assert result.latency_s > 0
    assert (result.provider, result.backend) == ("poe", "openai")
    assert result.cost is None  # catalog off: unknown, never 0
    body = model_calls(simulator)[0]["body"]
    assert isinstance(body, dict)
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 500


async def test_max_tokens_and_stop_reach_the_model(client: AsyncPoeClient) -> None:
    result = await client.chat("GPT-4.1", "one two three four five six", max_tokens=3)
    assert result.finish_reason == "length"
    stopped = await client.chat("GPT-4.1", "alpha beta gamma", stop=["gamma"])
    assert "gamma" not in stopped.text


async def test_message_lists_keep_history_and_developer_becomes_system(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    messages = [
        {"role": "developer", "content": "You are terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]
    result = await client.chat("GPT-4.1", messages)
    assert "second question" in result.text
    assert "received 4 messages" in result.text
    sent = model_calls(simulator)[0]["body"]
    assert isinstance(sent, dict)
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]


async def test_bot_parameters_go_in_the_body(client: AsyncPoeClient, simulator: Simulator) -> None:
    await client.chat("Claude-Opus-4.1", "think hard", extra={"thinking_budget": 1024})
    body = model_calls(simulator)[0]["body"]
    assert isinstance(body, dict)
    assert body["thinking_budget"] == 1024


async def test_images_and_files_arrive_with_media_type_and_size(
    client: AsyncPoeClient, tmp_path: Path
) -> None:
    png = _png(64, 48)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 300)
    result = await client.chat("Claude-Sonnet-4", "what is in these?", attachments=[png, pdf])
    assert f"image/png {len(png)} bytes 64x48 px" in result.text
    assert f"application/pdf {pdf.stat().st_size} bytes" in result.text

    # bytes and paths may also sit inside a message's content list
    inline = await client.chat(
        "Claude-Sonnet-4",
        [{"role": "user", "content": ["describe", _png(10, 20)]}],
    )
    assert "10x20 px" in inline.text


def test_attachment_parts_and_their_limits(tmp_path: Path) -> None:
    text = tmp_path / "notes.md"
    text.write_text("# hello")
    part = attachment_part(text)
    assert part["type"] == "file"
    assert part["file"]["filename"] == "notes.md"
    assert part["file"]["file_data"].startswith("data:text/markdown;base64,")
    assert attachment_part(_png(2, 2))["image_url"]["url"].startswith("data:image/png;base64,")
    with pytest.raises(E.TooLargeError) as big:
        attachment_part(b"x" * 11, max_bytes=10)
    assert "limit" in str(big.value)
    with pytest.raises(E.InvalidRequestError) as missing:
        attachment_part(tmp_path / "nope.png")
    assert "not found" in str(missing.value)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": ["ok", ""]}, "stop"),
    ],
)
async def test_bad_parameters_fail_before_sending(
    client: AsyncPoeClient, simulator: Simulator, kwargs: dict[str, object], needle: str
) -> None:
    with pytest.raises(E.InvalidRequestError) as info:
        await client.chat("GPT-4.1", "hi", **kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)
    assert model_calls(simulator) == []


@pytest.mark.parametrize(
    "messages",
    ["", "   ", [], [{"role": "robot", "content": "hi"}], [{"role": "user", "content": ""}]],
)
async def test_empty_prompts_and_unknown_roles_fail_before_sending(
    client: AsyncPoeClient, simulator: Simulator, messages: object
) -> None:
    with pytest.raises(E.InvalidRequestError):
        await client.chat("GPT-4.1", messages)  # type: ignore[arg-type]
    assert model_calls(simulator) == []


async def test_openai_as_a_provider_through_base_url(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai-123456")
    async with AsyncPoeClient(
        provider="openai", base_url=simulator.base_url, store=False, catalog=False
    ) as client:
        result = await client.chat("GPT-4.1", "hello openai")
        models = await client.list_models()
    assert result.provider == "openai"
    assert "hello openai" in result.text
    assert any(m["id"] == "GPT-4.1" for m in models)
    assert "openai" in repr(client)
    assert "sk-test" not in repr(client)


async def test_a_missing_key_says_where_to_put_one(tmp_path: Path) -> None:
    with pytest.raises(E.AuthError) as info:
        AsyncPoeClient(store=False)
    message = str(info.value)
    assert "POE_API_KEY" in message
    assert "credentials.toml" in message
    assert "[poe]" in message  # the section of this provider's key
    assert "https://poe.com/api_key" in message


async def test_the_key_can_come_from_credentials_toml(simulator: Simulator, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "credentials.toml").write_text('[poe]\napi_key = "from-the-file-123456"\n')
    async with AsyncPoeClient(base_url=simulator.base_url, store=False, catalog=False) as client:
        assert (await client.chat("GPT-4.1", "hi")).text


def test_sync_client_chats_streams_and_lists(simulator: Simulator) -> None:
    with PoeClient(KEY, base_url=simulator.base_url, store=False, catalog=False) as client:
        assert "hello sync" in client.chat("GPT-4.1", "hello sync").text
        deltas = list(client.stream("GPT-4.1", "stream sync"))
        assert deltas[-1].result is not None
        assert "".join(d.text for d in deltas) == deltas[-1].result.text
        assert client.list_models()
        assert "test-client-key" not in repr(client)
    client.close()  # closing twice is fine
    with pytest.raises(RuntimeError):
        client.chat("GPT-4.1", "after close")


async def test_sync_client_works_inside_a_running_event_loop(simulator: Simulator) -> None:
    # A script or notebook with its own loop running: the facade never nests loops.
    assert asyncio.get_running_loop().is_running()
    with PoeClient(KEY, base_url=simulator.base_url, store=False, catalog=False) as client:
        assert client.chat("GPT-4.1", "inside a loop").text
        with pytest.raises(E.NotFoundError):
            client.chat("No-Such-Model", "hi")


async def test_list_models_returns_the_raw_items(client: AsyncPoeClient) -> None:
    models = await client.list_models()
    ids = {m["id"] for m in models}
    assert {"Claude-Sonnet-4", "GPT-Image-1", "Llama-3.1-405B"} <= ids
    assert all("owned_by" in m for m in models)
