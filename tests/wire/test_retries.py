"""Retry only what can change: transport errors, 408/409/425/429/5xx and Poe's retryable bot
errors. Never a 200 we cannot parse, an answer that breaks the protocol, or an exception of our
own (a ``TypeError`` is a bug: it propagates at once).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from poe_mcp import AsyncPoeClient
from poe_mcp.errors import PoeError, UpstreamError
from poe_mcp.simulator import Simulator

from .conftest import ask, collect, upstream_calls


@pytest.mark.parametrize("status", [408, 409, 425, 429, 500, 502, 503, 504, 529])
@pytest.mark.parametrize("streamed", [True, False])
async def test_statuses_that_can_change_are_retried(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], status: int, streamed: bool
) -> None:
    simulator.add_fault("status", status=status, retry_after_ms=5)
    client = make_client(simulator.base_url)
    if streamed:
        _, result = await collect(client.stream("GPT-4.1", "again"))
    else:
        result = await client.chat("GPT-4.1", "again")
    assert 'You said: "again"' in result.text
    assert [c["status"] for c in upstream_calls(simulator, "openai")] == [status, 200]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
async def test_statuses_that_cannot_change_are_not(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], status: int
) -> None:
    simulator.add_fault("status", status=status, times=3)
    with pytest.raises(PoeError) as info:
        await make_client(simulator.base_url).chat("GPT-4.1", "no")
    assert info.value.status == status
    assert len(upstream_calls(simulator, "openai")) == 1


@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize("streamed", [True, False])
async def test_an_answer_that_cannot_be_parsed_is_not_retried(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], backend: str, streamed: bool
) -> None:
    simulator.add_fault("malformed", times=3)
    client = make_client(simulator.base_url, backend=backend)
    with pytest.raises(UpstreamError) as info:
        await ask(client, "GPT-4.1", "garbled", streamed=streamed)
    assert not info.value.retryable
    assert len(upstream_calls(simulator, backend)) == 1


_BAD_EXTRA = {"extra": {"thinking_budget": object()}}
_BAD_TOOLS = {
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"x": object()}}}]
}


@pytest.mark.parametrize(
    ("backend", "bad"),
    [("openai", _BAD_EXTRA), ("openai", _BAD_TOOLS), ("legacy", _BAD_EXTRA)],
    ids=["rest-extra", "rest-tools", "bot-extra"],
)
@pytest.mark.parametrize("streamed", [True, False])
async def test_a_type_error_of_our_own_propagates_unretried(
    simulator: Simulator,
    make_client: Callable[..., AsyncPoeClient],
    bad: dict[str, object],
    streamed: bool,
    backend: str,
) -> None:
    client = make_client(simulator.base_url, catalog=False, backend=backend)
    with pytest.raises(TypeError, match="not JSON serializable"):
        await ask(client, "Claude-Sonnet-4", "hi", streamed=streamed, **bad)
    assert upstream_calls(simulator, backend) == []  # nothing sent, nothing retried


async def test_poe_bot_errors_are_retried_only_when_they_allow_it(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient]
) -> None:
    client = make_client(simulator.base_url, backend="legacy")
    simulator.add_fault("stream_error", after_chunks=1, allow_retry=True)
    assert 'You said: "retry me"' in (await client.chat("GPT-4.1", "retry me")).text
    assert len(upstream_calls(simulator, "legacy")) == 2
    simulator.clear_requests()
    simulator.add_fault("stream_error", after_chunks=1, allow_retry=False, times=3)
    with pytest.raises(PoeError) as info:
        await client.chat("GPT-4.1", "do not")
    assert not info.value.retryable
    assert info.value.metadata["allow_retry"] is False
    assert len(upstream_calls(simulator, "legacy")) == 1
