"""Attachments are acknowledged with media type, byte size and pixel size."""

from __future__ import annotations

import base64
import io

from openai import OpenAI
from PIL import Image

from poe_mcp.simulator import Simulator


def _image(fmt: str, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, format=fmt)
    return buf.getvalue()


def _uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_png_jpeg_and_file_parts_are_described(client: OpenAI) -> None:
    png, jpeg, pdf = _image("PNG", (40, 30)), _image("JPEG", (17, 9)), b"%PDF-1.4 tiny"
    resp = client.chat.completions.create(
        model="Claude-Sonnet-4",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is in these?"},
                    {"type": "image_url", "image_url": {"url": _uri("image/png", png)}},
                    {"type": "image_url", "image_url": {"url": _uri("image/jpeg", jpeg)}},
                    {
                        "type": "file",
                        "file": {"filename": "a.pdf", "file_data": _uri("application/pdf", pdf)},
                    },
                ],
            }
        ],
    )
    text = resp.choices[0].message.content or ""
    assert 'You said: "what is in these?"' in text
    assert f"image/png {len(png)} bytes 40x30 px" in text
    assert f"image/jpeg {len(jpeg)} bytes 17x9 px" in text
    assert f"application/pdf {len(pdf)} bytes (a.pdf)" in text
    assert resp.usage is not None
    assert resp.usage.prompt_tokens > 3 * 85


def test_url_of_a_simulator_file_is_resolved(client: OpenAI, simulator: Simulator) -> None:
    made = client.chat.completions.create(
        model="GPT-Image-1", messages=[{"role": "user", "content": "x"}]
    )
    url = (made.choices[0].message.content or "").split("(")[1].rstrip(")")
    resp = client.chat.completions.create(
        model="GPT-4.1",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "describe"},
                    {"type": "image_url", "image_url": {"url": url}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            }
        ],
    )
    text = resp.choices[0].message.content or ""
    assert "image/png" in text
    assert "64x64 px" in text
    assert "at https://example.com/cat.png" in text
