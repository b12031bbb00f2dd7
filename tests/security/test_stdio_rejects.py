"""On stdio, a line the parser rejects gets a JSON-RPC error, never silence.

A real ``poe-mcp serve --simulate`` subprocess over pipes: each hostile line is followed by a
``ping`` with a known id, so a missing reply shows as the ping's answer arriving first.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .hidden_world import StdioWorld

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))
INIT = {
    "jsonrpc": "2.0",
    "id": "init",
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "hostile", "version": "1"},
    },
}


@pytest.fixture(scope="module")
def stdio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StdioWorld]:
    server = StdioWorld(tmp_path_factory.mktemp("stdio"))
    server.send(json.dumps(INIT))
    assert server.reply(timeout=60)["id"] == "init"
    server.send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    yield server
    server.close()


def ping(request_id: int) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "ping"})


DEEP = "[" * 300 + "]" * 300
CASES = [
    # (line, expected code, expected id)
    ('{"jsonrpc":"2.0","id":7,"method":"ping","params":{"x":"\\ud800"}}', -32700, 7),
    ('{"jsonrpc":"2.0","id":"s","method":"ping","params":{"x":"\\udfff tail"}}', -32700, "s"),
    (f'{{"jsonrpc":"2.0","id":8,"method":"ping","params":{{"x":{DEEP}}}}}', -32700, 8),
    ('{"jsonrpc":"2.0","id":9,"method":"ping","params":{"x":' + "1" * 5000 + "}}", -32700, 9),
    ('{"jsonrpc":"2.0","id":' + "9" * 5000 + ',"method":"ping"}', -32700, None),
    ('[{"jsonrpc":"2.0","id":10,"method":"ping"}]', -32600, None),
    ("[]", -32600, None),
    ("null", -32600, None),
    ("42", -32600, None),
    ('"ping"', -32600, None),
    ('{"jsonrpc":"2.0","id":11,"method":"ping"', -32700, None),
    ('{"jsonrpc":"2.0","id":12}', -32600, 12),
    ('{"jsonrpc":"1.0","id":13,"method":"ping"}', -32600, 13),
    ("{not json at all", -32700, None),
]


def replies_until(stdio: StdioWorld, request_id: int) -> list[dict[str, Any]]:
    """Replies up to (without) the one with ``request_id``."""
    seen: list[dict[str, Any]] = []
    while True:
        reply = stdio.reply()
        if reply.get("id") == request_id and "result" in reply:
            return seen
        seen.append(reply)


@pytest.mark.parametrize(("line", "code", "request_id"), CASES)
def test_rejected_line_gets_an_error_reply(
    stdio: StdioWorld, line: str, code: int, request_id: Any
) -> None:
    marker = 1000 + CASES.index((line, code, request_id))
    stdio.send(line)
    stdio.send(ping(marker))
    replies = replies_until(stdio, marker)
    assert len(replies) == 1, f"expected one error reply, got {replies}"
    reply = replies[0]
    assert reply["error"]["code"] == code
    assert reply["id"] == request_id
    assert len(reply["error"]["message"]) < 300


def test_invalid_utf8_bytes_still_get_an_answer(stdio: StdioWorld) -> None:
    stdio.send(b'{"jsonrpc":"2.0","id":21,"method":"ping","params":{"x":"\xff\xfe"}}')
    stdio.send(ping(22))
    # The SDK decodes stdin with errors="replace": a valid request, answered normally.
    assert replies_until(stdio, 22) == [{"jsonrpc": "2.0", "id": 21, "result": {}}]


def test_a_malformed_response_from_the_client_is_not_answered(stdio: StdioWorld) -> None:
    stdio.send('{"jsonrpc":"2.0","id":30,"result":"x","error":"y"}')
    stdio.send(ping(31))
    assert replies_until(stdio, 31) == []


def test_the_server_keeps_serving_after_hostile_lines(stdio: StdioWorld) -> None:
    stdio.send(json.dumps({"jsonrpc": "2.0", "id": 40, "method": "tools/list"}))
    stdio.send(ping(41))
    replies = replies_until(stdio, 41)
    assert [r["id"] for r in replies] == [40]
    assert replies[0]["result"]["tools"]
