"""Requests per minute per key: 429 with Retry-After, and x-ratelimit-* headers."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from poe_mcp.simulator import Simulator


def test_fourth_request_in_a_minute_gets_429(api_key: str) -> None:
    with (
        Simulator(rpm=3) as sim,
        OpenAI(api_key=api_key, base_url=sim.base_url, max_retries=0) as c,
    ):
        remaining = []
        for _ in range(3):
            raw = c.chat.completions.with_raw_response.create(
                model="GPT-4.1", messages=[{"role": "user", "content": "x"}]
            )
            remaining.append(int(raw.headers["x-ratelimit-remaining-requests"]))
            assert raw.headers["x-ratelimit-limit-requests"] == "3"
        assert remaining == [2, 1, 0]
        with pytest.raises(openai.RateLimitError) as info:
            c.chat.completions.create(model="GPT-4.1", messages=[{"role": "user", "content": "x"}])
        err = info.value
        assert err.body["type"] == "rate_limit_error"  # type: ignore[index]
        assert 1 <= int(err.response.headers["retry-after"]) <= 60
        assert err.response.headers["x-ratelimit-remaining-requests"] == "0"
        # another key has its own window
        with OpenAI(api_key=api_key + "-other", base_url=sim.base_url, max_retries=0) as other:
            assert other.chat.completions.create(
                model="GPT-4.1", messages=[{"role": "user", "content": "x"}]
            ).choices


def test_sliding_window_frees_slots() -> None:
    from poe_mcp.errors import RateLimitError
    from poe_mcp.simulator import SimState

    now = [1000.0]
    state = SimState(rpm=2, clock=lambda: now[0])
    state.check_rate("k")
    now[0] += 30
    state.check_rate("k")
    with pytest.raises(RateLimitError) as info:
        state.check_rate("k")
    assert info.value.retry_after == pytest.approx(30)
    now[0] += 30.001
    assert state.check_rate("k").remaining == 0  # the first slot expired, the second still counts
