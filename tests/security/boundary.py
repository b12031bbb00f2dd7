"""The hard-boundary tests' world: a victim's files with canaries, and a steerable upstream.

The victim: poe-mcp's config dir (``credentials.toml`` holding a canary key) and data dir (a
session database holding a canary) live inside one root (``home``), next to an ordinary root
(``work``) full of traps: links to the key file, to ``/proc/self/environ`` and to the database,
a FIFO, a UNIX socket; and a secret outside every root. The process environment holds a canary
too, so a read of ``/proc/self/environ`` shows.

The steered upstream (:class:`SteeredAPI`) is a fake Poe API on loopback that does what its
caller says: a user message ``CALL {"name": ..., "arguments": {...}}`` becomes that tool call (a
model fully steered by the prompt), ``SAY <text>`` is answered with the text (media links,
redirects), and anything else is echoed back whole, attachments included (a model that repeats
its input), so any byte that reaches it would show in the answer.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator, make_png
from tests.loopback import LoopbackServer

KEY_CANARY = "poe-key-CANARY-7f3a9c1e5b2d4a6f8e0c"
ENV_CANARY = "ENV-CANARY-93b1d7e2c4a6"
DB_CANARY = "DB-CANARY-5e8f1a2b3c4d"
OUTSIDE_CANARY = "OUTSIDE-CANARY-0a1b2c3d"
CANARIES = (KEY_CANARY, ENV_CANARY, DB_CANARY, OUTSIDE_CANARY)
PNG = make_png(8, 8, "hostile")
HOSTILE_MODEL = "Hostile-Bot"
HOSTILE_IMAGE = "Hostile-Image"


def assert_no_leak(*texts: Any) -> None:
    """No canary in anything a caller got back."""
    blob = "\n".join(t if isinstance(t, str) else json.dumps(t, default=str) for t in texts)
    for canary in CANARIES:
        assert canary not in blob, f"{canary} leaked"


def error_of(result: Any) -> dict[str, Any]:
    """The OpenAI-format error JSON at the end of an MCP tool error."""
    assert result.is_error, result.content[0].text
    text = result.content[0].text
    return json.loads(text[text.index("{") :])["error"]


@dataclass
class Victim:
    root: Path  # tmp_path
    work: Path
    home: Path
    config: Path
    data: Path
    credentials: Path
    db: Path
    outside: Path
    fifo: Path

    @property
    def roots(self) -> dict[str, str]:
        return {"work": str(self.work), "home": str(self.home)}


def make_victim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Victim:
    home = tmp_path / "home"
    config, data = home / "config", home / "data"
    config.mkdir(parents=True)
    data.mkdir()
    credentials = config / "credentials.toml"
    credentials.write_text(f'[poe]\napi_key = "{KEY_CANARY}"\n')
    db = data / "poe-mcp.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE canary (v TEXT)")
        conn.execute("INSERT INTO canary VALUES (?)", (DB_CANARY,))
        conn.commit()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(OUTSIDE_CANARY)
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "notes.txt").write_text("hello notes\n")
    (work / "sub" / "deep.txt").write_text("deep text\n")
    (work / "link_creds").symlink_to(credentials)
    (work / "link_env").symlink_to("/proc/self/environ")
    (work / "link_db").symlink_to(db)
    (work / "link_config").symlink_to(config, target_is_directory=True)
    (work / "link_outside").symlink_to(outside, target_is_directory=True)
    fifo = work / "pipe"
    import os

    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(work / "sock"))
    sock.close()
    monkeypatch.setenv("POE_MCP_HOME", str(data))
    monkeypatch.setenv("POE_MCP_CONFIG_DIR", str(config))
    monkeypatch.setenv("POE_MCP_TEST_CANARY", ENV_CANARY)
    for name in ("POE_API_KEY", "OPENAI_API_KEY", "POE_BASE_URL", "POE_MCP_STORE",
                 "POE_MCP_DOWNLOAD_POLICY", "POE_MCP_TOOLS", "POE_MCP_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return Victim(tmp_path, work, home, config, data, credentials, db, outside, fifo)


async def server_factory(simulator: Simulator, victim: Victim) -> AsyncIterator[Callable[..., Any]]:
    """Build in-memory MCP servers over the victim's roots (closed at the end of the test)."""
    made: list[ServerRuntime] = []

    def make(
        *,
        base_url: str | None = None,
        tools: dict[str, Any] | None = None,
        store: str = "memory://",
    ) -> Any:
        section = {"roots": victim.roots} if tools is None else tools
        settings = Settings.load(
            store=store, base_url=base_url or simulator.base_url, file={"tools": section}
        )
        runtime = ServerRuntime(
            settings, api_key="test-security-key", simulated=True, tools=available_tools()
        )
        made.append(runtime)
        return build_server(runtime)

    yield make
    for runtime in made:
        await runtime.aclose()


