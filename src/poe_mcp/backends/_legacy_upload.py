"""Attachments for the bot protocol: uploaded with ``fastapi_poe.upload_file``, sent by URL.

The protocol does not take inline bytes: a file is uploaded to Poe first
(``POST <upload base>/file_upload_3RD_PARTY_POST``, raw key, multipart ``file`` or a
``download_url`` Poe fetches) and the returned URL goes in ``ProtocolMessage.attachments``.

A conversation re-sends its history every turn, attachments included, so uploads are cached by
content (SHA-256 of the bytes, or the source URL): each file crosses the network once per
backend. The cache is bounded (``LEGACY_UPLOAD_CACHE_MAX``, least recently used dropped).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .. import _constants as C
from ..errors import PoeError
from ._legacy_errors import map_exception
from ._legacy_messages import FileRef

if TYPE_CHECKING:
    import fastapi_poe as fp
    import httpx

__all__ = ["Uploader"]

logger = logging.getLogger("poe_mcp.backends.legacy")


def _log_try(exc: Exception, message: str) -> None:
    # fastapi_poe's default handler prints to stdout, which would corrupt an MCP stdio stream.
    logger.debug("upload: %s: %s", message, type(exc).__name__)


class Uploader:
    """Uploads :class:`FileRef` s once each and hands back ``fastapi_poe`` attachments.

    Args:
        api_key: the Poe key (sent raw, as the upload endpoint wants).
        base_url: the upload base URL (``.../poe_api/``).
        session: returns the shared ``httpx.AsyncClient``.
        cache_max: how many uploads to remember.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        session: Callable[[], httpx.AsyncClient],
        cache_max: int = C.LEGACY_UPLOAD_CACHE_MAX,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url
        self._session = session
        self._cache: OrderedDict[str, fp.Attachment] = OrderedDict()
        self._cache_max = cache_max

    def __repr__(self) -> str:
        return f"Uploader(base_url={self.base_url!r}, cached={len(self._cache)})"

    async def upload_all(self, refs: Sequence[FileRef]) -> dict[str, fp.Attachment]:
        """Attachments for ``refs`` by :attr:`FileRef.key`, uploading what is not cached.

        Uploads run concurrently; the first failure cancels the rest and is raised.

        Raises:
            PoeError: the upload failed (kind from the HTTP status, network, timeout...).
        """
        found: dict[str, fp.Attachment] = {}
        missing: dict[str, FileRef] = {}
        for ref in refs:
            cached = self._cache.get(ref.key)
            if cached is not None:
                self._cache.move_to_end(ref.key)
                found[ref.key] = cached
            else:
                missing[ref.key] = ref
        if not missing:
            return found
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {key: group.create_task(self._upload(ref)) for key, ref in missing.items()}
        except BaseExceptionGroup as failures:
            first = failures.exceptions[0]
            raise first from None
        for key, task in tasks.items():
            found[key] = self._remember(key, task.result())
        return found

    def _remember(self, key: str, attachment: fp.Attachment) -> fp.Attachment:
        self._cache[key] = attachment
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_max:
            self._cache.popitem(last=False)
        return attachment

    async def _upload(self, ref: FileRef) -> fp.Attachment:
        import fastapi_poe as fp

        try:
            attachment = await fp.upload_file(
                file=ref.data,
                file_url=ref.url if ref.data is None else None,
                file_name=ref.name,
                api_key=self._api_key,
                session=self._session(),
                on_error=_log_try,
                num_tries=1,  # ours is the only retry layer
                base_url=self.base_url,
            )
        except Exception as exc:
            error = map_exception(exc, bot="upload", where=self.base_url)
            _prefix(error, f"uploading attachment {ref.name!r} failed: ")
            raise error from exc
        if not attachment.content_type and ref.media_type:
            attachment = attachment.model_copy(update={"content_type": ref.media_type})
        return attachment


def _prefix(error: PoeError, prefix: str) -> None:
    if not error.message.startswith(prefix):
        error.message = prefix + error.message
        error.args = (error.message,)
