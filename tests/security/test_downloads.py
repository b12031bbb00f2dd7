"""Media downloads never reach internal addresses under the ``public`` policy (issue 12, item 7).

The steered upstream plays Poe (its own origin stays allowed, as a real provider's CDN would
be); the bystander is an internal service on another loopback port that must never get a
request. Checked after DNS, on every redirect and for JSON ``url`` answers, with one message
whatever the port; through the library, the MCP tools and ``poe-mcp serve`` over HTTP.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import ConfigError, MediaError
from poe_mcp._netpolicy import (
    DownloadPolicy,
    address_allowed,
    download_policy_setting,
    server_download_policy,
)
from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings
from poe_mcp.media import download_media, generate_media
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime

from .boundary import HOSTILE_IMAGE, SteeredAPI, error_of

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))

REFUSED_ADDRESSES = [
    "127.0.0.1", "127.255.0.7", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "240.0.0.1", "192.0.2.1",
    "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12::1", "ff02::1", "fec0::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "2002:7f00:1::", "64:ff9b::a00:1",
    "2001:db8::1", "not-an-address",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_only_public_addresses_pass() -> None:
    assert [a for a in REFUSED_ADDRESSES if address_allowed(a)] == []
    assert address_allowed("8.8.8.8")
    assert address_allowed("2606:4700:4700::1111")


def internal_urls(bystander: SteeredAPI) -> list[str]:
    """The bystander by every spelling of loopback, as a link, after DNS, or after a redirect."""
    port = bystander.url.rsplit(":", 1)[1]
    return [
        f"{bystander.url}/files/a.png",
        f"http://localhost:{port}/files/a.png",
        f"http://127.1:{port}/files/a.png",
        f"http://2130706433:{port}/files/a.png",
        f"http://0x7f000001:{port}/files/a.png",
        f"http://017700000001:{port}/files/a.png",
        f"http://[::ffff:127.0.0.1]:{port}/files/a.png",
        f"http://[::1]:{port}/files/a.png",
        f"http://0.0.0.0:{port}/files/a.png",
        f"http://user:pw@127.0.0.1:{port}/files/a.png",
        f"https://127.0.0.1:{port}/files/a.png",
    ]


async def test_public_policy_refuses_internal_addresses_with_one_message(
    steered: SteeredAPI, bystander: SteeredAPI, tmp_path: Path
) -> None:
    policy = DownloadPolicy.build("public", urls=[steered.url])
    before = sum(bystander.hits.values())
    closed = f"http://127.0.0.1:{free_port()}/files/a.png"
    messages = set()
    for url in [*internal_urls(bystander), closed]:
        with pytest.raises(MediaError) as caught:
            await download_media(url, "image", tmp_path, policy=policy)
        assert caught.value.kind == "media"
        messages.add(caught.value.message.replace(url, "URL"))
    # Redirects from the allowed origin to the bystander are checked too.
    for target in internal_urls(bystander)[:4]:
        url = f"{steered.url}/redirect?to={quote(target, safe='')}"
        with pytest.raises(MediaError) as caught:
            await download_media(url, "image", tmp_path, policy=policy)
        messages.add(caught.value.message.replace(url, "URL"))
    assert sum(bystander.hits.values()) == before  # not one request reached it
    assert len(messages) == 1, messages  # open port, closed port, any spelling: the same words
    assert "download policy" in messages.pop()
    assert list(tmp_path.iterdir()) == []


async def test_the_providers_own_origin_stays_allowed_and_redirects_are_limited(
    steered: SteeredAPI, tmp_path: Path
) -> None:
    policy = DownloadPolicy.build("public", urls=[steered.url])
    saved = await download_media(f"{steered.url}/files/ok.png", "image", tmp_path, policy=policy)
    assert saved.media_type == "image/png"
    with pytest.raises(MediaError, match="redirect"):
        await download_media(f"{steered.url}/loop/0", "image", tmp_path, policy=policy)


async def test_any_policy_is_the_librarys_default(bystander: SteeredAPI, tmp_path: Path) -> None:
    saved = await download_media(f"{bystander.url}/files/x.png", "image", tmp_path)
    assert saved.size_bytes > 0


def reply_shapes(url: str) -> list[str]:
    return [
        f"SAY ![image]({url})",
        f"SAY {url}",
        "SAY " + json.dumps({"url": url, "mimeType": "image/png"}),
        "SAY ```json\n" + json.dumps({"data": [{"url": url}]}) + "\n```",
        f"SAY [download]({url})",
    ]


async def test_generated_media_links_to_internal_services_are_refused(
    steered: SteeredAPI,
    bystander: SteeredAPI,
    poe_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = sum(bystander.hits.values())
    monkeypatch.setenv("POE_MCP_DOWNLOAD_POLICY", "public")
    async with AsyncPoeClient(
        "k", base_url=f"{steered.url}/v1", store=False, rpm=0, max_retries=0
    ) as client:
        for url in internal_urls(bystander)[:3]:
            for prompt in reply_shapes(url):
                with pytest.raises(MediaError, match="download policy"):
                    await generate_media(
                        client, "image", prompt, model=HOSTILE_IMAGE, output_dir=tmp_path
                    )
        own = await generate_media(
            client, "image", f"SAY ![x]({steered.url}/files/own.png)", model=HOSTILE_IMAGE,
            output_dir=tmp_path,
        )  # fmt: skip
        # An explicit argument wins over the environment.
        allowed = await generate_media(
            client, "image", f"SAY ![x]({bystander.url}/files/b.png)", model=HOSTILE_IMAGE,
            output_dir=tmp_path, download_policy="any",
        )  # fmt: skip
    assert own.paths
    assert allowed.paths
    assert sum(bystander.hits.values()) == before + 1  # only the explicitly allowed download


async def test_mcp_media_tools_follow_the_servers_policy(
    steered: SteeredAPI, bystander: SteeredAPI, poe_home: Path
) -> None:
    settings = Settings.load(store="memory://", base_url=f"{steered.url}/v1")
    runtime = ServerRuntime(
        settings, api_key="k", tools=available_tools(), download_policy="public"
    )
    before = sum(bystander.hits.values())
    try:
        async with Client(build_server(runtime)) as client:
            results = [
                await client.call_tool("generate_image", {"prompt": prompt, "model": HOSTILE_IMAGE})
                for url in internal_urls(bystander)
                for prompt in reply_shapes(url)[:3]
            ]
    finally:
        await runtime.aclose()
    kinds = {error_of(r)["metadata"]["kind"] for r in results}
    assert kinds == {"media"}
    assert len({error_of(r)["message"].split(" from ", 1)[0] for r in results}) == 1
    assert sum(bystander.hits.values()) == before


def test_the_setting_is_validated_and_auto_depends_on_the_bind(
    poe_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.load()
    assert server_download_policy(settings, None, transport="http", host="0.0.0.0") == "public"
    assert server_download_policy(settings, None, transport="http", host="::") == "public"
    assert server_download_policy(settings, None, transport="http", host="10.0.0.5") == "public"
    assert server_download_policy(settings, None, transport="http", host="127.0.0.1") == "any"
    assert server_download_policy(settings, None, transport="http", host="localhost") == "any"
    assert server_download_policy(settings, None, transport="stdio", host="0.0.0.0") == "any"
    assert server_download_policy(settings, "public", transport="stdio", host="x") == "public"
    monkeypatch.setenv("POE_MCP_DOWNLOAD_POLICY", "any")  # read when settings load
    settings = Settings.load()
    assert server_download_policy(settings, None, transport="http", host="0.0.0.0") == "any"
    monkeypatch.setenv("POE_MCP_DOWNLOAD_POLICY", "sometimes")
    with pytest.raises(ConfigError, match="POE_MCP_DOWNLOAD_POLICY must be one of"):
        download_policy_setting(Settings.load())
    monkeypatch.delenv("POE_MCP_DOWNLOAD_POLICY")
    cfg = Settings.load(file={"media": {"download_policy": 3}})
    with pytest.raises(ConfigError, match=r"\[media\] download_policy"):
        download_policy_setting(cfg)
    assert download_policy_setting(Settings.load(file={"media": {"download_policy": "public"}}))


def test_serve_help_names_the_option() -> None:
    from poe_mcp.cli.serve import serve

    out = CliRunner().invoke(serve, ["--help"]).output
    assert "--download-policy" in out
    assert "POE_MCP_DOWNLOAD_POLICY" in out


def start_server(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [POE_MCP, "serve", "--transport", "http", "--port", "0", *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for _ in range(50):
        line = proc.stderr.readline()
        if not line:
            break
        found = re.search(r"MCP over HTTP at (\S+)", line)
        if found:
            return proc, found.group(1).replace("0.0.0.0", "127.0.0.1")
    proc.kill()
    raise AssertionError(f"server did not start: {proc.stderr.read()}")


def http_client(url: str, token: str) -> Client:
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    transport: Any = streamable_http_client(url, http_client=http)
    return Client(transport, mode="legacy")


@pytest.mark.timeout(60)
async def test_a_server_listening_off_loopback_refuses_internal_downloads(
    steered: SteeredAPI, bystander: SteeredAPI, tmp_path: Path
) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("POE_", "OPENAI_"))}
    env.update(POE_MCP_HOME=str(tmp_path / "data"), POE_MCP_CONFIG_DIR=str(tmp_path / "cfg"),
               POE_API_KEY="k-download-test", POE_MCP_STORE="memory://")  # fmt: skip
    token = "download-policy-token-0123456789"
    proc, url = start_server(
        env, "--host", "0.0.0.0", "--token", token, "--base-url", f"{steered.url}/v1",
        "--allowed-host", "127.0.0.1:*",
    )  # fmt: skip
    before = sum(bystander.hits.values())
    try:
        async with http_client(url, token) as client:
            refused = await client.call_tool(
                "generate_image",
                {"prompt": f"SAY ![x]({bystander.url}/files/a.png)", "model": HOSTILE_IMAGE},
            )
            own = await client.call_tool(
                "generate_image",
                {"prompt": f"SAY ![x]({steered.url}/files/own.png)", "model": HOSTILE_IMAGE},
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "download policy" in error_of(refused)["message"]
    assert not own.is_error, own.content[0].text
    assert sum(bystander.hits.values()) == before
