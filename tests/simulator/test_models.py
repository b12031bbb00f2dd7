"""GET /v1/models: OpenAI's list shape plus Poe's fields, no auth, ids in any case."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai import OpenAI
from openai.types import Model

from poe_mcp.simulator import Simulator


def test_list_needs_no_key_and_has_poe_fields(http: httpx2.Client) -> None:
    resp = http.get("/v1/models")
    assert resp.status_code == 200
    assert resp.headers["x-request-id"]
    body = resp.json()
    assert body["object"] == "list"
    by_id = {m["id"]: m for m in body["data"]}
    for name in ("Claude-Opus-4.1", "Claude-Sonnet-4", "GPT-4.1", "Gemini-2.5-Pro", "Grok-4",
                 "Llama-3.1-405B", "GPT-Image-1", "Veo-3", "ElevenLabs"):  # fmt: skip
        assert name in by_id
        Model.model_validate(by_id[name])
    sonnet = by_id["Claude-Sonnet-4"]
    assert sonnet["owned_by"] == "Anthropic"
    assert "image" in sonnet["architecture"]["input_modalities"]
    assert sonnet["architecture"]["output_modalities"] == ["text"]
    assert "tools" in sonnet["supported_features"]
    assert sonnet["pricing"]["prompt"] == "0.000003"
    assert sonnet["pricing"]["completion"]
    assert sonnet["context_window"]["context_length"] > 0
    assert sonnet["web_search"] is True
    assert {p["name"] for p in sonnet["parameters"]} == {"thinking_budget", "web_search"}
    assert "tools" not in by_id["Llama-3.1-405B"]["supported_features"]
    assert by_id["Assistant"]["pricing"] is None  # unknown price is null, never 0
    image_params = {p["name"]: p for p in by_id["GPT-Image-1"]["parameters"]}
    assert set(image_params) == {"aspect", "quality"}
    assert image_params["aspect"]["schema"]["type"] == "string"
    assert "16:9" in image_params["aspect"]["schema"]["enum"]
    assert by_id["GPT-Image-1"]["architecture"]["output_modalities"] == ["image"]
    assert {p["name"] for p in by_id["Veo-3"]["parameters"]} == {"duration", "aspect"}
    assert by_id["Veo-3"]["architecture"]["output_modalities"] == ["video"]
    assert by_id["ElevenLabs"]["architecture"]["output_modalities"] == ["audio"]


def test_sdk_lists_and_retrieves_case_insensitively(client: OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert "GPT-4.1" in ids
    assert client.models.retrieve("claude-sonnet-4").id == "Claude-Sonnet-4"


def test_unknown_model_names_close_matches(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("Claude-Sonet-4")
    assert "Claude-Sonnet-4" in info.value.message


def test_unknown_endpoint_is_poe_404(http: httpx2.Client, simulator: Simulator) -> None:
    resp = http.get("/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.json()["error"]["type"] == "not_found_error"
