"""Model-bound objects: a model name plus default options, as ``llm.get_model()`` offers.

::

    model = client.model("Claude-Sonnet-4", temperature=0.7)   # defaults for every call
    result = await model.invoke("Explain GCRA", max_tokens=200)  # per-call options win
    result.text, result.model, result.usage.input_tokens, result.usage.output_tokens
    async for delta in model.stream("Count to five"):
        print(delta.text, end="")                               # the last delta has .result
    chat = model.conversation(system="Be brief")
    await chat.ask("Hi"); await chat.ask("And again?")          # one stored session

:class:`AsyncModel` comes from :meth:`AsyncPoeClient.model`; :class:`Model`, its blocking twin
with the same typed signatures, from :meth:`PoeClient.model`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Unpack

from .conversation import Conversation, UserInput

if TYPE_CHECKING:
    from ._messages import MessagesInput
    from ._sync_client import PoeClient
    from .client import AsyncPoeClient
    from .store.base import Message, SessionStore, Store
    from .types import ChatOptions, ChatResult, Delta

__all__ = ["AsyncModel", "AsyncModelConversation", "Model", "ModelConversation"]


def _checked_defaults(name: object, defaults: ChatOptions) -> None:
    """Refuse a bad name, an unknown option or a wrong type now, not at the first call."""
    from ._options import check_chat_options, check_model_name
    from .types import ChatOptions

    check_model_name(name)
    unknown = sorted(set(defaults) - set(ChatOptions.__annotations__))
    if unknown:
        raise TypeError(
            f"unknown chat option(s) {', '.join(unknown)}; the options are "
            f"{', '.join(sorted(ChatOptions.__annotations__))}"
        )
    check_chat_options(defaults)


def _merge(defaults: ChatOptions, options: ChatOptions) -> ChatOptions:
    """Per-call options over the defaults; a per-call None keeps the default."""
    merged: dict[str, Any] = dict(defaults)
    merged.update({k: v for k, v in options.items() if v is not None})
    return merged  # type: ignore[return-value]


class AsyncModel:
    """A model with default options, bound to an :class:`AsyncPoeClient`.

    Args:
        client: the client that sends every call.
        name: the model (e.g. ``Claude-Sonnet-4``).
        **defaults: chat options used by every call unless the call gives its own.
    """

    def __init__(self, client: AsyncPoeClient, name: str, **defaults: Unpack[ChatOptions]) -> None:
        _checked_defaults(name, defaults)
        self.client = client
        self.name = name
        self.defaults: ChatOptions = defaults

    def __repr__(self) -> str:
        return f"AsyncModel({self.name!r}, defaults={sorted(self.defaults)})"

    async def invoke(
        self, messages_or_prompt: MessagesInput, **options: Unpack[ChatOptions]
    ) -> ChatResult:
        """One call; the result has ``text``, ``model``, ``usage``, ``cost``, ``latency_s``."""
        merged = _merge(self.defaults, options)
        return await self.client.chat(self.name, messages_or_prompt, **merged)

    async def stream(
        self, messages_or_prompt: MessagesInput, **options: Unpack[ChatOptions]
    ) -> AsyncIterator[Delta]:
        """Deltas as they arrive; the last one's ``result`` holds the assembled text and usage."""
        merged = _merge(self.defaults, options)
        async for delta in self.client.stream(self.name, messages_or_prompt, **merged):
            yield delta

    def conversation(
        self,
        session_id: str | None = None,
        *,
        system: str | None = None,
        store: Store | SessionStore | None = None,
    ) -> AsyncModelConversation:
        """A multi-turn conversation with this model (see :class:`~poe_mcp.Conversation`)."""
        return AsyncModelConversation(
            self,
            Conversation(session_id, store=store, system=system or self.defaults.get("system")),
        )


