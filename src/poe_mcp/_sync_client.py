"""The blocking client: :class:`AsyncPoeClient` on a private event loop in a background thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from ._client import AsyncPoeClient, ClientOptions
from ._policy import aclose_stream

if TYPE_CHECKING:
    from ._messages import MessagesInput
    from ._model import Model
    from .multi import Comparison, Consensus, Stance
    from .types import ChatOptions, ChatResult, Delta, MediaOptions, MediaResult

__all__ = ["PoeClient"]

T = TypeVar("T")


async def _next(source: AsyncIterator[Delta]) -> Delta:
    return await anext(source)


class PoeClient:
    """The blocking client, for scripts and the CLI: same arguments and methods as
    :class:`AsyncPoeClient`, run on a private event loop in a background thread.

    Safe to call from code that has its own event loop running (it never nests loops), and
    usable as a context manager; call :meth:`close` (or leave the ``with`` block) when done.
    """

    def __init__(self, api_key: str | None = None, **options: Unpack[ClientOptions]) -> None:
        self.aio = AsyncPoeClient(api_key, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="poe-mcp-client", daemon=True
        )
        self._thread.start()

    def __repr__(self) -> str:
        return f"PoeClient({self.aio!r})"

    def __enter__(self) -> PoeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("PoeClient called from its own event loop: use AsyncPoeClient")
        if self._loop.is_closed():
            coro.close()
            raise RuntimeError("this PoeClient is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def chat(
        self, model: str, messages_or_prompt: MessagesInput, **options: Unpack[ChatOptions]
    ) -> ChatResult:
        """Like :meth:`AsyncPoeClient.chat`, blocking."""
        return self._run(self.aio.chat(model, messages_or_prompt, **options))

    def stream(
        self, model: str, messages_or_prompt: MessagesInput, **options: Unpack[ChatOptions]
    ) -> Iterator[Delta]:
        """Like :meth:`AsyncPoeClient.stream`, as a blocking iterator."""
        return self._iterate(self.aio.stream(model, messages_or_prompt, **options))

    def model(self, name: str, **defaults: Unpack[ChatOptions]) -> Model:
        """A model-bound object (see :meth:`AsyncPoeClient.model`), blocking."""
        from ._model import Model

        return Model(self, name, **defaults)

    def _iterate(self, source: AsyncIterator[Delta]) -> Iterator[Delta]:
        """An async iterator of deltas, consumed on the background loop, as a blocking one."""
        try:
            while True:
                try:
                    item = self._run(_next(source))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            if not self._loop.is_closed():
                self._run(aclose_stream(source))

    def compare(
        self, prompt: MessagesInput, models: Sequence[str], **options: Unpack[ChatOptions]
    ) -> Comparison:
        """Like :func:`poe_mcp.compare` (every model at once), blocking."""
        from .multi import compare

        return self._run(compare(self.aio, prompt, models, **options))

    def consensus(
        self,
        prompt: MessagesInput,
        models: Sequence[str],
        *,
        stances: Sequence[Stance | None] | Mapping[str, Stance] | None = None,
        synthesizer: str | None = None,
        **options: Unpack[ChatOptions],
    ) -> Consensus:
        """Like :func:`poe_mcp.consensus` (a panel, then a verdict), blocking."""
        from .multi import consensus

        call = consensus(
            self.aio, prompt, models, stances=stances, synthesizer=synthesizer, **options
        )
        return self._run(call)

    def list_models(self) -> list[dict[str, Any]]:
        """Like :meth:`AsyncPoeClient.list_models`, blocking."""
        return self._run(self.aio.list_models())

    def rate_limit_status(self) -> dict[str, Any]:
        """Like :meth:`AsyncPoeClient.rate_limit_status`, blocking."""
        return self._run(self.aio.rate_limit_status())

    def balance(self) -> int:
        """Like :meth:`AsyncPoeClient.balance`, blocking."""
        return self._run(self.aio.balance())

    def generate_image(self, prompt: str, **options: Unpack[MediaOptions]) -> MediaResult:
        """Like :meth:`AsyncPoeClient.generate_image`, blocking."""
        return self._run(self.aio.generate_image(prompt, **options))

    def generate_video(self, prompt: str, **options: Unpack[MediaOptions]) -> MediaResult:
        """Like :meth:`AsyncPoeClient.generate_video`, blocking."""
        return self._run(self.aio.generate_video(prompt, **options))

    def generate_audio(self, prompt: str, **options: Unpack[MediaOptions]) -> MediaResult:
        """Like :meth:`AsyncPoeClient.generate_audio`, blocking."""
        return self._run(self.aio.generate_audio(prompt, **options))

    def close(self) -> None:
        """Close the connections and stop the background loop (idempotent)."""
        if self._loop.is_closed():
            return
        try:
            self._run(self.aio.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
