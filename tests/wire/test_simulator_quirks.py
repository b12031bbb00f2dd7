"""The simulator's quirks as a user drives them: ``POST /sim/faults`` and the catalogue."""

from __future__ import annotations

import httpx2
import pytest

from poe_mcp.errors import InvalidRequestError
from poe_mcp.simulator import QUIRKS, Simulator

from .conftest import KEY


def test_quirks_are_scripted_over_http_and_bad_ones_refused(simulator: Simulator) -> None:
    with httpx2.Client(base_url=simulator.url) as http:
        ok = http.post("/sim/faults", json={"kind": "quirk", "quirks": ["crlf", "no_done"]})
        assert ok.status_code == 200
        assert ok.json()["faults"][0]["quirks"] == ["crlf", "no_done"]
        bad = http.post("/sim/faults", json={"kind": "quirk", "quirks": ["made_up"]})
        assert bad.status_code == 400
        assert "unknown quirk(s): made_up" in bad.json()["error"]["message"]
        body = {"model": "GPT-4.1", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        raw = http.post(
            "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        )
    assert raw.content.count(b"\r\n\r\n") >= 3  # CRLF framing
    assert b"[DONE]" not in raw.content
    assert b'"finish_reason":"stop"' in raw.content.replace(b" ", b"")


def test_every_quirk_name_is_known_and_validated(simulator: Simulator) -> None:
    for name in sorted(QUIRKS):
        simulator.add_fault("quirk", quirks=[name])
    with pytest.raises(InvalidRequestError):
        simulator.add_fault("quirk", quirks=[1])


def test_the_catalogue_lists_the_quirky_models(simulator: Simulator) -> None:
    with httpx2.Client(base_url=simulator.base_url) as http:
        models = {m["id"]: m for m in http.get("/models").json()["data"]}
    assert set(models["Local-Llama-3.1"]) == {"id", "object", "created", "owned_by"}
    assert "supported_features" in models["Mistral-Large"]
