"""MCP resources: the model catalog and the media the tools saved, for clients anywhere.

- ``poe://models``: the provider's models that can chat (JSON: id, capabilities, prices).
- ``poe://media/<file>``: every file in the media directory (``[media] dir``), newest first, with
  its MIME type and size; ``resources/read`` returns the bytes (a ``blob``). A remote client
  cannot open the server's ``file://`` paths, and the provider's URL may be gone (the in-process
  simulator's dies with the server), so this is how it gets what it paid for.
- Over HTTP the same files are also at ``GET /media/<file>`` (:func:`media_download`), behind the
  server's bearer token, for files too large for one MCP message.

Names are confined to the media directory: one path component, no hidden files, no symlink
out, and only media types the tools save.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import anyio
from mcp.server import MCPServer
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.mcpserver.resources import FunctionResource
from mcp_types import Resource as MCPResource
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from .. import _constants as C
from ..errors import NotFoundError, PoeError

if TYPE_CHECKING:
    from mcp.server.mcpserver.context import Context

    from ..config import Settings
    from .runtime import ServerRuntime

__all__ = [
    "MEDIA_PREFIX",
    "MODELS_URI",
    "PoeServer",
    "media_directory",
    "media_download",
    "media_file",
    "media_uri",
]

MODELS_URI = "poe://models"
MEDIA_PREFIX = "poe://media/"
# Saved media are named by _media_files (letters, digits, '.', '_', '-'); nothing else is served.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _types() -> dict[str, str]:
    from .._media_files import EXT_TYPES

    return EXT_TYPES


def media_directory(settings: Settings) -> Path:
    """Where the media tools save files (``[media] dir``, default ``<data dir>/media``)."""
    from ..media import MediaConfig

    return MediaConfig.from_settings(settings).directory


def media_uri(path: str | os.PathLike[str], directory: Path) -> str | None:
    """``poe://media/<name>`` for a file saved in ``directory``, else None."""
    p = Path(path)
    try:
        inside = p.resolve().parent == directory.resolve()
    except OSError:
        return None
    return f"{MEDIA_PREFIX}{quote(p.name)}" if inside and _NAME.fullmatch(p.name) else None


def media_file(directory: Path, name: str) -> tuple[Path, str]:
    """The saved media file ``name`` and its MIME type; nothing outside ``directory``.

    Raises:
        NotFoundError: not a saved media file here (bad name, hidden, missing, a symlink out,
            or not a media type).
    """
    mime = _types().get(name.rpartition(".")[2].lower()) if "." in name else None
    missing = NotFoundError(f"no saved media file named {name!r}", metadata={"name": name})
    if mime is None or not _NAME.fullmatch(name):
        raise missing
    try:
        root = directory.resolve()
        path = (root / name).resolve()
    except OSError:
        raise missing from None
    if path.parent != root or not path.is_file():
        raise missing
    return path, mime


def _listing(directory: Path) -> list[MCPResource]:
    types = _types()
    found: list[tuple[float, MCPResource]] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []  # nothing saved yet
    for entry in entries:
        ext = entry.name.rpartition(".")[2].lower()
        if not _NAME.fullmatch(entry.name) or ext not in types:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat()
        except OSError:
            continue
        resource = MCPResource(
            uri=f"{MEDIA_PREFIX}{quote(entry.name)}",
            name=entry.name,
            title=f"{types[ext].split('/')[0]} {entry.name}",
            mime_type=types[ext],
            size=stat.st_size,
        )
        found.append((stat.st_mtime, resource))
    found.sort(key=lambda item: item[0], reverse=True)
    return [r for _, r in found[: C.MEDIA_RESOURCES_LISTED]]


class PoeServer(MCPServer[Any]):
    """``MCPServer`` whose resources include the media directory's files, listed live, and
    whose prompts refuse bad arguments with a clear error.

    Args:
        runtime: the server's shared state (settings: the media directory, the catalog).
        *args / **kwargs: as for ``MCPServer``.
    """

    def __init__(self, *args: Any, runtime: ServerRuntime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runtime = runtime
        self.add_resource(
            FunctionResource(
                uri=MODELS_URI,
                name="models",
                title="Models",
                description="The provider's models that can chat: capabilities and prices.",
                mime_type="application/json",
                fn=self._models_json,
            )
        )

    async def _models_json(self) -> str:
        catalog = await self._runtime.catalog()
        try:
            models = await catalog.search()
        except PoeError as exc:
            raise ResourceError(str(exc)) from None
        body = {
            "provider": self._runtime.settings.provider,
            "source": catalog.source,
            "models": [m.to_dict() for m in models],
        }
        return json.dumps(body, ensure_ascii=False)

    def _media_dir(self) -> Path:
        return media_directory(self._runtime.settings)

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        context: Context[Any, Any] | None = None,
    ) -> Any:
        """``prompts/get``, with the arguments checked first (see ``prompts.py``)."""
        from .prompts import check_prompt_arguments

        check_prompt_arguments(await self.list_prompts(), name, arguments)
        return await super().get_prompt(name, arguments, context)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        """``tools/call``; a tool this server does not expose is refused with what to call
        instead (the group that enables it, the tool an earlier Poe MCP server's name maps
        to, or "did you mean"), not the SDK's bare "Unknown tool"."""
        if self._tool_manager.get_tool(name) is None:
            from mcp.server.mcpserver.exceptions import ToolError

            from ._arguments import unknown_tool_error
            from ._guard import render_error

            raise ToolError(render_error(unknown_tool_error(name, self._runtime.tools)))
        return await super().call_tool(name, arguments, context)

    async def list_resources(self) -> list[MCPResource]:
        """The registered resources and every saved media file."""
        listed = await super().list_resources()
        return [*listed, *await anyio.to_thread.run_sync(_listing, self._media_dir())]

    async def read_resource(
        self, uri: Any, context: Context[Any, Any] | None = None
    ) -> Iterable[ReadResourceContents] | Any:
        """A registered resource, or a saved media file by its ``poe-media://`` URI."""
        text = str(uri)
        if not text.startswith(MEDIA_PREFIX):
            return await super().read_resource(uri, context)
        name = unquote(text[len(MEDIA_PREFIX) :])
        try:
            path, mime = media_file(self._media_dir(), name)
        except PoeError as exc:
            raise ResourceNotFoundError(str(exc)) from None
        size = (await anyio.Path(path).stat()).st_size
        if size > C.MEDIA_RESOURCE_MAX_BYTES:
            where = "GET /media/<name> over HTTP" if self._runtime.transport == "http" else path
            raise ResourceError(
                f"{name} is {size} bytes, more than one MCP message carries "
                f"({C.MEDIA_RESOURCE_MAX_BYTES}): fetch it from {where}"
            )
        data = await anyio.Path(path).read_bytes()
        return [ReadResourceContents(content=data, mime_type=mime)]


def media_download(
    runtime: ServerRuntime, token: str | None
) -> Callable[[Request], Awaitable[Response]]:
    """The ``GET /media/<name>`` handler: a saved file, for a request with the bearer token."""

    async def download(request: Request) -> Response:
        if token is not None:
            header = request.headers.get("authorization", "")
            given = header[7:] if header[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(given.encode(), token.encode()):
                return JSONResponse(
                    {"error": "invalid_token", "error_description": "Authentication required"},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
        name = str(request.path_params.get("name", ""))
        try:
            path, mime = media_file(media_directory(runtime.settings), name)
        except PoeError as exc:
            return JSONResponse(exc.to_dict(), status_code=404)
        return FileResponse(
            path,
            media_type=mime,
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
        )

    return download
