"""What the catalog says a model cannot do is refused before anything is sent or charged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import AsyncPoeClient, InvalidRequestError
from poe_mcp.cli import cli
from poe_mcp.simulator import Simulator

from .conftest import error_of, said, sent

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


async def test_an_image_for_a_text_only_model_is_refused(
    simulator: Simulator, api_key: str
) -> None:
    photo = {"role": "user", "content": ["What is in this picture?", PNG]}
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.chat("Llama-3.1-405B", [photo])
        with pytest.raises(InvalidRequestError):
            async for _ in client.stream("Llama-3.1-405B", "look", attachments=[PNG]):
                pass
        seen = await client.chat("GPT-4.1", [photo])  # a vision model takes it
    assert "Llama-3.1-405B does not take images" in str(info.value)
    assert "nothing was sent" in str(info.value)
    assert info.value.metadata["suggestions"]
    assert len(sent(simulator)) == 1
    assert "image" in seen.text.lower()


@pytest.mark.parametrize(
    ("tool", "model", "says"),
    [
        ("generate_video", "GPT-Image-1", "GPT-Image-1 makes image, not video"),
        ("generate_image", "GPT-4.1", "GPT-4.1 makes text, not image"),
        ("generate_audio", "Veo-3", "Veo-3 makes video, not audio"),
    ],
)
async def test_mcp_media_with_the_wrong_kind_of_model(
    server: Any, simulator: Simulator, tool: str, model: str, says: str
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(tool, {"prompt": "waves at dusk", "model": model})
    error = error_of(result)
    assert says in error["message"]
    assert "nothing was sent or charged" in error["message"]
    assert sent(simulator) == []


async def test_mcp_attachment_for_a_text_only_model(
    make_server: Any, shared_dir: Path, simulator: Simulator
) -> None:
    picture = shared_dir / "pixel.png"
    picture.write_bytes(PNG)
    async with Client(make_server()) as client:
        result = await client.call_tool(
            "ask_with_attachment",
            {"bot": "Llama-3.1-405B", "prompt": "what is it?", "attachment_paths": [str(picture)],
             "use_openai_client": True},
        )  # fmt: skip
    assert "does not take images" in error_of(result)["message"]
    assert sent(simulator) == []


def test_cli_refuses_before_spending(simulator: Simulator, api_key: str, tmp_path: Path) -> None:
    picture = tmp_path / "pixel.png"
    picture.write_bytes(PNG)
    runner = CliRunner()
    env = {"POE_API_KEY": api_key}
    video = runner.invoke(
        cli, ["video", "waves", "-m", "GPT-Image-1", "--base-url", simulator.base_url], env=env
    )
    chat = runner.invoke(
        cli,
        ["chat", "-m", "Llama-3.1-405B", "what is it?", "--attach", str(picture),
         "--base-url", simulator.base_url],
        env=env,
    )  # fmt: skip
    assert video.exit_code == 1
    assert "GPT-Image-1 makes image, not video" in said(video)
    assert chat.exit_code == 1
    assert "does not take images" in said(chat)
    assert sent(simulator) == []
