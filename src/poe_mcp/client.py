"""The client core: one request policy for Poe, OpenAI and any OpenAI-compatible API.

Every entry point (MCP tools, the CLI, Python users) goes through :class:`AsyncPoeClient` (or
its blocking twin :class:`PoeClient`). One call is::

    validate -> budget check -> [rate-limit slot -> backend request] x retries -> cost -> ledger

The backends only speak wire formats; retries (``_retry``), rate limiting (``ratelimit``),
pricing (the catalog) and the usage ledger (the store) happen here, once, for all of them.
Every hook but the backend is optional, so the library works with none of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack

from . import _constants as C
from ._call_tags import current_tags
from ._capabilities import check_input
from ._events import EventHook, acquire_with_notice, emit, retry_event, truncated_event
from ._fallback import call_options, chat_plan, needs_plan, stream_plan
from ._honour import honour
from ._logbook import record_exchange
from ._logging import RedactingFilter, redact, register_secret
from ._messages import (
    AttachmentSource,
    MessagesInput,
    build_request,
    estimate_input_tokens,
    last_user_text,
    stream_options_param,
)
from ._redact import StreamScrubber
from ._retry import retry_delay
from ._sanitize import check_request_size, clean_result, clean_text, scrubbed_delta
from .backends import Backend, BackendOptions, ChatRequest, create_backend
from .config import Settings, resolve_api_key
from .errors import IncompleteStreamError, NetworkError, PoeError, StoreError, add_hint
from .ratelimit import RateLimiter, key_id, shared_limiter
from .types import ChatResult, Delta, ReasoningEffort, Usage

if TYPE_CHECKING:
    from ._model import AsyncModel
    from .budget import BudgetGuard
    from .catalog import Catalog
    from .store.base import Store, UsageRecord
    from .types import ChatOptions, MediaKind, MediaResult

__all__ = ["AsyncPoeClient"]

T = TypeVar("T")

logger = logging.getLogger("poe_mcp.client")
logger.addFilter(RedactingFilter())


class AsyncPoeClient:
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
            use; False records nothing.
        catalog: a :class:`~poe_mcp.catalog.Catalog` for prices; None builds one over
            :meth:`list_models` on first use; False prices nothing (cost stays None).
        limiter: a shared :class:`~poe_mcp.ratelimit.RateLimiter` (e.g. Redis) instead of
            the in-process one.
        budget: a :class:`~poe_mcp.budget.BudgetGuard`; None builds one from the
            ``[budgets]`` settings when limits are set; False checks nothing.
        entry_point: ``library``, ``cli`` or ``mcp`` (recorded in the ledger).
        on_event: called with a :class:`~poe_mcp._events.ClientEvent` when the client waits
            for a rate-limit slot, retries, or an answer is cut at ``max_tokens`` (settable
            later as ``client.on_event``).

    Raises:
        AuthError: no API key anywhere (the message says where to put one).
        ConfigError: an unknown provider or backend.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        provider: str | None = None,
        base_url: str | None = None,
        backend: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        rpm: int | None = None,
        settings: Settings | None = None,
        store: Store | Literal[False] | None = None,
        catalog: Catalog | Literal[False] | None = None,
        limiter: RateLimiter | None = None,
        budget: BudgetGuard | Literal[False] | None = None,
        entry_point: str = "library",
        on_event: EventHook | None = None,
    ) -> None:
        if settings is None:
            settings = Settings.load(provider=provider, base_url=base_url, backend=backend)
        else:
            settings = settings.with_(provider=provider, base_url=base_url, backend=backend)
            settings.validate()
        self.settings = settings
        self.provider = settings.provider
        self.base_url = settings.effective_base_url
        self.backend = settings.backend
        self.timeout = float(timeout if timeout is not None else settings.timeout_s)
        self.max_retries = int(max_retries if max_retries is not None else settings.max_retries)
        self.entry_point = entry_point
        self.on_event = on_event
        self._simulated_seen = False  # a response came from the built-in simulator
        self._store_failure: str | None = None

        key = resolve_api_key(settings.provider, api_key)
        register_secret(key)
        self.key_id = key_id(key)
        self._options = BackendOptions(
            api_key=key,
            provider=self.provider,
            base_url=self.base_url,
            timeout_s=self.timeout,
            settings=settings,
        )
        rpm = settings.rpm if rpm is None else rpm
        self._limiter: RateLimiter | None = limiter or (shared_limiter(rpm) if rpm > 0 else None)
        self._backends: dict[str, Backend] = {}
        self._store_arg = store
        self._store: Store | None = store if store is not False else None
        self._owns_store = False
        self._catalog: Catalog | None = catalog if catalog is not False else None
        self._catalog_off = catalog is False
        self._budget: BudgetGuard | None = budget if budget is not False else None
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

    # --- collaborators, built on first use -----------------------------------------------

    def _backend(self, name: str | None) -> Backend:
        name = name or self.backend
        backend = self._backends.get(name)
        if backend is None:
            backend = self._backends[name] = honour(create_backend(name, self._options))
        return backend

    @property
    def catalog(self) -> Catalog | None:
        """The model catalog (prices, capabilities) of this client's provider, or None when off.

        Built on first use over :meth:`list_models`, cached in the data dir.
        """
        if self._catalog is None and not self._catalog_off:
            from .catalog import Catalog

            self._catalog = Catalog.from_settings(self.list_models, self.settings)
        return self._catalog

    async def _get_store(self) -> Store | None:
        if self._store is not None or self._store_arg is False:
            return self._store
        try:
            from .store import open_store

            store: Any = open_store(self.settings.store_url)
            if asyncio.iscoroutine(store):
                store = await store
        except (PoeError, ImportError, OSError) as exc:
            logger.warning("usage ledger unavailable, calls are not recorded: %s", exc)
            self._store_failure = str(exc)
            self._store_arg = False
            return None
        self._store, self._owns_store = store, True
        return self._store

    async def get_store(self) -> Store | None:
        """The store this client keeps its ledger in (opened on first use); None when off.

        :class:`~poe_mcp.conversation.Conversation` keeps its history there by default.
        """
        return await self._get_store()

    def model(self, name: str, **defaults: Unpack[ChatOptions]) -> AsyncModel:
        """A model-bound object: ``name`` plus default options, merged with per-call ones.

        ``model = client.model("Claude-Sonnet-4", temperature=0.7)``, then
        ``await model.invoke("Hi")``, ``model.stream(...)``, ``model.conversation()``.
        """
        from ._model import AsyncModel

        return AsyncModel(self, name, **defaults)

    async def _get_budget(self) -> BudgetGuard | None:
        if self._budget is None and not self._budget_off:
            from .budget import BudgetGuard, BudgetLimits

            limits = BudgetLimits.from_settings(self.settings)
            store = await self._get_store() if limits.active else None
            if store is None and limits.active and self._store_failure:
                # Budgets that silently stop applying are worse than a refusal.
                raise StoreError(
                    f"budgets are set ([budgets] / POE_MCP_BUDGET_*) but the usage ledger "
                    f"they count cannot be opened: {self._store_failure}. Fix the store "
                    "(POE_MCP_STORE, store in config.toml) or remove the budgets."
                )
            if store is None:  # no limits, or no ledger to count what was spent
                self._budget_off = True
                return None
            self._budget = BudgetGuard(store.usage, limits, catalog=self.catalog)
        return self._budget

    # --- the request policy --------------------------------------------------------------

    async def _check_budget(self, request: ChatRequest, session_id: str | None) -> None:
        budget = await self._get_budget()
        if budget is not None:
            await budget.check(
                session_id=session_id,
                model=request.model,
                estimated_input_tokens=estimate_input_tokens(request.messages),
                simulated=self._simulated_seen,
            )

    async def _retrying(self, attempt: int, exc: PoeError) -> bool:
        """Wait before the next attempt and return True, or return False to give up."""
        _scrub(exc)
        add_hint(exc, self.provider, self.base_url)  # the provider's own key/billing page
        delay = retry_delay(exc, attempt, self.max_retries)
        if delay is None:
            return False
        emit(self.on_event, retry_event(exc, attempt + 1, self.max_retries, delay))
        await asyncio.sleep(delay)
        return True

    async def _cost(self, model: str, usage: Usage, requested: str | None = None) -> float | None:
        catalog = self.catalog
        if catalog is None:
            return None
        try:
            if requested is None:
                cost = await catalog.cost(model, usage)
            else:  # a dated snapshot (gpt-4o-2024-08-06) is priced as the model asked for
                cost = await catalog.answer_cost(requested, model, usage)
        except PoeError as exc:
            logger.debug("no price for %s: %s", model, exc)
            return None
        return None if cost is None else float(cost)

    async def _record(
        self,
        request: ChatRequest,
        backend: str,
        *,
        session_id: str | None,
        started: float,
        result: ChatResult | None = None,
        error: PoeError | None = None,
    ) -> None:
        store = await self._get_store()
        if store is None:
            return
        from .store.base import UsageRecord

        usage = result.usage if result is not None else Usage()
        tags = current_tags()
        record: UsageRecord = UsageRecord(
            ts=time.time(),
            provider=self.provider,
            backend=backend,
            model=result.model if result is not None else request.model,
            outcome="ok" if error is None else "error",
            session_id=session_id,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            estimated=usage.estimated,
            cost=result.cost if result is not None else None,
            latency_s=time.perf_counter() - started,
            error_kind=error.kind if error is not None else None,
            request_id=result.request_id
            if result is not None
            else getattr(error, "request_id", None),
            entry_point=self.entry_point,
            prompt=redact(clean_text(last_user_text(request.messages)))
            if self.settings.log_prompts
            else None,
            tier=tags.tier,
            run_id=tags.run_id,
            reasoning_tokens=usage.reasoning_tokens,
            cached_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            simulated=self._note_simulated(result, error),
        )
        try:
            await store.usage.record(record)
        except (PoeError, OSError) as exc:
            logger.warning("could not record usage: %s", exc)

    def _note_simulated(self, result: ChatResult | None, error: PoeError | None) -> bool:
        """Whether the simulator answered this call (and, from then on, this client's calls)."""
        answered = (
            result.simulated
            if result is not None
            else bool(error is not None and error.metadata.get("simulated"))
        )
        self._simulated_seen = self._simulated_seen or answered
        return answered or (result is None and self._simulated_seen)

    async def _finish(
        self, result: ChatResult, request: ChatRequest, session_id: str | None, started: float
    ) -> ChatResult:
        clean_result(result)
        self._simulated_seen = self._simulated_seen or result.simulated
        if result.finish_reason == "length":
            emit(self.on_event, truncated_event(result, request.params.get("max_tokens")))
        result.session_id = session_id
        result.cost = await self._cost(result.model, result.usage, request.model)
        result.latency_s = time.perf_counter() - started
        await self._record(
            request, result.backend, session_id=session_id, started=started, result=result
        )
        await record_exchange(
            await self._get_store(),
            self.settings,
            entry_point=self.entry_point,
            provider=self.provider,
            messages=request.messages,
            result=result,
            session_id=session_id,
        )
        return result

    # --- public API ----------------------------------------------------------------------

    async def chat(
        self,
        model: str,
        messages_or_prompt: MessagesInput,
        *,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        attachments: Iterable[AttachmentSource] | None = None,
        extra: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per attempt, passed to the backend
        backend: str | None = None,
        response_format: Any = None,
        stream_options: Mapping[str, Any] | None = None,
        fallbacks: Sequence[str] | None = None,
        reasoning_effort: ReasoningEffort | None = None,
    ) -> ChatResult:
        """Send one chat request and return the whole answer.

        Args:
            model: the model (Poe bot name, e.g. ``Claude-Sonnet-4``; case-insensitive on Poe).
            messages_or_prompt: a prompt, or OpenAI-format messages (content may hold bytes
                and paths, sent as attachments; ``developer`` becomes ``system``).
            system: a system prompt, put first.
            temperature: 0..2. max_tokens: >= 1. top_p: 0..1. stop: up to 4 strings.
            tools / tool_choice / parallel_tool_calls: OpenAI function calling.
            attachments: files (paths or bytes) added to the last user message.
            extra: bot parameters (thinking budget, aspect ratio...), sent in the body.
            session_id: the conversation this call belongs to (recorded, returned).
            timeout: seconds for this call (each attempt).
            backend: ``openai`` or ``legacy`` for this call only.
            response_format: ``{"type": "json_object" | "json_schema", ...}`` or a pydantic model
                class: the answer is validated into ``result.parsed`` (:mod:`poe_mcp.structured`).
            stream_options: only for :meth:`stream` (refused here, as OpenAI refuses it).
            fallbacks: models to try in turn when ``model`` fails with a rate limit (after
                retries), 5xx, overload, moderation or a too-small context window; None uses
                ``[fallbacks]`` of config.toml, ``()`` none. ``result.attempts`` tells the story.
            reasoning_effort: ``low``/``medium``/``high`` or a token budget, mapped to what the
                model takes (see :mod:`poe_mcp._reasoning`); ``result.notes`` says how.

        Raises:
            PoeError: one of its subclasses (see :mod:`poe_mcp.errors`).
        """
        if needs_plan(self.settings, model, fallbacks, reasoning_effort):  # first: locals() = args
            options = call_options(locals())
            return await chat_plan(
                self, model, messages_or_prompt, options, fallbacks, reasoning_effort
            )
        started = time.perf_counter()
        model = await self.resolve_model(model)
        request = build_request(
            model,
            messages_or_prompt,
            system=system,
            temperature=temperature,
            max_tokens=max_tokens,
            top_p=top_p,
            stop=stop,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            attachments=attachments,
            extra=extra,
            timeout=timeout,
        )
        await check_input(self.catalog, request.model, request.messages)
        if stream_options is not None:
            stream_options_param(stream_options, None)  # raises: not a streamed call
        if response_format is not None:
            from .structured import chat_structured

            return await chat_structured(
                self, request, response_format, backend, session_id, started
            )
        return await self._send(request, backend, session_id, started)

    async def _send(
        self, request: ChatRequest, backend: str | None, session_id: str | None, started: float
    ) -> ChatResult:
        """One request through the policy: budget, rate limit, retries, cost, ledger."""
        impl = self._backend(backend)
        check_request_size(request.messages, impl.name)
        attempt = 0
        try:
            await self._check_budget(request, session_id)
            while True:
                if self._limiter is not None:
                    await acquire_with_notice(
                        lambda: self._limiter.acquire(self.key_id),  # type: ignore[union-attr]
                        self.on_event,
                        request.model,
                    )
                try:
                    result = await impl.chat(request)
                    break
                except PoeError as exc:
                    if not await self._retrying(attempt, exc):
                        raise
                    attempt += 1
        except PoeError as exc:
            _scrub(exc)
            await self._record(
                request, impl.name, session_id=session_id, started=started, error=exc
            )
            raise
        return await self._finish(result, request, session_id, started)

    async def stream(
        self,
        model: str,
        messages_or_prompt: MessagesInput,
        *,
        system: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        attachments: Iterable[AttachmentSource] | None = None,
        extra: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per attempt, passed to the backend
        backend: str | None = None,
        response_format: Any = None,
        stream_options: Mapping[str, Any] | None = None,
        fallbacks: Sequence[str] | None = None,
        reasoning_effort: ReasoningEffort | None = None,
    ) -> AsyncIterator[Delta]:
        """Stream the answer: deltas with text / tool-call fragments, then one with ``result``.

        Same arguments as :meth:`chat`; ``stream_options`` is ``{"include_usage": bool}`` (REST
        only). With ``response_format`` the answer is validated whole, so it arrives in one
        piece (then the result, ``parsed`` set). The request is retried only until the first
        delta arrives; a stream that breaks later, or ends without a finish reason, raises
        ``IncompleteStreamError`` whose ``partial_text`` keeps what arrived. With ``fallbacks``
        the next model is tried only until the first delta.
        """
        if needs_plan(self.settings, model, fallbacks, reasoning_effort):  # first: locals() = args
            options = call_options(locals())
            plan = stream_plan(
                self, model, messages_or_prompt, options, fallbacks, reasoning_effort
            )
            async for item in plan:
                yield item
            return
        started = time.perf_counter()
        model = await self.resolve_model(model)
        request = build_request(
            model,
            messages_or_prompt,
            system=system,
            temperature=temperature,
            max_tokens=max_tokens,
            top_p=top_p,
            stop=stop,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            attachments=attachments,
            extra=extra,
            timeout=timeout,
        )
        await check_input(self.catalog, request.model, request.messages)
        impl = self._backend(backend)
        check_request_size(request.messages, impl.name)
        if stream_options is not None:
            request.params["stream_options"] = stream_options_param(stream_options, impl.name)
        if response_format is not None:  # validated whole: one piece, then the result
            from .structured import chat_structured

            result = await chat_structured(
                self, request, response_format, backend, session_id, started
            )
            yield Delta(text=result.text)
            yield Delta(result=result)
            return
        text = ""
        started_streaming = False
        # Keys are scrubbed as the text streams; a tail that may be the start of one waits
        # for the next delta (see _redact.StreamScrubber).
        scrubber = StreamScrubber()
        try:
            await self._check_budget(request, session_id)
            attempt = 0
            while True:
                if self._limiter is not None:
                    await acquire_with_notice(
                        lambda: self._limiter.acquire(self.key_id),  # type: ignore[union-attr]
                        self.on_event,
                        request.model,
                    )
                source = impl.stream(request)
                try:
                    first = await anext(source, None)
                    if first is None:
                        raise IncompleteStreamError("the stream ended before any data")
                    break
                except PoeError as exc:
                    await _aclose(source)
                    # Nothing reached the caller yet, so a stream that ended early is as safe
                    # to send again as a dropped connection.
                    decide: PoeError = exc
                    if isinstance(exc, IncompleteStreamError):
                        decide = NetworkError(exc.message, request_id=exc.request_id)
                    if not await self._retrying(attempt, decide):
                        raise
                    attempt += 1
            started_streaming = True
            paused = time.perf_counter()
            try:
                delta: Delta | None = first
                while delta is not None:
                    if delta.result is not None:
                        tail = scrubber.flush()
                        if tail:
                            text += tail
                            yield Delta(text=tail)
                        result = await self._finish(delta.result, request, session_id, started)
                        yield Delta(result=result)
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
            finally:
                await _aclose(source)
        except PoeError as exc:
            if started_streaming and not isinstance(exc, IncompleteStreamError):
                wrapped = IncompleteStreamError(
                    f"the stream broke after it started: {exc.message}",
                    partial_text=text + scrubber.flush(),
                    request_id=exc.request_id,
                    metadata={"cause": exc.kind},
                )
                _scrub(wrapped)
                await self._record(
                    request, impl.name, session_id=session_id, started=started, error=wrapped
                )
                raise wrapped from exc
            if isinstance(exc, IncompleteStreamError) and (
                started_streaming or not exc.partial_text
            ):
                # What the caller was shown, and what the scrubber still held (scrubbed).
                exc.partial_text = text + (scrubber.flush() if started_streaming else "")
            _scrub(exc)
            await self._record(
                request, impl.name, session_id=session_id, started=started, error=exc
            )
            raise

    async def resolve_model(self, name: str) -> str:
        """The model id to send for ``name``: ``[aliases]`` and built-in short names
        (``claude``, ``gpt``...) resolved, provider prefixes checked (see :mod:`poe_mcp._aliases`).

        Raises:
            NotFoundError / InvalidRequestError: a prefixed name that cannot be resolved.
        """
        from ._aliases import resolve_model

        return await resolve_model(name, settings=self.settings, catalog=self.catalog)

    async def list_models(self) -> list[dict[str, Any]]:
        """The provider's models as raw ``/v1/models`` items (see ``poe_mcp.catalog``)."""
        backend = self._backend("openai")
        attempt = 0
        while True:
            try:
                return await backend.list_models()
            except PoeError as exc:
                if not await self._retrying(attempt, exc):
                    raise
                attempt += 1

    async def balance(self) -> int:
        """The Poe account's point balance (``/usage/current_balance``; Poe only).

        Raises:
            InvalidRequestError: the provider is not Poe.
        """
        from .catalog import fetch_point_balance

        attempt = 0
        while True:
            try:
                return await fetch_point_balance(self.settings, self._options.api_key)
            except PoeError as exc:
                if not await self._retrying(attempt, exc):
                    raise
                attempt += 1

    # --- media generation (see poe_mcp.media) ---------------------------------------------

    async def _generate(
        self,
        kind: MediaKind,
        prompt: str,
        model: str | None,
        params: Mapping[str, Any] | None,
        output_dir: str | os.PathLike[str] | None,
        options: dict[str, Any],
    ) -> MediaResult:
        from .media import generate_media

        return await generate_media(
            self, kind, prompt, model=model, params=params, output_dir=output_dir, **options
        )

    async def generate_image(
        self,
        prompt: str,
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> MediaResult:
        """Make an image with a Poe image bot (default GPT-Image-1) and save it.

        Args:
            prompt: what to draw.
            model: the image bot.
            params: bot parameters (e.g. ``{"aspect": "16:9"}``), checked against the model's
                declared parameters.
            output_dir: where to save (default: the media dir in the data dir).
            **options: ``download``, ``timeout``, ``max_bytes``, ``on_progress``,
                ``progress_interval``, ``backend``; see :func:`poe_mcp.media.generate_media`.
        """
        return await self._generate("image", prompt, model, params, output_dir, options)

    async def generate_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> MediaResult:
        """Make a video with a Poe video bot (default Veo-3); see :meth:`generate_image`."""
        return await self._generate("video", prompt, model, params, output_dir, options)

    async def generate_audio(
        self,
        prompt: str,
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> MediaResult:
        """Make audio with a Poe audio bot (default ElevenLabs); see :meth:`generate_image`."""
        return await self._generate("audio", prompt, model, params, output_dir, options)

    async def rate_limit_status(self) -> dict[str, Any]:
        """The client-side limiter's state and the provider's last rate-limit headers."""
        status: dict[str, Any] = {"key_id": self.key_id}
        if self._limiter is not None:
            status["client"] = await self._limiter.status(self.key_id)
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


def _scrub(exc: PoeError) -> None:
    """Make sure a provider that echoed the key does not put it in our error text (nor in
    the partial answer an incomplete stream keeps)."""
    cleaned = redact(exc.message)
    if cleaned != exc.message:
        exc.message = cleaned
        exc.args = (cleaned,)
    if isinstance(exc, IncompleteStreamError) and exc.partial_text:
        exc.partial_text = redact(clean_text(exc.partial_text))


async def _aclose(source: AsyncIterator[Delta]) -> None:
    closer = getattr(source, "aclose", None)
    if closer is not None:
        await closer()
