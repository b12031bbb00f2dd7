"""Waits, retries and cut answers are said, in the library hook and on the CLI's stderr."""

from __future__ import annotations

import asyncio
from typing import Any

from click.testing import CliRunner

from poe_mcp import AsyncPoeClient
from poe_mcp._events import ClientEvent
from poe_mcp.cli import cli
from poe_mcp.simulator import Simulator


class SlowLimiter:
    """A limiter that holds every call 1.2 s: long enough to be worth saying."""

    async def acquire(self, key_id: str) -> None:
        await asyncio.sleep(1.2)

    async def status(self, key_id: str) -> dict[str, Any]:
        return {}


async def test_the_hook_hears_retries_waits_and_cuts(simulator: Simulator, api_key: str) -> None:
    events: list[ClientEvent] = []
    async with AsyncPoeClient(
        api_key, base_url=simulator.base_url, store=False, on_event=events.append
    ) as client:
        simulator.add_fault("status", status=503, times=1)
        await client.chat("GPT-4.1", "hi")
        await client.chat("GPT-4.1", "please count to one hundred", max_tokens=2)
    async with AsyncPoeClient(
        api_key,
        base_url=simulator.base_url,
        store=False,
        limiter=SlowLimiter(),
        on_event=events.append,
    ) as client:
        await client.chat("GPT-4.1", "hi")
    kinds = [e.kind for e in events]
    assert kinds == ["retry", "truncated", "rate_limit_wait"]
    retry = events[0]
    assert (retry.attempt, retry.error_kind) == (1, "upstream")
    assert retry.delay_s
    assert "the provider failed (503); retry 1/4 in" in retry.message
    assert "max_tokens=2" in events[1].message


def test_cli_chat_and_media_say_so_without_verbose(simulator: Simulator, api_key: str) -> None:
    runner = CliRunner()
    env = {"POE_API_KEY": api_key}
    simulator.add_fault("status", status=503, times=1)
    chat = runner.invoke(
        cli,
        ["chat", "-m", "GPT-4.1", "hi", "--no-stream", "--base-url", simulator.base_url],
        env=env,
    )
    simulator.add_fault("status", status=429, retry_after=0.1, times=1)
    image = runner.invoke(cli, ["image", "a fox", "--base-url", simulator.base_url], env=env)
    cut = runner.invoke(
        cli,
        ["chat", "-m", "GPT-4.1", "count to one hundred", "--max-tokens", "2", "--no-stream",
         "--base-url", simulator.base_url],
        env=env,
    )  # fmt: skip
    assert chat.exit_code == 0, chat.stderr
    assert "the provider failed (503); retry 1/4" in chat.stderr
    assert image.exit_code == 0, image.stderr
    assert "poe-mcp: rate limited by the provider (429); retry 1/4 in 0.1 s" in image.stderr
    assert cut.exit_code == 0, cut.stderr
    assert "cut at the token limit" in cut.stderr


def test_media_help_shows_its_example() -> None:
    for kind, example in (("image", 'poe-mcp image "a red fox'), ("video", "poe-mcp video")):
        out = CliRunner().invoke(cli, [kind, "--help"])
        assert out.exit_code == 0
        assert "{_EXAMPLES" not in out.output
        assert example in out.output
