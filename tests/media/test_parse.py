"""Finding the media in a bot's reply, in every shape Poe uses, and telling files apart."""

from __future__ import annotations

import pytest

from poe_mcp.media import MediaLink, extract_media, link_kind, sniff_media_type
from poe_mcp.simulator import make_mp3, make_mp4, make_png, make_wav
from poe_mcp.types import Attachment

CDN = "https://pfst.cf2.poecdn.net/base/image/7f3a9c2b1e"


def urls(text: str, attachments: tuple[Attachment, ...] = ()) -> list[str]:
    return [link.url for link in extract_media(text, attachments)]


def test_markdown_image() -> None:
    (link,) = extract_media(f"Here you go:\n\n![a red fox]({CDN})\n")
    assert link == MediaLink(CDN, None, None, "markdown_image")


def test_markdown_link_with_title_and_angle_brackets() -> None:
    text = (
        '[Download the video](https://cdn.example/v/clip.mp4 "Veo-3 clip") and '
        "[the audio](<https://cdn.example/a/voice.mp3>)"
    )
    links = extract_media(text)
    assert [(x.url, x.source) for x in links] == [
        ("https://cdn.example/v/clip.mp4", "markdown_link"),
        ("https://cdn.example/a/voice.mp3", "markdown_link"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Your image: {CDN}", CDN),
        (f"Your image is ready ({CDN}).", CDN),
        (f"Saved at {CDN}, enjoy!", CDN),
        (
            "See https://en.example/wiki/Fox_(animal) for more",
            "https://en.example/wiki/Fox_(animal)",
        ),
        (f'"{CDN}"', CDN),
        (f"**{CDN}**", CDN),
    ],
)
def test_bare_url_without_surrounding_punctuation(text: str, expected: str) -> None:
    assert urls(text) == [expected]


def test_json_object_as_the_whole_reply() -> None:
    (link,) = extract_media(f'{{"url": "{CDN}", "mimeType": "image/png"}}')
    assert link == MediaLink(CDN, "image/png", None, "json")


def test_json_in_a_code_fence_with_prose_around() -> None:
    text = (
        "Generation complete.\n```json\n"
        '{"url": "https://cdn.example/out", "mimeType": "video/mp4; codecs=avc1", '
        '"name": "clip.mp4"}\n```\nAnything else?'
    )
    (link,) = extract_media(text)
    assert link == MediaLink("https://cdn.example/out", "video/mp4", "clip.mp4", "json")


def test_json_lists_nested_objects_and_other_type_keys() -> None:
    text = (
        '{"data": [{"url": "https://cdn.example/1", "content_type": "audio/mpeg"},'
        ' {"url": "https://cdn.example/2", "contentType": "audio/wav"}], "status": "ok"}'
    )
    links = extract_media(text)
    assert [(x.url, x.media_type) for x in links] == [
        ("https://cdn.example/1", "audio/mpeg"),
        ("https://cdn.example/2", "audio/wav"),
    ]


def test_broken_json_falls_back_to_the_bare_url() -> None:
    assert urls('{"url": "https://cdn.example/x.png", "mimeType": ') == [
        "https://cdn.example/x.png"
    ]


def test_attachments_come_first_and_each_url_appears_once() -> None:
    att = Attachment(CDN, "image/png", "fox.png")
    links = extract_media(f"![fox]({CDN}) also at {CDN}", (att,))
    assert links == [MediaLink(CDN, "image/png", "fox.png", "attachment")]


def test_richest_shape_wins_for_a_repeated_url() -> None:
    text = f'![fox]({CDN})\n```json\n{{"url": "{CDN}", "mimeType": "image/webp"}}\n```'
    assert extract_media(text) == [MediaLink(CDN, "image/webp", None, "json")]


def test_no_media_in_plain_text() -> None:
    assert extract_media("I can't make that picture, sorry.") == []
    assert extract_media("") == []


@pytest.mark.parametrize(
    ("link", "kind"),
    [
        (MediaLink(CDN), "image"),
        (MediaLink("https://pfst.cf2.poecdn.net/base/video/abc"), "video"),
        (MediaLink("https://cdn.example/a/b.MP3?sig=1"), "audio"),
        (MediaLink("https://cdn.example/x", "video/mp4"), "video"),
        (MediaLink("https://cdn.example/x.png", "application/octet-stream"), "image"),
        (MediaLink("https://poe.com/terms.html"), "other"),
        (MediaLink("https://cdn.example/x", "text/html"), "other"),
        (MediaLink("https://cdn.example/download/123"), None),
    ],
)
def test_link_kind(link: MediaLink, kind: str | None) -> None:
    assert link_kind(link) == kind


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (make_png(4, 3), "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (make_mp4(1, 16, 9), "video/mp4"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00", "audio/mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "video/webm"),
        (make_wav(0.1), "audio/wav"),
        (make_mp3(0.1), "audio/mpeg"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"\n  <!DOCTYPE html><html>", "text/html"),
        (b'{"error": "expired"}', "application/json"),
        (b"just some bytes", None),
    ],
)
def test_sniff_media_type(data: bytes, media_type: str | None) -> None:
    assert sniff_media_type(data[:64]) == media_type
