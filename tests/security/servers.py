"""Real processes for the HTTP-transport tests: a simulator and ``poe-mcp serve --transport http``.

Separate processes on purpose: measurements of the server (``/health`` latency while it works)
must not share a GIL with the simulator or the test.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))
PROTOCOL = "2025-06-18"


class Process:
    """A child process whose output lines are collected in the background."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} in the output:\n{''.join(self.lines)}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("POE_") and not k.endswith("_API_KEY") and k != "OPENAI_BASE_URL"
    }
    env.update(POE_MCP_HOME=str(home / "data"), POE_MCP_CONFIG_DIR=str(home / "config"))
    env.update(extra)
    return env


def start_simulator(home: Path) -> tuple[Process, str]:
    sim = Process(
        [POE_MCP, "simulator", "--port", "0", "--rpm", "100000", "--media-delay-s", "0"],
        child_env(home),
    )
    url = sim.wait_for(r"listening on (http://127\.0\.0\.1:\d+)").group(1)
    return sim, f"{url}/v1"


def start_server(home: Path, base_url: str, *args: str) -> tuple[Process, int]:
    env = child_env(home, POE_BASE_URL=base_url, POE_API_KEY="server-test-key")
    server = Process(
        [POE_MCP, "serve", "--transport", "http", "--port", "0", "--store", "memory://", *args],
        env,
    )
    port = int(server.wait_for(r"MCP over HTTP at http://127\.0\.0\.1:(\d+)/mcp").group(1))
    return server, port


class McpHttp:
    """A minimal MCP client over plain ``http.client`` (cheap on CPU: no SDK, no parsing of
    the event stream beyond finding the JSON-RPC answer)."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 120.0) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.headers = {
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": PROTOCOL,
        }
        if token:
            self.headers["authorization"] = f"Bearer {token}"
        self.session_id: str | None = None
        self.next_id = 1

    def post(self, message: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        headers = dict(self.headers)
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
        self.conn.request("POST", "/mcp", body=json.dumps(message).encode(), headers=headers)
        response = self.conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        self.next_id += 1
        if params is not None:
            message["params"] = params
        status, headers, body = self.post(message)
        assert status == 200, (status, body[:300])
        if "mcp-session-id" in headers:
            self.session_id = headers["mcp-session-id"]
        return _answer(body, message["id"])

    def initialize(self) -> dict[str, Any]:
        result = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "security-tests", "version": "1"},
            },
        )
        status, _, _ = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert status == 202
        return result

    def close(self) -> None:
        self.conn.close()


def _answer(body: bytes, request_id: int) -> dict[str, Any]:
    """The JSON-RPC answer with ``request_id`` in a JSON or event-stream body."""
    text = body.decode()
    candidates = [text] if text.lstrip().startswith("{") else []
    candidates += [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    for candidate in candidates:
        if not candidate:
            continue
        message = json.loads(candidate)
        if message.get("id") == request_id:
            return dict(message)
    raise AssertionError(f"no answer to request {request_id} in {text[:300]!r}")


def health_ms(conn: http.client.HTTPConnection) -> float:
    """One GET /health on ``conn``, in milliseconds."""
    started = time.perf_counter()
    conn.request("GET", "/health")
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    return (time.perf_counter() - started) * 1000
