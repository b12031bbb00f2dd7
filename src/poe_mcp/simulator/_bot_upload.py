"""``POST /poe_api/file_upload_3RD_PARTY_POST``: Poe's file upload, as fastapi_poe calls it.

Wire: header ``Authorization: <key>`` (the raw key; ``Bearer`` is refused like any wrong key),
then either a multipart ``file`` part or the form fields ``download_url`` (and optional
``download_filename``). The answer is ``{"attachment_url", "mime_type"}``; the URL
(``<simulator>/uploads/<id>/<name>``) can then be attached to ``/bot/`` requests.

``download_url`` is fetched only from the simulator itself (its ``/media/`` and ``/uploads/``
files): the simulator never reaches other hosts. Errors: 401 for a missing, ``Bearer``-prefixed
or ``invalid*`` key, 400 for no file or an unusable URL, 413 above ``MAX_ATTACHMENT_BYTES``.
Faults apply when queued with a ``path`` matching ``/poe_api/`` (or ``"*"``): ``status``,
``delay``, ``drop``, ``malformed``, ``cut``.
"""

from __future__ import annotations

import mimetypes
import posixpath
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import _constants as C
from ..errors import AuthError, InvalidRequestError, PoeError, TooLargeError
from ._faults import Fault
from ._state import SimState
from ._wire import (
    dumps,
    error_response,
    header_names,
    json_answer,
    new_request_id,
    strike,
    wait_latency,
)

__all__ = ["UPLOAD_PATH", "sniff_mime", "upload_endpoint"]

UPLOAD_PATH = "/poe_api/file_upload_3RD_PARTY_POST"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# (offset, magic, media type): enough to tell what the tests and media bots use.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (4, b"ftyp", "video/mp4"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\xff\xfb", "audio/mpeg"),
    (0, b"PK\x03\x04", "application/zip"),
)


def sniff_mime(data: bytes, name: str = "", declared: str | None = None) -> str:
    """The media type of an upload: its bytes first, then its name, then what the client said."""
    for offset, magic, mime in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed, _ = mimetypes.guess_type(name)
    if guessed:
        return guessed
    if declared and declared != "application/octet-stream":
        return declared
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def upload_endpoint(state: SimState) -> Route:
    """The upload route over ``state``."""

    async def upload(request: Request) -> Response:
        return await _upload(state, request)

    return Route(UPLOAD_PATH, upload, methods=["POST"])


def _raw_key(request: Request) -> str:
    raw = request.headers.get("authorization", "").strip()
    if not raw:
        raise AuthError("Missing API key. Send 'Authorization: <POE_API_KEY>' (no 'Bearer').")
    if raw[:7].lower() == "bearer ":
        raise AuthError("The upload endpoint takes the raw key: 'Authorization: <POE_API_KEY>'.")
    return raw


def _own_file(state: SimState, url: str) -> tuple[bytes, str]:
    """Bytes and type of a file this simulator serves; refuses every other URL."""
    own = urlsplit(state.public_url)
    parts = urlsplit(url)
    same_host = parts.hostname == own.hostname or (
        parts.hostname in _LOOPBACK_HOSTS and own.hostname in _LOOPBACK_HOSTS
    )
    if parts.scheme not in ("http", "https") or not same_host or parts.port != own.port:
        raise InvalidRequestError(
            f"download_url must point to a file this simulator serves ({state.public_url}/media/"
            "... or /uploads/...); the simulator does not fetch from other hosts."
        )
    found = state.resolve_url(url)
    if found is None:
        raise InvalidRequestError(f"could not download {url}: no such file on the simulator")
    return found


async def _read_form(state: SimState, request: Request) -> tuple[bytes, str, str, dict[str, Any]]:
    """(data, mime, name, log summary) of an upload request."""
    try:
        form = await request.form(max_files=1, max_fields=8)
    except (HTTPException, MultiPartException) as exc:
        detail = exc.detail if isinstance(exc, HTTPException) else exc.message
        raise InvalidRequestError(f"the upload body is not a valid form: {detail}") from None
    try:
        part = form.get("file")
        if isinstance(part, UploadFile):
            data = await part.read()
            name = posixpath.basename(part.filename or "") or "file"
            declared = part.content_type
            summary: dict[str, Any] = {
                "file": {"filename": name, "content_type": declared, "bytes": len(data)}
            }
        elif isinstance(form.get("download_url"), str) and form.get("download_url"):
            url = str(form.get("download_url"))
            data, declared = _own_file(state, url)
            wanted = form.get("download_filename")
            tail = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
            name = wanted if isinstance(wanted, str) and wanted else tail or "file"
            summary = {"download_url": url, "download_filename": wanted}
        else:
            raise InvalidRequestError(
                "no file: send a multipart 'file' part or a 'download_url' form field"
            )
    finally:
        await form.close()
    summary["bytes"] = len(data)
    if len(data) > C.MAX_ATTACHMENT_BYTES:
        raise TooLargeError(
            f"the file is {len(data)} bytes; the limit is {C.MAX_ATTACHMENT_BYTES} bytes"
        )
    return data, sniff_mime(data, name, declared), name, summary


def _malformed(fault: Fault, headers: dict[str, str]) -> Response | None:
    if fault.kind != "malformed":
        return None
    return Response(b'{"attachment_url": ', 200, headers=headers, media_type="application/json")


async def _upload(state: SimState, request: Request) -> Response:
    rid = new_request_id()
    entry = state.record("POST", request.url.path, headers=header_names(request))
    headers = {"x-request-id": rid}
    await wait_latency(state)
    fault = state.next_fault(request.url.path)
    forced = await strike(fault, entry, headers, errors=("status", "stream_error"),
                          broken=lambda f: _malformed(f, headers))  # fmt: skip
    if forced is not None:
        return forced
    try:
        key = _raw_key(request)
        state.check_key(key, need_points=False)
        data, mime, name, summary = await _read_form(state, request)
    except PoeError as exc:
        entry["status"] = exc.status
        return error_response(exc, rid, headers)
    entry["body"] = summary
    url = state.add_upload(data, mime, name)
    entry["status"] = 200
    payload = dumps({"attachment_url": url, "mime_type": mime})
    return json_answer(payload, headers, cut=fault is not None and fault.kind == "cut")
