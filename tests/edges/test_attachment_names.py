"""Attachment file names are kept on both backends (the bot protocol used to say image.png)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator, make_png


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    photo = tmp_path / "holiday-photo.png"
    photo.write_bytes(make_png(16, 8, "names"))
    report = tmp_path / "q3 report.pdf"
    report.write_bytes(b"%PDF-1.4\n% a tiny pdf\n")
    return photo, report


def attachments_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Attachments:"))


@pytest.mark.parametrize("backend", ["legacy", "openai"])
async def test_library_keeps_names(
    simulator: Simulator, api_key: str, files: tuple[Path, Path], backend: str
) -> None:
    photo, report = files
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as client:
        result = await client.chat(
            "Claude-Sonnet-4", [{"role": "user", "content": ["look", photo, report]}],
            backend=backend,
        )  # fmt: skip
    line = attachments_line(result.text)
    assert "(q3 report.pdf)" in line
    assert "image/png" in line
    assert "16x8 px" in line
    if backend == "legacy":
        # uploaded under its own name, not image.png
        assert "(holiday-photo.png)" in line
        assert "image.png" not in line
        uploads = [r for r in simulator.requests() if r["path"].startswith("/poe_api/")]
        assert uploads


async def test_rest_wire_carries_no_private_keys(
    simulator: Simulator, api_key: str, files: tuple[Path, Path]
) -> None:
    photo, _ = files
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as client:
        await client.chat("Claude-Sonnet-4", [{"role": "user", "content": ["look", photo]}])
    sent = [r for r in simulator.requests() if r["path"] == "/v1/chat/completions"][-1]
    image_part = sent["body"]["messages"][-1]["content"][1]
    assert image_part["type"] == "image_url"
    assert set(image_part["image_url"]) == {"url"}  # OpenAI's image part: no file name on REST


async def test_mcp_ask_with_attachment_keeps_names(
    simulator: Simulator, make_server: Callable[..., Any], files: tuple[Path, Path]
) -> None:
    photo, report = files
    config = Path(os.environ["POE_MCP_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(f"[tools]\nroots = [{str(photo.parent)!r}]\n")
    async with Client(make_server(simulator.base_url, simulated=True)) as mcp:
        result = await mcp.call_tool(
            "ask_with_attachment",
            {"bot": "Claude-Sonnet-4", "prompt": "what is this",
             "attachment_paths": [str(photo), str(report)]},
        )  # fmt: skip
    assert not result.is_error, result.content
    line = attachments_line(result.structured_content["text"])
    assert "(holiday-photo.png)" in line
    assert "(q3 report.pdf)" in line
