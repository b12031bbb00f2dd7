"""Scripted faults through POST /sim/faults and the in-process helpers, seen by the openai SDK."""

from __future__ import annotations

import time

import httpx2
import openai
import pytest
from openai import OpenAI

from poe_mcp.simulator import Simulator

HI = [{"role": "user", "content": "hi"}]


def _chat(client: OpenAI, **kw: object):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(model="GPT-4.1", messages=HI, **kw)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("status", "error_type", "exc"),
    [
        (429, "rate_limit_error", openai.RateLimitError),
        (500, "provider_error", openai.InternalServerError),
        (502, "upstream_error", openai.InternalServerError),
        (503, "service_unavailable", openai.InternalServerError),
        (529, "overloaded_error", openai.InternalServerError),
        (403, "moderation_error", openai.PermissionDeniedError),
        (408, "timeout_error", openai.APIStatusError),
        (413, "request_too_large", openai.APIStatusError),
    ],
)
def test_status_fault_over_http(
    http: httpx2.Client, client: OpenAI, status: int, error_type: str, exc: type[Exception]
) -> None:
    resp = http.post("/sim/faults", json={"kind": "status", "status": status})
    assert resp.status_code == 200
    assert resp.json()["faults"][0]["status"] == status
    with pytest.raises(exc) as info:
        _chat(client)
    err = info.value
    assert isinstance(err, openai.APIStatusError)
    assert err.status_code == status
    assert err.body["type"] == error_type  # type: ignore[index]
    assert err.response.headers["x-request-id"]
    assert _chat(client).choices[0].message.content  # consumed: the next call succeeds


def test_retry_after_headers(simulator: Simulator, client: OpenAI) -> None:
    simulator.add_fault("status", status=429, retry_after=3, retry_after_ms=2500)
    with pytest.raises(openai.RateLimitError) as info:
        _chat(client)
    headers = info.value.response.headers
    assert headers["retry-after"] == "3"
    assert headers["retry-after-ms"] == "2500"


def test_times_and_model_filter(simulator: Simulator, client: OpenAI) -> None:
    simulator.add_fault("status", status=500, times=2, model="claude-sonnet-4")
    assert _chat(client).choices[0].message.content  # other model: untouched
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="Claude-Sonnet-4", messages=HI)  # type: ignore[arg-type]
    assert client.chat.completions.create(model="Claude-Sonnet-4", messages=HI)  # type: ignore[arg-type]


def test_delay_fault(simulator: Simulator, client: OpenAI) -> None:
    simulator.add_fault("delay", delay_s=0.3)
    start = time.perf_counter()
    assert _chat(client).choices[0].message.content
    assert time.perf_counter() - start >= 0.3
    simulator.add_fault("delay", delay_s=1.0)
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).chat.completions.create(model="GPT-4.1", messages=HI)  # type: ignore[arg-type]


def test_dropped_connection(simulator: Simulator, client: OpenAI) -> None:
    simulator.add_fault("drop")
    with pytest.raises(openai.APIConnectionError):
        _chat(client)
    assert _chat(client).choices[0].message.content


def test_stream_cut_after_k_chunks_has_no_finish_and_no_done(
    simulator: Simulator, http: httpx2.Client, client: OpenAI, api_key: str
) -> None:
    simulator.add_fault("cut", after_chunks=3)
    chunks = list(_chat(client, stream=True))
    assert len(chunks) == 3
    assert all(c.choices[0].finish_reason is None for c in chunks)
    simulator.add_fault("cut", after_chunks=2)
    resp = http.post("/v1/chat/completions", headers={"authorization": f"Bearer {api_key}"},
                     json={"model": "GPT-4.1", "messages": HI, "stream": True})  # fmt: skip
    events = [e for e in resp.text.split("\n\n") if e]
    assert len(events) == 2
    assert "[DONE]" not in resp.text


def test_non_stream_cut_is_an_incomplete_body(simulator: Simulator, client: OpenAI) -> None:
    simulator.add_fault("cut")
    with pytest.raises(openai.APIConnectionError):
        _chat(client)


def test_malformed_json(simulator: Simulator, client: OpenAI) -> None:
    simulator.add_fault("malformed")
    with pytest.raises(ValueError):  # the SDK's JSON decoding fails
        _chat(client)
    simulator.add_fault("malformed")
    with pytest.raises(ValueError):  # the SSE data line is not JSON
        list(_chat(client, stream=True))


def test_error_event_mid_stream(simulator: Simulator, client: OpenAI) -> None:
    simulator.add_fault(
        "stream_error", after_chunks=2, error_type="overloaded_error", message="busy"
    )
    seen: list[object] = []
    with pytest.raises(openai.APIError) as info:
        seen.extend(_chat(client, stream=True))
    assert len(seen) == 2
    assert info.value.message == "busy"
    assert info.value.body["type"] == "overloaded_error"  # type: ignore[index]


def test_stream_error_without_stream_is_a_status(simulator: Simulator, client: OpenAI) -> None:
    simulator.add_fault("stream_error", status=502)
    with pytest.raises(openai.InternalServerError):
        _chat(client)


def test_list_and_clear_faults(http: httpx2.Client, client: OpenAI) -> None:
    body = {"faults": [{"kind": "drop"}, {"kind": "status", "status": 500, "path": "*"}]}
    assert len(http.post("/sim/faults", json=body).json()["faults"]) == 2
    assert len(http.get("/sim/faults").json()["faults"]) == 2
    assert http.delete("/sim/faults").json() == {"faults": []}
    assert _chat(client).choices[0].message.content


def test_path_star_strikes_account_endpoints(
    simulator: Simulator, http: httpx2.Client, api_key: str
) -> None:
    simulator.add_fault("status", status=503, path="/usage/")
    resp = http.get("/usage/current_balance", headers={"authorization": f"Bearer {api_key}"})
    assert resp.status_code == 503
    assert http.get("/v1/models").status_code == 200  # not a model call: no default fault applies


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "explode"},
        {"kind": "status", "colour": "red"},
        {"kind": "status", "status": 200},
        5,
    ],
)
def test_bad_fault_definitions_are_400(http: httpx2.Client, bad: object) -> None:
    resp = http.post("/sim/faults", json=bad)
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert http.get("/sim/faults").json()["faults"] == []


def test_star_fault_strikes_the_model_list(simulator: Simulator, client: OpenAI) -> None:
    simulator.add_fault("status", status=502, path="*")
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    simulator.add_fault("drop", path="/v1/models")
    with pytest.raises(openai.APIConnectionError):
        client.models.list()
    assert client.models.list().data
