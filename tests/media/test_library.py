"""``generate_media`` against the simulator: real files, parameters, progress and errors."""

from __future__ import annotations

import io
import itertools
import json
import struct
import time
from pathlib import Path

import pytest
from PIL import Image

from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import InvalidRequestError, MediaError, TooLargeError
from poe_mcp.media import generate_media
from poe_mcp.simulator import Simulator

from .conftest import KEY, EdgeServer, files_in, write_config


def mvhd_duration_s(mp4: bytes) -> float:
    at = mp4.index(b"mvhd")
    timescale, duration = struct.unpack(">II", mp4[at + 16 : at + 24])
    return float(duration / timescale)


async def test_image_is_a_real_png_saved_in_the_media_dir(
    client: AsyncPoeClient, poe_home: Path
) -> None:
    result = await generate_media(client, "image", "a red fox in the snow")
    (path,) = map(Path, result.paths)
    assert path.parent == poe_home / "media"
    assert path.name.startswith("a-red-fox-in-the-snow-GPT-Image-1-")  # the prompt's slug
    assert path.suffix == ".png"
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["prompt"] == "a red fox in the snow"
    assert (sidecar["model"], sidecar["kind"]) == ("GPT-Image-1", "image")
    assert result.cost is not None
    assert sidecar["cost_usd"] == result.cost
    with Image.open(path) as img:
        img.load()
        assert img.format == "PNG"
        assert img.size == (64, 64)
    assert result.kind == "image"
    assert result.model == "GPT-Image-1"
    assert result.media_type == "image/png"
    assert result.size_bytes == path.stat().st_size
    assert result.urls[0].startswith("http://127.0.0.1:")
    assert "/media/" in result.urls[0]
    assert result.cost == pytest.approx(0.04)  # the catalog's per-request price
    assert result.usage.input_tokens > 0


async def test_video_is_a_real_mp4(client: AsyncPoeClient, tmp_path: Path) -> None:
    result = await generate_media(client, "video", "waves at dusk", output_dir=tmp_path / "v")
    (path,) = map(Path, result.paths)
    data = path.read_bytes()
    assert path.suffix == ".mp4"
    assert result.media_type == "video/mp4"
    assert data[4:8] == b"ftyp"
    assert b"moov" in data
    assert b"mdat" in data
    assert mvhd_duration_s(data) == 8  # Veo-3's declared default
    assert result.model == "Veo-3"


async def test_audio_is_real_mp3_or_wav(client: AsyncPoeClient, tmp_path: Path) -> None:
    mp3 = await generate_media(client, "audio", "Hello from Poe", output_dir=tmp_path)
    wav = await generate_media(
        client, "audio", "Hello from Poe", output_dir=tmp_path, params={"format": "wav"}
    )
    mp3_data = Path(mp3.paths[0]).read_bytes()
    wav_data = Path(wav.paths[0]).read_bytes()
    assert mp3.paths[0].endswith(".mp3")
    assert mp3.media_type == "audio/mpeg"
    assert mp3_data[0] == 0xFF
    assert mp3_data[1] & 0xE0 == 0xE0
    assert wav.paths[0].endswith(".wav")
    assert wav.media_type == "audio/wav"
    assert wav_data[:4] == b"RIFF"
    assert wav_data[8:12] == b"WAVE"


async def test_parameters_change_the_output(client: AsyncPoeClient, tmp_path: Path) -> None:
    wide = await generate_media(client, "image", "fox", params={"aspect": "16:9"},
                                output_dir=tmp_path)  # fmt: skip
    tall = await generate_media(
        client, "image", "fox", params={"aspect": "9:16", "quality": "high"}, output_dir=tmp_path
    )
    short = await generate_media(client, "video", "waves", params={"duration": 3},
                                 output_dir=tmp_path)  # fmt: skip
    with Image.open(wide.paths[0]) as a, Image.open(tall.paths[0]) as b:
        assert a.size == (114, 64)
        assert b.size == (128, 228)
    assert mvhd_duration_s(Path(short.paths[0]).read_bytes()) == 3


