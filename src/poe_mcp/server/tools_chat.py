"""The chat tools: ``ask_poe``, ``ask_with_attachment`` and ``ask_poe_v2``."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from .. import _constants as C
from ._chat import run_turn
from .registry import ToolRegistry
from .schemas import AskResult

__all__ = ["register"]

Bot = Annotated[
    str,
    Field(min_length=1, max_length=200, description="Poe model, e.g. Claude-Sonnet-4, GPT-4.1"),
]
Prompt = Annotated[str, Field(min_length=1)]
SessionId = Annotated[
    str | None,
    Field(max_length=C.SESSION_ID_MAX_LEN, description="continue a conversation; omit for new"),
]
UseOpenAI = Annotated[bool, Field(description="REST API instead of the bot protocol")]
Answer = Annotated[CallToolResult, AskResult]

_ASK = (
    "Ask a Poe model (Claude, GPT, Gemini, Grok, Llama...) and get its answer. Use for a second "
    "opinion or a model you lack. Pass the returned session_id to continue the conversation."
)
_ATTACH = (
    "Like ask_poe, with local files (images, PDFs, text, audio) sent as real attachments. Use when "
    "the model must see a file; give absolute paths."
)
_V2 = (
    "Ask a Poe model with full control: system prompt, sampling, stop, bot params (e.g. "
    '{"thinking_budget":2048}, {"web_search":true}). stream=true reports partial text as progress.'
)


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
        use_openai_client: UseOpenAI = False,
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
        attachment_paths: Annotated[list[str], Field(min_length=1, max_length=C.MAX_ATTACHMENTS)],
        ctx: Context,
        session_id: SessionId = None,
        use_openai_client: UseOpenAI = False,
    ) -> Answer:
        # Imported on first use: it pulls in the backends, which start-up does not need.
        from .._messages import attachment_part

        parts: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
        parts.extend(attachment_part(path) for path in attachment_paths)
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
        system: str | None = None,
        max_tokens: Annotated[int | None, Field(ge=1, le=C.MAX_OUTPUT_TOKENS)] = None,
        temperature: Annotated[float | None, Field(ge=0, le=2)] = None,
        top_p: Annotated[float | None, Field(ge=0, le=1)] = None,
        stop: Annotated[list[str] | None, Field(max_length=C.MAX_STOP_SEQUENCES)] = None,
        stream: bool = False,
        params: Annotated[dict[str, Any] | None, Field(description="bot parameters")] = None,
        use_openai_client: bool = True,
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
                     "stop": stop},
            extra=params,
        )  # fmt: skip

    reg.add(ask_poe, title="Ask a Poe model", description=_ASK, open_world=True)
    reg.add(ask_with_attachment, title="Ask with files", description=_ATTACH, open_world=True)
    reg.add(ask_poe_v2, title="Ask (all options)", description=_V2, open_world=True)
