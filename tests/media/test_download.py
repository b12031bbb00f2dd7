"""Downloads against awkward servers: types, redirects, failures, caps, names; nothing partial."""

from __future__ import annotations

from pathlib import Path

import pytest

from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import MediaError, NetworkError, TooLargeError
from poe_mcp.media import download_media, generate_media

from .conftest import MP3, PNG, EdgeServer, files_in, png_size


async def test_generic_content_type_is_sniffed(edge: EdgeServer, tmp_path: Path) -> None:
    saved = await download_media(edge.file("generic"), "image", tmp_path, model="GPT-Image-1")
    assert saved.media_type == "image/png"
    assert saved.path.suffix == ".png"
    assert saved.path.read_bytes() == PNG
    assert saved.size_bytes == len(PNG)
    audio = await download_media(edge.file("speech"), "audio", tmp_path)
    assert audio.media_type == "audio/mpeg"
    assert audio.path.suffix == ".mp3"
    assert sorted(files_in(tmp_path)) == sorted([saved.path, audio.path])


async def test_redirects_are_followed(edge: EdgeServer, tmp_path: Path) -> None:
    saved = await download_media(edge.file("redirect"), "image", tmp_path)
    assert png_size(saved.path.read_bytes()) == (40, 20)
    assert saved.url == edge.file("redirect")


async def test_404_is_a_clear_error_and_leaves_nothing(edge: EdgeServer, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"HTTP 404 \(the link is wrong or has expired"):
        await download_media(edge.file("gone.png"), "image", tmp_path)
    assert files_in(tmp_path) == []


async def test_dropped_connection_is_retried_then_reported(
    edge: EdgeServer, tmp_path: Path
) -> None:
    before = edge.hits["/files/drop"]
    with pytest.raises(NetworkError, match="the connection broke") as info:
        await download_media(edge.file("drop"), "image", tmp_path, max_retries=1)
    assert info.value.metadata["url"] == edge.file("drop")
    assert edge.hits["/files/drop"] - before == 2
    assert files_in(tmp_path) == []  # the partial body was thrown away


async def test_a_5xx_answer_is_retried(edge: EdgeServer, tmp_path: Path) -> None:
    saved = await download_media(edge.file("flaky"), "audio", tmp_path)
    assert saved.path.read_bytes() == MP3
    assert edge.hits["/files/flaky"] == 2


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("page.html", "image", r"holds text/html \(an error page\?\)"),
        ("liar.png", "image", r"holds application/json \(an error page\?\)"),
        ("speech", "image", "expected an image at .* but it holds audio/mpeg"),
        ("pic.png", "video", "expected a video at .* but it holds image/png"),
    ],
)
async def test_the_wrong_type_is_refused(
    edge: EdgeServer, tmp_path: Path, name: str, kind: str, expected: str
) -> None:
    with pytest.raises(MediaError, match=expected):
        await download_media(edge.file(name), kind, tmp_path)  # type: ignore[arg-type]
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("name", ["big-streamed", "big-declared"])
async def test_oversized_files_are_refused(edge: EdgeServer, tmp_path: Path, name: str) -> None:
    with pytest.raises(TooLargeError, match="above the limit of 100000 bytes"):
        await download_media(edge.file(name), "image", tmp_path, max_bytes=100_000)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.png", "data:image/png;base64,AAAA", "/x.png"]
)
async def test_only_http_urls_are_fetched(url: str, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="only http\\(s\\) URLs are fetched"):
        await download_media(url, "image", tmp_path)


async def test_file_names_are_safe(edge: EdgeServer, tmp_path: Path) -> None:
    target = tmp_path / "out"
    saved = await download_media(edge.file("pic.png"), "image", target, model="../../etc/x y")
    assert saved.path.parent == target
    assert saved.path.name.startswith("etc-x-y-")
    assert saved.path.suffix == ".png"
    assert files_in(tmp_path) == [target]


# --- whole generations whose "Poe" is the edge server ---------------------------------------


async def test_json_reply_pointing_to_a_dead_link(
    edge: EdgeServer, edge_client: AsyncPoeClient, tmp_path: Path
) -> None:
    edge.reply = f'```json\n{{"url": "{edge.file("expired.png")}", "mimeType": "image/png"}}\n```'
    with pytest.raises(MediaError, match="HTTP 404"):
        await generate_media(edge_client, "image", "fox", model="Edge-Bot", output_dir=tmp_path)
    assert files_in(tmp_path) == []


async def test_bare_url_with_a_generic_type_is_saved(
    edge: EdgeServer, edge_client: AsyncPoeClient, tmp_path: Path
) -> None:
    edge.reply = f"Your picture is ready: {edge.file('generic')}."
    result = await generate_media(edge_client, "image", "fox", model="Edge-Bot",
                                  output_dir=tmp_path)  # fmt: skip
    assert result.urls == (edge.file("generic"),)
    assert Path(result.paths[0]).read_bytes() == PNG
    assert result.media_type == "image/png"
    assert result.cost is None  # no catalog: the price is unknown, never 0


async def test_unvouched_links_that_are_not_media_are_skipped(
    edge: EdgeServer, edge_client: AsyncPoeClient, tmp_path: Path
) -> None:
    edge.reply = (
        f"[Terms]({edge.file('page')}) apply. Result: {edge.file('generic')} "
        f"and a mirror {edge.file('speech')}"
    )
    result = await generate_media(edge_client, "image", "fox", model="Edge-Bot",
                                  output_dir=tmp_path)  # fmt: skip
    assert result.urls == (edge.file("generic"),)
    saved = [p for p in files_in(tmp_path) if p.suffix != ".json"]  # beside each: a sidecar
    assert [Path(p) for p in result.paths] == saved


async def test_several_images_are_all_saved(
    edge: EdgeServer, edge_client: AsyncPoeClient, tmp_path: Path
) -> None:
    edge.reply = f"![one]({edge.file('pic.png')})\n![two]({edge.file('redirect')})"
    result = await generate_media(edge_client, "image", "two foxes", model="Edge-Bot",
                                  output_dir=tmp_path)  # fmt: skip
    assert len(result.paths) == 2
    assert result.size_bytes == 2 * len(PNG)
    assert len(set(result.paths)) == 2
