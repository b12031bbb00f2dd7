"""The retry policy: what is retried, how long it waits, and Retry-After honoured."""

from __future__ import annotations

import email.utils
import time

import pytest

from poe_mcp import _constants as C
from poe_mcp import errors as E
from poe_mcp._retry import backoff_delay, retry_delay
from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator

from .conftest import KEY, Stopwatch, model_calls


async def test_retry_after_seconds_is_waited_for(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=429, retry_after=1)
    with Stopwatch() as watch:
        await client.chat("GPT-4.1", "hello")
    assert 1.0 <= watch.elapsed < 1.5
    assert len(model_calls(simulator)) == 2


async def test_retry_after_ms_wins_over_retry_after(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=503, retry_after=5, retry_after_ms=300)
    with Stopwatch() as watch:
        await client.chat("GPT-4.1", "hello")
    assert 0.3 <= watch.elapsed < 0.8


async def test_a_retry_after_beyond_the_bound_is_raised_not_waited(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=429, retry_after=C.RETRY_AFTER_MAX_S + 60)
    with Stopwatch() as watch, pytest.raises(E.RateLimitError) as info:
        await client.chat("GPT-4.1", "hello")
    assert watch.elapsed < 1.0
    assert info.value.retry_after == C.RETRY_AFTER_MAX_S + 60
    assert len(model_calls(simulator)) == 1


async def test_backoff_grows_exponentially_from_250_ms(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=500, times=2)
    with Stopwatch() as watch:
        await client.chat("GPT-4.1", "hello")
    # 0.25 s then 0.5 s, each minus up to 25 % jitter.
    low = (0.25 + 0.5) * (1 - C.RETRY_JITTER)
    assert low <= watch.elapsed < 0.75 + 0.5
    assert len(model_calls(simulator)) == 3


async def test_max_retries_zero_sends_once(simulator: Simulator) -> None:
    simulator.add_fault("status", status=503)
    async with AsyncPoeClient(
        KEY, base_url=simulator.base_url, store=False, catalog=False, rpm=0, max_retries=0
    ) as client:
        with pytest.raises(E.UpstreamError):
            await client.chat("GPT-4.1", "hello")
    assert len(model_calls(simulator)) == 1


def test_backoff_is_capped_and_jittered() -> None:
    assert backoff_delay(0, rand=lambda: 0.0) == C.RETRY_BASE_DELAY_S
    assert backoff_delay(1, rand=lambda: 0.0) == 2 * C.RETRY_BASE_DELAY_S
    assert backoff_delay(30, rand=lambda: 0.0) == C.RETRY_MAX_DELAY_S
    assert backoff_delay(0, rand=lambda: 1.0) == C.RETRY_BASE_DELAY_S * (1 - C.RETRY_JITTER)


def test_retry_after_as_an_http_date_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    error = E.error_from_response(503, {"error": {"message": "busy"}}, {"Retry-After": when})
    delay = retry_delay(error, 0, 4)
    assert delay is not None
    assert 1.5 < delay <= 3.0


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 413, 422])
def test_statuses_outside_the_list_are_never_retried(status: int) -> None:
    error = E.error_from_response(status, {"error": {"message": "no"}}, {"retry-after": "1"})
    assert retry_delay(error, 0, 4) is None


def test_only_our_errors_are_retried() -> None:
    assert retry_delay(ValueError("bug"), 0, 4) is None
    assert retry_delay(E.NetworkError("reset"), 0, 4) is not None
    assert retry_delay(E.NetworkError("reset"), 4, 4) is None
    assert retry_delay(E.RequestTimeoutError("slow"), 0, 4) is not None
    assert retry_delay(E.QuotaError("budget"), 0, 4) is None