# --- the hostile upstream --------------------------------------------------------------------


def _model(name: str, outputs: list[str]) -> dict[str, Any]:
    return {
        "id": name, "object": "model", "created": 1735689600000, "owned_by": "Hostile",
        "architecture": {"input_modalities": ["text", "image", "file"],
                         "output_modalities": outputs},
        "pricing": {"prompt": "0.000001", "completion": "0.000001", "request": None},
        "context_window": {"context_length": 100000, "max_output_tokens": 4096},
        "supported_features": ["tools", "vision"], "parameters": [],
    }  # fmt: skip


class SteeredAPI:
    """A fake Poe API that does what its caller says (see the module docstring)."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.url = ""
        self._server: LoopbackServer | None = None

    def _reply(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        content = last.get("content")
        text = content if isinstance(content, str) else ""
        message: dict[str, Any] = {"role": "assistant"}
        finish = "stop"
        if last.get("role") == "tool":
            message["content"] = "TOOL SAID: " + str(content)
        elif text.startswith("CALL "):
            call = json.loads(text[5:])
            message["content"] = None
            message["tool_calls"] = [{
                "id": f"call_{self.hits['/v1/chat/completions']}", "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
            }]  # fmt: skip
            finish = "tool_calls"
        elif text.startswith("SAY "):
            message["content"] = text[4:]
        else:
            message["content"] = "ECHO " + json.dumps(messages)
        return {
            "id": "hostile-1", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "finish_reason": finish, "message": message}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
        }  # fmt: skip

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        self.hits[path] += 1
        raw = b""
        while True:
            event = await receive()
            raw += event.get("body", b"")
            if not event.get("more_body"):
                break
        if path == "/v1/chat/completions":
            answer = json.dumps(self._reply(json.loads(raw))).encode()
            await _send(send, 200, "application/json", answer)
        elif path == "/v1/models":
            models = {"object": "list", "data": [_model(HOSTILE_MODEL, ["text"]),
                                                 _model(HOSTILE_IMAGE, ["image"])]}  # fmt: skip
            await _send(send, 200, "application/json", json.dumps(models).encode())
        elif path.startswith("/files/"):
            await _send(send, 200, "image/png", PNG)
        elif path == "/redirect":
            target = dict(
                pair.split("=", 1) for pair in scope["query_string"].decode().split("&") if pair
            )["to"]
            from urllib.parse import unquote

            await _send(send, 302, "text/plain", b"", [(b"location", unquote(target).encode())])
        elif path.startswith("/loop/"):
            step = int(path.rsplit("/", 1)[1])
            await _send(send, 302, "text/plain", b"", [(b"location", f"/loop/{step + 1}".encode())])
        else:
            await _send(send, 404, "text/plain", b"not found")

    def start(self) -> SteeredAPI:
        self._server = LoopbackServer(self.app, name="the hostile upstream").start()
        self.url = self._server.url
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


async def _send(
    send: Any, status: int, kind: str, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


def call(name: str, **arguments: Any) -> str:
    """The prompt that makes the hostile model call ``name`` with ``arguments``."""
    return "CALL " + json.dumps({"name": name, "arguments": arguments})
