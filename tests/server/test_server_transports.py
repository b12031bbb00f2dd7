"""`poe-mcp serve` as a real subprocess: stdio and streamable HTTP, both protocol eras."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared._httpx_utils import create_mcp_http_client

from .conftest import POE_MCP, subprocess_env

MODES = ["auto", "legacy"]
TOKEN = "test-token-0123456789"


def stdio_params(tmp_path: Path, *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=POE_MCP, args=["serve", "--simulate", *args], env=subprocess_env(tmp_path)
    )


@pytest.mark.parametrize("mode", MODES)
async def test_stdio_session_survives_a_restart_with_sqlite(tmp_path: Path, mode: str) -> None:
    store = f"sqlite:///{tmp_path / 'sessions.db'}"
    async with Client(stdio_params(tmp_path, "--store", store), mode=mode) as client:
        first = await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "remember me"})
    sid = first.structured_content["session_id"]
    async with Client(stdio_params(tmp_path, "--store", store), mode=mode) as client:
        second = await client.call_tool(
            "ask_poe", {"bot": "GPT-4.1", "prompt": "again", "session_id": sid}
        )
        info = await client.call_tool("get_server_info", {})
    assert second.structured_content["new_session"] is False
    assert "received 3 messages" in second.structured_content["text"]
    assert info.structured_content["simulated"] is True
    assert info.structured_content["transport"] == "stdio"


class HttpServer:
    def __init__(self, proc: subprocess.Popen[str], url: str, token: str | None) -> None:
        self.proc, self.url, self.token = proc, url, token
        self.base = url.rsplit("/", 1)[0]

    def client(self, mode: str, token: str | None = None) -> Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return Client(_transport(self.url, create_mcp_http_client(headers=headers)), mode=mode)


def _transport(url: str, http: httpx2.AsyncClient) -> object:
    from mcp.client.streamable_http import streamable_http_client

    return streamable_http_client(url, http_client=http)


def start_http(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [POE_MCP, "serve", "--transport", "http", "--port", "0", "--simulate", *args],
        env=subprocess_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        match = re.search(r"MCP over HTTP at (\S+)", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    raise AssertionError(f"server did not start: {proc.stderr.read()}")


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    tmp = tmp_path_factory.mktemp("http")
    proc, url = start_http(tmp, "--token", TOKEN)
    yield HttpServer(proc, url, TOKEN)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("mode", MODES)
async def test_http_tools_with_the_token(http_server: HttpServer, mode: str) -> None:
    async with http_server.client(mode) as client:
        tools = await client.list_tools()
        first = await client.call_tool("ask_poe", {"bot": "Grok-4", "prompt": "over http"})
        sid = first.structured_content["session_id"]
        second = await client.call_tool(
            "ask_poe_v2", {"bot": "Grok-4", "prompt": "and again", "session_id": sid}
        )
    assert "ask_poe" in [t.name for t in tools.tools]
    assert 'You said: "over http"' in first.structured_content["text"]
    assert "received 3 messages" in second.structured_content["text"]


async def test_http_rejects_missing_and_wrong_tokens(http_server: HttpServer) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx2.AsyncClient() as http:
        none = await http.post(http_server.url, json=body, headers=headers)
        wrong = await http.post(
            http_server.url, json=body, headers={**headers, "Authorization": "Bearer nope"}
        )
        metrics = await http.get(f"{http_server.base}/metrics")
    assert none.status_code == 401
    assert "Bearer" in none.headers["www-authenticate"]
    assert wrong.status_code == 401
    assert metrics.status_code == 401
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises its own HTTP error types
        async with http_server.client("legacy", token="wrong-token") as client:
            await client.list_tools()


async def test_http_rejects_foreign_host_and_origin(http_server: HttpServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient() as http:
        host = await http.get(f"{http_server.base}/health", headers={"Host": "evil.example"})
        origin = await http.post(
            http_server.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={**headers, "Origin": "http://evil.example", "Content-Type": "application/json",
                     "Accept": "application/json, text/event-stream"},
        )  # fmt: skip
        mcp_host = await http.post(
            http_server.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={**headers, "Host": "evil.example:80", "Content-Type": "application/json"},
        )
    assert host.status_code == 421
    assert origin.status_code == 403
    assert mcp_host.status_code == 421


async def test_http_health_and_metrics(http_server: HttpServer) -> None:
    async with http_server.client("legacy") as client:
        await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "count me"})
        await client.call_tool("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "x", "top_p": 7})
    async with httpx2.AsyncClient() as http:
        health = await http.get(f"{http_server.base}/health")
        metrics = await http.get(
            f"{http_server.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
    data = health.json()
    assert health.status_code == 200
    assert data["status"] == "ok"
    assert data["simulated"] is True
    assert TOKEN not in health.text
    text = metrics.text
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'poe_mcp_tool_calls_total{tool="ask_poe",outcome="ok"}' in text
    assert 'poe_mcp_errors_total{kind="invalid_request"}' in text
    assert 'poe_mcp_tokens_total{model="GPT-4.1",direction="input"}' in text
    assert "poe_mcp_cost_usd_total" in text
    assert "poe_mcp_tool_latency_seconds_bucket" in text
    assert TOKEN not in text


def test_http_refuses_to_start_off_loopback_without_token(tmp_path: Path) -> None:
    out = subprocess.run(
        [POE_MCP, "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0", "--simulate"],
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0
    assert "without a bearer token" in out.stderr
    assert "POE_MCP_TOKEN" in out.stderr


def test_http_on_loopback_generates_and_prints_a_token(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [POE_MCP, "serve", "--transport", "http", "--port", "0", "--simulate"],
        env=subprocess_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        lines = [proc.stderr.readline() for _ in range(3)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert any("bearer token (new, in " in line for line in lines), lines


def test_serve_without_key_starts_and_says_so(tmp_path: Path) -> None:
    # It starts (tools answer with the auth error; see tests/silent) instead of exiting.
    out = subprocess.run(
        [POE_MCP, "serve"],
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        input="",
    )
    assert out.returncode == 0, out.stderr
    assert "no API key found" in out.stderr
    fallback = subprocess.run(
        [sys.executable, "-m", "poe_mcp", "serve", "--simulate-if-no-key"],
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        input="",
    )
    assert "SIMULATOR" in fallback.stderr