class AsyncModelConversation:
    """A :class:`~poe_mcp.Conversation` bound to one :class:`AsyncModel` and its client."""

    def __init__(self, model: AsyncModel, conversation: Conversation) -> None:
        self.model = model
        self.conversation = conversation

    @property
    def session_id(self) -> str | None:
        """The stored session's id (set by the first turn)."""
        return self.conversation.session_id

    def _merged(self, options: ChatOptions) -> ChatOptions:
        # The conversation holds the system prompt (its own, else the model's default): the
        # model's default must not override ``conversation(system=...)`` at every turn.
        # Its session is its own too: a model's default session_id is not this one's.
        defaults: ChatOptions = {
            k: v for k, v in self.model.defaults.items() if k not in ("system", "session_id")
        }  # type: ignore[assignment]
        return _merge(defaults, options)

    async def ask(self, message: UserInput, **options: Unpack[ChatOptions]) -> ChatResult:
        """One stored turn (see :meth:`Conversation.ask`)."""
        merged = self._merged(options)
        return await self.conversation.ask(self.model.client, self.model.name, message, **merged)

    async def stream(
        self, message: UserInput, **options: Unpack[ChatOptions]
    ) -> AsyncIterator[Delta]:
        """One stored turn, streamed (see :meth:`Conversation.stream`)."""
        merged = self._merged(options)
        async for delta in self.conversation.stream(
            self.model.client, self.model.name, message, **merged
        ):
            yield delta

    async def history(self) -> list[Message]:
        """The stored messages, oldest first."""
        return await self.conversation.history(self.model.client)

    async def reset(self) -> None:
        """Forget the conversation; the next turn starts a new session."""
        await self.conversation.reset(self.model.client)


class Model:
    """The blocking twin of :class:`AsyncModel` (same arguments, same results)."""

    def __init__(self, client: PoeClient, name: str, **defaults: Unpack[ChatOptions]) -> None:
        self.client = client
        self.aio = AsyncModel(client.aio, name, **defaults)

    def __repr__(self) -> str:
        return f"Model({self.name!r}, defaults={sorted(self.defaults)})"

    @property
    def name(self) -> str:
        return self.aio.name

    @property
    def defaults(self) -> ChatOptions:
        return self.aio.defaults

    def invoke(
        self, messages_or_prompt: MessagesInput, **options: Unpack[ChatOptions]
    ) -> ChatResult:
        """Like :meth:`AsyncModel.invoke`, blocking."""
        return self.client._run(self.aio.invoke(messages_or_prompt, **options))

    def stream(
        self, messages_or_prompt: MessagesInput, **options: Unpack[ChatOptions]
    ) -> Iterator[Delta]:
        """Like :meth:`AsyncModel.stream`, as a blocking iterator."""
        return self.client._iterate(self.aio.stream(messages_or_prompt, **options))

    def conversation(
        self,
        session_id: str | None = None,
        *,
        system: str | None = None,
        store: Store | SessionStore | None = None,
    ) -> ModelConversation:
        """Like :meth:`AsyncModel.conversation`, blocking."""
        return ModelConversation(
            self, self.aio.conversation(session_id, system=system, store=store)
        )


class ModelConversation:
    """The blocking twin of :class:`AsyncModelConversation`."""

    def __init__(self, model: Model, aio: AsyncModelConversation) -> None:
        self.model = model
        self.aio = aio

    @property
    def session_id(self) -> str | None:
        return self.aio.session_id

    def ask(self, message: UserInput, **options: Unpack[ChatOptions]) -> ChatResult:
        """Like :meth:`AsyncModelConversation.ask`, blocking."""
        return self.model.client._run(self.aio.ask(message, **options))

    def stream(self, message: UserInput, **options: Unpack[ChatOptions]) -> Iterator[Delta]:
        """Like :meth:`AsyncModelConversation.stream`, as a blocking iterator."""
        return self.model.client._iterate(self.aio.stream(message, **options))

    def history(self) -> list[Message]:
        return self.model.client._run(self.aio.history())

    def reset(self) -> None:
        self.model.client._run(self.aio.reset())
