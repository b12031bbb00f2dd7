"""``poe-mcp serve`` for people: a token that survives restarts, a client line, call logs."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, home: Path, *args: str) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if k != "POE_API_KEY"}
        env["POE_MCP_HOME"] = str(home)
        self.proc = subprocess.Popen(
            [POE_MCP, "serve", "--transport", "http", "--simulate", "--port", str(self.port),
             *args],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        deadline = time.monotonic() + 30
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            if "MCP over HTTP at" in line:
                return
        self.stop()
        raise AssertionError(f"server did not start: {self.lines}")

    def token(self) -> str:
        (line,) = [x for x in self.lines if "bearer token (" in x]
        return line.rsplit(" ", 1)[1].strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def test_the_token_is_kept_across_runs_and_a_client_line_is_printed(tmp_path: Path) -> None:
    first = Server(tmp_path)
    first.stop()
    token = first.token()
    assert any("bearer token (new, in " in line for line in first.lines)
    paste = [x.strip() for x in first.lines if x.strip().startswith("claude mcp add")]
    assert paste == [
        f"claude mcp add --transport http poe http://127.0.0.1:{first.port}/mcp "
        f'--header "Authorization: Bearer {token}"'
    ]
    stored = tmp_path / "http-token"
    assert stored.read_text().strip() == token
    assert stored.stat().st_mode & 0o777 == 0o600

    again = Server(tmp_path)
    again.stop()
    assert again.token() == token
    assert any("bearer token (kept" in line for line in again.lines)
    renewed = Server(tmp_path, "--new-token")
    renewed.stop()
    assert renewed.token() != token


async def test_one_json_log_line_per_tool_call(tmp_path: Path) -> None:
    log_file = tmp_path / "server.log"
    server = Server(tmp_path, "--log-file", str(log_file), "--log-format", "json")
    try:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {server.token()}"})
        url = f"http://127.0.0.1:{server.port}/mcp"
        async with Client(streamable_http_client(url, http_client=http)) as client:
            await client.call_tool("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "a secret prompt"})
            await client.call_tool("ask_poe_v2", {"bot": "No-Such-Bot", "prompt": "hi"})
    finally:
        server.stop()
    text = log_file.read_text()
    assert server.token() not in text
    assert "a secret prompt" not in text  # prompts only with prompt logging on
    calls = [json.loads(line) for line in text.splitlines() if '"tool_call"' in line]
    assert [c["outcome"] for c in calls] == ["ok", "error"]
    ok, failed = calls
    assert ok["tool"] == "ask_poe_v2"
    assert ok["model"] == "GPT-4.1"
    assert ok["input_tokens"] > 0
    assert ok["output_tokens"] > 0
    assert ok["cost_usd"] > 0
    assert ok["latency_s"] > 0
    assert failed["error_kind"] == "not_found"
    assert re.match(r"\d{4}-\d\d-\d\dT", ok["ts"])