async def test_undeclared_parameter_is_refused_before_calling(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.clear_requests()
    with pytest.raises(InvalidRequestError, match=r"does not accept the parameter.*size") as info:
        await generate_media(client, "image", "fox", params={"size": "1024x1024"})
    assert "aspect, quality" in str(info.value)
    with pytest.raises(InvalidRequestError, match="at most 8"):
        await generate_media(client, "video", "waves", params={"duration": 30})
    assert not [r for r in simulator.requests() if r["path"] == "/v1/chat/completions"]


async def test_a_reply_without_media_quotes_the_bot_and_saves_nothing(
    edge: EdgeServer, edge_client: AsyncPoeClient, tmp_path: Path
) -> None:
    edge.reply = "I cannot draw, but here is a poem about a cat."
    with pytest.raises(MediaError) as info:
        await generate_media(
            edge_client, "image", "draw a cat", model="Edge-Bot", output_dir=tmp_path / "out"
        )
    message = str(info.value)
    assert 'It said: "I cannot draw, but here is a poem about a cat."' in message
    assert info.value.kind == "media"
    assert files_in(tmp_path / "out") == []


async def test_a_text_model_is_refused_before_anything_is_sent(
    client: AsyncPoeClient, simulator: Simulator, tmp_path: Path
) -> None:
    simulator.clear_requests()
    with pytest.raises(InvalidRequestError) as info:
        await generate_media(
            client, "image", "draw a cat", model="GPT-4.1", output_dir=tmp_path / "out"
        )
    assert "GPT-4.1 makes text, not image: nothing was sent or charged" in str(info.value)
    assert "Models that make image: GPT-Image-1" in str(info.value)
    assert [r for r in simulator.requests() if r["path"] == "/v1/chat/completions"] == []


async def test_the_wrong_kind_of_bot_is_a_clear_error(client: AsyncPoeClient) -> None:
    with pytest.raises(InvalidRequestError, match="Veo-3 makes video, not image"):
        await generate_media(client, "image", "waves", model="Veo-3")


async def test_an_oversized_file_is_refused_and_leaves_nothing(
    client: AsyncPoeClient, tmp_path: Path
) -> None:
    with pytest.raises(TooLargeError, match="above the limit of 100 bytes") as info:
        await generate_media(client, "video", "waves", max_bytes=100, output_dir=tmp_path / "out")
    assert info.value.kind == "too_large"
    assert (tmp_path / "out").is_dir()
    assert files_in(tmp_path / "out") == []


async def test_without_download_only_urls_come_back(client: AsyncPoeClient, poe_home: Path) -> None:
    result = await generate_media(client, "audio", "hi", download=False)
    assert result.paths == ()
    assert result.size_bytes is None
    assert result.urls[0].endswith(".mp3")
    assert result.media_type == "audio/mpeg"
    assert files_in(poe_home / "media") == []


async def test_empty_prompt_and_unknown_kind(client: AsyncPoeClient) -> None:
    with pytest.raises(InvalidRequestError, match="prompt is empty"):
        await generate_media(client, "image", "   ")
    with pytest.raises(InvalidRequestError, match="unknown media kind"):
        await generate_media(client, "hologram", "x")  # type: ignore[arg-type]


async def test_media_settings_from_config_toml(simulator: Simulator, tmp_path: Path) -> None:
    target = tmp_path / "my media"
    write_config(f'[media]\ndir = "{target}"\nimage_model = "gpt-image-1"\n')
    async with AsyncPoeClient(KEY, base_url=simulator.base_url, store=False, rpm=0) as client:
        result = await generate_media(client, "image", "fox")
    assert Path(result.paths[0]).parent == target
    assert result.model == "GPT-Image-1"  # any case reaches the bot; the reply names it


async def test_progress_is_reported_while_a_slow_bot_works(
    slow_sim: Simulator, tmp_path: Path
) -> None:
    seen: list[tuple[float, str, float]] = []

    async def on_progress(elapsed: float, message: str) -> None:
        seen.append((elapsed, message, time.monotonic()))

    async with AsyncPoeClient(KEY, base_url=slow_sim.base_url, store=False, rpm=0) as client:
        await client.catalog.models()  # type: ignore[union-attr]  # load before timing
        result = await generate_media(client, "video", "slow waves", output_dir=tmp_path,
                                      on_progress=on_progress, progress_interval=0.2)  # fmt: skip
    assert result.paths
    messages = [m for _, m, _ in seen]
    assert messages[0] == "asking Veo-3 for a video"
    assert messages.count("waiting for Veo-3 to make the video") >= 4  # 1.2 s at 0.2 s
    assert "downloading the video" in messages
    assert messages[-1].startswith("saved 1 file")
    gaps = [b[2] - a[2] for a, b in itertools.pairwise(seen)]
    assert max(gaps) < 0.6
    elapsed = [e for e, _, _ in seen]
    assert elapsed == sorted(elapsed)
    assert elapsed[-1] >= 1.2


async def test_a_failing_progress_callback_does_not_break_the_generation(
    client: AsyncPoeClient, tmp_path: Path
) -> None:
    calls: list[str] = []

    def on_progress(elapsed: float, message: str) -> None:
        calls.append(message)
        raise RuntimeError("display went away")

    result = await generate_media(client, "image", "fox", output_dir=tmp_path,
                                  on_progress=on_progress)  # fmt: skip
    assert result.paths
    assert len(calls) >= 2
    with Image.open(io.BytesIO(Path(result.paths[0]).read_bytes())) as img:
        assert img.format == "PNG"


async def test_bot_protocol_file_events_are_saved(client: AsyncPoeClient, tmp_path: Path) -> None:
    result = await generate_media(client, "image", "a fox over the bot protocol",
                                  params={"aspect": "2:3"}, output_dir=tmp_path,
                                  backend="legacy")  # fmt: skip
    (path,) = map(Path, result.paths)
    with Image.open(path) as img:
        assert img.size == (64, 96)
    assert result.urls[0].startswith("http://127.0.0.1:")
    assert result.media_type == "image/png"
