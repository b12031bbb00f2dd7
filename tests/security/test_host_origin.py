"""Host and Origin are parsed, not prefix-matched: no suffix after the port gets through.

``Host: 127.0.0.1:PORT@evil.com`` and ``Origin: http://127.0.0.1:PORT.evil.com`` passed the
prefix check; every member of that kind (userinfo, dotted or slashed suffixes, non-numeric,
out-of-range or non-ASCII ports, empty ports, extra colons) is refused on every path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from poe_mcp.config import Settings
from poe_mcp.errors import ConfigError
from poe_mcp.server.http import HttpOptions, build_http_app, host_rules
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

PORT = 8765
TOKEN = "host-check-token-0123456789"

GOOD_HOSTS = [
    f"127.0.0.1:{PORT}",
    f"localhost:{PORT}",
    f"LocalHost:{PORT}",
    f"localhost.:{PORT}",
    f"[::1]:{PORT}",
    "127.0.0.1",
    "localhost:443",
]
BAD_HOSTS = [
    f"127.0.0.1:{PORT}@evil.com",
    f"127.0.0.1:{PORT}.evil.com",
    f"localhost:{PORT}.evil.com",
    f"127.0.0.1:{PORT}/evil",
    f"127.0.0.1:{PORT}?x",
    f"127.0.0.1:{PORT}#x",
    f"127.0.0.1:{PORT} evil.com",
    f"127.0.0.1:{PORT}:{PORT}",
    f"user@127.0.0.1:{PORT}",
    f"user:pw@localhost:{PORT}",
    "127.0.0.1:80x",
    "127.0.0.1:x80",
    "127.0.0.1:",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "127.0.0.1:999999",
    "127.0.0.1:+80",
    "127.0.0.1:-80",
    "127.0.0.1:８０",  # fullwidth digits
    "127.0.0.1.evil.com",
    "evil.com",
    "localhost.evil.com:8765",
    "[::1]evil:8765",
    "[::1]:80x",
    "[::1",
    "",
    " 127.0.0.1",
]
GOOD_ORIGINS = [None, f"http://127.0.0.1:{PORT}", "https://localhost", f"http://[::1]:{PORT}"]
BAD_ORIGINS = [
    f"http://127.0.0.1:{PORT}.evil.com",
    f"http://127.0.0.1:{PORT}@evil.com",
    f"http://user@127.0.0.1:{PORT}",
    f"http://127.0.0.1:{PORT}/path",
    "http://127.0.0.1:80x",
    "http://127.0.0.1:",
    "http://evil.com",
    "http://localhost.evil.com",
    f"ftp://127.0.0.1:{PORT}",
    "file://",
    "null",
    "127.0.0.1",
]


@pytest.fixture
def client(simulator: Simulator, poe_home: Path) -> Iterator[TestClient]:
    settings = Settings.load(store="memory://", base_url=simulator.base_url)
    runtime = ServerRuntime(settings, api_key="zq-host-key", simulated=True, transport="http")
    app = build_http_app(
        runtime,
        HttpOptions(
            "127.0.0.1",
            PORT,
            TOKEN,
            allowed_hosts=["mcp.example.com"],
            allowed_origins=["https://app.example.com"],
        ),
    )
    with TestClient(app, base_url=f"http://127.0.0.1:{PORT}") as test_client:
        yield test_client


def _get(client: TestClient, path: str, host: str | None, origin: str | None = None) -> Any:
    headers: dict[str, Any] = {"authorization": f"Bearer {TOKEN}"}
    if host is not None:
        headers["host"] = host.encode()  # bytes: non-ASCII goes on the wire as UTF-8
    if origin is not None:
        headers["origin"] = origin
    if path == "/mcp":
        body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers["accept"] = "application/json, text/event-stream"
        return client.post(path, json=body, headers=headers)
    return client.get(path, headers=headers)


@pytest.mark.parametrize("path", ["/health", "/metrics", "/mcp"])
@pytest.mark.parametrize("host", BAD_HOSTS)
def test_bad_host_is_refused_on_every_path(client: TestClient, path: str, host: str) -> None:
    assert _get(client, path, host).status_code == 421


@pytest.mark.parametrize("path", ["/health", "/metrics", "/mcp"])
@pytest.mark.parametrize("origin", BAD_ORIGINS)
def test_bad_origin_is_refused_on_every_path(client: TestClient, path: str, origin: str) -> None:
    assert _get(client, path, f"127.0.0.1:{PORT}", origin).status_code == 403


@pytest.mark.parametrize("host", GOOD_HOSTS)
@pytest.mark.parametrize("origin", GOOD_ORIGINS)
def test_good_host_and_origin_pass(client: TestClient, host: str, origin: str | None) -> None:
    assert _get(client, "/health", host, origin).status_code == 200
    assert _get(client, "/metrics", host, origin).status_code == 200


def test_mcp_itself_works_with_good_headers(client: TestClient) -> None:
    response = _get(client, "/mcp", f"127.0.0.1:{PORT}", f"http://localhost:{PORT}")
    # No session yet: the SDK answers (400), past the Host/Origin check (which says 421/403).
    assert response.status_code not in (403, 421)


def test_extra_names_are_parsed_the_same_way(client: TestClient) -> None:
    ok = f"127.0.0.1:{PORT}"
    assert _get(client, "/health", "mcp.example.com").status_code == 200
    assert _get(client, "/health", "MCP.example.com:443").status_code == 200
    assert _get(client, "/health", "mcp.example.com.evil.com").status_code == 421
    assert _get(client, "/health", "mcp.example.com:443@evil.com").status_code == 421
    assert _get(client, "/health", ok, "https://app.example.com").status_code == 200
    assert _get(client, "/health", ok, "https://app.example.com:8443").status_code == 200
    assert _get(client, "/health", ok, "http://app.example.com").status_code == 403
    assert _get(client, "/health", ok, "https://app.example.com.evil.com").status_code == 403


def test_two_host_headers_are_refused(client: TestClient) -> None:
    response = client.get("/health", headers=[("host", f"127.0.0.1:{PORT}"), ("host", "evil.com")])
    assert response.status_code == 421


@pytest.mark.parametrize("value", ["evil.com/x", "user@host", "host:port", "http://x", ""])
def test_a_bad_allowed_host_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError):
        host_rules("127.0.0.1", [value])


@pytest.mark.parametrize("value", ["app.example.com", "https://x.com/path", "ftp://x.com"])
def test_a_bad_allowed_origin_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError):
        host_rules("127.0.0.1", [], [value])
