"""File uploads (``/poe_api/file_upload_3RD_PARTY_POST``) through ``fastapi_poe.upload_file``."""

from __future__ import annotations

import io

import fastapi_poe as fp
import httpx2
import pytest
from fastapi_poe.client import AttachmentUploadError
from PIL import Image

from poe_mcp.simulator import Simulator

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _quiet(exc: Exception, msg: str) -> None:
    """fastapi_poe prints every failed try by default; the tests assert on the raised error."""


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


async def upload(
    sim: Simulator,
    key: str,
    *,
    file: bytes | io.BytesIO | None = None,
    file_url: str | None = None,
    file_name: str | None = None,
) -> fp.Attachment:
    return await fp.upload_file(
        file=file, file_url=file_url, file_name=file_name, api_key=key,
        base_url=sim.upload_base_url, num_tries=1, on_error=_quiet,
    )  # fmt: skip


async def ask(sim: Simulator, key: str, text: str, attachments: list[fp.Attachment]) -> str:
    msg = fp.ProtocolMessage(role="user", content=text, attachments=attachments)
    parts = [m async for m in fp.get_bot_response([msg], "GPT-4.1", key,
                                                  base_url=sim.bot_base_url)]  # fmt: skip
    return "".join(m.text for m in parts)


async def test_upload_bytes_then_download_them(simulator: Simulator, api_key: str) -> None:
    data = png(40, 30)
    att = await upload(simulator, api_key, file=data, file_name="red.png")
    assert att.content_type == "image/png"
    assert att.name == "red.png"
    assert att.url.startswith(simulator.url + "/uploads/")
    assert att.url.endswith("/red.png")
    async with httpx2.AsyncClient() as http:
        got = await http.get(att.url)
    assert got.content == data
    assert got.headers["content-type"] == "image/png"


async def test_uploaded_image_is_seen_by_a_later_bot_request(
    simulator: Simulator, api_key: str
) -> None:
    data = png(40, 30)
    att = await upload(simulator, api_key, file=io.BytesIO(data), file_name="red.png")
    text = await ask(simulator, api_key, "what is in it?", [att])
    assert f"Attachments: image/png {len(data)} bytes 40x30 px" in text
    assert 'You said: "what is in it?"' in text


async def test_uploaded_pdf_keeps_its_type_and_name(simulator: Simulator, api_key: str) -> None:
    data = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
    att = await upload(simulator, api_key, file=data, file_name="report.pdf")
    assert att.content_type == "application/pdf"
    text = await ask(simulator, api_key, "summarise", [att])
    assert f"Attachments: application/pdf {len(data)} bytes (report.pdf)" in text


async def test_text_file_type_comes_from_its_name(simulator: Simulator, api_key: str) -> None:
    att = await upload(simulator, api_key, file=b"a,b\n1,2\n", file_name="table.csv")
    assert att.content_type == "text/csv"


async def test_upload_by_url_of_simulator_media(simulator: Simulator, api_key: str) -> None:
    msg = fp.ProtocolMessage(role="user", content="a boat", parameters={"aspect": "1:1"})
    parts = [m async for m in fp.get_bot_response([msg], "GPT-Image-1", api_key,
                                                  base_url=simulator.bot_base_url)]  # fmt: skip
    (media,) = [m.attachment for m in parts if m.attachment is not None]
    att = await upload(simulator, api_key, file_url=media.url, file_name="boat.png")
    assert att.content_type == "image/png"
    assert att.url.endswith("/boat.png")
    text = await ask(simulator, api_key, "describe", [att])
    assert "image/png" in text
    assert "64x64 px" in text


async def test_upload_refuses_foreign_urls(simulator: Simulator, api_key: str) -> None:
    with pytest.raises(AttachmentUploadError, match="400"):
        await upload(simulator, api_key, file_url="https://example.com/cat.png")


@pytest.mark.parametrize("key", ["invalid-key", "Bearer good-key"])
async def test_upload_bad_key_is_401(simulator: Simulator, key: str) -> None:
    with pytest.raises(AttachmentUploadError, match="401"):
        await upload(simulator, key, file=b"hello", file_name="a.txt")


async def test_upload_without_file_is_400(
    simulator: Simulator, api_key: str, http: httpx2.Client
) -> None:
    got = http.post(
        "/poe_api/file_upload_3RD_PARTY_POST", data={"note": "nothing"},
        headers={"Authorization": api_key},
    )  # fmt: skip
    assert got.status_code == 400
    assert "download_url" in got.json()["error"]["message"]


async def test_upload_fault(simulator: Simulator, api_key: str) -> None:
    simulator.add_fault("status", status=503, path="/poe_api/")
    with pytest.raises(AttachmentUploadError, match="503"):
        await upload(simulator, api_key, file=b"hello", file_name="a.txt")
    att = await upload(simulator, api_key, file=b"hello", file_name="a.txt")
    assert att.content_type == "text/plain"


async def test_upload_is_logged_without_the_key(simulator: Simulator, api_key: str) -> None:
    simulator.clear_requests()
    await upload(simulator, api_key, file=b"hello", file_name="a.txt")
    (entry,) = simulator.requests()
    assert entry["path"] == "/poe_api/file_upload_3RD_PARTY_POST"
    assert entry["status"] == 200
    assert entry["body"]["file"] == {"filename": "a.txt", "content_type": "text/plain",
                                     "bytes": 5}  # fmt: skip
    assert api_key not in str(entry)
