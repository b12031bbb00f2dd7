"""The media tools over MCP: in memory (both protocol eras), then stdio and HTTP subprocesses."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from mcp import Client, StdioServerParameters
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import ImageContent, ResourceLink, TextContent
from PIL import Image

from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .conftest import KEY, EdgeServer, write_config

MODES = ["auto", "legacy"]
POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[[str], Any]]:
    runtimes: list[ServerRuntime] = []

    def make(base_url: str) -> Any:
        settings = Settings.load(store="memory://", base_url=base_url)
        runtime = ServerRuntime(settings, api_key=KEY, simulated=True, tools=available_tools())
        runtimes.append(runtime)
        return build_server(runtime)

    yield make
    for runtime in runtimes:
        await runtime.aclose()


def error_json(result: Any) -> dict[str, Any]:
    assert result.is_error
    text = result.content[0].text
    return dict(json.loads(text[text.index("{") :])["error"])


def blocks(result: Any, kind: type) -> list[Any]:
    return [b for b in result.content if isinstance(b, kind)]


@pytest.mark.parametrize("mode", MODES)
async def test_generate_image_shows_the_image_and_links_the_file(
    make_server: Callable[[str], Any], simulator: Simulator, poe_home: Path, mode: str
) -> None:
    async with Client(make_server(simulator.base_url), mode=mode) as client:
        result = await client.call_tool(
            "generate_image", {"prompt": "a red fox", "params": {"aspect": "16:9"}}
        )
    assert not result.is_error
    data = result.structured_content
    path = Path(data["paths"][0])
    assert path.parent == poe_home / "media"
    assert data["inline"] is True
    assert data["media_type"] == "image/png"
    assert data["model"] == "GPT-Image-1"
    assert data["cost"] == pytest.approx(0.04)
    assert data["simulated"] is True
    (image,) = blocks(result, ImageContent)
    raw = base64.b64decode(image.data)
    assert raw == path.read_bytes()
    assert image.mime_type == "image/png"
    with Image.open(path) as img:
        assert img.size == (114, 64)
    (link,) = blocks(result, ResourceLink)
    assert link.uri == path.as_uri()
    assert link.mime_type == "image/png"
    text = blocks(result, TextContent)[0].text
    assert str(path) in text
    assert data["urls"][0] in text
    assert "SIMULATED" in text


async def test_video_and_audio_come_as_links_only(
    make_server: Callable[[str], Any], simulator: Simulator
) -> None:
    async with Client(make_server(simulator.base_url)) as client:
        video = await client.call_tool(
            "generate_video", {"prompt": "waves", "params": {"duration": 2}}
        )
        audio = await client.call_tool("generate_audio", {"prompt": "hello", "model": "ElevenLabs"})
    for result, media_type, magic in ((video, "video/mp4", b"ftyp"), (audio, "audio/mpeg", b"")):
        assert not result.is_error
        assert blocks(result, ImageContent) == []
        (link,) = blocks(result, ResourceLink)
        path = Path(urlsplit(link.uri).path)
        assert link.mime_type == media_type
        assert path.exists()
        assert magic in path.read_bytes()[:12]
        assert result.structured_content["inline"] is False


async def test_progress_arrives_while_a_slow_bot_works(
    make_server: Callable[[str], Any], slow_sim: Simulator
) -> None:
    write_config("[media]\nprogress_interval_s = 0.2\n")
    seen: list[tuple[float, str]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message or ""))

    async with Client(make_server(slow_sim.base_url), mode="legacy") as client:
        result = await client.call_tool(
            "generate_video", {"prompt": "slow waves"}, progress_callback=on_progress
        )
    assert not result.is_error
    waiting = [m for _, m in seen if m.startswith("waiting for Veo-3 to make the video")]
    assert len(waiting) >= 3
    values = [p for p, _ in seen]
    assert values == sorted(values)
    assert len(set(values)) == len(values)
    assert re.search(r"\(\d+ s\)$", waiting[-1])


async def test_errors_are_tool_errors_with_their_kind(
    make_server: Callable[[str], Any], simulator: Simulator
) -> None:
    async with Client(make_server(simulator.base_url)) as client:
        bad = await client.call_tool("generate_image", {"prompt": "x", "params": {"size": 3}})
        text_bot = await client.call_tool("generate_image", {"prompt": "a cat", "model": "GPT-4.1"})
        empty = await client.call_tool("generate_audio", {"prompt": ""})
    assert error_json(bad)["metadata"]["kind"] == "invalid_request"
    assert "Parameters it accepts: aspect, quality" in blocks(bad, TextContent)[0].text
    err = error_json(text_bot)
    assert err["metadata"]["kind"] == "invalid_request"  # refused before anything was sent
    assert "GPT-4.1 makes text, not image" in err["message"]
    assert error_json(empty)["metadata"]["kind"] == "invalid_request"


async def test_a_large_image_is_linked_not_inlined(
    make_server: Callable[[str], Any], edge: EdgeServer
) -> None:
    edge.reply = f"![big]({edge.file('big-declared')})"
    async with Client(make_server(f"{edge.url}/v1")) as client:
        result = await client.call_tool("generate_image", {"prompt": "huge", "model": "Edge-Bot"})
    assert not result.is_error, result.content
    assert blocks(result, ImageContent) == []
    assert result.structured_content["inline"] is False
    assert result.structured_content["size_bytes"] > 512 * 1024
    (link,) = blocks(result, ResourceLink)
    assert Path(urlsplit(link.uri).path).stat().st_size == result.structured_content["size_bytes"]


async def test_tools_are_listed_with_their_annotations(
    make_server: Callable[[str], Any], simulator: Simulator
) -> None:
    async with Client(make_server(simulator.base_url)) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("generate_image", "generate_video", "generate_audio"):
        tool = listed[name]
        assert tool.annotations is not None
        assert tool.annotations.open_world_hint is True
        assert tool.input_schema["required"] == ["prompt"]
        assert tool.output_schema is not None
        assert {"paths", "urls", "media_type"} <= set(tool.output_schema["properties"])


# --- real transports ------------------------------------------------------------------------


def subprocess_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("POE_API_KEY", "OPENAI_API_KEY")}
    env["POE_MCP_HOME"] = str(home / "data")
    env["POE_MCP_CONFIG_DIR"] = str(home / "config")
    return env


@pytest.mark.timeout(60)  # a stdio server process
async def test_stdio_server_generates_an_image(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=POE_MCP, args=["serve", "--simulate", "--tools", "media"],
        env=subprocess_env(tmp_path),
    )  # fmt: skip
    async with Client(params) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("generate_image", {"prompt": "over stdio"})
    assert names == ["generate_image", "generate_video", "generate_audio"]
    assert not result.is_error
    path = Path(result.structured_content["paths"][0])
    assert path.parent == tmp_path / "data" / "media"
    assert base64.b64decode(blocks(result, ImageContent)[0].data) == path.read_bytes()


async def test_http_server_generates_audio_with_a_url_link(tmp_path: Path) -> None:
    token = "media-test-token-0123456789"
    proc = subprocess.Popen(
        [POE_MCP, "serve", "--transport", "http", "--port", "0", "--simulate", "--token", token],
        env=subprocess_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        url = ""
        deadline = time.monotonic() + 30
        while not url and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            match = re.search(r"MCP over HTTP at (\S+)", line)
            url = match.group(1) if match else ""
        assert url, "the HTTP server did not start"
        from mcp.client.streamable_http import streamable_http_client

        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with Client(streamable_http_client(url, http_client=http)) as client:
            result = await client.call_tool(
                "generate_audio", {"prompt": "over http", "params": {"format": "wav"}}
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not result.is_error
    links = [b.uri for b in blocks(result, ResourceLink)]
    data = result.structured_content
    # A remote client gets what it can open: the MCP resource and this server's download URL,
    # never a file:// path on the server or the (in-process, gone) simulator's URL.
    name = Path(data["paths"][0]).name
    assert links == [f"poe://media/{name}", f"{url.rsplit('/', 1)[0]}/media/{name}"]
    assert data["urls"] == [links[1]]
    assert Path(data["paths"][0]).read_bytes()[:4] == b"RIFF"
