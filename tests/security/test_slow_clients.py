"""Slow or greedy HTTP clients (no token needed) cannot hold the server's connections or memory.

A real ``poe-mcp serve --transport http`` with small limits: half-sent requests get 408 and are
closed once the header deadline passes (trickling bytes does not extend it), bodies that never
finish likewise, connections beyond the cap get 503 at once, abandoned MCP sessions expire and
the session cap holds, and normal requests keep working throughout.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import McpHttp, Process, child_env, health_ms, start_server, start_simulator

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
MAX_CONNECTIONS = 120
SESSION_IDLE = 0.5
MAX_SESSIONS = 4
MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    home = tmp_path_factory.mktemp("slow")
    sim, base_url = start_simulator(home)
    server: Process | None = None
    try:
        server, port = start_server(
            home,
            base_url,
            "--no-auth",
            f"--header-timeout={HEADER_TIMEOUT}",
            f"--body-timeout={BODY_TIMEOUT}",
            f"--max-connections={MAX_CONNECTIONS}",
            f"--max-body-bytes={MAX_BODY}",
            f"--mcp-session-idle={SESSION_IDLE}",
            f"--max-mcp-sessions={MAX_SESSIONS}",
        )
        yield port
    finally:
        if server is not None:
            server.stop()
        sim.stop()


def _open(port: int, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if data:
        sock.sendall(data)
    return sock


def _closed_with(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (fails on timeout)."""
    sock.settimeout(timeout)
    got = b""
    try:
        while chunk := sock.recv(4096):
            got += chunk
    except TimeoutError:
        raise AssertionError(f"still open after {timeout} s (got {got[:80]!r})") from None
    finally:
        sock.close()
    return got


def test_half_sent_requests_are_closed_after_the_header_deadline(port: int) -> None:
    started = time.monotonic()
    sockets = [_open(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n") for _ in range(100)]
    silent = [_open(port) for _ in range(10)]  # not one byte
    # Meanwhile a normal request is served at once.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert health_ms(conn) < 1000
    conn.close()
    for sock in sockets + silent:
        answer = _closed_with(sock, HEADER_TIMEOUT + 5)
        assert answer.startswith(b"HTTP/1.1 408")
    elapsed = time.monotonic() - started
    assert HEADER_TIMEOUT * 0.9 < elapsed < HEADER_TIMEOUT + 5


def test_trickling_bytes_does_not_extend_the_deadline(port: int) -> None:
    sock = _open(port, b"G")
    started = time.monotonic()
    try:
        for byte in b"ET /health HTTP/1.1\r\nHost: x\r\n":
            sock.sendall(bytes([byte]))
            time.sleep(0.1)
            if time.monotonic() - started > HEADER_TIMEOUT + 3:
                break
    except OSError:
        pass  # closed under our feet: what we want
    answer = _closed_with(sock, 5)
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < HEADER_TIMEOUT + 3


def test_a_body_that_never_finishes_is_refused(port: int) -> None:
    head = (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b'accept: application/json, text/event-stream\r\ncontent-length: 1000\r\n\r\n{"js'
    )
    started = time.monotonic()
    answer = _closed_with(_open(port, head), BODY_TIMEOUT + 5)
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started >= BODY_TIMEOUT * 0.9


def test_an_oversized_body_is_refused(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "x" * MAX_BODY})
    conn.request("POST", "/health", body=body, headers={"content-type": "application/json"})
    assert conn.getresponse().status == 413
    conn.close()


def test_connections_beyond_the_cap_get_503_and_the_server_recovers(port: int) -> None:
    held = [_open(port) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)
        extra = _open(port)
        assert _closed_with(extra, 3).startswith(b"HTTP/1.1 503")
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert health_ms(conn) < 1000
    conn.close()


def test_abandoned_mcp_sessions_expire_and_the_cap_holds(port: int) -> None:
    time.sleep(SESSION_IDLE * 2.5)  # sessions of other tests are gone
    clients = []
    for _ in range(MAX_SESSIONS):
        client = McpHttp(port)
        client.initialize()
        clients.append(client)
    over = McpHttp(port)
    status, _, body = over.post(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "one-too-many", "version": "1"}}}
    )  # fmt: skip
    assert status == 503, body[:200]

    time.sleep(SESSION_IDLE * 2.5)  # every client walked away
    status, _, _ = clients[0].post({"jsonrpc": "2.0", "id": 5, "method": "ping"})
    assert status == 404  # expired: the client must start a new session
    fresh = McpHttp(port)
    fresh.initialize()
    assert fresh.request("ping") == {"jsonrpc": "2.0", "id": 2, "result": {}}
    for client in [*clients, over, fresh]:
        client.close()


def test_a_normal_session_works_within_the_limits(port: int) -> None:
    client = McpHttp(port)
    client.initialize()
    answer = client.request(
        "tools/call", {"name": "ask_poe_v2", "arguments": {"bot": "GPT-4.1", "prompt": "hello"}}
    )
    client.close()
    assert 'You said: "hello"' in answer["result"]["structuredContent"]["text"]


def test_limits_come_from_config_toml(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text("[server]\nheader_timeout_s = 0.5\nmax_connections = 3\n")
    sim, base_url = start_simulator(tmp_path)
    server: Process | None = None
    try:
        server, port = start_server(tmp_path, base_url, "--no-auth")
        started = time.monotonic()
        answer = _closed_with(_open(port, b"GET / HTTP/1.1\r\n"), 5)
        assert answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 2.5
        held = [_open(port) for _ in range(3)]
        time.sleep(0.1)
        assert _closed_with(_open(port), 3).startswith(b"HTTP/1.1 503")
        for sock in held:
            sock.close()
    finally:
        if server is not None:
            server.stop()
        sim.stop()


def test_a_bad_limit_is_a_clear_config_error_that_masks_secrets(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    secret = "sk-poe-0123456789abcdefABCDEF0123456789"
    (config / "config.toml").write_text(f'[server]\nbody_timeout_s = "{secret}"\n')
    proc = Process(
        [*_serve(), "--no-auth"], child_env(tmp_path, POE_BASE_URL="http://127.0.0.1:9/v1")
    )
    proc.proc.wait(timeout=60)
    output = "".join(proc.lines)
    assert proc.proc.returncode != 0
    assert "body_timeout_s" in output
    assert "masked" in output
    assert secret not in output
    assert secret[:12] not in output


def _serve() -> list[str]:
    from .servers import POE_MCP

    return [POE_MCP, "serve", "--transport", "http", "--port", "0", "--simulate"]
