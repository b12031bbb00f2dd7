"""Kind 10: media bots that answer ``![image](data:image/png;base64,...)``.

The data URI is decoded (size-capped before decoding, magic bytes checked against its declared
kind) and saved like a download; nothing is fetched. Also: a media generation that timed out
after the bot took it is not sent again (a retry can charge twice), and the error says so.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import AsyncPoeClient
from poe_mcp.cli import cli
from poe_mcp.errors import MediaError, RequestTimeoutError, TooLargeError
from poe_mcp.media import MediaLink, link_kind
from poe_mcp.simulator import Simulator

from .conftest import KEY, upstream_calls
from .standin import StandIn, completion

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("backend", ["openai", "legacy"])
async def test_an_inline_image_is_decoded_checked_and_saved(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], tmp_path: Path, backend: str
) -> None:
    simulator.add_fault("quirk", quirks=["inline_media"])
    client = make_client(simulator.base_url, backend=backend)
    result = await client.generate_image("a red kite", output_dir=tmp_path)
    (path,) = result.paths
    data = Path(path).read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert (result.media_type, result.size_bytes) == ("image/png", len(data))
    assert result.urls == (Path(path).as_uri(),)  # not the megabytes of the data URI
    assert "data:image/png;base64," in result.text
    assert len(upstream_calls(simulator, backend)) == 1
    assert not [r for r in simulator.requests() if r["path"].startswith("/media/")]  # not fetched


async def test_inline_audio_is_saved_as_audio(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], tmp_path: Path
) -> None:
    simulator.add_fault("quirk", quirks=["inline_media"])
    result = await make_client(simulator.base_url).generate_audio("hello", output_dir=tmp_path)
    assert result.media_type == "audio/mpeg"
    assert Path(result.paths[0]).suffix == ".mp3"


def _bot_answering(standin: StandIn, uri: str) -> None:
    content = f"Here it is: ![image]({uri})"
    standin.answer(
        json.dumps(completion({"role": "assistant", "content": content})),
        content_type="application/json",
    )


async def test_an_inline_file_over_the_size_cap_is_refused_before_decoding(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], tmp_path: Path
) -> None:
    payload = base64.b64encode(PNG_MAGIC + b"\0" * 5000).decode()
    _bot_answering(standin, f"data:image/png;base64,{payload}")
    client = make_client(standin.base_url, provider="compatible", catalog=None)
    out = tmp_path / "out"
    with pytest.raises(TooLargeError, match="above the limit of 1000 bytes"):
        await client.generate_image("big", model="img", output_dir=out, max_bytes=1000)
    assert not out.exists() or list(out.iterdir()) == []  # nothing left behind
    assert len(standin.calls()) == 1


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("data:image/png;base64," + base64.b64encode(b"<html>error</html>" * 8).decode(),
         "holds text/html"),
        ("data:image/png;base64," + base64.b64encode(b"ID3" + b"\0" * 100).decode(),
         "holds audio/mpeg"),
        ("data:image/png;base64,*&^%$#@!~", "not valid"),
        ("data:image/png;base64,", "empty"),
    ],
    ids=["html-as-png", "audio-as-png", "bad-base64", "empty"],
)  # fmt: skip
async def test_an_inline_file_that_is_not_what_it_says_is_refused(
    standin: StandIn,
    make_client: Callable[..., AsyncPoeClient],
    tmp_path: Path,
    uri: str,
    words: str,
) -> None:
    _bot_answering(standin, uri)
    client = make_client(standin.base_url, provider="compatible", catalog=None)
    out = tmp_path / "out"
    with pytest.raises(MediaError, match=words):
        await client.generate_image("odd", model="img", output_dir=out)
    assert not out.exists() or list(out.iterdir()) == []


def test_a_data_uri_s_declared_type_tells_its_kind() -> None:
    assert link_kind(MediaLink("data:image/webp;base64,AAAA")) == "image"
    assert link_kind(MediaLink("data:audio/wav;base64,AAAA")) == "audio"
    assert link_kind(MediaLink("data:text/html,<b>hi</b>")) == "other"


async def test_generate_image_over_mcp_returns_the_inline_image(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    simulator.add_fault("quirk", quirks=["inline_media"])
    async with Client(make_server(simulator.base_url)) as mcp:
        result = await mcp.call_tool("generate_image", {"prompt": "a blue fox"})
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    assert data["media_type"] == "image/png"
    assert Path(data["paths"][0]).read_bytes().startswith(PNG_MAGIC)
    images = [c for c in result.content if c.type == "image"]
    assert images
    assert base64.b64decode(images[0].data).startswith(PNG_MAGIC)
    assert len(upstream_calls(simulator, "openai")) == 1


def test_the_cli_saves_an_inline_image(simulator: Simulator, tmp_path: Path) -> None:
    simulator.add_fault("quirk", quirks=["inline_media"])
    result = CliRunner().invoke(
        cli,
        ["image", "a green owl", "-o", str(tmp_path), "-q", "--base-url", simulator.base_url],
        env={"POE_API_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    saved = [p for p in tmp_path.iterdir() if p.suffix == ".png"]
    assert len(saved) == 1
    assert saved[0].read_bytes().startswith(PNG_MAGIC)
    assert str(saved[0]) in result.stdout


@pytest.mark.parametrize("backend", ["openai", "legacy"])
async def test_a_media_generation_that_timed_out_is_not_sent_again(
    make_client: Callable[..., AsyncPoeClient], tmp_path: Path, backend: str
) -> None:
    async with Simulator(rpm=1_000_000, media_delay_s=2.0) as slow:
        client = make_client(slow.base_url, backend=backend)
        with pytest.raises(RequestTimeoutError) as info:
            await client.generate_image("slow", output_dir=tmp_path, timeout=0.3)
        assert "not sent again" in info.value.message
        assert "charged twice" in info.value.message
        assert len(upstream_calls(slow, backend)) == 1
        # a chat that times out is retried as before: nothing is made (or paid) twice there
        with pytest.raises(RequestTimeoutError):
            await make_client(slow.base_url, backend=backend, max_retries=1).chat(
                "GPT-Image-1", "slow", timeout=0.3
            )
        assert len(upstream_calls(slow, backend)) == 3
