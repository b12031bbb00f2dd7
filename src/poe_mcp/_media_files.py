"""Checking and saving downloaded media: types, magic bytes, safe names, atomic writes.

The file half of :mod:`poe_mcp.media` (which re-exports the public names). A download streams to
a hidden temp file in the target directory; the size cap and the content type (header and magic
bytes) are checked on the way, and only a file that passes is renamed to its final name, so a
failed or refused download leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from . import _constants as C
from ._netpolicy import AddressRefused, DownloadPolicy
from ._policy import attempts
from .errors import (
    InvalidRequestError,
    MediaError,
    NetworkError,
    PoeError,
    RequestTimeoutError,
    TooLargeError,
    error_from_response,
)
from .types import MediaKind

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "EXT_TYPES",
    "MEDIA_KINDS",
    "NOT_MEDIA_EXTS",
    "SavedFile",
    "article",
    "clean_type",
    "download_media",
    "kind_of_type",
    "new_http",
    "prepare_dir",
    "sniff_media_type",
    "url_ext",
]

log = logging.getLogger("poe_mcp.media")

MEDIA_KINDS: tuple[MediaKind, ...] = ("image", "video", "audio")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

_GENERIC_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/binary",
     "application/unknown", "application/download", "application/force-download"}
)  # fmt: skip

EXT_TYPES: dict[str, str] = {
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
    "webp": "image/webp", "avif": "image/avif", "heic": "image/heic",
    "mp4": "video/mp4", "m4v": "video/mp4", "mov": "video/quicktime", "webm": "video/webm",
    "mkv": "video/x-matroska", "avi": "video/x-msvideo",
    "mp3": "audio/mpeg", "wav": "audio/wav", "m4a": "audio/mp4", "aac": "audio/aac",
    "ogg": "audio/ogg", "oga": "audio/ogg", "opus": "audio/opus", "flac": "audio/flac",
}  # fmt: skip
NOT_MEDIA_EXTS = frozenset({"html", "htm", "php", "asp", "aspx", "json", "txt", "pdf", "svg"})
_TYPE_EXTS: dict[str, str] = {
    "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
    "image/avif": "avif", "image/heic": "heic",
    "video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm",
    "video/x-matroska": "mkv", "video/x-msvideo": "avi",
    "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav",
    "audio/wave": "wav", "audio/vnd.wave": "wav", "audio/mp4": "m4a", "audio/x-m4a": "m4a",
    "audio/aac": "aac", "audio/ogg": "ogg", "audio/opus": "opus", "audio/flac": "flac",
    "audio/x-flac": "flac", "audio/webm": "webm",
}  # fmt: skip
_AMBIGUOUS_AUDIO = {"video/mp4": "audio/mp4", "video/webm": "audio/webm"}
_DEFAULT_EXT: dict[str, str] = {"image": "png", "video": "mp4", "audio": "mp3"}
# SVG is left out on purpose: it is text that can carry scripts, not a picture we can vouch for.


def clean_type(value: str | None) -> str | None:
    """``Image/PNG; charset=x`` -> ``image/png``; None for nothing."""
    if not value:
        return None
    return value.split(";", 1)[0].strip().lower() or None


def kind_of_type(media_type: str | None) -> str | None:
    """``image``/``video``/``audio``, ``other`` for a non-media type, None when generic."""
    media_type = clean_type(media_type) or ""
    if media_type in _GENERIC_TYPES:
        return None
    major = media_type.split("/", 1)[0]
    return major if major in MEDIA_KINDS else "other"


def url_ext(url: str) -> str:
    """The lower-case extension of the URL's last path segment, or ``""``."""
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    return name.rpartition(".")[2].lower() if "." in name else ""


# --- checking and saving a file ------------------------------------------------------------


_MAGIC_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"ID3", "audio/mpeg"),
)
# ISO BMFF (``....ftyp<brand>``): the brand names the kind; any other brand is MP4 video.
_FTYP_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heic",
    b"msf1": "image/heic",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"M4P ": "audio/mp4",
    b"qt  ": "video/quicktime",
}


def sniff_media_type(head: bytes) -> str | None:
    """The media type the first bytes of a file show, or None when they show nothing known.

    Recognises PNG, JPEG, GIF, WebP, AVIF/HEIC, MP4/MOV/M4A (ISO BMFF), WebM/Matroska, AVI,
    WAV, MP3 (ID3 or frame sync), AAC (ADTS), Ogg and FLAC; HTML and JSON come back as
    ``text/html`` / ``application/json`` so error pages are never saved as media.
    """
    for magic, media_type in _MAGIC_PREFIXES:
        if head.startswith(magic):
            return media_type
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(
            head[8:12]
        )
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:
            return "audio/aac"
        if head[1] & 0xE0 == 0xE0:
            return "audio/mpeg"
    stripped = head.lstrip()
    if stripped.startswith(b"<"):
        return "text/html"
    if stripped.startswith((b"{", b"[")):
        return "application/json"
    return None


