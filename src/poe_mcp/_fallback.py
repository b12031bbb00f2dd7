"""Fallback chains and the per-model reasoning mapping, around one chat or stream call.

``client.chat(model, ..., fallbacks=[B, C])`` (or a ``[fallbacks]`` entry for ``model`` in
``config.toml``) sends the request to ``model``; when it fails in a way another model may not
(rate limit after retries, 5xx, overload, moderation, a context window too small, a timeout),
``B`` is tried, then ``C``. Every attempt is one ordinary call (validated, budgeted, retried,
priced and recorded in the ledger like any other); the result's ``attempts`` say which model
answered and why the others were skipped. Invalid requests, unknown models, auth, balance and
quota errors of the first model never fall back: another model would fail the same way, or the
caller must act; a fallback that cannot take the request (unknown to the provider, cannot
reason...) is passed over.
A stream falls back only until its first delta: once text reached the caller, a failure is
raised.

``reasoning_effort`` is mapped here too, per model (see :mod:`poe_mcp._reasoning`), since each
model of a chain may take it differently. Both wrap the client's public ``chat``/``stream``,
calling them once per model with ``fallbacks=()`` and the mapped bot parameters.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from . import _constants as C
from ._policy import aclose_stream
from ._reasoning import plan_reasoning
from .errors import ConfigError, InvalidRequestError, NotFoundError, PoeError
from .types import Attempt, ChatOptions, ChatResult, Delta

if TYPE_CHECKING:
    from ._client import AsyncPoeClient
    from ._messages import MessagesInput
    from .config import Settings

__all__ = [
    "FALLBACK_KINDS",
    "call_options",
    "chat_plan",
    "configured_fallbacks",
    "fallback_chain",
    "falls_back",
    "needs_plan",
    "parse_fallbacks",
    "stream_plan",
]

# Error kinds after which the next model of a chain is tried.
FALLBACK_KINDS = frozenset(
    {"rate_limit", "upstream", "overloaded", "moderation", "too_large", "timeout"}
)
_CONTEXT_OVERFLOW = re.compile(
    r"context[ _-]?(length|window)|maximum context|too many tokens|prompt is too long", re.I
)
_OPTION_NAMES = frozenset(ChatOptions.__annotations__) - {"fallbacks", "reasoning_effort"}


def call_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The chat options of one call that are set, but the plan's own (each model of a chain
    is called with these, ``fallbacks=()`` and its mapped reasoning fields)."""
    return {k: v for k, v in options.items() if k in _OPTION_NAMES and v is not None}


def falls_back(exc: PoeError) -> bool:
    """Whether another model may succeed where this error's model failed."""
    if exc.kind in FALLBACK_KINDS:
        return True
    # A context window too small is a 400 on OpenAI (code context_length_exceeded).
    return isinstance(exc, InvalidRequestError) and bool(
        exc.code == "context_length_exceeded" or _CONTEXT_OVERFLOW.search(exc.message)
    )


def parse_fallbacks(
    table: Mapping[str, Any], where: str = "[fallbacks] in config.toml"
) -> dict[str, list[str]]:
    """A ``[fallbacks]`` table (model name -> list of fallback model names), checked, with
    the model names lower-cased (``settings.fallbacks``).

    Raises:
        ConfigError: a value that is not a list of model names, too many, or the model itself.
    """
    for model, chain in table.items():
        if not isinstance(chain, list) or not all(isinstance(m, str) and m for m in chain):
            raise ConfigError(
                f"{where}: {model!r} must be a list of model names, "
                f'e.g. "{model}" = ["Claude-Sonnet-4", "GPT-4.1"]; got {chain!r}'
            )
        if len(chain) > C.FALLBACKS_MAX:
            raise ConfigError(f"{where}: {model!r} names more than {C.FALLBACKS_MAX} fallbacks")
        if any(m.lower() == str(model).lower() for m in chain):
            raise ConfigError(f"{where}: {model!r} lists itself as its own fallback")
    return {str(model).lower(): list(chain) for model, chain in table.items()}


def configured_fallbacks(settings: Settings, model: str) -> list[str]:
    """The ``[fallbacks]`` entry of ``model`` in config.toml (any case), or []."""
    return list(settings.fallbacks.get(model.strip().lower(), ()))


def fallback_chain(settings: Settings, model: str, fallbacks: Iterable[str] | None) -> list[str]:
    """``model`` then its fallbacks (the call's, else config.toml's), each model once.

    Raises:
        InvalidRequestError: a fallback that is not a model name, or too many.
    """
    if fallbacks is None:
        wanted = configured_fallbacks(settings, model)
    elif isinstance(fallbacks, str):
        wanted = [fallbacks]
    else:
        wanted = list(fallbacks)
    if len(wanted) > C.FALLBACKS_MAX:
        raise InvalidRequestError(f"at most {C.FALLBACKS_MAX} fallback models per call")
    chain: list[str] = []
    for name in [model, *wanted]:
        if not isinstance(name, str) or not name.strip():
            raise InvalidRequestError(f"fallbacks must be model names, got {name!r}")
        if name.strip().lower() not in {c.lower() for c in chain}:
            chain.append(name.strip())
    return chain


