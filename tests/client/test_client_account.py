"""Account and media conveniences on the client: the point balance and generate_* methods."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from poe_mcp import AsyncPoeClient, AuthError, InvalidRequestError, PoeClient
from poe_mcp.simulator import Simulator


async def test_balance_falls_as_calls_are_made(
    simulator: Simulator, api_key: str, poe_home: Path
) -> None:
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        before = await client.balance()
        await client.chat("Claude-Sonnet-4", "spend a few points")
        after = await client.balance()
    assert before > after > 0


async def test_balance_with_a_bad_key_is_an_auth_error(
    simulator: Simulator, poe_home: Path
) -> None:
    async with AsyncPoeClient(
        "invalid-key-123", base_url=simulator.base_url, store=False
    ) as client:
        with pytest.raises(AuthError):
            await client.balance()


async def test_balance_is_poe_only(simulator: Simulator, poe_home: Path) -> None:
    async with AsyncPoeClient(
        "sk-test-123", provider="openai", base_url=simulator.base_url, store=False
    ) as client:
        with pytest.raises(InvalidRequestError, match="only for Poe"):
            await client.balance()


def test_sync_generate_image_saves_a_png(
    simulator: Simulator, api_key: str, poe_home: Path, tmp_path: Path
) -> None:
    with PoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        wide = client.generate_image("a lighthouse", params={"aspect": "16:9"}, output_dir=tmp_path)
        square = client.generate_image(
            "a lighthouse", params={"aspect": "1:1"}, output_dir=tmp_path
        )
    assert wide.media_type == "image/png"
    assert wide.model == "GPT-Image-1"
    assert wide.simulated
    with Image.open(wide.paths[0]) as img_wide, Image.open(square.paths[0]) as img_square:
        assert img_wide.width > img_wide.height
        assert img_square.width == img_square.height
