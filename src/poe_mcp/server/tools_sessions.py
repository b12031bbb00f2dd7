"""The session tools: ``clear_session`` and ``list_sessions``."""

from __future__ import annotations

from typing import Annotated

from mcp_types import CallToolResult, TextContent
from pydantic import Field

from .. import _constants as C
from .registry import ToolRegistry
from .schemas import ClearResult, SessionOut, SessionsResult

__all__ = ["register"]


def register(reg: ToolRegistry) -> None:
    """Add the session tools the registry wants."""
    runtime = reg.runtime

    async def clear_session(
        session_id: Annotated[str, Field(min_length=1, max_length=C.SESSION_ID_MAX_LEN)],
    ) -> Annotated[CallToolResult, ClearResult]:
        cleared = await (await runtime.conversations()).clear(session_id)
        out = ClearResult(session_id=session_id, cleared=cleared)
        text = (
            f"Session {session_id} cleared."
            if cleared
            else f"No session {session_id} (never existed, already cleared, or expired)."
        )
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=out.model_dump(mode="json"),
        )

    async def list_sessions() -> Annotated[CallToolResult, SessionsResult]:
        infos = await (await runtime.conversations()).list()
        sessions = [
            SessionOut(
                id=i.id,
                model=i.model,
                turns=i.turns,
                updated_at=i.updated_at,
                expires_at=i.expires_at,
            )
            for i in infos[: C.LIST_SESSIONS_MAX]
        ]
        if sessions:
            lines = [f"{len(infos)} live session(s), most recent first:"]
            lines += [f"- {s.id} ({s.model or '?'}, {s.turns} turn(s))" for s in sessions]
            text = "\n".join(lines)
        else:
            text = "No live sessions."
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=SessionsResult(sessions=sessions).model_dump(mode="json"),
        )

    reg.add(
        clear_session,
        title="Clear a session",
        description="Forget a conversation's history. Use when a session_id is done or astray.",
        destructive=True,
        idempotent=True,
    )
    reg.add(
        list_sessions,
        title="List sessions",
        description="List live conversations (id, model, turns) to find a session_id to continue.",
        read_only=True,
    )
