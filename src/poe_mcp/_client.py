"""The client core: one request policy for Poe, OpenAI and any OpenAI-compatible API.

Every entry point (MCP tools, the CLI, Python users) goes through :class:`AsyncPoeClient` (or
its blocking twin :class:`~poe_mcp.PoeClient`). One call is::

    validate -> budget check -> [rate-limit slot -> backend request] x retries -> cost -> ledger

This module builds requests and reads answers; the policy around every request (slot,
retries, scrubbing, hints, the ledger row) is :mod:`poe_mcp._policy`, the provider's facts
(key, URLs) :mod:`poe_mcp._providers`, and the backends only speak wire formats. Every hook but
the backend is optional, so the library works with none of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from . import _constants as C
from ._capabilities import check_request
from ._fallback import chat_plan, needs_plan, stream_plan
from ._logging import register_secret
from ._messages import build_request, stream_options_param
from ._options import check_chat_call, check_client_options
from ._policy import Call, RequestPolicy, aclose_stream, scrub
from ._redact import StreamScrubber
from ._sanitize import check_request_size, clean_text, scrubbed_delta
from .backends import BackendOptions
from .config import Settings, resolve_api_key
from .errors import IncompleteStreamError, NetworkError, PoeError
from .ratelimit import key_id
from .types import ChatOptions, ChatResult, Delta

if TYPE_CHECKING:
    import httpx2

    from ._events import EventHook
    from ._messages import MessagesInput
    from ._model import AsyncModel
    from .backends import ChatRequest
    from .budget import BudgetGuard
    from .catalog import Catalog
    from .ratelimit import RateLimiter
    from .store.base import Store
    from .types import MediaKind, MediaOptions, MediaResult

__all__ = ["AsyncPoeClient", "ClientOptions"]


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of :class:`AsyncPoeClient` (and :class:`~poe_mcp.PoeClient`)."""

    provider: str | None
    base_url: str | None
    backend: str | None
    timeout: float | None
    max_retries: int | None
    rpm: int | None
    settings: Settings | None
    store: Store | Literal[False] | None
    catalog: Catalog | Literal[False] | None
    limiter: RateLimiter | None
    budget: BudgetGuard | Literal[False] | None
    entry_point: str
    on_event: EventHook | None
    http_client: httpx2.AsyncClient | None


_CLIENT_OPTIONS = frozenset(ClientOptions.__annotations__)


