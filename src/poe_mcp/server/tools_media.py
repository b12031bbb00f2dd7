"""The media tools: ``generate_image``, ``generate_video`` and ``generate_audio``.

Thin adapters over :func:`poe_mcp.media.generate_media`: progress notifications while the bot
works (media bots take minutes; clients cancel calls that stay silent), then the saved file as a
path, its URL, a resource link, and, for small images, the image itself so the assistant sees it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent
from pydantic import BaseModel, Field

from .. import _constants as C
from .registry import ToolRegistry
from .runtime import ServerRuntime
from .schemas import UsageOut

if TYPE_CHECKING:
    from ..types import MediaKind, MediaResult

__all__ = ["MediaOut", "register"]

Prompt = Annotated[str, Field(min_length=1)]
Params = Annotated[dict[str, Any] | None, Field(description="bot parameters")]
ImageModel = Annotated[
    str | None, Field(max_length=200, description=f"default {C.DEFAULT_IMAGE_MODEL}")
]
VideoModel = Annotated[
    str | None, Field(max_length=200, description=f"default {C.DEFAULT_VIDEO_MODEL}")
]
AudioModel = Annotated[
    str | None, Field(max_length=200, description=f"default {C.DEFAULT_AUDIO_MODEL}")
]


class MediaOut(BaseModel):
    # No docstring: it would be sent as the schema's description on every tools/list.
    # ``paths`` are on the server's machine; ``urls`` are the provider's.

    model: str
    paths: list[str]
    urls: list[str]
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


def _summary(result: MediaResult, out: MediaOut) -> str:
    lines = [f"Saved the {result.kind} to {path}" for path in result.paths] or [
        f"The {result.kind} is at {url} (not downloaded)" for url in result.urls
    ]
    lines.append(f"URL: {' '.join(result.urls)}")
    facts = [
        f"model: {result.model}",
        f"{result.media_type or 'type unknown'}, {_size(result.size_bytes)}",
        "cost: unknown" if result.cost is None else f"cost: ${result.cost:.4f}",
    ]
    if out.simulated:
        facts.append("SIMULATED (offline Poe simulator, not a real model)")
    lines.append(f"[{' · '.join(facts)}]")
    return "\n".join(lines)


async def _content(result: MediaResult, out: MediaOut, transport: str) -> list[ContentBlock]:
    blocks: list[ContentBlock] = [TextContent(type="text", text=_summary(result, out))]
    if out.inline:
        data = await anyio.Path(result.paths[0]).read_bytes()
        blocks.append(
            ImageContent(
                type="image",
                data=base64.b64encode(data).decode("ascii"),
                mime_type=result.media_type or "image/png",
            )
        )
    for path in result.paths:
        blocks.append(
            ResourceLink(
                type="resource_link",
                uri=Path(path).as_uri(),
                name=Path(path).name,
                title=f"{result.kind} by {result.model}",
                mime_type=result.media_type,
                size=result.size_bytes if len(result.paths) == 1 else None,
            )
        )
    # A client on another machine cannot open the server's files; the provider's URL it can.
    if transport == "http" or not result.paths:
        for url in result.urls:
            blocks.append(
                ResourceLink(
                    type="resource_link",
                    uri=url,
                    name=url.rsplit("/", 1)[-1] or result.kind,
                    mime_type=result.media_type,
                )
            )
    return blocks


async def _generate(
    runtime: ServerRuntime,
    ctx: Context,
    kind: MediaKind,
    prompt: str,
    model: str | None,
    params: dict[str, Any] | None,
) -> CallToolResult:
    # Imported on first use, like the client: start-up (initialize, tools/list) never needs it.
    from ..media import generate_media

    client = await runtime.client()
    count = 0

    async def report(elapsed: float, message: str) -> None:
        nonlocal count
        count += 1  # progress values must increase
        await ctx.report_progress(count, None, f"{message} ({int(elapsed)} s)")

    result = await generate_media(client, kind, prompt, model=model, params=params,
                                  on_progress=report)  # fmt: skip
    runtime.metrics.usage(
        result.model, result.usage.input_tokens, result.usage.output_tokens, result.cost
    )
    inline = (
        kind == "image"
        and len(result.paths) >= 1
        and (result.media_type or "").startswith("image/")
        and (result.size_bytes or 0) <= C.INLINE_IMAGE_MAX_BYTES
    )
    out = MediaOut(
        model=result.model,
        paths=list(result.paths),
        urls=list(result.urls),
        media_type=result.media_type,
        size_bytes=result.size_bytes,
        cost=result.cost,
        usage=UsageOut(**result.usage.to_dict()),
        inline=inline,
        simulated=runtime.simulated,
    )
    return CallToolResult(
        content=await _content(result, out, runtime.transport),
        structured_content=out.model_dump(mode="json"),
        _meta={"poe-mcp/simulated": out.simulated},
    )


def register(reg: ToolRegistry) -> None:
    """Add the media tools the registry wants."""
    runtime = reg.runtime

    async def generate_image(
        prompt: Prompt,
        ctx: Context,
        model: ImageModel = None,
        params: Params = None,
    ) -> Generated:
        return await _generate(runtime, ctx, "image", prompt, model, params)

    async def generate_video(
        prompt: Prompt,
        ctx: Context,
        model: VideoModel = None,
        params: Params = None,
    ) -> Generated:
        return await _generate(runtime, ctx, "video", prompt, model, params)

    async def generate_audio(
        prompt: Prompt,
        ctx: Context,
        model: AudioModel = None,
        params: Params = None,
    ) -> Generated:
        return await _generate(runtime, ctx, "audio", prompt, model, params)

    saved = "Returns the saved file's path and URL"
    reg.add(
        generate_image,
        title="Generate an image",
        description=f"Make an image with a Poe image bot. {saved}, and the image when small. "
        'params e.g. {"aspect":"16:9","quality":"high"}.',
        open_world=True,
    )
    reg.add(
        generate_video,
        title="Generate a video",
        description=f"Make a video with a Poe video bot (takes minutes). {saved}. "
        'params e.g. {"duration":8,"aspect":"9:16"}.',
        open_world=True,
    )
    reg.add(
        generate_audio,
        title="Generate audio",
        description=f"Make speech or audio with a Poe audio bot. {saved}. "
        'params e.g. {"voice":"Adam","format":"wav"}.',
        open_world=True,
    )
