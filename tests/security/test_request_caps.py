"""Prompt and history are capped per backend: a request with more text than the backend sends
fails with ``too_large`` before anything is sent (and is recorded in the ledger)."""

from __future__ import annotations

import uuid

import pytest

from poe_mcp import _constants as C
from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import TooLargeError
from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store


def _history(total_chars: int) -> list[dict[str, str]]:
    """A conversation of ``total_chars`` characters, in turns of 500,000."""
    messages: list[dict[str, str]] = []
    left = total_chars
    while left > 0:
        size = min(left, 500_000)
        role = "user" if len(messages) % 2 == 0 else "assistant"
        messages.append({"role": role, "content": "h" * size})
        left -= size
    if messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": "and now?"})
    return messages


@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_over_the_cap_is_refused_before_sending(
    simulator: Simulator, backend: str, streamed: bool
) -> None:
    limit = C.REQUEST_TEXT_MAX_CHARS[backend]
    simulator.clear_requests()
    store = open_store("memory://")
    key = f"zq-cap-{uuid.uuid4().hex}"
    async with AsyncPoeClient(
        key, base_url=simulator.base_url, backend=backend, store=store, catalog=False, rpm=0
    ) as client:
        messages = _history(limit + 1)
        with pytest.raises(TooLargeError) as caught:
            await _send(client, messages, streamed)
    assert caught.value.kind == "too_large"
    assert f"{limit:,}" in caught.value.message
    assert repr(backend) in caught.value.message
    assert not [r for r in simulator.requests() if "GPT-4.1" in str(r)]


async def _send(client: AsyncPoeClient, messages: list[dict[str, str]], streamed: bool) -> None:
    if streamed:
        async for _ in client.stream("GPT-4.1", messages, system="be brief"):
            pass
    else:
        await client.chat("GPT-4.1", messages, system="be brief")


async def test_the_caps_differ_per_backend(simulator: Simulator) -> None:
    # Between the two caps: too much for the bot protocol, fine for REST (not sent here:
    # the REST call is only checked, via a model that the simulator refuses at once).
    size = C.REQUEST_TEXT_MAX_CHARS["legacy"] + 1
    assert size <= C.REQUEST_TEXT_MAX_CHARS["openai"]
    async with AsyncPoeClient(
        "zq-cap-key", base_url=simulator.base_url, store=False, catalog=False, rpm=0, max_retries=0
    ) as client:
        with pytest.raises(TooLargeError):
            await client.chat("GPT-4.1", "p" * size, backend="legacy")
        simulator.add_fault("status", status=404, model="No-Such-Model")
        try:
            with pytest.raises(Exception) as other:
                await client.chat("No-Such-Model", "p" * size, backend="openai")
        finally:
            simulator.clear_faults()
    assert getattr(other.value, "kind", None) == "not_found"
