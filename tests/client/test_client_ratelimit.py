"""The client-side rate limiter: bursts wait their turn instead of meeting 429s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from poe_mcp import errors as E
from poe_mcp.client import AsyncPoeClient
from poe_mcp.ratelimit import LocalRateLimiter, key_id, shared_limiter
from poe_mcp.simulator import SimState, Simulator

from .conftest import KEY, Stopwatch

# The simulator counts requests in a sliding 60 s window. Its documented clock hook lets the
# window pass SPEEDUP times faster, so "N per minute" becomes "N per WINDOW_S" on both sides
# and a burst twice the limit takes seconds instead of minutes.
WINDOW_S = 1.5
SPEEDUP = 60.0 / WINDOW_S
# Compressing a minute into 1.5 s also compresses the limiter's default slack (5 % of the
# window: 3 s in real use) to 75 ms, less than a loaded test machine's scheduling hiccups
# between this event loop and the simulator's thread; 20 % (0.3 s) keeps the test honest.
MARGIN = 0.2


@pytest.fixture(scope="module")
def fast_sim() -> Iterator[Simulator]:
    simulator = Simulator()
    simulator.state = SimState(rpm=20, clock=lambda: time.monotonic() * SPEEDUP)
    with simulator:
        yield simulator


async def _burst(
    sim: Simulator, key: str, n: int, limiter: LocalRateLimiter | None
) -> list[object]:
    async with AsyncPoeClient(
        key,
        base_url=sim.base_url,
        store=False,
        catalog=False,
        max_retries=0,  # any 429 would surface
        rpm=0,
        limiter=limiter,
    ) as client:
        return await asyncio.gather(
            *(client.chat("GPT-4.1", f"request {i}") for i in range(n)), return_exceptions=True
        )


async def test_a_burst_twice_the_limit_meets_no_429(fast_sim: Simulator) -> None:
    limiter = LocalRateLimiter(20, period_s=WINDOW_S, margin=MARGIN)
    with Stopwatch() as watch:
        results = await _burst(fast_sim, "burst-key-limited", 40, limiter)
    assert [r for r in results if isinstance(r, BaseException)] == []
    # the second half had to wait for the first half's window to pass
    assert watch.elapsed >= WINDOW_S


async def test_the_same_burst_without_the_limiter_is_refused(fast_sim: Simulator) -> None:
    results = await _burst(fast_sim, "burst-key-unlimited", 40, None)
    refused = [r for r in results if isinstance(r, E.RateLimitError)]
    assert refused, "the simulator should enforce the limit this test relies on"
    assert all(r.retry_after is not None for r in refused)


async def test_a_burst_with_a_burst_allowance_still_meets_no_429() -> None:
    simulator = Simulator()
    simulator.state = SimState(rpm=40, clock=lambda: time.monotonic() * SPEEDUP)
    with simulator:
        limiter = LocalRateLimiter(40, period_s=WINDOW_S, burst=4, margin=MARGIN)
        results = await _burst(simulator, "burst-key-allowance", 80, limiter)
    assert [r for r in results if isinstance(r, BaseException)] == []


async def test_waiting_longer_than_the_bound_raises_rate_limit(simulator: Simulator) -> None:
    limiter = LocalRateLimiter(1, max_wait_s=0.5)
    async with AsyncPoeClient(
        KEY, base_url=simulator.base_url, store=False, catalog=False, limiter=limiter
    ) as client:
        await client.chat("GPT-4.1", "first")
        simulator.clear_requests()
        with Stopwatch() as watch, pytest.raises(E.RateLimitError) as info:
            await client.chat("GPT-4.1", "second")
    assert watch.elapsed < 0.5  # refused at once, not after waiting
    assert info.value.metadata["source"] == "client"
    assert info.value.retry_after is not None
    assert info.value.retry_after > 30
    assert simulator.requests() == []  # nothing was sent


async def test_requests_are_spaced_smoothly() -> None:
    limiter = LocalRateLimiter(600, burst=1)  # one every ~0.105 s
    with Stopwatch() as watch:
        for _ in range(4):
            await limiter.acquire("k")
    assert 0.3 <= watch.elapsed < 0.5
    status = await limiter.status("k")
    assert status["rpm"] == 600
    assert status["next_wait_s"] > 0


def test_limiters_are_keyed_by_a_hash_and_shared_per_process() -> None:
    assert KEY not in key_id(KEY)
    assert len(key_id(KEY)) == 16
    assert key_id(KEY) == key_id(KEY) != key_id(KEY + "x")
    assert shared_limiter(123) is shared_limiter(123)
    assert shared_limiter(123) is not shared_limiter(124)
