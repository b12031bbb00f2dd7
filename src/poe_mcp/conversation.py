"""A conversation with a model, kept in the session store: one turn is one unit.

::

    conversation = Conversation()                      # a new session on the first ask
    result = await conversation.ask(client, "Claude-Sonnet-4", "Write a haiku")
    result = await conversation.ask(client, "GPT-4.1", "Now in French")   # same history
    async for delta in conversation.stream(client, "GPT-4.1", "Shorter"):
        ...                                            # the last delta carries the result
    await conversation.reset()                         # forget it; the next ask starts afresh

Each turn loads the history, fits it to the model's context window (the catalog's figure, the
system prompt kept), calls the model and stores the user message with the answer, in that order
and only once the answer is complete: a failed or cancelled call (Ctrl-C, a broken stream) leaves
the stored conversation exactly as it was. What is stored is the answer the client assembled
(``ChatResult.text``), so the bot protocol's ``replace`` events can never leave a stale prefix in
the history. The policy lives in :class:`~poe_mcp.sessions.Conversations`; this class binds it
to one session and one store.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Unpack

from . import _constants as C
from ._options import check_chat_call
from .errors import PoeError
from .sessions import Conversations, Turn, is_new_session, validate_session_id

if TYPE_CHECKING:
    from .client import AsyncPoeClient
    from .store.base import Message, SessionStore, Store
    from .types import ChatOptions, ChatResult, Delta

__all__ = ["Conversation", "UserInput"]

# A turn's user input: a prompt, or one OpenAI-format user message (content parts may hold
# bytes and paths, sent as attachments).
UserInput = str | Mapping[str, Any]


class Conversation:
    """One stored conversation, continued turn by turn with any model.

    Args:
        session_id: the conversation to continue; None (or ``"new"``) starts a new one (its
            id, a UUID, is set by the first :meth:`ask`). An id that does not exist, or has
            expired, is an error at the next turn (``SessionNotFoundError``), never a silent
            fresh start.
        store: where the history lives: a ``Store`` (its ``sessions``) or a ``SessionStore``.
            None uses the client's store (the ``POE_MCP_STORE`` one, SQLite by default), or an
            in-memory one when the client keeps none (``store=False``).
        system: a system prompt for every turn (a per-call ``system=`` replaces it).
        ttl_s: idle seconds before the conversation expires (default: the settings').

    Attributes:
        system: the system prompt of every turn.
        last_turn: the last turn stored: its session, whether it started the conversation
            (``is_new``), how many stored messages were sent along (``history_messages``) and
            how many were left out to fit the window (``trimmed_messages``).
    """

    def __init__(
        self,
        session_id: str | None = None,
        *,
        store: Store | SessionStore | None = None,
        system: str | None = None,
        ttl_s: float | None = None,
    ) -> None:
        if session_id is not None and not isinstance(session_id, str):
            raise TypeError(f"session_id takes a string or None, not {type(session_id).__name__}")
        self._session_id = None if is_new_session(session_id) else session_id
        if self._session_id is not None:
            self._session_id = validate_session_id(self._session_id)
        _check_store(store)
        if system is not None and not isinstance(system, str):
            raise TypeError(f"system takes a string or None, not {type(system).__name__}")
        if ttl_s is not None:
            from ._options import check_seconds

            check_seconds("ttl_s", ttl_s)
        self._store_arg = store
        self._conversations: Conversations | None = None
        self.system = system
        self._ttl_s = ttl_s
        self.last_turn: Turn | None = None

    def __repr__(self) -> str:
        return f"Conversation(session_id={self._session_id!r})"

    @property
    def session_id(self) -> str | None:
        """The session's id; None until the first turn of a new conversation."""
        return self._session_id

    async def _bind(self, client: AsyncPoeClient | None) -> Conversations:
        if self._conversations is not None:
            return self._conversations
        sessions: Any = self._store_arg
        if sessions is not None and hasattr(sessions, "sessions"):
            sessions = sessions.sessions
        if sessions is None and client is not None:
            store = await client.get_store()
            sessions = store.sessions if store is not None else None
        if sessions is None:
            from .store.memory import MemoryStore

            sessions = MemoryStore().sessions
        ttl = self._ttl_s
        if ttl is None:
            ttl = client.settings.session_ttl_s if client is not None else float(C.SESSION_TTL_S)
        self._conversations = Conversations(sessions, ttl_s=ttl)
        return self._conversations

    @asynccontextmanager
    async def _sessions(self, client: AsyncPoeClient | None) -> AsyncIterator[Conversations]:
        """Where this conversation lives, for :meth:`history` and :meth:`reset`.

        Bound (by a turn, ``store=`` or ``client``): that store. Else nothing says where yet:
        the settings' store, where a client would keep it (``POE_MCP_STORE``, SQLite by
        default), opened for this one call; never a throwaway in-memory store, which would
        read as empty and then hold the conversation to it.
        """
        if self._conversations is not None or self._store_arg is not None or client is not None:
            yield await self._bind(client)
            return
        from .config import Settings
        from .store import open_store_async

        settings = Settings.load()
        store = await open_store_async(settings.store_url)
        try:
            ttl = settings.session_ttl_s if self._ttl_s is None else self._ttl_s
            yield Conversations(store.sessions, ttl_s=ttl)
        finally:
            await store.aclose()

    async def _prepare(
        self,
        client: AsyncPoeClient,
        model: str,
        message: UserInput,
        options: dict[str, Any],
    ) -> tuple[Turn, dict[str, Any]]:
        _check_client(client)
        check_chat_call(model, options, " of Conversation.ask / stream")
        sid = options.pop("session_id", None)
        if sid is not None and sid != self._session_id:
            raise TypeError(
                f"session_id={sid!r} is not this conversation's session "
                f"({self._session_id or 'new'}): a Conversation is one session; continue "
                f"another with Conversation({sid!r})"
            )
        conversations = await self._bind(client)
        system = options.pop("system", None)
        system = self.system if system is None else system
        user = _user_message(message, options.pop("attachments", None))
        turn = await conversations.prepare(
            self._session_id,
            user,
            system=system,
            context_window=await _context_window(client, model),
            max_output_tokens=options.get("max_tokens"),
        )
        return turn, {**options, "session_id": turn.session_id}

    async def _commit(self, turn: Turn, result: ChatResult) -> None:
        answer: Message = {"role": "assistant", "content": result.text}
        await self._store(turn, answer, model=result.model, backend=result.backend)

    async def _agent_turn(
        self,
        client: AsyncPoeClient,
        model: str,
        message: UserInput | None,
        system: str | None,
        max_output_tokens: int | None = None,
    ) -> Turn:
        """Where an :class:`~poe_mcp.Agent` run starts (see ``Agent.run(conversation=...)``).

        A message makes a new turn, fitted to ``model``'s window like :meth:`ask` (keeping
        ``max_output_tokens`` free); None is the stored conversation as it stands, to answer
        its pending tool calls.
        """
        conversations = await self._bind(client)
        if message is not None:
            return await conversations.prepare(
                self._session_id,
                _user_message(message, None),
                system=self.system if system is None else system,
                context_window=await _context_window(client, model),
                max_output_tokens=max_output_tokens,
            )
        if self._session_id is None:
            from .errors import InvalidRequestError

            raise InvalidRequestError(
                "tool_results need the session_id of the conversation whose calls they answer"
            )
        stored = await conversations.load(self._session_id)
        assert stored is not None  # an id is set: load raises SessionNotFoundError instead
        return Turn(
            stored.id,
            list(stored.messages),
            is_new=False,
            history_messages=len(stored.messages),
            tools=stored.tools,
        )

    async def _store(
        self,
        turn: Turn,
        added: Message | list[Message],
        *,
        model: str,
        backend: str | None,
        tools: list[dict[str, Any]] | None = None,
    ) -> None:
        """Store ``turn`` with what the model added: its answer, or an agent run's messages
        (with the caller's tool definitions)."""
        conversations = await self._bind(None)
        await conversations.commit(turn, added, model=model, backend=backend, tools=tools)
        self._session_id = turn.session_id
        self.last_turn = turn

    async def ask(
        self,
        client: AsyncPoeClient,
        model: str,
        message: UserInput,
        **options: Unpack[ChatOptions],
    ) -> ChatResult:
        """One turn: load, fit to ``model``'s context window, call, store; the answer.

        Args:
            client: the client that sends the request (and, by default, holds the store).
            model: the model for this turn (each turn may use another one).
            message: the prompt, or a user message (content parts, attachments).
            **options: chat options (``system``, ``temperature``, ``max_tokens``,
                ``attachments``...), as :meth:`AsyncPoeClient.chat`.

        Raises:
            SessionNotFoundError: the session does not exist (any more).
            TooLargeError: the message alone does not fit the model's context window.
            PoeError: what the call raised; nothing is stored then.
        """
        turn, call = await self._prepare(client, model, message, dict(options))
        result = await client.chat(model, turn.messages, **call)
        await self._commit(turn, result)
        return result

    async def stream(
        self,
        client: AsyncPoeClient,
        model: str,
        message: UserInput,
        **options: Unpack[ChatOptions],
    ) -> AsyncGenerator[Delta, None]:
        """Like :meth:`ask`, streamed: deltas, then one whose ``result`` is the whole answer.

        The turn is stored before the last delta is yielded; a stream abandoned or broken
        before it stores nothing. Render the text from ``delta.replace``-aware accumulation
        or simply from the final ``result.text``.
        """
        turn, call = await self._prepare(client, model, message, dict(options))
        async for delta in client.stream(model, turn.messages, **call):
            if delta.result is not None:
                await self._commit(turn, delta.result)
            yield delta

    async def history(self, client: AsyncPoeClient | None = None) -> list[Message]:
        """The stored messages (system prompts, questions, answers), oldest first; [] for a
        new conversation (no turn yet).

        Args:
            client: the client whose store holds it (needed only when the conversation was
                given neither a ``store`` nor a turn yet; without one, the settings' store).

        Raises:
            SessionNotFoundError: the session does not exist (any more).
        """
        if self._session_id is None:
            return []
        async with self._sessions(client) as conversations:
            session = await conversations.load(self._session_id)
        return list(session.messages) if session is not None else []

    async def reset(self, client: AsyncPoeClient | None = None) -> None:
        """Forget the stored conversation; the next turn starts a new one (a new id).

        Forgetting one that has already expired (or was reset elsewhere) is not an error.
        ``client``: as :meth:`history`.
        """
        if self._session_id is not None:
            async with self._sessions(client) as conversations:
                await conversations.clear(self._session_id)
        self._session_id = None


def _check_client(client: object) -> None:
    from ._client import AsyncPoeClient

    if not isinstance(client, AsyncPoeClient):
        hint = (
            ": the blocking PoeClient's conversations are client.model(name).conversation()"
            if type(client).__name__ == "PoeClient"
            else ""
        )
        raise TypeError(f"client takes an AsyncPoeClient, not {type(client).__name__}{hint}")


def _check_store(store: object) -> None:
    if store is None or hasattr(store, "sessions"):
        return
    if not all(hasattr(store, name) for name in ("get", "extend", "delete")):
        raise TypeError(
            "store takes a Store (poe_mcp.store.open_store(url)) or a SessionStore, not "
            f"{type(store).__name__}"
        )


def _user_message(message: UserInput, attachments: Any) -> Message:
    from ._messages import build_messages

    if not isinstance(message, str | Mapping):
        raise TypeError(
            "a conversation turn takes a prompt (a string) or one user message (a dict), not "
            f"{type(message).__name__}: the history is the conversation's own"
        )
    source: Any = message if isinstance(message, str) else [dict(message)]
    user: Message = build_messages(source, attachments=attachments)[-1]
    if user.get("role") != "user":
        from .errors import InvalidRequestError

        raise InvalidRequestError("a conversation turn takes a prompt or a user message")
    return user


async def _context_window(client: AsyncPoeClient, model: str) -> int:
    """The model's window from the client's catalog; the default when unknown or unreachable."""
    catalog = client.catalog
    if catalog is None:
        return C.DEFAULT_CONTEXT_WINDOW
    try:
        return await catalog.context_window(model)
    except PoeError:
        # An unreachable catalog must not block the turn: the call itself gives the real error.
        return C.DEFAULT_CONTEXT_WINDOW
