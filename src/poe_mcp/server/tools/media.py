"""The media tools: ``generate_image``, ``generate_video`` and ``generate_audio``.

Thin adapters over :func:`poe_mcp.media.generate_media`: progress notifications while the bot
works (media bots take minutes; clients cancel calls that stay silent), then the saved file as a
path, its URL, a resource link, and, for small images, the image itself so the assistant sees it.
"""

# No `from __future__ import annotations`: each tool's model argument names its own default, and
# the SDK reads the arguments from the evaluated signature (as in ``prompts.py``).
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent
from pydantic import BaseModel, Field

from ... import _constants as C
from ..._money import format_usd
from .._progress import progress
from ..resources import MEDIA_PREFIX, media_directory, media_uri
from ..schemas import UsageOut
from ._base import ToolSpec, render, runtime, tool_result

if TYPE_CHECKING:
    from ...types import MediaKind, MediaResult
    from ..runtime import ServerRuntime

__all__ = ["TOOLS", "MediaOut", "generate_audio", "generate_image", "generate_video"]

Prompt = Annotated[str, Field(min_length=1, max_length=C.TOOL_MEDIA_PROMPT_MAX_CHARS)]
Params = Annotated[dict[str, Any] | None, Field(description="bot parameters")]


class MediaOut(BaseModel):
    # No docstring: it would be sent as the schema's description on every tools/list.
    # paths: on the server's machine. resources: poe://media/<file> (resources/read). urls:
    # where a client fetches each file: over HTTP this server's /media/<file> (bearer token),
    # else the provider's, or the resources when that was the in-process simulator.

    model: str
    paths: list[str]
    urls: list[str]
    resources: list[str]
    media_type: str | None
    size_bytes: int | None
    cost: float | None
    usage: UsageOut
    inline: bool
    simulated: bool


Generated = Annotated[CallToolResult, MediaOut]


def _size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    return f"{n} bytes" if n < 10_000 else f"{n / 1_000_000:.2f} MB"


def _base_url(ctx: Context) -> str | None:
    """This server's URL as the client reached it (HTTP only; the Host header is checked)."""
    try:
        request = getattr(ctx.request_context, "request", None)
    except ValueError:
        return None
    base = getattr(request, "base_url", None)
    return str(base).rstrip("/") if base else None


def _links(rt: "ServerRuntime", ctx: Context, result: "MediaResult") -> tuple[list[str], list[str]]:
    """(urls, resources) for the saved files: see MediaOut."""
    directory = media_directory(rt.settings)
    resources = [uri for p in result.paths if (uri := media_uri(p, directory))]
    if rt.transport == "http":
        base = _base_url(ctx)
        names = [uri[len(MEDIA_PREFIX) :] for uri in resources]
        downloads = [f"{base}{C.HTTP_MEDIA_PATH}/{name}" for name in names] if base else []
        # A remote client cannot reach an in-process simulator's URLs at all.
        return downloads or ([] if rt.simulated else list(result.urls)), resources
    if rt.simulated and resources:
        return resources, resources  # the in-process simulator's URLs die with this server
    return list(result.urls), resources


def _summary(result: "MediaResult", out: MediaOut, transport: str) -> str:
    if transport == "http" and out.resources:
        fetch = [u for u in out.urls if u not in out.resources]
        lines = [
            f"Saved the {result.kind} as {uri} (resources/read gives the bytes)"
            for uri in out.resources
        ]
        if fetch:
            lines.append(f"Download (send the bearer token): {' '.join(fetch)}")
    else:
        lines = [
            f"Saved the {result.kind} to {path}" + (f" ({uri})" if uri else "")
            for path, uri in zip(
                result.paths, out.resources or [""] * len(result.paths), strict=False
            )
        ] or [f"The {result.kind} is at {url} (not downloaded)" for url in out.urls]
        if out.urls and out.urls != out.resources:
            lines.append(f"URL: {' '.join(out.urls)}")
    facts = [
        f"model: {result.model}",
        f"{result.media_type or 'type unknown'}, {_size(result.size_bytes)}",
        f"cost: {format_usd(result.cost)}",
    ]
    return render("\n".join(lines), facts, simulated=out.simulated)


