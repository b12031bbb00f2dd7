"""The chat tools: ``ask_poe``, ``ask_with_attachment`` and ``ask_poe_v2``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from .. import _constants as C
from ._chat import run_turn
from ._roots import ClientRoots
from .registry import ToolRegistry
from .schemas import AskResult

__all__ = ["register"]

Bot = Annotated[
    str,
    Field(
        min_length=1, max_length=C.TOOL_BOT_MAX_CHARS, description="Poe model, e.g. Claude-Sonnet-4"
    ),
]
Prompt = Annotated[str, Field(min_length=1, max_length=C.TOOL_PROMPT_MAX_CHARS)]
System = Annotated[str | None, Field(max_length=C.TOOL_SYSTEM_MAX_CHARS)]
Path = Annotated[str, Field(min_length=1, max_length=C.TOOL_PATH_MAX_CHARS)]
StopText = Annotated[str, Field(max_length=C.TOOL_STOP_MAX_CHARS)]
SessionId = Annotated[
    str | None,
    Field(max_length=C.SESSION_ID_MAX_LEN, description="to continue; omit for new"),
]
UseOpenAI = Annotated[bool | None, Field(description="false: bot protocol")]
Answer = Annotated[CallToolResult, AskResult]
Effort = Literal["low", "medium", "high"]

_ASK = (
    "Ask a Poe model (Claude, GPT, Gemini, Grok, Llama...): a second opinion, or a model you "
    "lack. Pass the returned session_id to continue."
)
_ATTACH = (
    "Like ask_poe, with local files (images, PDFs, text, audio) attached; absolute paths inside "
    "the server's configured roots."
)
_V2 = (
    'ask_poe with every option: system, sampling, stop, bot params (e.g. {"web_search":true}); '
    "stream=true reports partial text as progress."
)

_FORMAT = 'OpenAI shape: {"type":"json_object"|"json_schema",...}; validated into parsed'


def register(reg: ToolRegistry) -> None:
    """Add the chat tools the registry wants."""
    runtime = reg.runtime

    async def ask_poe(
        bot: Bot,
        prompt: Prompt,
        ctx: Context,
        session_id: SessionId = None,
        thinking: Annotated[
            int | None, Field(ge=0, le=C.THINKING_BUDGET_MAX, description="thinking budget, tokens")
        ] = None,
        use_openai_client: UseOpenAI = None,
    ) -> Answer:
        extra = {C.THINKING_PARAM: thinking} if thinking is not None else None
        return await run_turn(
            runtime,
            ctx,
            bot=bot,
            user_message={"role": "user", "content": prompt},
            session_id=session_id,
            backend=runtime.backend_for(use_openai_client, compat=True),
            extra=extra,
        )

    async def ask_with_attachment(
        bot: Bot,
        prompt: Prompt,
        attachment_paths: Annotated[list[Path], Field(min_length=1, max_length=C.MAX_ATTACHMENTS)],
        ctx: Context,
        session_id: SessionId = None,
        use_openai_client: UseOpenAI = None,
        client_roots: ClientRoots = None,
    ) -> Answer:
        # Only inside [tools] roots and the client's roots; never poe-mcp's own files.
        from ._attachments import attachment_parts

        parts: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
        parts.extend(await attachment_parts(runtime.settings, attachment_paths, client_roots))
        return await run_turn(
            runtime,
            ctx,
            bot=bot,
            user_message={"role": "user", "content": parts},
            session_id=session_id,
            backend=runtime.backend_for(use_openai_client, compat=True),
        )

    async def ask_poe_v2(
        bot: Bot,
        prompt: Prompt,
        ctx: Context,
        session_id: SessionId = None,
        system: System = None,
        max_tokens: Annotated[int | None, Field(ge=1, le=C.MAX_OUTPUT_TOKENS)] = None,
        temperature: Annotated[float | None, Field(ge=0, le=2)] = None,
        top_p: Annotated[float | None, Field(ge=0, le=1)] = None,
        stop: Annotated[list[StopText] | None, Field(max_length=C.MAX_STOP_SEQUENCES)] = None,
        stream: bool = False,
        params: Annotated[dict[str, Any] | None, Field(description="bot parameters")] = None,
        use_openai_client: UseOpenAI = None,
        response_format: Annotated[dict[str, Any] | None, Field(description=_FORMAT)] = None,
        stream_options: Annotated[
            dict[str, bool] | None, Field(description="include_usage; with stream")
        ] = None,
        fallbacks: Annotated[
            list[str] | None, Field(max_length=C.FALLBACKS_MAX, description="tried if bot fails")
        ] = None,
        reasoning_effort: Annotated[
            Effort | Annotated[int, Field(ge=0)] | None, Field(description="or a token budget")
        ] = None,
    ) -> Answer:
        return await run_turn(
            runtime,
            ctx,
            bot=bot,
            user_message={"role": "user", "content": prompt},
            session_id=session_id,
            system=system,
            backend=runtime.backend_for(use_openai_client, compat=False),
            stream=stream,
            options={"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p,
                     "stop": stop, "response_format": response_format,
                     "stream_options": stream_options, "fallbacks": fallbacks,
                     "reasoning_effort": reasoning_effort},
            extra=params,
        )  # fmt: skip

    reg.add(ask_poe, title="Ask a Poe model", description=_ASK, open_world=True)
    reg.add(ask_with_attachment, title="Ask with files", description=_ATTACH, open_world=True)
    reg.add(ask_poe_v2, title="Ask (all options)", description=_V2, open_world=True)