def article(kind: str) -> str:
    """``an image``, ``a video``, ``audio``: the kind as the object of a sentence."""
    return {"image": "an image", "video": "a video"}.get(kind, kind)


def _decide_type(kind: MediaKind, header: str | None, sniffed: str | None, url: str) -> str:
    """The file's media type if it is ``kind``; else a MediaError naming what it is."""
    header = clean_type(header)
    header_kind = kind_of_type(header)
    if sniffed is not None:
        if kind_of_type(sniffed) == kind:
            return sniffed
        # MP4 and WebM containers look the same whether they hold video or only sound.
        if kind == "audio" and sniffed in _AMBIGUOUS_AUDIO:
            return (
                header
                if header is not None and header_kind == "audio"
                else _AMBIGUOUS_AUDIO[sniffed]
            )
        found = sniffed
    elif header is not None and header_kind == kind:
        return header
    elif header_kind is None:
        raise MediaError(
            f"could not tell what {url} holds: it sent no specific content type and its first "
            f"bytes match no known {kind} format",
            metadata={"url": url, "content_type": header},
        )
    else:
        found = header or "unknown"
    raise MediaError(
        f"expected {article(kind)} at {url} but it holds {found}"
        + (" (an error page?)" if found in ("text/html", "application/json") else ""),
        metadata={"url": url, "content_type": header, "detected": found},
    )


@dataclass(frozen=True, slots=True)
class SavedFile:
    """A downloaded file: where it is, where it came from, what it is, how big."""

    path: Path
    url: str
    media_type: str
    size_bytes: int


def _safe_stem(model: str) -> str:
    stem = _UNSAFE_NAME.sub("-", model).strip(".-_")[: C.MEDIA_NAME_MODEL_CHARS]
    return stem or "media"


def _file_name(model: str, digest: str, media_type: str, url: str, kind: MediaKind) -> str:
    ext = _TYPE_EXTS.get(media_type)
    if ext is None:
        from_url = url_ext(url)
        ext = from_url if EXT_TYPES.get(from_url, "").startswith(kind) else _DEFAULT_EXT[kind]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{_safe_stem(model)}-{stamp}-{digest[: C.MEDIA_NAME_HASH_CHARS]}.{ext}"


def prepare_dir(output_dir: str | os.PathLike[str]) -> Path:
    """``output_dir`` with ``~`` expanded, created when missing.

    Raises:
        InvalidRequestError: it cannot be created or written to (said before a paid call).
    """
    directory = Path(output_dir).expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
    else:
        if os.access(directory, os.W_OK | os.X_OK):
            return directory
        reason = "not writable"
    raise InvalidRequestError(
        f"cannot save media into {directory}: {reason}; choose another folder "
        "(-o / output_dir / [media] dir in config.toml)",
        metadata={"output_dir": str(directory)},
    )


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        shown = url if len(url) < 100 else url[:100] + "..."
        raise MediaError(
            f"refusing to download {shown!r}: only http(s) URLs are fetched",
            metadata={"url": shown},
        )


def _status_error(status: int, url: str, kind: MediaKind, headers: Mapping[str, str]) -> PoeError:
    message = f"could not download the {kind} from {url}: HTTP {status}"
    mapped = error_from_response(status, None, headers)
    if mapped.retryable:
        return type(mapped)(
            message, status=status, retry_after=mapped.retry_after, metadata={"url": url}
        )
    if status in (401, 403, 404, 410):
        message += " (the link is wrong or has expired; generate again)"
    return MediaError(message, metadata={"url": url, "http_status": status})


def new_http(timeout: float, policy: DownloadPolicy | None = None) -> httpx2.AsyncClient:
    """An HTTP client for downloads: redirects followed (at most ``MEDIA_MAX_REDIRECTS``),
    ``timeout`` per read, and connections only where ``policy`` allows (default: anywhere)."""
    return (policy or DownloadPolicy()).client(timeout)


