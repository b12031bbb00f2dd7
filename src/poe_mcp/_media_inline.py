"""Media that a bot puts inline in its reply: ``data:`` URIs, decoded and saved like downloads.

Some media bots answer ``![image](data:image/png;base64,iVBOR...)`` instead of a link. Nothing is
fetched: the bytes are in the reply. They get the same checks as a download (see
:mod:`poe_mcp._media_files`): a size cap (checked on the encoded length before decoding, so a
huge string is refused without building its bytes), the content type from the URI *and* the
file's magic bytes (a ``data:image/png`` that holds HTML is refused), and an atomic write under
the same naming scheme. The saved file's ``url`` is its ``file://`` URI: the data URI itself
can be megabytes long and is no address anyone can open.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote_to_bytes

from . import _constants as C
from ._media_files import SavedFile, _save, _too_large, clean_type, prepare_dir
from .errors import MediaError
from .types import MediaKind

__all__ = ["data_uri_type", "is_data_uri", "save_data_uri"]

_WHITESPACE = re.compile(r"\s+")
_URL_SAFE = str.maketrans("-_", "+/")


def is_data_uri(url: str) -> bool:
    return url[:5].lower() == "data:"


def _split(uri: str) -> tuple[str | None, bool, str]:
    """(declared media type, base64?, payload) of a data URI."""
    header, sep, payload = uri[5:].partition(",")
    if not sep:
        raise MediaError(f"malformed data URI {uri[: C.DATA_URI_QUOTE_CHARS]!r}: it has no ','")
    meta = [part.strip() for part in header.split(";")]
    encoded = any(part.lower() == "base64" for part in meta[1:])
    return clean_type(meta[0]) if meta[0] else None, encoded, payload


def data_uri_type(uri: str) -> str | None:
    """The media type a data URI declares (``data:image/png;base64,...`` -> ``image/png``)."""
    try:
        return _split(uri)[0]
    except MediaError:
        return None


def _label(media_type: str | None, size: int) -> str:
    return f"data:{media_type or ''} URI ({size} bytes)"


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def save_data_uri(
    uri: str,
    kind: MediaKind,
    output_dir: str | os.PathLike[str],
    *,
    model: str = "media",
    max_bytes: int,
) -> SavedFile:
    """Decode ``uri`` and save it into ``output_dir`` if it is ``kind`` and not too big.

    Raises:
        MediaError: malformed URI or base64, empty, or not ``kind`` (magic bytes checked).
        TooLargeError: larger than ``max_bytes``.
    """
    declared, encoded, payload = _split(uri)
    if encoded:
        payload = _WHITESPACE.sub("", payload)
        approx = len(payload) * 3 // 4
        if approx > max_bytes + 3:  # refuse before decoding
            raise _too_large(_label(declared, approx), kind, max_bytes, approx)
        # Padding is often left out, and some servers use the URL-safe alphabet.
        padded = payload.translate(_URL_SAFE) + "=" * (-len(payload) % 4)
        try:
            data = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            raise MediaError(
                f"the {kind} in the reply is a data URI whose base64 is not valid",
                metadata={"media_type": declared},
            ) from None
    else:
        if len(payload) > 3 * max_bytes + 3:
            raise _too_large(_label(declared, len(payload)), kind, max_bytes, None)
        data = unquote_to_bytes(payload)
    label = _label(declared, len(data))
    if len(data) > max_bytes:
        raise _too_large(label, kind, max_bytes, len(data))
    if not data:
        raise MediaError(f"the {kind} in the reply is an empty data URI")
    directory = prepare_dir(output_dir)
    saved = await _save(_one(data), label, kind, declared, directory, model, max_bytes, None)
    return SavedFile(saved.path, saved.path.as_uri(), saved.media_type, saved.size_bytes)
