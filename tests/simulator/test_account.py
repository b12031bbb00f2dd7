"""/usage/current_balance and /usage/points_history follow the calls made."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai import OpenAI

from poe_mcp import _constants as C
from poe_mcp.simulator import Simulator


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_balance_drops_with_each_call(http: httpx2.Client, client: OpenAI, api_key: str) -> None:
    start = http.get("/usage/current_balance", headers=_auth(api_key)).json()
    assert start == {"current_point_balance": C.SIM_INITIAL_POINTS}
    client.chat.completions.create(
        model="Claude-Opus-4.1", messages=[{"role": "user", "content": "x"}]
    )
    after_one = http.get("/usage/current_balance", headers=_auth(api_key)).json()[
        "current_point_balance"
    ]
    assert after_one < C.SIM_INITIAL_POINTS
    client.chat.completions.create(model="GPT-Image-1", messages=[{"role": "user", "content": "x"}])
    after_two = http.get("/usage/current_balance", headers=_auth(api_key)).json()[
        "current_point_balance"
    ]
    spent = C.SIM_INITIAL_POINTS - after_two
    history = http.get("/usage/points_history", headers=_auth(api_key)).json()
    assert history["length"] == 2
    assert history["has_more"] is False
    assert [h["bot_name"] for h in history["data"]] == ["GPT-Image-1", "Claude-Opus-4.1"]
    assert sum(h["cost_points"] for h in history["data"]) == spent
    assert history["data"][1]["cost_points"] == C.SIM_INITIAL_POINTS - after_one
    assert history["data"][0]["cost_points"] == 1334  # 0.04 USD * 33333 points/USD, rounded up
    assert all(h["usage_type"] == "API" and h["query_id"] for h in history["data"])


def test_unpriced_model_costs_flat_points(
    http: httpx2.Client, client: OpenAI, api_key: str
) -> None:
    client.chat.completions.create(model="Assistant", messages=[{"role": "user", "content": "x"}])
    (entry,) = http.get("/usage/points_history", headers=_auth(api_key)).json()["data"]
    assert entry["cost_points"] == C.SIM_UNPRICED_POINTS


def test_failed_calls_cost_nothing(http: httpx2.Client, client: OpenAI, api_key: str) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="GPT-4.1", messages=[], temperature=9)
    assert http.get("/usage/points_history", headers=_auth(api_key)).json()["data"] == []


def test_points_history_pages(http: httpx2.Client, client: OpenAI, api_key: str) -> None:
    for i in range(5):
        client.chat.completions.create(
            model="GPT-4.1", messages=[{"role": "user", "content": str(i)}]
        )
    first = http.get("/usage/points_history", params={"limit": 2}, headers=_auth(api_key)).json()
    assert first["length"] == 2
    assert first["has_more"] is True
    seen = [h["query_id"] for h in first["data"]]
    cursor = seen[-1]
    while True:
        page = http.get("/usage/points_history", headers=_auth(api_key),
                        params={"limit": 2, "starting_after": cursor}).json()  # fmt: skip
        seen += [h["query_id"] for h in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["data"][-1]["query_id"]
    assert len(seen) == len(set(seen)) == 5
    times = [h["creation_time"] for h in first["data"]]
    assert times == sorted(times, reverse=True)  # newest first


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_points_history_limit_is_checked(http: httpx2.Client, api_key: str, limit: str) -> None:
    resp = http.get("/usage/points_history", params={"limit": limit}, headers=_auth(api_key))
    assert resp.status_code == 400


def test_account_endpoints_need_a_valid_key(http: httpx2.Client) -> None:
    assert http.get("/usage/current_balance").status_code == 401
    assert http.get("/usage/points_history", headers=_auth("invalid-x")).status_code == 401
    broke = http.get("/usage/current_balance", headers=_auth("broke-1"))
    assert broke.json() == {"current_point_balance": 0}


def test_spending_every_point_gives_402(api_key: str) -> None:
    with (
        Simulator(initial_points=10) as sim,
        OpenAI(api_key=api_key, base_url=sim.base_url, max_retries=0) as c,
    ):
        c.chat.completions.create(
            model="Claude-Opus-4.1", messages=[{"role": "user", "content": "x"}]
        )
        assert sim.balance(api_key) == 0
        with pytest.raises(Exception) as info:
            c.chat.completions.create(model="GPT-4.1", messages=[{"role": "user", "content": "x"}])
        assert getattr(info.value, "status_code", None) == 402


def test_every_answer_has_request_id_and_rate_headers(http: httpx2.Client, api_key: str) -> None:
    for path in ("/usage/current_balance", "/usage/points_history?limit=0", "/v1/models"):
        resp = http.get(path, headers=_auth(api_key))
        assert resp.headers["x-request-id"]
        assert resp.headers["x-ratelimit-limit-requests"] == "500"