async def download_media(
    url: str,
    kind: MediaKind,
    output_dir: str | os.PathLike[str],
    *,
    model: str = "media",
    max_bytes: int = C.MAX_MEDIA_BYTES,
    timeout: float = C.MEDIA_TIMEOUT_S,  # noqa: ASYNC109 - httpx2's read/connect timeouts
    max_retries: int = C.MEDIA_DOWNLOAD_RETRIES,
    http: httpx2.AsyncClient | None = None,
    on_bytes: Callable[[int], None] | None = None,
    policy: DownloadPolicy | None = None,
) -> SavedFile:
    """Stream ``url`` into ``output_dir`` atomically, if it is ``kind`` and not too big.

    The name is ``<model>-<YYYYmmdd-HHMMSS>-<hash>.<ext>`` (the extension from the detected type).

    Args:
        url: an http(s) URL.
        kind: what the file must be (checked on the header and the magic bytes).
        output_dir: the directory to save into (created when missing).
        model: the model that made the file (part of the name).
        max_bytes: refuse files larger than this.
        timeout: connect/read timeout in seconds.
        max_retries: retries after dropped connections, timeouts and 5xx answers.
        http: a client to reuse (default: a new one for this call, under ``policy``).
        on_bytes: called with the bytes received so far after each chunk.
        policy: where the download may connect (see :mod:`poe_mcp._netpolicy`); None allows
            every address.

    Raises:
        MediaError: not http(s), not ``kind``, empty, a 4xx answer, or an address the
            policy refuses (the same message for every port).
        TooLargeError: larger than ``max_bytes``.
        NetworkError / RequestTimeoutError / UpstreamError: after the retries.
    """
    _check_url(url)
    directory = prepare_dir(output_dir)
    own = http is None
    client = http if http is not None else new_http(timeout, policy)

    def retrying(exc: PoeError, attempt: int, delay: float) -> None:
        log.info("download of %s failed (%s); retrying in %.2f s", url, exc.kind, delay)

    try:
        return await attempts(
            lambda: _fetch(client, url, kind, directory, model, max_bytes, on_bytes),
            max_retries=max_retries,
            on_retry=retrying,
        )
    finally:
        if own:
            await client.aclose()


async def _fetch(
    http: httpx2.AsyncClient,
    url: str,
    kind: MediaKind,
    directory: Path,
    model: str,
    max_bytes: int,
    on_bytes: Callable[[int], None] | None,
) -> SavedFile:
    import httpx2

    try:
        async with http.stream("GET", url) as response:
            if not response.is_success or response.status_code == 206:
                raise _status_error(response.status_code, url, kind, response.headers)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(url, kind, max_bytes, int(declared))
            header = response.headers.get("content-type")
            return await _save(response.aiter_bytes(C.MEDIA_CHUNK_BYTES), url, kind, header,
                               directory, model, max_bytes, on_bytes)  # fmt: skip
    except AddressRefused as exc:
        # One message whatever the port: a refusal tells nothing about what listens there.
        raise MediaError(
            f"refusing to download the {kind} from {url}: it leads to a private, local or "
            "otherwise non-public network address, which the download policy refuses "
            "([media] download_policy)",
            metadata={"url": url, "refused": "download_policy"},
        ) from exc
    except httpx2.TimeoutException as exc:
        raise RequestTimeoutError(
            f"could not download the {kind} from {url}: timed out", metadata={"url": url}
        ) from exc
    except (httpx2.UnsupportedProtocol, httpx2.TooManyRedirects, httpx2.InvalidURL) as exc:
        raise MediaError(
            f"could not download the {kind} from {url}: {exc} (a bad link or redirect)",
            metadata={"url": url},
        ) from exc
    except (httpx2.TransportError, httpx2.StreamError) as exc:
        raise NetworkError(
            f"could not download the {kind} from {url}: the connection broke "
            f"({type(exc).__name__})",
            metadata={"url": url},
        ) from exc
    except httpx2.HTTPError as exc:
        raise MediaError(
            f"could not download the {kind} from {url}: {type(exc).__name__}: {exc}",
            metadata={"url": url},
        ) from exc


def _too_large(url: str, kind: MediaKind, max_bytes: int, size: int | None) -> TooLargeError:
    what = f"{size} bytes" if size is not None else f"more than {max_bytes} bytes"
    return TooLargeError(
        f"refusing the {kind} at {url}: it is {what}, above the limit of {max_bytes} bytes "
        "(raise max_bytes, or [media] max_bytes in config.toml)",
        metadata={"url": url, "max_bytes": max_bytes},
    )


async def _save(
    chunks: AsyncIterator[bytes],
    url: str,
    kind: MediaKind,
    header: str | None,
    directory: Path,
    model: str,
    max_bytes: int,
    on_bytes: Callable[[int], None] | None,
) -> SavedFile:
    fd, tmp_name = tempfile.mkstemp(prefix=".poe-mcp-", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        hasher = hashlib.sha256(url.encode())
        head = b""
        media_type: str | None = None
        size = 0
        # Plain blocking writes: chunks are small and land in the page cache; a thread hop per
        # chunk would cost more than it saves.
        with os.fdopen(fd, "wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(url, kind, max_bytes, None)
                if media_type is None:
                    head += chunk[: C.MEDIA_SNIFF_BYTES - len(head)]
                    if len(head) >= C.MEDIA_SNIFF_BYTES:
                        media_type = _decide_type(kind, header, sniff_media_type(head), url)
                fh.write(chunk)
                hasher.update(chunk)
                if on_bytes is not None:
                    on_bytes(size)
        if size == 0:
            raise MediaError(f"the {kind} at {url} is empty", metadata={"url": url})
        if media_type is None:
            media_type = _decide_type(kind, header, sniff_media_type(head), url)
        final = directory / _file_name(model, hasher.hexdigest(), media_type, url, kind)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a saved picture is an ordinary user file
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return SavedFile(final, url, media_type, size)
