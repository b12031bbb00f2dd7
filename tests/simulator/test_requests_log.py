"""GET /sim/requests: what the server received, attachments summarised, never the key."""

from __future__ import annotations

import base64
import contextlib
import json

import httpx2
from openai import OpenAI

from poe_mcp.simulator import Simulator


def test_log_shows_the_request_and_never_the_key(
    simulator: Simulator, http: httpx2.Client, client: OpenAI, api_key: str
) -> None:
    simulator.clear_requests()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100).decode()
    client.chat.completions.create(
        model="claude-sonnet-4",
        messages=[
            {"role": "system", "content": "sys"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                ],
            },
        ],
        temperature=0.5,
        extra_headers={"x-custom": "secret-header-value"},
    )
    entries = http.get("/sim/requests").json()["requests"]
    assert entries == simulator.requests()
    (entry,) = [e for e in entries if e["path"] == "/v1/chat/completions"]
    assert entry["method"] == "POST"
    assert entry["model"] == "claude-sonnet-4"
    assert entry["status"] == 200
    assert entry["body"]["temperature"] == 0.5
    assert len(entry["body"]["messages"]) == 2
    image = entry["body"]["messages"][1]["content"][1]["image_url"]["url"]
    assert image == {"media_type": "image/png", "bytes": 108}
    assert "authorization" in entry["headers"]
    assert "x-custom" in entry["headers"]
    dumped = json.dumps(entries)
    assert api_key not in dumped
    assert "secret-header-value" not in dumped


def test_log_records_failures_and_faults(simulator: Simulator, client: OpenAI) -> None:
    simulator.clear_requests()
    simulator.add_fault("status", status=500)
    for _ in range(2):
        with contextlib.suppress(Exception):
            client.chat.completions.create(
                model="nope", messages=[{"role": "user", "content": "x"}]
            )
    first, second = simulator.requests()
    assert (first["status"], first["fault"]) == (500, "status")
    assert second["status"] == 404
    assert "fault" not in second


def test_clearing_the_log(simulator: Simulator, http: httpx2.Client) -> None:
    http.get("/v1/models")
    assert simulator.requests()
    assert http.delete("/sim/requests").json() == {"requests": []}
    assert simulator.requests() == []


def test_reset_forgets_balances(http: httpx2.Client, api_key: str) -> None:
    with Simulator() as sim, OpenAI(api_key=api_key, base_url=sim.base_url, max_retries=0) as c:
        c.chat.completions.create(model="GPT-4.1", messages=[{"role": "user", "content": "x"}])
        spent = sim.balance(api_key)
        assert httpx2.post(f"{sim.url}/sim/reset").json() == {"reset": True}
        assert sim.balance(api_key) > spent
        assert sim.requests() == []
