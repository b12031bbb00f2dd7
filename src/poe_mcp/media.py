"""Media bots: ask for an image, a video or audio, find the file in the reply, save it.

Poe's media bots answer slowly and put their file in the reply in one of several shapes: a
markdown image or link, a bare URL, JSON ``{"url", "mimeType"}`` (sometimes in a code fence), or,
on the bot protocol, ``file`` attachments. :func:`extract_media` finds them all,
:func:`download_media` saves one, and :func:`generate_media` does the whole job, reporting
progress while the bot works.

Saving is atomic: bytes go to a hidden temp file in the target directory, are checked (size cap,
content type from the header and from the file's magic bytes), and only then renamed to their
final name, so a failed or refused download never leaves a partial file behind.

Settings (``[media]`` in ``config.toml``): ``dir``, ``timeout_s``, ``max_bytes``,
``progress_interval_s``, ``image_model``, ``video_model``, ``audio_model``, ``download_policy``
(where downloads may connect: :mod:`poe_mcp._netpolicy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from . import _constants as C
from ._capabilities import check_output
from ._media_files import (
    EXT_TYPES,
    MEDIA_KINDS,
    NOT_MEDIA_EXTS,
    SavedFile,
    article,
    clean_type,
    download_media,
    kind_of_type,
    new_http,
    prepare_dir,
    sniff_media_type,
    url_ext,
)
from ._media_inline import data_uri_type, is_data_uri, save_data_uri
from ._media_sidecar import label_files
from ._netpolicy import DownloadPolicy
from ._retry import accepted_timeout, no_retry_once_accepted
from .config import Settings
from .errors import InvalidRequestError, MediaError, PoeError, RequestTimeoutError
from .types import Attachment, MediaKind, MediaResult, ProgressCallback

if TYPE_CHECKING:
    from .client import AsyncPoeClient

__all__ = [
    "MEDIA_KINDS",
    "LinkSource",
    "MediaConfig",
    "MediaLink",
    "ProgressCallback",
    "SavedFile",
    "download_media",
    "extract_media",
    "generate_media",
    "link_kind",
    "sniff_media_type",
]

log = logging.getLogger(__name__)

LinkSource = Literal["attachment", "json", "markdown_image", "markdown_link", "url"]

_MARKDOWN = re.compile(
    r"(!?)\[([^\]\n]*)\]\(\s*<?([^\s()<>]+(?:\([^\s()<>]*\)[^\s()<>]*)*)>?"
    r"""(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)"""
)
_BARE_URL = re.compile(r"""https?://[^\s<>"'`\\|^{}]+""", re.IGNORECASE)
# Data URIs the patterns above miss: in markdown with line breaks or spaces in the base64 (bots
# wrap long lines), in an HTML <img src>, or bare (the whole reply, or inside prose).
_DATA_MARKDOWN = re.compile(
    r"""(!?)\[[^\]\n]*\]\(\s*<?(data:[^,()<>\s"']*,[A-Za-z0-9+/=_%\s-]*?)>?"""
    r"""(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)""",
    re.IGNORECASE,
)
_DATA_HTML = re.compile(r"""<(?:img|source|audio|video)\b[^>]*?\bsrc\s*=\s*["'](data:[^"']+)["']""",
                        re.IGNORECASE)  # fmt: skip
_DATA_BARE = re.compile(
    r"""(?<![\w(<"'=])data:(?:[\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[^;,\s]*)*;base64,[A-Za-z0-9+/_-]+=*""",
    re.IGNORECASE,
)
_TYPE_KEYS = ("mimeType", "mime_type", "contentType", "content_type", "mime", "type")
_NAME_KEYS = ("name", "filename", "file_name")
_JSON_MAX_DEPTH = 16
_CLOSERS = {")": "(", "]": "[", "}": "{"}


# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaConfig:
    """Media settings: ``[media]`` in ``config.toml`` over the built-in defaults.

    Attributes:
        directory: where files are saved (default ``<data dir>/media``).
        timeout_s: seconds a generation may take (each attempt).
        max_bytes: largest file downloaded.
        progress_interval_s: longest silence between two progress reports.
        models: the default model of each kind.
    """

    directory: Path
    timeout_s: float = C.MEDIA_TIMEOUT_S
    max_bytes: int = C.MAX_MEDIA_BYTES
    progress_interval_s: float = C.PROGRESS_INTERVAL_S
    models: Mapping[str, str] = field(
        default_factory=lambda: {
            "image": C.DEFAULT_IMAGE_MODEL,
            "video": C.DEFAULT_VIDEO_MODEL,
            "audio": C.DEFAULT_AUDIO_MODEL,
        }
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaConfig:
        """``[media]`` of ``settings`` (validated with the rest of ``config.toml``)."""
        media = settings.media
        return cls(
            Path(media.dir or settings.media_dir).expanduser(),
            media.timeout_s or C.MEDIA_TIMEOUT_S,
            media.max_bytes or C.MAX_MEDIA_BYTES,
            media.progress_interval_s or C.PROGRESS_INTERVAL_S,
            {
                "image": media.image_model or C.DEFAULT_IMAGE_MODEL,
                "video": media.video_model or C.DEFAULT_VIDEO_MODEL,
                "audio": media.audio_model or C.DEFAULT_AUDIO_MODEL,
            },
        )

    def default_model(self, kind: MediaKind) -> str:
        """The model used for ``kind`` when the caller names none."""
        return self.models[kind]


# --- finding the media in a reply ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaLink:
    """A file a bot's reply points to.

    Attributes:
        url: where the file is.
        media_type: the type the reply declared (``mimeType``, attachment content type), if any.
        name: a file name the reply gave, if any.
        source: the shape it came in.
    """

    url: str
    media_type: str | None = None
    name: str | None = None
    source: LinkSource = "url"


def extract_media(text: str, attachments: Iterable[Attachment] = ()) -> list[MediaLink]:
    """Every link in a media bot's answer, in order, each URL once.

    Handles bot-protocol ``file`` attachments, JSON objects with a ``url`` (whole reply, code
    fence, or embedded in prose; nested and in lists), markdown images and links, and bare
    http(s) URLs. Richer shapes win when the same URL appears several times.
    """
    found: list[MediaLink] = [
        MediaLink(a.url, clean_type(a.content_type), a.name, "attachment")
        for a in attachments
        if a.url
    ]
    found += _json_links(text)
    for match in _MARKDOWN.finditer(text):
        source: LinkSource = "markdown_image" if match.group(1) else "markdown_link"
        found.append(MediaLink(match.group(3), None, None, source))
    if "data:" in text.lower():
        for match in _DATA_MARKDOWN.finditer(text):
            shape: LinkSource = "markdown_image" if match.group(1) else "markdown_link"
            found.append(MediaLink(match.group(2).strip(), None, None, shape))
        found += [MediaLink(m.group(1)) for m in _DATA_HTML.finditer(text)]
        found += [MediaLink(m.group(0)) for m in _DATA_BARE.finditer(text)]
    for match in _BARE_URL.finditer(text):
        found.append(MediaLink(_trim_url(match.group(0))))
    seen: set[str] = set()
    unique: list[MediaLink] = []
    for link in found:
        if link.url not in seen:
            seen.add(link.url)
            unique.append(link)
    return unique


def _trim_url(url: str) -> str:
    """Drop punctuation that ends the sentence around a bare URL, not the URL itself."""
    while url:
        last = url[-1]
        unbalanced = last in _CLOSERS and url.count(_CLOSERS[last]) < url.count(last)
        if last in ".,;:!?'\"*_~" or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def _json_links(text: str) -> list[MediaLink]:
    decoder = json.JSONDecoder()
    out: list[MediaLink] = []
    pos = 0
    while True:
        starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
        if not starts:
            return out
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            pos = start + 1
            continue
        _walk_json(value, out, 0)
        pos = end


def _walk_json(value: Any, out: list[MediaLink], depth: int) -> None:
    if depth > _JSON_MAX_DEPTH:
        return
    if isinstance(value, list):
        for item in value:
            _walk_json(item, out, depth + 1)
        return
    if not isinstance(value, dict):
        return
    url = value.get("url")
    if isinstance(url, str) and url:
        media_type = next(
            (v for k in _TYPE_KEYS if isinstance(v := value.get(k), str) and "/" in v), None
        )
        name = next((v for k in _NAME_KEYS if isinstance(v := value.get(k), str)), None)
        out.append(MediaLink(url, clean_type(media_type), name, "json"))
    for item in value.values():
        if isinstance(item, (dict, list)):
            _walk_json(item, out, depth + 1)


def link_kind(link: MediaLink) -> str | None:
    """What a link holds as far as the reply tells: a media kind, ``other``, or None (unknown).

    Uses the declared type, then the URL's extension, then a path segment named after the kind
    (Poe's CDN: ``https://pfst.cf2.poecdn.net/base/image/<hash>``).
    """
    declared = kind_of_type(link.media_type)
    if declared is not None:
        return declared
    if is_data_uri(link.url):
        return kind_of_type(data_uri_type(link.url))
    ext = url_ext(link.url)
    if ext in EXT_TYPES:
        return EXT_TYPES[ext].split("/", 1)[0]
    if ext in NOT_MEDIA_EXTS:
        return "other"
    segments = set(urlsplit(link.url).path.lower().split("/"))
    hits = [kind for kind in MEDIA_KINDS if kind in segments]
    return hits[0] if len(hits) == 1 else None


def _pick(links: list[MediaLink], kind: MediaKind) -> list[tuple[MediaLink, bool]]:
    """The links that may hold ``kind``, each with whether the reply vouches for it.

    A vouched-for link (declared type, attachment, JSON, markdown image for images) that fails
    to download is an error; an unknown bare link that turns out not to be media is skipped.
    """
    picked: list[tuple[MediaLink, bool]] = []
    for link in links:
        found = link_kind(link)
        if found is not None and found != kind:
            continue
        vouched = (
            found == kind
            or link.source in ("attachment", "json")
            or (kind == "image" and link.source == "markdown_image")
        )
        picked.append((link, vouched))
    return picked[: C.MEDIA_MAX_FILES]


# --- progress ------------------------------------------------------------------------------


class _Reporter:
    """Calls ``on_progress`` on every phase change and at least every ``interval`` seconds."""

    def __init__(self, callback: ProgressCallback | None, interval: float) -> None:
        self._callback = callback
        self._interval = interval
        self._started = time.monotonic()
        self._message = ""
        self._lock = asyncio.Lock()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    async def say(self, message: str) -> None:
        self._message = message
        await self._emit()

    def note(self, message: str) -> None:
        """Change the message the next tick reports, without reporting now."""
        self._message = message

    async def _emit(self) -> None:
        if self._callback is None:
            return
        async with self._lock:  # reports stay in order even when the callback is slow
            try:
                outcome = self._callback(self.elapsed, self._message)
                if inspect.isawaitable(outcome):
                    await outcome
            except asyncio.CancelledError:
                raise
            except Exception:
                log.debug("progress callback failed", exc_info=True)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._emit()

    @contextlib.asynccontextmanager
    async def running(self, first: str) -> AsyncIterator[_Reporter]:
        await self.say(first)
        if self._callback is None:
            yield self
            return
        ticker = asyncio.create_task(self._tick())
        try:
            yield self
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker


# --- the whole job -------------------------------------------------------------------------


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > C.MEDIA_REPLY_QUOTE_CHARS:
        text = text[: C.MEDIA_REPLY_QUOTE_CHARS] + "..."
    return text


async def _model_info(client: AsyncPoeClient, model: str, params: Mapping[str, Any]) -> Any:
    """Check ``params`` against the catalog and return the model's info (None when unknown)."""
    catalog = client.catalog
    if catalog is None:
        return None
    from ._capabilities import check_params

    await check_params(catalog, model, params)  # names the models that do take a parameter
    try:
        return await catalog.find(model)
    except PoeError:
        return None  # the catalog cannot tell; the provider has the last word


def _no_media(
    kind: MediaKind, model: str, text: str, links: list[MediaLink], info: Any, default: str
) -> MediaError:
    metadata: dict[str, Any] = {"model": model, "reply": _quote(text)}
    if links:
        shown = ", ".join(link.url for link in links[:3])
        message = f"{model} answered without {article(kind)}: its reply links to {shown}"
        metadata["urls"] = [link.url for link in links]
    elif text.strip():
        message = f'{model} answered without {article(kind)}. It said: "{_quote(text)}"'
    else:
        message = f"{model} answered with nothing instead of {article(kind)}"
    makes = tuple(getattr(info, "output_modalities", ()) or ())
    if makes and kind not in makes:
        message += (
            f" ({info.id} makes {'/'.join(makes)} only: use {default} or another {kind} model)"
        )
    return MediaError(message, metadata=metadata)


async def _download_all(
    picked: list[tuple[MediaLink, bool]],
    kind: MediaKind,
    directory: str | os.PathLike[str],
    model: str,
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 - httpx2's read/connect timeouts
    reporter: _Reporter,
    policy: DownloadPolicy | None = None,
) -> list[SavedFile]:
    """Download every picked link; a vouched-for link that fails is an error."""
    saved: list[SavedFile] = []
    skipped: list[PoeError] = []
    async with new_http(timeout, policy) as http:
        for number, (link, vouched) in enumerate(picked, 1):
            label = f"downloading the {kind}" + (
                f" {number}/{len(picked)}" if len(picked) > 1 else ""
            )

            def progress(size: int, label: str = label) -> None:
                reporter.note(f"{label}: {size / 1_000_000:.1f} MB")

            await reporter.say(label)
            try:
                if is_data_uri(link.url):  # the file is in the reply itself: decode, never fetch
                    saved.append(
                        await save_data_uri(link.url, kind, directory, model=model,
                                            max_bytes=max_bytes)
                    )  # fmt: skip
                    continue
                saved.append(
                    await download_media(
                        link.url, kind, directory, model=model, max_bytes=max_bytes,
                        http=http, on_bytes=progress,
                    )
                )  # fmt: skip
            except PoeError as exc:
                if vouched:
                    if saved:
                        exc.metadata["saved"] = [str(s.path) for s in saved]
                    raise
                log.info("skipped %s: %s", link.url, exc)
                skipped.append(exc)
    if not saved:
        raise skipped[0]
    return saved


def _final_urls(saved: list[SavedFile], paths: Iterable[os.PathLike[str] | str]) -> tuple[str, ...]:
    """Where each file came from; a file that was inline (a data URI) is known by its path."""
    return tuple(
        Path(path).as_uri() if is_data_uri(s.url) or s.url.startswith("file:") else s.url
        for s, path in zip(saved, paths, strict=True)
    )


async def generate_media(
    client: AsyncPoeClient,
    kind: MediaKind,
    prompt: str,
    *,
    model: str | None = None,
    params: Mapping[str, Any] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    timeout: float | None = None,  # noqa: ASYNC109 - passed to the client and the download
    max_bytes: int | None = None,
    on_progress: ProgressCallback | None = None,
    progress_interval: float | None = None,
    backend: str | None = None,
    download_policy: str | None = None,
) -> MediaResult:
    """Ask a media bot for an image, a video or audio, and save what it makes.

    The call goes through ``client.chat`` (not streamed: media bots answer in one piece), with
    the bot parameters in the body; they are checked first against the parameters the catalog
    says the model declares.

    Args:
        client: the client to call through (retries, rate limit, ledger, cost).
        kind: ``image``, ``video`` or ``audio``.
        prompt: what to make.
        model: the bot (default: ``[media] <kind>_model``, else GPT-Image-1 / Veo-3 /
            ElevenLabs).
        params: bot parameters, e.g. ``{"aspect": "16:9"}``.
        output_dir: where to save (default ``[media] dir``, else ``<data dir>/media``).
        download: False returns only the URLs.
        timeout: seconds for the generation (each attempt) and the download's reads
            (default ``[media] timeout_s``, else 600).
        max_bytes: largest file accepted (default ``[media] max_bytes``, else 200 MiB).
        on_progress: ``on_progress(elapsed_s, message)``, sync or async, called on every phase
            and at least every ``progress_interval`` seconds while waiting.
        progress_interval: seconds (default ``[media] progress_interval_s``, else 5).
        backend: ``openai`` (REST) or ``legacy`` (bot protocol, whose ``file`` events arrive
            as attachments) for this call; default the client's.
        download_policy: ``public`` (connect only to public addresses, checked after DNS and
            on every redirect; the provider's own origin stays allowed), ``any``, or ``auto``
            (``any`` outside a server); default ``POE_MCP_DOWNLOAD_POLICY``, else ``[media]
            download_policy``, else ``auto`` (see :mod:`poe_mcp._netpolicy`).

    Returns:
        A :class:`~poe_mcp.types.MediaResult`; ``media_type`` is the first file's type and
        ``size_bytes`` the total of the saved files.

    Raises:
        InvalidRequestError: unknown kind, empty prompt, or parameters the model does not accept.
        MediaError: the reply holds no usable file (the message quotes what the bot said), or a
            file is not ``kind``.
        TooLargeError: a file is larger than ``max_bytes``.
        PoeError: anything the call itself raises (auth, balance, not_found, timeout...).
    """
    if kind not in MEDIA_KINDS:
        raise InvalidRequestError(f"unknown media kind {kind!r}: use image, video or audio")
    if not prompt or not prompt.strip():
        raise InvalidRequestError(f"the prompt is empty: describe the {kind} to make")
    config = MediaConfig.from_settings(client.settings)
    policy = DownloadPolicy.build(download_policy, client.settings)
    model = await client.resolve_model(model or config.default_model(kind))
    bot_params = dict(params or {})
    limit = max_bytes if max_bytes is not None else config.max_bytes
    wait_s = timeout if timeout is not None else config.timeout_s
    directory = output_dir if output_dir is not None else config.directory
    if download:  # a folder it cannot write is said now, not after a paid generation
        prepare_dir(directory)
    started = time.perf_counter()

    info = await _model_info(client, model, bot_params)
    await check_output(client.catalog, info, kind)  # a stated "makes something else": unsent
    reporter = _Reporter(on_progress, progress_interval or config.progress_interval_s)
    async with reporter.running(f"asking {model} for {article(kind)}"):
        reporter.note(f"waiting for {model} to make the {kind}")
        try:
            # A bot that timed out after taking the request may still be working (and be paid
            # for): sending it again could charge twice, so such a timeout is not retried.
            with no_retry_once_accepted():
                result = await client.chat(
                    model, prompt, extra=bot_params or None, timeout=wait_s, backend=backend
                )
        except RequestTimeoutError as exc:
            if accepted_timeout(exc):
                exc.message += (
                    f" The {kind} request was not sent again: {model} had accepted it and may "
                    "still be working, and a second request could be charged twice. Raise the "
                    "timeout ([media] timeout_s) to wait longer."
                )
                exc.args = (exc.message,)
                exc.metadata["not_retried"] = "accepted media request"
            raise
        links = extract_media(result.text, result.attachments)
        picked = _pick(links, kind)
        if not picked:
            raise _no_media(kind, model, result.text, links, info, config.default_model(kind))
        saved: list[SavedFile] = []
        if download:
            saved = await _download_all(
                picked, kind, directory, result.model, limit, wait_s, reporter, policy
            )
            await reporter.say(f"saved {len(saved)} file(s), {sum(s.size_bytes for s in saved)} B")

    first = picked[0][0]
    guessed = first.media_type or EXT_TYPES.get(url_ext(first.url))
    # the prompt's slug in each name, and a JSON sidecar (prompt, model, parameters, cost)
    paths = label_files(
        [s.path for s in saved], prompt=prompt, model=result.model, kind=kind,
        params=bot_params, cost=result.cost, urls=[s.url for s in saved],
    )  # fmt: skip
    return MediaResult(
        kind=kind,
        model=result.model,
        urls=_final_urls(saved, paths) if saved else tuple(link.url for link, _ in picked),
        paths=tuple(str(p) for p in paths),
        media_type=saved[0].media_type if saved else guessed,
        size_bytes=sum(s.size_bytes for s in saved) if saved else None,
        text=result.text,
        usage=result.usage,
        cost=result.cost,
        request_id=result.request_id,
        latency_s=time.perf_counter() - started,
        simulated=result.simulated,
    )
