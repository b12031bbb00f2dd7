"""Real media files made from scratch (no Pillow): PNG, MP4, WAV and MP3.

The files are small but valid: a PNG any decoder opens, an MP4 whose ``mvhd``/``tkhd`` boxes carry
the duration and frame size, a PCM WAV, and MPEG-1 Layer III frames. What the bot parameters
ask for (aspect, quality, duration, format) shows in the output, so tests can see them honoured.
"""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._catalog import ModelSpec

__all__ = [
    "GeneratedMedia",
    "generate",
    "image_size",
    "make_mp3",
    "make_mp4",
    "make_png",
    "make_wav",
]

_IMAGE_BASE = {"low": 32, "medium": 64, "high": 128}  # short side in pixels per quality
_VIDEO_SHORT_SIDE = 72
_WAV_RATE = 8000
_MP3_FRAME = bytes.fromhex("fffb90c0")  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono
_MP3_FRAME_LEN = 417  # 144 * 128000 / 44100, no padding
_MP3_FRAME_S = 1152 / 44100
_SPEECH_S_PER_CHAR = 0.06


@dataclass(frozen=True, slots=True)
class GeneratedMedia:
    """A generated file and a short description of it (shown in the reply)."""

    data: bytes
    mime: str
    ext: str
    description: str


def _ratio(aspect: str) -> tuple[int, int]:
    a, _, b = aspect.partition(":")
    return int(a), int(b)


def image_size(aspect: str, quality: str) -> tuple[int, int]:
    """Pixel size for an aspect ratio and a quality: the short side comes from the quality."""
    base = _IMAGE_BASE.get(quality, _IMAGE_BASE["medium"])
    a, b = _ratio(aspect)
    if a >= b:
        return round(base * a / b), base
    return base, round(base * b / a)


def _colour(seed: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(seed.encode()).digest()
    return digest[0], digest[1], digest[2]


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def make_png(width: int, height: int, seed: str = "") -> bytes:
    """An RGB PNG: a gradient whose colour depends on ``seed`` (the prompt)."""
    r, g, b = _colour(seed)
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type None
        shade = (y * 255) // max(1, height - 1)
        rows += bytes((r, g, shade)) * (width // 2) + bytes((shade, g, b)) * (width - width // 2)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + _chunk(b"IEND", b"")
    )


def _box(tag: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + tag + body


def _full_box(tag: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(tag, struct.pack(">I", (version << 24) | flags), *parts)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def make_mp4(seconds: int, width: int, height: int) -> bytes:
    """An ISO BMFF file (``ftyp``, ``moov`` with one video track, ``mdat``).

    ``mvhd`` and ``tkhd`` carry the duration (timescale 1000) and the frame size, so a reader can
    check that ``duration`` and ``aspect`` were honoured.
    """
    timescale, duration = 1000, seconds * 1000
    payload = b"\x00" * 64  # one tiny stand-in sample
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso2mp41")
    mvhd = _full_box(
        b"mvhd", 0, 0,
        struct.pack(">IIII", 0, 0, timescale, duration),
        struct.pack(">IH", 0x10000, 0x100), b"\x00" * 10, _MATRIX, b"\x00" * 24,
        struct.pack(">I", 2),
    )  # fmt: skip
    tkhd = _full_box(
        b"tkhd", 0, 3,
        struct.pack(">IIIII", 0, 0, 1, 0, duration),
        b"\x00" * 8, struct.pack(">HHHH", 0, 0, 0, 0), _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0))
    hdlr = _full_box(
        b"hdlr", 0, 0, struct.pack(">I", 0), b"vide", b"\x00" * 12, b"VideoHandler\x00"
    )
    vmhd = _full_box(b"vmhd", 0, 1, b"\x00" * 8)
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    stsd = _full_box(b"stsd", 0, 0, struct.pack(">I", 0))
    stts = _full_box(b"stts", 0, 0, struct.pack(">III", 1, 1, duration))
    stsc = _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1))
    stsz = _full_box(b"stsz", 0, 0, struct.pack(">III", 0, 1, len(payload)))
    head = len(ftyp)

    # stco points into mdat, which follows moov; the moov size does not depend on the offset value.
    def moov_with(offset: int) -> bytes:
        stco = _full_box(b"stco", 0, 0, struct.pack(">II", 1, offset))
        stbl = _box(b"stbl", stsd, stts, stsc, stsz, stco)
        minf = _box(b"minf", vmhd, dinf, stbl)
        trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
        return _box(b"moov", mvhd, trak)

    moov_len = len(moov_with(0))
    moov = moov_with(head + moov_len + 8)
    return ftyp + moov + _box(b"mdat", payload)


def make_wav(seconds: float, seed: str = "") -> bytes:
    """16-bit mono PCM WAV holding a tone whose pitch depends on ``seed``."""
    n = max(1, int(seconds * _WAV_RATE))
    pitch = 220 + _colour(seed)[0]
    step = 2 * math.pi * pitch / _WAV_RATE
    samples = struct.pack(f"<{n}h", *(int(8000 * math.sin(i * step)) for i in range(n)))
    fmt = struct.pack("<HHIIHH", 1, 1, _WAV_RATE, _WAV_RATE * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def make_mp3(seconds: float) -> bytes:
    """Silent MPEG-1 Layer III frames lasting about ``seconds``."""
    frames = max(1, round(seconds / _MP3_FRAME_S))
    frame = _MP3_FRAME + b"\x00" * (_MP3_FRAME_LEN - len(_MP3_FRAME))
    return frame * frames


def generate(model: ModelSpec, prompt: str, params: Mapping[str, Any]) -> GeneratedMedia:
    """The file a media bot makes for ``prompt`` with its resolved bot ``params``."""
    if model.kind == "image":
        w, h = image_size(str(params.get("aspect", "1:1")), str(params.get("quality", "medium")))
        return GeneratedMedia(make_png(w, h, prompt), "image/png", "png", f"PNG image {w}x{h}")
    if model.kind == "video":
        seconds = int(params.get("duration", 8))
        a, b = _ratio(str(params.get("aspect", "16:9")))
        short = _VIDEO_SHORT_SIDE
        w, h = (round(short * a / b), short) if a >= b else (short, round(short * b / a))
        return GeneratedMedia(
            make_mp4(seconds, w, h), "video/mp4", "mp4", f"MP4 video {w}x{h}, {seconds} s"
        )
    length = round(min(5.0, max(0.5, len(prompt) * _SPEECH_S_PER_CHAR)), 2)
    voice = params.get("voice", "Rachel")
    if params.get("format", "mp3") == "wav":
        return GeneratedMedia(
            make_wav(length, prompt), "audio/wav", "wav", f"WAV audio {length} s ({voice})"
        )
    return GeneratedMedia(make_mp3(length), "audio/mpeg", "mp3", f"MP3 audio {length} s ({voice})")