def needs_plan(
    settings: Settings, model: str, fallbacks: Sequence[str] | None, effort: Any
) -> bool:
    """Whether a call needs the plan (fallbacks or reasoning), or can go straight out."""
    if effort is not None:
        return True
    if fallbacks is not None:
        return bool(fallbacks)
    return bool(settings.file.get("fallbacks")) and bool(configured_fallbacks(settings, model))


def _record(
    attempts: list[Attempt], model: str, started: float, exc: PoeError | None, skipped: bool
) -> None:
    elapsed = time.perf_counter() - started
    if exc is None:
        attempts.append(Attempt(model, "ok", latency_s=elapsed))
    else:
        outcome: Literal["skipped", "failed"] = "skipped" if skipped else "failed"
        attempts.append(Attempt(model, outcome, exc.kind, exc.message, elapsed))


def _give_up(exc: PoeError, attempts: list[Attempt]) -> PoeError:
    """``exc`` with the chain's story: which models were skipped before it, and why."""
    if len(attempts) > 1:
        skipped = [f"{a.model} ({a.error_kind})" for a in attempts if a.outcome == "skipped"]
        if skipped:
            exc.message = f"{exc.message} [after falling back from {', '.join(skipped)}]"
            exc.args = (exc.message,)
        exc.metadata["attempts"] = [a.to_dict() for a in attempts]
    return exc


def _decorate(result: ChatResult, attempts: list[Attempt], note: str | None) -> ChatResult:
    if len(attempts) > 1:
        result.attempts = tuple(attempts)
    if note:
        result.notes = (*result.notes, note)
    return result


async def _prepare(
    client: AsyncPoeClient, model: str, effort: Any, options: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """The options for ``model``: with its reasoning fields in ``extra`` when asked."""
    if effort is None:
        return options, None
    plan = await plan_reasoning(client.catalog, model, effort, options.get("extra"))
    return {**options, "extra": plan.extra or None}, plan.note


def _failed(
    exc: PoeError, index: int, chain: list[str], attempts: list[Attempt], started: float
) -> None:
    """Record the failure of ``chain[index]``; raise it (with the chain's story) unless the
    next model may answer: only failures another model may not have go on."""
    # A fallback that cannot take the request (e.g. it cannot reason, or the provider does
    # not know it) is passed over too; the first model's refusal is the caller's mistake and
    # stops the call.
    skip = index < len(chain) - 1 and (
        falls_back(exc) or (index > 0 and isinstance(exc, (InvalidRequestError, NotFoundError)))
    )
    _record(attempts, chain[index], started, exc, skip)
    if not skip:
        raise _give_up(exc, attempts) from None


async def chat_plan(
    client: AsyncPoeClient, model: str, messages: MessagesInput, options: Mapping[str, Any]
) -> ChatResult:
    """``client.chat`` over the fallback chain of ``model``, reasoning mapped per model
    (``options``: the call's chat options)."""
    chain = fallback_chain(client.settings, model, options.get("fallbacks"))
    effort, shared = options.get("reasoning_effort"), call_options(options)
    attempts: list[Attempt] = []
    for index, name in enumerate(chain):
        started = time.perf_counter()
        try:
            call, note = await _prepare(client, name, effort, shared)
            result = await client.chat(name, messages, **call, fallbacks=())
        except PoeError as exc:
            _failed(exc, index, chain, attempts, started)
            continue
        _record(attempts, name, started, None, False)
        return _decorate(result, attempts, note)
    raise AssertionError("unreachable: the last model either answers or raises")


async def stream_plan(
    client: AsyncPoeClient, model: str, messages: MessagesInput, options: Mapping[str, Any]
) -> AsyncIterator[Delta]:
    """``client.stream`` over the fallback chain, falling back only before the first delta."""
    chain = fallback_chain(client.settings, model, options.get("fallbacks"))
    effort, shared = options.get("reasoning_effort"), call_options(options)
    attempts: list[Attempt] = []
    for index, name in enumerate(chain):
        started = time.perf_counter()
        source: AsyncIterator[Delta] | None = None
        try:
            call, note = await _prepare(client, name, effort, shared)
            source = client.stream(name, messages, **call, fallbacks=())
            first = await anext(source)
        except PoeError as exc:
            if source is not None:
                await aclose_stream(source)
            _failed(exc, index, chain, attempts, started)
            continue
        _record(attempts, name, started, None, False)
        try:
            delta: Delta | None = first
            while delta is not None:
                if delta.result is not None:
                    _decorate(delta.result, attempts, note)
                yield delta
                delta = await anext(source, None)
        finally:
            await aclose_stream(source)
        return
