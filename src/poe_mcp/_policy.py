"""The request policy: what happens around every request the client sends.

::

    [rate-limit slot -> send] x retries      one loop (:func:`attempts`), for every request
    errors scrubbed of keys, given the provider's hint, unknown models their suggestions
    a ledger row for every chat call, answered or failed; cost, logbook

:class:`RequestPolicy` is the half of :class:`~poe_mcp.AsyncPoeClient` that holds its
collaborators (backends, store, catalog, budget, rate limiter, all made on first use) and
applies this policy; the client's public methods (``_client.py``) only build requests and
read answers. ``chat``, the first delta of ``stream``, ``list_models`` and ``balance`` go
through :meth:`RequestPolicy.send`; media downloads through :func:`attempts` with their own
retry count (a download is not a provider request: no slot, no row).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._call_tags import current_tags
from ._events import EventHook, acquire_with_notice, emit, retry_event, truncated_event
from ._logbook import record_exchange
from ._logging import RedactingFilter, redact
from ._messages import last_user_text
from ._retry import retry_delay
from ._sanitize import clean_result, clean_text
from ._tokens import prompt_tokens
from .errors import IncompleteStreamError, NotFoundError, PoeError, StoreError, add_hint
from .types import ChatResult, Usage

if TYPE_CHECKING:
    from ._providers import Provider
    from .backends import Backend, BackendOptions, ChatRequest
    from .budget import BudgetGuard
    from .catalog import Catalog
    from .config import Settings
    from .ratelimit import RateLimiter
    from .store.base import Store

__all__ = ["Call", "RequestPolicy", "aclose_stream", "attempts", "scrub"]

T = TypeVar("T")

logger = logging.getLogger("poe_mcp.client")
logger.addFilter(RedactingFilter())


async def attempts(
    send: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    before: Callable[[], Awaitable[None]] | None = None,
    on_error: Callable[[PoeError], None] | None = None,
    on_retry: Callable[[PoeError, int, float], None] | None = None,
    retry_as: Callable[[PoeError], PoeError] | None = None,
) -> T:
    """``send()`` until it succeeds or :func:`~poe_mcp._retry.retry_delay` says to stop.

    Args:
        send: one attempt.
        max_retries: retries after the first attempt.
        before: awaited before each attempt (the rate-limit slot).
        on_error: called with each failure first (scrubbing, hints).
        on_retry: called with the failure, the attempt number and the delay before a retry.
        retry_as: the error that decides whether to retry, when not the one raised.

    Raises:
        PoeError: the last failure, when it cannot change or the retries are spent.
    """
    attempt = 0
    while True:
        if before is not None:
            await before()
        try:
            return await send()
        except PoeError as exc:
            if on_error is not None:
                on_error(exc)
            delay = retry_delay(retry_as(exc) if retry_as else exc, attempt, max_retries)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            await asyncio.sleep(delay)
            attempt += 1


async def aclose_stream(source: AsyncIterator[Any]) -> None:
    """Close an async iterator that may be a generator (releasing its connection)."""
    closer = getattr(source, "aclose", None)
    if closer is not None:
        await closer()


def scrub(exc: PoeError) -> None:
    """Make sure a provider that echoed the key does not put it in our error text (nor in
    the partial answer an incomplete stream keeps)."""
    cleaned = redact(exc.message)
    if cleaned != exc.message:
        exc.message = cleaned
        exc.args = (cleaned,)
    if isinstance(exc, IncompleteStreamError) and exc.partial_text:
        exc.partial_text = redact(clean_text(exc.partial_text))


@dataclass(slots=True)
class Call:
    """One chat call as the ledger sees it."""

    request: ChatRequest
    backend: str
    session_id: str | None
    started: float


class RequestPolicy:
    """Collaborators made on first use, and the one loop every request goes through."""

    settings: Settings
    provider: str
    key_id: str
    max_retries: int
    entry_point: str
    on_event: EventHook | None
    provider_info: Provider
    _options: BackendOptions
    _rpm: int
    _limiter: RateLimiter | None
    _limiter_ready: bool
    _backends: dict[str, Backend]
    _store_arg: Store | Literal[False] | None
    _store: Store | None
    _owns_store: bool
    _store_failure: str | None
    _catalog: Catalog | None
    _catalog_off: bool
    _budget: BudgetGuard | None
    _budget_off: bool
    _simulated_seen: bool

    # --- collaborators, built on first use -----------------------------------------------

    def _backend(self, name: str | None) -> Backend:
        backend = self._backends.get(name or self.settings.backend)
        if backend is None:
            from ._honour import honour
            from .backends import create_backend

            name = name or self.settings.backend
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

    async def list_models(self) -> list[dict[str, Any]]:
        """The provider's models as raw ``/v1/models`` items (see ``poe_mcp.catalog``)."""
        return await self.send(self._backend("openai").list_models)

    async def get_store(self) -> Store | None:
        """The store this client keeps its ledger in (opened on first use); None when off.

        :class:`~poe_mcp.conversation.Conversation` keeps its history there by default.
        """
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

    async def rate_limiter(self) -> RateLimiter | None:
        """The limiter this client takes a slot from before each request: the one it was
        given, else its store's (a Redis store's is shared by every process using it), else
        this process's; None with ``rpm=0``. ``[rate_limit]`` sets its burst and wait."""
        if not self._limiter_ready:
            if self._limiter is None and self._rpm > 0:
                from .store.base import LocalRateLimits

                store = await self.get_store()
                table = self.settings.rate_limit
                self._limiter = (store or LocalRateLimits()).rate_limiter(
                    self._rpm, burst=table.burst, max_wait_s=table.max_wait_s
                )
            self._limiter_ready = True
        return self._limiter

    async def _get_budget(self) -> BudgetGuard | None:
        if self._budget is None and not self._budget_off:
            from .budget import BudgetGuard

            limits = self.settings.budgets
            store = await self.get_store() if limits.active else None
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

    # --- the loop ------------------------------------------------------------------------

    async def send(
        self,
        send: Callable[[], Awaitable[T]],
        *,
        call: Call | None = None,
        retry_as: Callable[[PoeError], PoeError] | None = None,
    ) -> T:
        """One request through the policy: budget (chat calls), a rate-limit slot before each
        attempt, retries, errors scrubbed and hinted; a failed chat call gets its ledger row.

        Args:
            send: one attempt.
            call: the chat call this request is (None for the model list, the balance).
            retry_as: the error that decides whether to retry, when not the one raised.
        """
        model = call.request.model if call is not None else None
        limiter = await self.rate_limiter()

        async def slot() -> None:
            if limiter is not None:
                await acquire_with_notice(
                    lambda: limiter.acquire(self.key_id), self.on_event, model
                )

        def retrying(exc: PoeError, attempt: int, delay: float) -> None:
            emit(self.on_event, retry_event(exc, attempt + 1, self.max_retries, delay))

        try:
            if call is not None:
                await self._check_budget(call)
            return await attempts(
                send,
                max_retries=self.max_retries,
                before=slot,
                on_error=self._explain,
                on_retry=retrying,
                retry_as=retry_as,
            )
        except PoeError as exc:
            if call is not None:
                await self.failed(exc, call)
            raise

    def _explain(self, exc: PoeError) -> None:
        scrub(exc)
        add_hint(exc, self.provider_info)  # the provider's own key/billing page

    async def _check_budget(self, call: Call) -> None:
        budget = await self._get_budget()
        if budget is not None:
            await budget.check(
                session_id=call.session_id,
                model=call.request.model,
                estimated_input_tokens=prompt_tokens(call.request.messages),
                simulated=self._simulated_seen,
            )

    async def failed(self, exc: PoeError, call: Call) -> None:
        """A chat call failed for good: scrubbed, an unknown model's close names added, and
        its ledger row written."""
        scrub(exc)
        if isinstance(exc, NotFoundError) and "suggestions" not in exc.metadata:
            await self._suggest(exc, call.request.model)
        await self._record(call, error=exc)

    async def _suggest(self, exc: NotFoundError, model: str) -> None:
        """Add the catalog's "did you mean" names to an unknown-model error."""
        catalog = self.catalog
        if catalog is None:
            return
        try:
            if await catalog.find(model) is not None:
                return  # a known model: the 404 is about something else
            names = catalog.suggestions(model)
        except PoeError:
            return
        if names and "Did you mean" not in exc.message:
            exc.message = f"{exc.message} Did you mean: {', '.join(names)}?"
            exc.args = (exc.message,)
            exc.metadata["suggestions"] = names

    # --- answers: cost and the ledger ----------------------------------------------------

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

    async def _finish(self, result: ChatResult, call: Call) -> ChatResult:
        """An answer: cleaned, priced, its ledger row and logbook entry written."""
        clean_result(result)
        request = call.request
        self._simulated_seen = self._simulated_seen or result.simulated
        if result.finish_reason == "length":
            emit(self.on_event, truncated_event(result, request.params.get("max_tokens")))
        result.session_id = call.session_id
        result.cost = await self._cost(result.model, result.usage, request.model)
        result.latency_s = time.perf_counter() - call.started
        await self._record(call, result=result)
        await record_exchange(
            await self.get_store(),
            self.settings,
            entry_point=self.entry_point,
            provider=self.provider,
            messages=request.messages,
            result=result,
            session_id=call.session_id,
        )
        return result

    async def _record(
        self, call: Call, *, result: ChatResult | None = None, error: PoeError | None = None
    ) -> None:
        store = await self.get_store()
        if store is None:
            return
        from .store.base import UsageRecord

        request = call.request
        usage = result.usage if result is not None else Usage()
        tags = current_tags()
        record = UsageRecord(
            ts=time.time(),
            provider=self.provider,
            backend=result.backend if result is not None else call.backend,
            model=result.model if result is not None else request.model,
            outcome="ok" if error is None else "error",
            session_id=call.session_id,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            estimated=usage.estimated,
            cost=result.cost if result is not None else None,
            latency_s=time.perf_counter() - call.started,
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
