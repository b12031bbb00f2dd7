"""Media bots: markdown links to real files, bot parameters, and an asynchronous delay."""

from __future__ import annotations

import asyncio
import io
import re
import struct
import time
import wave

import httpx2
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from PIL import Image

from poe_mcp.simulator import Simulator

LINK = re.compile(r"\[([^\]]*)\]\((http://[^)]+/media/[0-9a-f]+\.(\w+))\)")


def _make(client: OpenAI, model: str, prompt: str, **extra: object) -> tuple[str, str, bytes, str]:
    resp = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], extra_body=extra or None
    )
    text = resp.choices[0].message.content or ""
    match = LINK.search(text)
    assert match, text
    file = httpx2.get(match.group(2))
    assert file.status_code == 200
    return text, match.group(3), file.content, file.headers["content-type"]


def _boxes(data: bytes) -> dict[bytes, bytes]:
    """Top-level and nested ISO BMFF boxes by type (first occurrence)."""
    found: dict[bytes, bytes] = {}

    def walk(buf: bytes) -> None:
        i = 0
        while i + 8 <= len(buf):
            size, kind = struct.unpack(">I4s", buf[i : i + 8])
            found.setdefault(kind, buf[i + 8 : i + size])
            if kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):
                walk(buf[i + 8 : i + size])
            i += size

    walk(data)
    return found


def test_image_is_a_real_png_sized_by_parameters(client: OpenAI) -> None:
    text, ext, data, ctype = _make(client, "GPT-Image-1", "a red fox")
    assert text.startswith("![")
    assert (ext, ctype) == ("png", "image/png")
    assert Image.open(io.BytesIO(data)).size == (64, 64)
    _, _, wide, _ = _make(client, "gpt-image-1", "a red fox", aspect="16:9", quality="high")
    img = Image.open(io.BytesIO(wide))
    img.load()
    assert img.size == (228, 128)


def test_video_is_an_mp4_with_requested_duration_and_aspect(client: OpenAI) -> None:
    _, ext, data, ctype = _make(client, "Veo-3", "waves", duration=3, aspect="9:16")
    assert (ext, ctype) == ("mp4", "video/mp4")
    assert data[4:8] == b"ftyp"
    boxes = _boxes(data)
    assert {b"moov", b"mdat", b"mvhd", b"tkhd"} <= set(boxes)
    timescale, duration = struct.unpack(">II", boxes[b"mvhd"][12:20])
    assert duration / timescale == 3
    width, height = struct.unpack(">II", boxes[b"tkhd"][-8:])
    assert (width >> 16, height >> 16) == (72, 128)


def test_audio_mp3_and_wav(client: OpenAI) -> None:
    _, ext, data, ctype = _make(client, "ElevenLabs", "hello there")
    assert (ext, ctype) == ("mp3", "audio/mpeg")
    assert data[:2] == b"\xff\xfb"
    _, ext, data, ctype = _make(client, "ElevenLabs", "hello there", format="wav", voice="Adam")
    assert (ext, ctype) == ("wav", "audio/wav")
    with wave.open(io.BytesIO(data)) as w:
        assert w.getnchannels() == 1
        assert w.getnframes() > 0


def test_undeclared_parameter_is_refused(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="GPT-Image-1",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"duration": 5},
        )
    assert "duration" in info.value.message
    assert "aspect" in info.value.message
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="GPT-4.1", messages=[{"role": "user", "content": "x"}],
            extra_body={"thinking_budget": 100},
        )  # fmt: skip


def test_out_of_schema_values_are_refused(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="Veo-3", messages=[{"role": "user", "content": "x"}], extra_body={"duration": 60}
        )
    assert "<= 8" in info.value.message


def test_legacy_feature_header_ignores_unknown_parameters(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="GPT-4.1",
        messages=[{"role": "user", "content": "x"}],
        extra_body={"made_up": 1},
        extra_headers={"poe-feature": "chat-completions-legacy"},
    )
    assert raw.headers["x-poe-feature-active"] == "chat-completions-legacy"
    assert raw.parse().choices[0].message.content


def test_text_bot_parameters_show_in_the_reply(client: OpenAI) -> None:
    resp = client.chat.completions.create(
        model="Claude-Sonnet-4",
        messages=[{"role": "user", "content": "x"}],
        extra_body={"thinking_budget": 1024, "web_search": True},
    )
    assert "Parameters: thinking_budget=1024, web_search=True" in (
        resp.choices[0].message.content or ""
    )


async def test_media_delay_does_not_block_other_requests(api_key: str) -> None:
    hi = [{"role": "user", "content": "x"}]
    async with Simulator(media_delay_s=0.4) as sim:
        c = AsyncOpenAI(api_key=api_key, base_url=sim.base_url, max_retries=0)
        start = time.perf_counter()
        image = asyncio.create_task(c.chat.completions.create(model="GPT-Image-1", messages=hi))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        chat = await c.chat.completions.create(model="GPT-4.1", messages=hi)  # type: ignore[arg-type]
        chat_done = time.perf_counter() - start
        more = [
            c.chat.completions.create(
                model="GPT-Image-1", messages=[{"role": "user", "content": f"{i}"}]
            )
            for i in range(3)
        ]
        images = await asyncio.gather(image, *more)
        total = time.perf_counter() - start
        await c.close()
    assert chat.choices[0].message.content
    assert chat_done < 0.3  # a chat call is not queued behind the slow image
    assert all("/media/" in (r.choices[0].message.content or "") for r in images)
    assert 0.4 <= total < 1.2  # the media calls overlapped instead of taking 4 x 0.4 s
