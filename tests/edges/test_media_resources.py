"""Results a remote client can open: saved media as MCP resources, and over HTTP at an
authenticated download URL; under ``--simulate`` nothing points at the (gone) simulator."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import BlobResourceContents, ResourceLink, TextResourceContents

from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .conftest import TOKEN, HttpMcp

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))


def links(result: Any) -> list[str]:
    return [b.uri for b in result.content if isinstance(b, ResourceLink)]


async def test_saved_media_are_listed_and_readable(
    simulator: Simulator, make_server: Callable[..., Any], poe_home: Path
) -> None:
    async with Client(make_server(simulator.base_url, simulated=True)) as mcp:
        image = await mcp.call_tool("generate_image", {"prompt": "a fox"})
        audio = await mcp.call_tool("generate_audio", {"prompt": "hi", "params": {"format": "wav"}})
        listed = {str(r.uri): r for r in (await mcp.list_resources()).resources}
        uri = image.structured_content["resources"][0]
        read = await mcp.read_resource(uri)
        wav = await mcp.read_resource(audio.structured_content["resources"][0])
        models = await mcp.read_resource("poe://models")
    path = Path(image.structured_content["paths"][0])
    assert uri == f"poe://media/{path.name}"
    assert listed[uri].mime_type == "image/png"
    assert listed[uri].size == path.stat().st_size
    assert listed[audio.structured_content["resources"][0]].mime_type == "audio/wav"
    (blob,) = read.contents
    assert isinstance(blob, BlobResourceContents)
    assert blob.mime_type == "image/png"
    assert base64.b64decode(blob.blob) == path.read_bytes()
    assert base64.b64decode(wav.contents[0].blob)[:4] == b"RIFF"
    assert "poe://models" in listed
    (text,) = models.contents
    assert isinstance(text, TextResourceContents)
    catalog = json.loads(text.text)
    assert "Claude-Sonnet-4" in {m["id"] for m in catalog["models"]}


@pytest.mark.parametrize(
    "uri",
    [
        "poe://media/no-such-file.png",
        "poe://media/..%2F..%2Fconfig%2Fcredentials.toml",
        "poe://media/.hidden.png",
        "poe://media/notes.txt",
        "poe://media/link.png",
    ],
)
async def test_reads_are_confined_to_saved_media(
    simulator: Simulator, make_server: Callable[..., Any], poe_home: Path, uri: str
) -> None:
    media = poe_home / "media"
    media.mkdir(parents=True, exist_ok=True)
    (media / ".hidden.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (media / "notes.txt").write_text("not media")
    secret = poe_home / "secret.png"
    secret.write_bytes(b"\x89PNG secret")
    if not (media / "link.png").exists():
        os.symlink(secret, media / "link.png")
    async with Client(make_server(simulator.base_url)) as mcp:
        listed = {str(r.uri) for r in (await mcp.list_resources()).resources}
        with pytest.raises(MCPError):
            await mcp.read_resource(uri)
    assert not {u for u in listed if u.startswith("poe://media/")}  # none of those is listed


async def test_stdio_simulate_returns_what_outlives_the_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("POE_API_KEY", "OPENAI_API_KEY")}
    env |= {"POE_MCP_HOME": str(tmp_path / "data"), "POE_MCP_CONFIG_DIR": str(tmp_path / "c")}
    params = StdioServerParameters(
        command=POE_MCP, args=["serve", "--simulate", "--tools", "media"], env=env
    )
    async with Client(params) as mcp:
        result = await mcp.call_tool("generate_audio", {"prompt": "bye"})
        resource = result.structured_content["resources"][0]
    # the server (and its in-process simulator) is gone now
    data = result.structured_content
    assert data["urls"] == [resource]
    assert resource.startswith("poe://media/")
    assert "http://" not in json.dumps(data)
    assert "http://" not in result.content[0].text
    assert Path(data["paths"][0]).exists()
    assert links(result) == [Path(data["paths"][0]).as_uri()]


async def test_http_results_point_to_the_resource_and_an_authenticated_download(
    simulator: Simulator, make_runtime: Callable[..., ServerRuntime]
) -> None:
    runtime = make_runtime(simulator.base_url, simulated=True, transport="http")
    with HttpMcp(runtime) as server:
        async with server.client() as mcp:
            result = await mcp.call_tool("generate_image", {"prompt": "remote fox"})
            uri = result.structured_content["resources"][0]
            read = await mcp.read_resource(uri)
        data = result.structured_content
        name = Path(data["paths"][0]).name
        download = f"{server.base}/media/{name}"
        assert links(result) == [uri, download]  # no file:// path on the server's disk
        assert data["urls"] == [download]
        assert simulator.url not in result.content[0].text
        async with httpx2.AsyncClient() as http:
            anonymous = await http.get(download)
            wrong = await http.get(download, headers={"Authorization": "Bearer nope"})
            fetched = await http.get(download, headers={"Authorization": f"Bearer {TOKEN}"})
            escape = await http.get(
                f"{server.base}/media/..%2Fpoe-mcp.db",
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            missing = await http.get(
                f"{server.base}/media/nothing.png", headers={"Authorization": f"Bearer {TOKEN}"}
            )
    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.content == Path(data["paths"][0]).read_bytes()
    assert base64.b64decode(read.contents[0].blob) == fetched.content
    assert escape.status_code == 404
    assert missing.status_code == 404
