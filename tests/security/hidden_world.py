"""Real transports for :mod:`.test_hidden_server_members`: an HTTP server (small limits, a log
file) driven over raw sockets, a stdio server over pipes, and bot-protocol event bytes for the
stand-in upstream."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Any

from .servers import POE_MCP, McpHttp, Process, start_server, start_simulator

TOKEN = "zq-hidden-token-0123456789abcdef"
PROTOCOL = "2025-06-18"


def bot_events(
    texts: list[str],
    *,
    json_events: list[dict[str, Any]] | None = None,
    files: list[dict[str, Any]] | None = None,
    done: bool = True,
) -> list[bytes]:
    """A bot-protocol answer: meta, ``json`` events, ``file`` events, ``text`` events, done."""
    events = ['event: meta\ndata: {"content_type": "text/markdown"}\n\n']
    events += [f"event: json\ndata: {json.dumps(e)}\n\n" for e in json_events or []]
    events += [f"event: file\ndata: {json.dumps(f)}\n\n" for f in files or []]
    events += [f"event: text\ndata: {json.dumps({'text': t})}\n\n" for t in texts]
    if done:
        events.append("event: done\ndata: {}\n\n")
    return [e.encode() for e in events]


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One HTTP response (status, body) from a keep-alive socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    if not head:
        return 0, b""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        more = sock.recv(65536)
        if not more:
            break
        body += more
    return int(head.split(b" ", 2)[1]), body


@dataclass
class HttpWorld:
    """``poe-mcp serve --transport http`` with small limits and a log file."""

    port: int
    log_file: Path
    max_connections: int = 8
    idle_s: float = 1.0

    def status(self, request: str) -> int:
        """Send one raw request on a new connection; the response's status (0: none)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(request.encode("latin-1"))
            try:
                return _read_response(sock)[0]
            except (TimeoutError, ConnectionError):
                return 0

    def keep_alive(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def health_on(self, sock: socket.socket) -> int:
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())
        return _read_response(sock)[0]

    def refused(self, socks: list[socket.socket]) -> int:
        """How many of ``socks`` were answered 503 at once (the others wait, accepted)."""
        ready, _, _ = select.select(socks, [], [], 0.5)
        return sum(1 for s in ready if s.recv(64).startswith(b"HTTP/1.1 503"))

    def mcp_session(self) -> str:
        client = McpHttp(self.port, TOKEN, timeout=30)
        try:
            client.initialize()
            assert client.session_id
            return client.session_id
        finally:
            client.close()

    def open_event_stream(self, session: str) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.sendall(
            (
                f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Authorization: Bearer {TOKEN}\r\nAccept: text/event-stream\r\n"
                f"Mcp-Session-Id: {session}\r\nMcp-Protocol-Version: {PROTOCOL}\r\n\r\n"
            ).encode()
        )
        return sock

    def log_text(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""


def http_world(home: Path) -> Iterator[HttpWorld]:
    sim, base_url = start_simulator(home)
    server: Process | None = None
    log_file = home / "server.log"
    world = HttpWorld(0, log_file)
    try:
        server, port = start_server(
            home,
            base_url,
            "--token", TOKEN,
            "--max-connections", str(world.max_connections),
            "--mcp-session-idle", str(world.idle_s),
            "--log-file", str(log_file),
        )  # fmt: skip
        world.port = port
        yield world
    finally:
        if server is not None:
            server.stop()
        sim.stop()


class StdioWorld:
    """``poe-mcp serve --simulate`` over pipes; every exchange ends with a ping."""

    def __init__(self, home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.update(POE_MCP_HOME=str(home / "data"), POE_MCP_CONFIG_DIR=str(home / "config"))
        self.proc = subprocess.Popen(
            [POE_MCP, "serve", "--simulate"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.replies: Queue[dict[str, Any]] = Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.marker = 10_000

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.replies.put(json.loads(line))

    def send(self, line: str | bytes) -> None:
        assert self.proc.stdin is not None
        data = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def reply(self, timeout: float = 30.0) -> dict[str, Any]:
        try:
            return self.replies.get(timeout=timeout)
        except Empty:
            raise AssertionError("no reply from the server") from None

    def exchange(self, line: str | bytes) -> list[dict[str, Any]]:
        """The replies to ``line``, collected until the ping sent after it is answered."""
        self.marker += 1
        self.send(line)
        self.send(json.dumps({"jsonrpc": "2.0", "id": self.marker, "method": "ping"}))
        seen = []
        while (reply := self.reply()).get("id") != self.marker or "result" not in reply:
            seen.append(reply)
        return seen

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def stdio_world(home: Path) -> Iterator[StdioWorld]:
    world = StdioWorld(home)
    try:
        world.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": "init",
                    "method": "initialize",
                    "params": {
                        "protocolVersion": PROTOCOL,
                        "capabilities": {},
                        "clientInfo": {"name": "hidden-members", "version": "1"},
                    },
                }
            )
        )
        assert world.reply(timeout=60)["id"] == "init"
        world.send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
        yield world
    finally:
        world.close()
