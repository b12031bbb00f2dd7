"""Every kind of error, from status answers, error bodies and faults, and which are retried."""

from __future__ import annotations

import pytest

from poe_mcp import errors as E
from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator

from .conftest import KEY, model_calls

STATUS_KINDS = [
    (400, E.InvalidRequestError, "invalid_request"),
    (401, E.AuthError, "auth"),
    (402, E.BalanceError, "balance"),
    (403, E.ModerationError, "moderation"),
    (404, E.NotFoundError, "not_found"),
    (413, E.TooLargeError, "too_large"),
]


@pytest.mark.parametrize(("status", "cls", "kind"), STATUS_KINDS)
async def test_client_errors_are_raised_at_once_without_retry(
    client: AsyncPoeClient, simulator: Simulator, status: int, cls: type[E.PoeError], kind: str
) -> None:
    simulator.add_fault("status", status=status, times=3)
    with pytest.raises(cls) as info:
        await client.chat("GPT-4.1", "hello")
    assert info.value.kind == kind
    assert info.value.status == status
    assert info.value.request_id  # the simulator's x-request-id reaches the error
    assert info.value.to_dict()["error"]["metadata"]["kind"] == kind
    assert len(model_calls(simulator)) == 1


RETRIED = [
    (408, "timeout"),
    (429, "rate_limit"),
    (500, "upstream"),
    (502, "upstream"),
    (503, "upstream"),
    (529, "overloaded"),
]


@pytest.mark.parametrize(("status", "kind"), RETRIED)
async def test_transient_statuses_are_retried_until_success(
    client: AsyncPoeClient, simulator: Simulator, status: int, kind: str
) -> None:
    simulator.add_fault("status", status=status, retry_after_ms=10)
    result = await client.chat("GPT-4.1", "hello")
    assert "hello" in result.text
    assert len(model_calls(simulator)) == 2


@pytest.mark.parametrize(("status", "kind"), RETRIED)
async def test_transient_statuses_surface_with_their_kind_when_retries_run_out(
    simulator: Simulator, status: int, kind: str
) -> None:
    simulator.add_fault("status", status=status, retry_after_ms=1, times=3)
    async with AsyncPoeClient(
        KEY, base_url=simulator.base_url, store=False, catalog=False, rpm=0, max_retries=2
    ) as client:
        with pytest.raises(E.PoeError) as info:
            await client.chat("GPT-4.1", "hello")
    assert info.value.kind == kind
    assert len(model_calls(simulator)) == 3


async def test_insufficient_quota_is_a_quota_error_and_not_retried(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=429, error_type="insufficient_quota", times=3)
    with pytest.raises(E.QuotaError):
        await client.chat("GPT-4.1", "hello")
    assert len(model_calls(simulator)) == 1


async def test_error_bodies_from_the_simulator_map_to_kinds(simulator: Simulator) -> None:
    base = simulator.base_url
    async with AsyncPoeClient(
        "invalid-key-123456", base_url=base, store=False, catalog=False, rpm=0
    ) as bad:
        with pytest.raises(E.AuthError) as auth:
            await bad.chat("GPT-4.1", "hi")
    assert "poe.com/api_key" in str(auth.value)  # the hint says what to do
    async with AsyncPoeClient(
        "broke-key-123456", base_url=base, store=False, catalog=False, rpm=0
    ) as broke:
        with pytest.raises(E.BalanceError):
            await broke.chat("GPT-4.1", "hi")
    async with AsyncPoeClient(KEY, base_url=base, store=False, catalog=False, rpm=0) as ok:
        with pytest.raises(E.NotFoundError) as missing:
            await ok.chat("Claude-Sonet-4", "hi")
        assert "Claude-Sonnet-4" in str(missing.value)  # close matches named
        tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        with pytest.raises(E.InvalidRequestError):
            await ok.chat("Llama-3.1-405B", "call f", tools=[tool])
    assert len(model_calls(simulator)) == 4  # none of them retried


async def test_dropped_connection_is_a_network_error_and_retried(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("drop")
    assert (await client.chat("GPT-4.1", "after a drop")).text
    assert len(model_calls(simulator)) == 2

    simulator.clear_requests()
    simulator.add_fault("drop", times=2)
    async with AsyncPoeClient(
        KEY, base_url=simulator.base_url, store=False, catalog=False, rpm=0, max_retries=1
    ) as once:
        with pytest.raises(E.NetworkError) as info:
            await once.chat("GPT-4.1", "hello")
    assert info.value.kind == "network"
    assert len(model_calls(simulator)) == 2


async def test_unreachable_server_is_a_network_error(simulator: Simulator) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with AsyncPoeClient(
        KEY,
        base_url=f"http://127.0.0.1:{port}/v1",
        store=False,
        catalog=False,
        rpm=0,
        max_retries=0,
    ) as client:
        with pytest.raises(E.NetworkError) as info:
            await client.chat("GPT-4.1", "hello")
    assert f"127.0.0.1:{port}" in str(info.value)


async def test_slow_answer_is_a_timeout_and_retried(
    client: AsyncPoeClient, simulator: Simulator
) -> None:
    simulator.add_fault("delay", delay_s=1.0)
    result = await client.chat("GPT-4.1", "hello", timeout=0.3)
    assert result.text
    assert len(model_calls(simulator)) == 2

    simulator.add_fault("delay", delay_s=1.0, times=2)
    async with AsyncPoeClient(
        KEY, base_url=simulator.base_url, store=False, catalog=False, rpm=0, max_retries=1
    ) as once:
        with pytest.raises(E.RequestTimeoutError):
            await once.chat("GPT-4.1", "hello", timeout=0.3)


async def test_malformed_json_is_an_upstream_error_and_not_retried(simulator: Simulator) -> None:
    simulator.add_fault("malformed", times=2)
    async with AsyncPoeClient(
        KEY, base_url=simulator.base_url, store=False, catalog=False, rpm=0, max_retries=1
    ) as client:
        with pytest.raises(E.UpstreamError) as info:
            await client.chat("GPT-4.1", "hello")
    assert "malformed" in str(info.value)
    assert not info.value.retryable
    assert len(model_calls(simulator)) == 1  # a 200 we cannot read will not change: not retried
