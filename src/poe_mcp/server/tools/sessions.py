"""The session tools: ``clear_session`` and ``list_sessions``."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from ... import _constants as C
from ...sessions import validate_session_id
from ..schemas import ClearResult, SessionOut, SessionsResult
from ._base import ToolSpec, runtime, tool_result

__all__ = ["TOOLS", "clear_session", "list_sessions"]


async def clear_session(
    session_id: Annotated[str, Field(min_length=1, max_length=C.SESSION_ID_MAX_LEN)],
    ctx: Context,
) -> CallToolResult:
    store = await runtime(ctx).store()
    cleared = await store.sessions.delete(validate_session_id(session_id))
    text = (
        f"Session {session_id} cleared."
        if cleared
        else f"No session {session_id} (never existed, already cleared, or expired)."
    )
    return tool_result(text, ClearResult(session_id=session_id, cleared=cleared))


async def list_sessions(ctx: Context) -> CallToolResult:
    infos = await (await runtime(ctx).store()).sessions.list()
    sessions = [
        SessionOut(
            id=i.id, model=i.model, turns=i.turns, updated_at=i.updated_at, expires_at=i.expires_at
        )
        for i in infos[: C.LIST_SESSIONS_MAX]
    ]
    lines = [f"{len(infos)} live session(s), most recent first:"] if sessions else []
    lines += [f"- {s.id} ({s.model or '?'}, {s.turns} turn(s))" for s in sessions]
    return tool_result("\n".join(lines) or "No live sessions.", SessionsResult(sessions=sessions))


TOOLS = (
    ToolSpec(
        clear_session,
        title="Clear a session",
        description="Forget a conversation's history. Use when a session_id is done or astray.",
        destructive=True,
        idempotent=True,
    ),
    ToolSpec(
        list_sessions,
        title="List sessions",
        description="List live conversations (id, model, turns) to find a session_id to continue.",
        read_only=True,
    ),
)