class AsyncPoeClient(RequestPolicy):
    """The asynchronous client.

    Args:
        api_key: the key; default ``POE_API_KEY`` (``OPENAI_API_KEY`` for OpenAI), then
            ``credentials.toml``. Never logged or shown.
        provider: ``poe``, ``openai`` or ``compatible`` (default: settings, i.e. ``poe``).
        base_url: the REST base URL (default: the provider's, or ``POE_BASE_URL``).
        backend: ``openai`` (REST, default) or ``legacy`` (Poe's bot protocol).
        timeout: seconds per request (default 600).
        max_retries: retries after the first attempt (default 4).
        rpm: client-side requests per minute for this key (default 500); 0 disables.
        settings: resolved settings (default: ``Settings.load()``).
        store: a ``Store`` for the usage ledger; None opens ``settings.store_url`` on first
            use; False records nothing. The store also gives the rate limiter: a Redis
            store's is shared by every process using that Redis.
        catalog: a :class:`~poe_mcp.catalog.Catalog` for prices; None builds one over
            :meth:`list_models` on first use; False prices nothing (cost stays None).
        limiter: a :class:`~poe_mcp.ratelimit.RateLimiter` instead of the store's.
        budget: a :class:`~poe_mcp.budget.BudgetGuard`; None builds one from the
            ``[budgets]`` settings when limits are set; False checks nothing.
        entry_point: ``library``, ``cli`` or ``mcp`` (recorded in the ledger).
        on_event: called with a :class:`~poe_mcp.ClientEvent` when the client waits for a
            rate-limit slot, retries, or an answer is cut at ``max_tokens`` (settable later
            as ``client.on_event``).
        http_client: an ``httpx2.AsyncClient`` for the REST API and the account endpoints,
            as ``openai.AsyncOpenAI(http_client=...)`` takes one: proxies, custom TLS, or
            ``httpx2.ASGITransport(app)`` to drive an app such as the simulator in process.
            The client never closes it. The bot protocol (``legacy``) keeps its own
            connection.

    Attributes:
        provider: the provider's name; ``provider_info`` is the whole
            :class:`~poe_mcp.Provider` (key variable, REST, bot, upload and account URLs).

    Raises:
        AuthError: no API key anywhere (the message says where to put one).
        ConfigError: an unknown provider or backend.
    """

    def __init__(self, api_key: str | None = None, **options: Unpack[ClientOptions]) -> None:
        check_client_options(options, _CLIENT_OPTIONS)  # unknown keywords, wrong types
        provider, base_url, backend = (options.get(k) for k in ("provider", "base_url", "backend"))
        settings = options.get("settings")
        if settings is None:
            settings = Settings.load(provider=provider, base_url=base_url, backend=backend)
        else:
            settings = settings.with_(provider=provider, base_url=base_url, backend=backend)
            settings.validate()
        self.settings = settings
        self.provider_info = settings.provider_info
        self.provider = settings.provider
        self.base_url = self.provider_info.base_url
        self.backend = settings.backend
        timeout, retries = options.get("timeout"), options.get("max_retries")
        self.timeout = float(timeout if timeout is not None else settings.timeout_s)
        self.max_retries = int(retries if retries is not None else settings.max_retries)
        self.entry_point = options.get("entry_point", "library")
        self.on_event = options.get("on_event")
        self._simulated_seen = False  # a response came from the built-in simulator
        self._store_failure: str | None = None

        key = resolve_api_key(settings.provider, api_key)
        register_secret(key)
        self.key_id = key_id(key)
        self._options = BackendOptions(
            api_key=key,
            provider=self.provider_info,
            timeout_s=self.timeout,
            settings=settings,
            http_client=options.get("http_client"),
        )
        rpm, limiter = options.get("rpm"), options.get("limiter")
        self._rpm = settings.rpm if rpm is None else rpm
        self._limiter = limiter
        self._limiter_ready = limiter is not None or self._rpm <= 0
        self._backends = {}
        store, catalog, budget = options.get("store"), options.get("catalog"), options.get("budget")
        self._store_arg = store
        self._store = store if store is not False else None
        self._owns_store = False
        self._catalog = catalog if catalog is not False else None
        self._catalog_off = catalog is False
        self._budget = budget if budget is not False else None
        self._budget_off = budget is False
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, base_url={self.base_url!r}, "
            f"backend={self.backend!r})"
        )

    async def __aenter__(self) -> AsyncPoeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def model(self, name: str, **defaults: Unpack[ChatOptions]) -> AsyncModel:
        """A model-bound object: ``name`` plus default options, merged with per-call ones.

        ``model = client.model("Claude-Sonnet-4", temperature=0.7)``, then
        ``await model.invoke("Hi")``, ``model.stream(...)``, ``model.conversation()``.
        """
        from ._model import AsyncModel

        return AsyncModel(self, name, **defaults)

    # --- chat ------------------------------------------------------------------------------

    async def _prepare(
        self, model: str, messages_or_prompt: MessagesInput, options: ChatOptions
    ) -> ChatRequest:
        """The validated request of one call (aliases resolved, inputs checked)."""
        check_chat_call(model, options)
        model = await self.resolve_model(model)
        request = build_request(
            model,
            messages_or_prompt,
            system=options.get("system"),
            temperature=options.get("temperature"),
            max_tokens=options.get("max_tokens"),
            top_p=options.get("top_p"),
            stop=options.get("stop"),
            tools=options.get("tools"),
            tool_choice=options.get("tool_choice"),
            parallel_tool_calls=options.get("parallel_tool_calls"),
            attachments=options.get("attachments"),
            extra=options.get("extra"),
            timeout=options.get("timeout"),
        )
        await check_request(self.catalog, request)  # before anything is sent or charged
        return request

    async def chat(
        self, model: str, messages_or_prompt: MessagesInput, **options: Unpack[ChatOptions]
    ) -> ChatResult:
        """Send one chat request and return the whole answer.

        Args:
            model: the model (Poe bot name, e.g. ``Claude-Sonnet-4``; case-insensitive on Poe).
            messages_or_prompt: a prompt, or OpenAI-format messages (content may hold bytes
                and paths, sent as attachments; ``developer`` becomes ``system``).
            **options: see :class:`~poe_mcp.ChatOptions` (``system``, ``temperature``,
                ``max_tokens``, ``tools``, ``response_format``, ``fallbacks``,
                ``reasoning_effort``, ``session_id``, ``backend``...).

        Raises:
            PoeError: one of its subclasses (see :mod:`poe_mcp.errors`); an unknown model's
                ``NotFoundError`` names close ones (``metadata["suggestions"]``).
        """
        check_chat_call(model, options)  # before a plan reads them
        fallbacks, effort = options.get("fallbacks"), options.get("reasoning_effort")
        if needs_plan(self.settings, model, fallbacks, effort):
            return await chat_plan(self, model, messages_or_prompt, options)
        started = time.perf_counter()
        request = await self._prepare(model, messages_or_prompt, options)
        if options.get("stream_options") is not None:
            stream_options_param(options.get("stream_options"), None)  # raises: not streamed
        backend, session_id = options.get("backend"), options.get("session_id")
        if options.get("response_format") is not None:
            from .structured import chat_structured

            return await chat_structured(
                self, request, options.get("response_format"), backend, session_id, started
            )
        return await self._send(request, backend, session_id, started)

    async def _send(
        self, request: ChatRequest, backend: str | None, session_id: str | None, started: float
    ) -> ChatResult:
        """One chat request through the policy: budget, rate limit, retries, cost, ledger."""
        impl = self._backend(backend)
        check_request_size(request.messages, impl.name)
        call = Call(request, impl.name, session_id, started)
        result = await self.send(lambda: impl.chat(request), call=call)
        return await self._finish(result, call)

    async def stream(
        self, model: str, messages_or_prompt: MessagesInput, **options: Unpack[ChatOptions]
    ) -> AsyncIterator[Delta]:
        """Stream the answer: deltas with text / tool-call fragments, then one with ``result``.

        Same arguments as :meth:`chat`; ``stream_options`` is ``{"include_usage": bool}`` (REST
        only). With ``response_format`` the answer is validated whole, so it arrives in one
        piece (then the result, ``parsed`` set). The request is retried only until the first
        delta arrives; a stream that breaks later, or ends without a finish reason, raises
        ``IncompleteStreamError`` whose ``partial_text`` keeps what arrived. With ``fallbacks``
        the next model is tried only until the first delta.
        """
        check_chat_call(model, options)  # before a plan reads them
        fallbacks, effort = options.get("fallbacks"), options.get("reasoning_effort")
        if needs_plan(self.settings, model, fallbacks, effort):
            async for item in stream_plan(self, model, messages_or_prompt, options):
                yield item
            return
        started = time.perf_counter()
        request = await self._prepare(model, messages_or_prompt, options)
        backend, session_id = options.get("backend"), options.get("session_id")
        impl = self._backend(backend)
        check_request_size(request.messages, impl.name)
        if options.get("stream_options") is not None:
            request.params["stream_options"] = stream_options_param(
                options.get("stream_options"), impl.name
            )
        if options.get("response_format") is not None:  # validated whole: one piece
            from .structured import chat_structured

            result = await chat_structured(
                self, request, options.get("response_format"), backend, session_id, started
            )
            yield Delta(text=result.text)
            yield Delta(result=result)
            return
        call = Call(request, impl.name, session_id, started)
        sources: list[AsyncIterator[Delta]] = []

        async def first_delta() -> Delta:
            source = impl.stream(request)
            try:
                first = await anext(source, None)
            except BaseException:
                await aclose_stream(source)
                raise
            if first is None:
                await aclose_stream(source)
                raise IncompleteStreamError("the stream ended before any data")
            sources.append(source)
            return first

        # Retried until the first delta: nothing reached the caller yet, so a stream that
        # ended early is as safe to send again as a dropped connection.
        first = await self.send(first_delta, call=call, retry_as=_as_dropped)
        async for delta in self._relay(sources[-1], first, call):
            yield delta

    async def _relay(
        self, source: AsyncIterator[Delta], first: Delta, call: Call
    ) -> AsyncIterator[Delta]:
        """The stream after its first delta: keys scrubbed as the text streams (a tail that
        may be the start of one waits for the next delta), then the priced result."""
        text = ""
        scrubber = StreamScrubber()
        paused = time.perf_counter()
        try:
            delta: Delta | None = first
            while delta is not None:
                if delta.result is not None:
                    tail = scrubber.flush()
                    if tail:
                        text += tail
                        yield Delta(text=tail)
                    yield Delta(result=await self._finish(delta.result, call))
                    return
                shown = scrubber.feed(clean_text(delta.text), replace=delta.replace)
                text = shown if delta.replace else text + shown
                if shown or delta.replace or delta.tool_calls or delta.reasoning:
                    yield scrubbed_delta(delta, shown)
                if time.perf_counter() - paused >= C.LOOP_YIELD_INTERVAL_S:
                    # A long answer arriving in big reads would otherwise hold the event
                    # loop (other requests, /health) for as long as one read takes.
                    await asyncio.sleep(0)
                    paused = time.perf_counter()
                delta = await anext(source, None)
            raise IncompleteStreamError("the stream ended without a result")
        except PoeError as exc:
            if isinstance(exc, IncompleteStreamError):
                error = exc
            else:
                error = IncompleteStreamError(
                    f"the stream broke after it started: {exc.message}",
                    request_id=exc.request_id,
                    metadata={"cause": exc.kind},
                )
            # What the caller was shown, and what the scrubber still held (scrubbed): the held
            # tail is shown too before the error, so the screen and partial_text agree.
            tail = scrubber.flush()
            error.partial_text = text + tail
            scrub(error)
            await self.failed(error, call)
            if tail:
                yield Delta(text=tail)
            if error is exc:
                raise
            raise error from exc
        finally:
            await aclose_stream(source)

    async def resolve_model(self, name: str) -> str:
        """The model id to send for ``name``: ``[aliases]`` and built-in short names
        (``claude``, ``gpt``...) resolved, provider prefixes checked (see :mod:`poe_mcp._aliases`).

        Raises:
            NotFoundError / InvalidRequestError: a prefixed name that cannot be resolved.
        """
        from ._aliases import resolve_model

        return await resolve_model(name, settings=self.settings, catalog=self.catalog)

    async def balance(self) -> int:
        """The Poe account's point balance (``/usage/current_balance``; Poe only), through
        the REST backend's connection and the rate limiter.

        Raises:
            InvalidRequestError: the provider is not Poe.
        """
        from .backends.openai_compat import OpenAICompatBackend

        backend = self._backend("openai")
        assert isinstance(backend, OpenAICompatBackend)  # the REST backend is never wrapped
        return await self.send(backend.balance)

    # --- media generation (see poe_mcp.media) ---------------------------------------------

    async def _generate(self, kind: MediaKind, prompt: str, options: MediaOptions) -> MediaResult:
        from .media import generate_media

        return await generate_media(self, kind, prompt, **options)

    async def generate_image(self, prompt: str, **options: Unpack[MediaOptions]) -> MediaResult:
        """Make an image with a Poe image bot (default GPT-Image-1) and save it.

        Args:
            prompt: what to draw.
            **options: see :class:`~poe_mcp.MediaOptions`: ``model``, ``params`` (bot
                parameters such as ``{"aspect": "16:9"}``, checked against the model's
                declared ones), ``output_dir``, ``download``, ``timeout``, ``max_bytes``,
                ``on_progress``, ``progress_interval``, ``backend``, ``download_policy``.
        """
        return await self._generate("image", prompt, options)

    async def generate_video(self, prompt: str, **options: Unpack[MediaOptions]) -> MediaResult:
        """Make a video with a Poe video bot (default Veo-3); see :meth:`generate_image`."""
        return await self._generate("video", prompt, options)

    async def generate_audio(self, prompt: str, **options: Unpack[MediaOptions]) -> MediaResult:
        """Make audio with a Poe audio bot (default ElevenLabs); see :meth:`generate_image`."""
        return await self._generate("audio", prompt, options)

    @property
    def simulated(self) -> bool:
        """True once any answer (a model list included) came from the built-in simulator."""
        return self._simulated_seen or any(
            getattr(b, "simulator_seen", False) for b in self._backends.values()
        )

    async def rate_limit_status(self) -> dict[str, Any]:
        """The client-side limiter's state and the provider's last rate-limit headers."""
        status: dict[str, Any] = {"key_id": self.key_id}
        limiter = await self.rate_limiter()
        if limiter is not None:
            status["client"] = await limiter.status(self.key_id)
        for name, backend in self._backends.items():
            provider_state = getattr(backend, "rate_limit", None)
            if provider_state:
                status[f"provider_{name}"] = dict(provider_state)
        return status

    async def aclose(self) -> None:
        """Close connections (and the store, when this client opened it)."""
        if self._closed:
            return
        self._closed = True
        backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            await backend.aclose()
        if self._owns_store and self._store is not None:
            await self._store.aclose()
            self._store = None


def _as_dropped(exc: PoeError) -> PoeError:
    """Before the first delta, a stream that ended early is retried like a dropped line."""
    if isinstance(exc, IncompleteStreamError):
        return NetworkError(exc.message, request_id=exc.request_id)
    return exc