def _link(uri: str, name: str, result: "MediaResult", size: int | None = None) -> ResourceLink:
    return ResourceLink(
        type="resource_link",
        uri=uri,
        name=name,
        title=f"{result.kind} by {result.model}",
        mime_type=result.media_type,
        size=size,
    )


async def _content(result: "MediaResult", out: MediaOut, transport: str) -> list[ContentBlock]:
    blocks: list[ContentBlock] = [TextContent(type="text", text=_summary(result, out, transport))]
    if out.inline:
        data = await anyio.Path(result.paths[0]).read_bytes()
        blocks.append(
            ImageContent(
                type="image",
                data=base64.b64encode(data).decode("ascii"),
                mime_type=result.media_type or "image/png",
            )
        )
    one = result.size_bytes if len(result.paths) == 1 else None
    if transport == "http":
        # A client on another machine cannot open the server's files: the resources it can
        # read over MCP, and the download URLs with its token.
        for uri in [*out.resources, *(u for u in out.urls if u not in out.resources)]:
            blocks.append(_link(uri, uri.rsplit("/", 1)[-1] or result.kind, result, one))
        return blocks
    for path in result.paths:
        blocks.append(_link(Path(path).as_uri(), Path(path).name, result, one))
    if not result.paths:
        for url in out.urls:
            blocks.append(_link(url, url.rsplit("/", 1)[-1] or result.kind, result))
    return blocks


async def _generate(
    ctx: Context,
    kind: "MediaKind",
    prompt: str,
    model: str | None,
    params: dict[str, Any] | None,
) -> CallToolResult:
    # Imported on first use, like the client: start-up (initialize, tools/list) never needs it.
    from ...media import generate_media

    rt = runtime(ctx)
    client = await rt.client()
    async with progress(ctx, kind) as reporter:
        result = await generate_media(client, kind, prompt, model=model, params=params,
                                      on_progress=reporter.timed,
                                      download_policy=rt.download_policy)  # fmt: skip
    rt.metrics.usage(
        result.model, result.usage.input_tokens, result.usage.output_tokens, result.cost
    )
    inline = (
        kind == "image"
        and len(result.paths) >= 1
        and (result.media_type or "").startswith("image/")
        and (result.size_bytes or 0) <= C.INLINE_IMAGE_MAX_BYTES
    )
    urls, resources = _links(rt, ctx, result)
    out = MediaOut(
        model=result.model,
        paths=list(result.paths),
        urls=urls,
        resources=resources,
        media_type=result.media_type,
        size_bytes=result.size_bytes,
        cost=result.cost,
        usage=UsageOut(**result.usage.to_dict()),
        inline=inline,
        simulated=rt.simulated or result.simulated,
    )
    return tool_result(await _content(result, out, rt.transport), out)


def _tool(kind: "MediaKind", default: str) -> Callable[..., Awaitable[CallToolResult]]:
    """``generate_<kind>``: the media tools differ only in the kind and the default model."""

    async def tool(
        prompt: Prompt,
        ctx: Context,
        model: Annotated[
            str | None, Field(max_length=C.TOOL_BOT_MAX_CHARS, description=f"default {default}")
        ] = None,
        params: Params = None,
    ) -> Generated:
        return await _generate(ctx, kind, prompt, model, params)

    tool.__name__ = tool.__qualname__ = f"generate_{kind}"
    return tool


generate_image = _tool("image", C.DEFAULT_IMAGE_MODEL)
generate_video = _tool("video", C.DEFAULT_VIDEO_MODEL)
generate_audio = _tool("audio", C.DEFAULT_AUDIO_MODEL)


_SAVED = "returns it as a resource and a URL"
TOOLS = (
    ToolSpec(
        generate_image,
        title="Generate an image",
        description=f"Make an image with a Poe image bot; {_SAVED} (small ones inline too). "
        'params e.g. {"aspect":"16:9"}.',
        open_world=True,
    ),
    ToolSpec(
        generate_video,
        title="Generate a video",
        description=f"Make a video with a Poe video bot (takes minutes); {_SAVED}. "
        'params e.g. {"duration":8}.',
        open_world=True,
    ),
    ToolSpec(
        generate_audio,
        title="Generate audio",
        description=f"Make speech or audio with a Poe audio bot; {_SAVED}. "
        'params e.g. {"voice":"Adam"}.',
        open_world=True,
    ),
)
