"""Conversations over the session store: one history per ``session_id``.

A turn is two steps. :meth:`Conversations.prepare` loads the history (creating a UUID when the
caller gave none), keeps the system prompt first, adds the new user message and trims the oldest
turns so the request fits the model's context window. :meth:`Conversations.commit` appends the
user message and the answer together once the model has answered, so a failed or cancelled call
leaves the conversation exactly as it was. Expiry (idle time) is the store's job: every commit
renews it, and an expired session reads as absent.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _constants as C
from ._tokens import message_tokens
from .errors import InvalidRequestError, SessionNotFoundError, TooLargeError
from .store.base import Message, Session, SessionInfo, SessionStore

__all__ = [
    "Conversations",
    "Turn",
    "is_new_session",
    "new_session_id",
    "validate_session_id",
]

_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


def new_session_id() -> str:
    """A fresh random session id (a UUID4 string)."""
    return str(uuid.uuid4())


def is_new_session(session_id: str | None) -> bool:
    """True when ``session_id`` asks for a new conversation: None, empty, or ``"new"``."""
    return session_id is None or session_id.strip().lower() in ("", C.NEW_SESSION)


def validate_session_id(session_id: str) -> str:
    """Return ``session_id`` stripped, or raise ``invalid_request`` when it is unusable."""
    value = session_id.strip()
    if not value or len(value) > C.SESSION_ID_MAX_LEN or not _SESSION_ID.match(value):
        raise InvalidRequestError(
            f"session_id must be 1-{C.SESSION_ID_MAX_LEN} characters of letters, digits, '.', '_', "
            "':' or '-' (omit it, or pass \"new\", to start a new conversation)"
        )
    return value


def _history_form(message: Message) -> Message:
    """What the store keeps of a user message: big inline attachments become a short note.

    Keeping every image or PDF as base64 would bloat the store and resend megabytes each turn;
    small ones are kept so follow-up questions about them still work.
    """
    content = message.get("content")
    if not isinstance(content, list):
        return message
    parts: list[Any] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") in ("image_url", "file", "input_audio"):
            size = len(json.dumps(part))
            if size > C.HISTORY_ATTACHMENT_MAX_BYTES:
                name = _attachment_name(part)
                parts.append(
                    {"type": "text", "text": f"[attachment {name} was sent in an earlier turn]"}
                )
                continue
        parts.append(part)
    return {**message, "content": parts}


def _attachment_name(part: dict[str, Any]) -> str:
    if part.get("type") == "file":
        inner = part.get("file") or {}
        return str(inner.get("filename") or "file")
    return "image" if part.get("type") == "image_url" else "audio"


@dataclass(slots=True)
class Turn:
    """One prepared turn.

    Attributes:
        session_id: the conversation (new or existing).
        messages: what to send to the model: system first, trimmed history, the new message.
        new_messages: what :meth:`Conversations.commit` stores before the answer.
        is_new: True when the conversation starts with this turn (never existed or expired).
        history_messages: how many stored messages were sent along.
        trimmed_messages: how many of the oldest stored messages were left out to fit.
        tools: the tool definitions stored with the conversation (an agent's caller's).
    """

    session_id: str
    messages: list[Message]
    new_messages: list[Message] = field(default_factory=list)
    is_new: bool = True
    history_messages: int = 0
    trimmed_messages: int = 0
    tools: list[dict[str, Any]] | None = None


class Conversations:
    """Session logic over a :class:`~poe_mcp.store.base.SessionStore`.

    Args:
        store: where histories live (memory, SQLite, Redis).
        ttl_s: idle seconds after which a conversation expires.
    """

    def __init__(self, store: SessionStore, *, ttl_s: float = C.SESSION_TTL_S) -> None:
        self.store = store
        self.ttl_s = ttl_s

    async def prepare(
        self,
        session_id: str | None,
        user_message: Message,
        *,
        system: str | None = None,
        context_window: int = C.DEFAULT_CONTEXT_WINDOW,
        max_output_tokens: int | None = None,
        create: bool = False,
    ) -> Turn:
        """Build the messages for one turn.

        Args:
            session_id: the conversation to continue; None (or ``"new"``) starts a new one
                with a fresh UUID. An id that names no live conversation is an error, never
                a fresh conversation under that id.
            user_message: the new OpenAI-format user message.
            system: a system prompt. Stored with a new conversation; on a later turn a different
                one is added to the history (the model sees when the instructions changed).
            context_window: the model's window in tokens.
            max_output_tokens: tokens to keep free for the answer.
            create: start a new conversation under ``session_id`` when it names none (a name
                of your choosing); without it an unknown id is an error.

        Raises:
            InvalidRequestError: the session id is malformed.
            SessionNotFoundError: the session does not exist or has expired.
            TooLargeError: the new message (with the system prompt) alone exceeds the window.
        """
        if create and not is_new_session(session_id):
            sid = validate_session_id(str(session_id))
            stored = await self.store.get(sid)
        else:
            stored = await self.load(session_id)
            sid = stored.id if stored is not None else new_session_id()
        history: list[Message] = list(stored.messages) if stored else []

        new_messages: list[Message] = []
        current_system = _last_system(history)
        if system is not None and system.strip() and system != current_system:
            new_messages.append({"role": "system", "content": system})
        new_messages.append(_history_form(user_message))

        reserve = max_output_tokens or C.OUTPUT_TOKEN_RESERVE
        budget = max(context_window - reserve, context_window // 2)
        sent_history, trimmed = _fit(history, [*new_messages[:-1], user_message], budget)
        return Turn(
            session_id=sid,
            messages=[*sent_history, *new_messages[:-1], user_message],
            new_messages=new_messages,
            is_new=stored is None,
            history_messages=len(sent_history),
            trimmed_messages=trimmed,
            tools=stored.tools if stored else None,
        )

    async def load(self, session_id: str | None) -> Session | None:
        """The live conversation ``session_id`` names; None for a new one (None or ``"new"``).

        Raises:
            InvalidRequestError: the session id is malformed.
            SessionNotFoundError: the session does not exist or has expired.
        """
        if is_new_session(session_id):
            return None
        assert session_id is not None
        sid = validate_session_id(session_id)
        stored = await self.store.get(sid)
        if stored is None:
            raise SessionNotFoundError(sid, ttl_s=self.ttl_s)
        return stored

    async def commit(
        self,
        turn: Turn,
        answer: Message | Sequence[Message],
        *,
        model: str | None = None,
        backend: str | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> None:
        """Store the turn's new messages and the model's answer, renewing the expiry.

        ``answer`` is the assistant's message, or an agent's messages (tool calls, results,
        the answer); ``tools``, when given, replaces the stored tool definitions.
        """
        answers = [answer] if isinstance(answer, dict) else list(answer)
        await self.store.extend(
            turn.session_id,
            [*turn.new_messages, *answers],
            model=model,
            backend=backend,
            ttl_s=self.ttl_s,
            tools=tools,
        )

    async def clear(self, session_id: str) -> bool:
        """Forget a conversation; False when there was none (or it had expired)."""
        return await self.store.delete(validate_session_id(session_id))

    async def list(self) -> list[SessionInfo]:
        """Live conversations, most recently used first."""
        return await self.store.list()


def _last_system(history: Sequence[Message]) -> str | None:
    for message in reversed(history):
        if message.get("role") == "system" and isinstance(message.get("content"), str):
            return str(message["content"])
    return None


def _fit(history: list[Message], new: list[Message], budget: int) -> tuple[list[Message], int]:
    """Keep system messages and the newest turns of ``history`` that fit in ``budget`` tokens."""
    needed = sum(message_tokens(m) for m in new)
    systems = [m for m in history if m.get("role") == "system"]
    # Only the latest system prompt matters once older turns are dropped.
    kept_system = systems[-1:] if systems else []
    needed += sum(message_tokens(m) for m in kept_system)
    if needed > budget:
        raise TooLargeError(
            f"the message needs about {needed} tokens but the model's context window leaves "
            f"{budget}: shorten the prompt or attachments, or pick a model with a larger window"
        )
    total = sum(message_tokens(m) for m in history)
    if total + needed - sum(message_tokens(m) for m in kept_system) <= budget:
        return list(history), 0

    others = [m for m in history if m.get("role") != "system"]
    kept: list[Message] = []
    used = needed
    for message in reversed(others):
        cost = message_tokens(message)
        if used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    # Start at a user turn so no answer or tool result is left without its question.
    while kept and kept[0].get("role") != "user":
        kept.pop(0)
    return [*kept_system, *kept], len(others) - len(kept) + len(systems) - len(kept_system)
