"""The model catalog: which models the active provider offers, what they can do, what they cost.

The list comes live from the provider's ``/v1/models`` (never a hard-coded list), is cached on
disk for ``ttl_s``, and when the API cannot be reached the last cached list (or, for OpenAI, a
small built-in list) is served and :attr:`Catalog.source` says ``offline``.

Usage (the client wires one up as ``client.catalog``)::

    catalog = Catalog(client.list_models, cache_path=default_cache_path(settings))
    info = await catalog.get("claude-sonnet-4")  # any case; unknown names get suggestions
    cost = await catalog.cost(info, result.usage)  # USD, or None when the price is unknown
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import logging
import os
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import _constants as C
from ._model_ids import model_family, same_model
from ._model_info import ModelInfo, ModelParameter, Price, parse_price_overrides
from ._openai_models import OPENAI_MODELS
from ._openai_models import api_item as openai_api_item
from ._openai_models import price_table as openai_price_table
from ._providers import PROVIDERS
from .errors import (
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    OverloadedError,
    PoeError,
    RateLimitError,
    RequestTimeoutError,
    UpstreamError,
)
from .types import Usage

if TYPE_CHECKING:
    from .config import Settings

__all__ = [
    "Catalog",
    "CatalogSource",
    "ModelInfo",
    "ModelParameter",
    "Price",
    "default_cache_path",
    "parse_price_overrides",
]

log = logging.getLogger(__name__)

CatalogSource = Literal["live", "cache", "offline"]
Fetch = Callable[[], Awaitable[list[dict[str, Any]]]]

# Failures after which an older list beats no list: the API is unreachable or struggling.
_UNREACHABLE = (
    NetworkError,
    RequestTimeoutError,
    UpstreamError,
    OverloadedError,
    RateLimitError,
)
_CACHE_FORMAT = 1
# Provider prefixes people write (OpenRouter style) -> the owner names Poe uses.
_OWNER_ALIASES = {
    "claude": "anthropic",
    "gpt": "openai",
    "gemini": "google",
    "grok": "xai",
    "x": "xai",
    "llama": "meta",
    "metallama": "meta",
    "mistralai": "mistral",
}


def default_cache_path(settings: Settings) -> Path:
    """Where the model list of ``settings``' provider and base URL is cached in the data dir.

    One file per base URL, so a simulator or a compatible server never shadows Poe's list.
    """
    digest = hashlib.sha256(settings.effective_base_url.encode()).hexdigest()[:12]
    return settings.home / "cache" / f"models-{settings.provider}-{digest}.json"


def _norm(owner: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", owner.lower())
    return _OWNER_ALIASES.get(key, key)


def _owner_matches(prefix: str, owner: str | None) -> bool:
    if not owner:
        return True  # nothing says otherwise, and the rest of the name is an exact id
    a, b = _norm(prefix), _norm(owner)
    return bool(a) and (a == b or a.startswith(b) or b.startswith(a))


class Catalog:
    """Models of one provider, with capabilities, prices and costs.

    Args:
        fetch: returns the raw ``/v1/models`` items (``client.list_models``); raises PoeError.
        provider: ``poe``, ``openai`` or ``compatible``.
        cache_path: JSON file for the on-disk cache; None keeps the list in memory only.
        ttl_s: how long a fetched list is trusted before fetching again.
        price_overrides: a ``[prices]`` table (USD per million tokens); see
            :func:`parse_price_overrides`. For OpenAI they extend the built-in price table.

    Attributes:
        source: where the current list came from: ``live`` (just fetched), ``cache`` (the disk
            cache, within its TTL) or ``offline`` (the API failed: an older list or the built-in
            one); None before the first load.
        stale: True when the list served is older than ``ttl_s``.
        fetched_at: when the list was fetched from the API (epoch seconds), if known.
        offline_reason: why the API was not used, when ``source == "offline"``.
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        provider: str = "poe",
        cache_path: Path | None = None,
        ttl_s: float = C.CATALOG_TTL_S,
        price_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self._fetch = fetch
        self.provider = provider
        self.cache_path = cache_path
        self.ttl_s = ttl_s
        prices: dict[str, Price] = {}
        if provider == "openai":
            prices.update(parse_price_overrides(openai_price_table()))
        prices.update(parse_price_overrides(price_overrides or {}))
        self._prices = prices
        self.source: CatalogSource | None = None
        self.stale = False
        self.fetched_at: float | None = None
        self.offline_reason: str | None = None
        self._models: list[ModelInfo] | None = None
        self._index: dict[str, ModelInfo] = {}
        self._valid_until = 0.0
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def from_settings(cls, fetch: Fetch, settings: Settings) -> Catalog:
        """A catalog for ``settings``' provider, cached in its data dir, with its ``[prices]``."""
        catalog = cls(fetch, provider=settings.provider, cache_path=default_cache_path(settings))
        catalog._prices.update(settings.prices)  # parsed once, with the settings
        return catalog

    # --- loading ---------------------------------------------------------------------------

    async def models(self, refresh: bool = False) -> list[ModelInfo]:
        """Every model, in the provider's order.

        Args:
            refresh: skip both caches and fetch now (still falls back when the API is down).

        Raises:
            NetworkError: the API is unreachable and no list was ever cached.
            PoeError: the API answered with another error (auth, not found...).
        """
        if not refresh and self._models is not None and time.time() < self._valid_until:
            return list(self._models)
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:  # one per loop: the synchronous client may drive us from several
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:
            if not refresh and self._models is not None and time.time() < self._valid_until:
                return list(self._models)  # another task loaded it while we waited
            await self._load(refresh)
        assert self._models is not None
        return list(self._models)

    async def _load(self, refresh: bool) -> None:
        now = time.time()
        cached = self._read_cache()
        if not refresh and cached is not None and now - cached[0] < self.ttl_s:
            self._install(
                cached[1], "cache", fetched_at=cached[0], valid_until=cached[0] + self.ttl_s
            )
            return
        try:
            items = await self._fetch()
        except (PoeError, OSError) as exc:
            if isinstance(exc, PoeError) and not isinstance(exc, _UNREACHABLE):
                raise
            self._fall_back(exc, cached)
            return
        self._install(items, "live", fetched_at=now, valid_until=now + self.ttl_s)
        self._write_cache(items, now)

    def _fall_back(
        self, exc: BaseException, cached: tuple[float, list[dict[str, Any]]] | None
    ) -> None:
        reason = f"the model list could not be fetched ({exc})"
        retry_at = time.time() + C.CATALOG_OFFLINE_RETRY_S
        if self._models is not None and (cached is None or (self.fetched_at or 0) >= cached[0]):
            items = [m.raw for m in self._models]
            fetched_at = self.fetched_at
        elif cached is not None:
            fetched_at, items = cached
        elif self.provider == "openai":
            items, fetched_at = _openai_builtin(), None
            reason += "; using the built-in list of OpenAI models"
        else:
            env = PROVIDERS.get(self.provider, PROVIDERS["compatible"]).base_env
            raise NetworkError(
                f"The model list could not be fetched ({exc}) and no copy is cached yet. Check "
                f"the network and the base URL ({env})."
            ) from exc
        log.warning("%s; serving the %s list", reason, "cached" if fetched_at else "built-in")
        self._install(items, "offline", fetched_at=fetched_at, valid_until=retry_at)
        self.offline_reason = reason

    def _install(
        self,
        items: list[dict[str, Any]],
        source: CatalogSource,
        *,
        fetched_at: float | None,
        valid_until: float,
    ) -> None:
        models: list[ModelInfo] = []
        for item in items:
            if not isinstance(item, Mapping) or not item.get("id"):
                continue
            override = self._prices.get(str(item["id"]).lower())
            models.append(ModelInfo.from_api(item, provider=self.provider, price=override))
        self._models = models
        self._index = {m.id.lower(): m for m in models}
        self.source = source
        self.fetched_at = fetched_at
        self.stale = fetched_at is None or time.time() - fetched_at >= self.ttl_s
        self.offline_reason = None
        self._valid_until = valid_until

    def _read_cache(self) -> tuple[float, list[dict[str, Any]]] | None:
        if self.cache_path is None:
            return None
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring the unreadable model cache %s: %s", self.cache_path, exc)
            return None
        if (
            not isinstance(data, dict)
            or data.get("format") != _CACHE_FORMAT
            or data.get("provider") != self.provider
            or not isinstance(data.get("data"), list)
            or not isinstance(data.get("fetched_at"), int | float)
        ):
            return None
        return float(data["fetched_at"]), data["data"]

    def _write_cache(self, items: list[dict[str, Any]], fetched_at: float) -> None:
        if self.cache_path is None:
            return
        payload = {
            "format": _CACHE_FORMAT,
            "provider": self.provider,
            "fetched_at": fetched_at,
            "data": items,
        }
        tmp = self.cache_path.with_name(f"{self.cache_path.name}.{os.getpid()}.tmp")
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.cache_path)  # readers never see half a file
        except OSError as exc:
            log.warning("could not cache the model list in %s: %s", self.cache_path, exc)

    # --- lookup ----------------------------------------------------------------------------

    async def get(self, name: str) -> ModelInfo:
        """The model called ``name``: any case; ``owner/model`` resolved only when unambiguous.

        Raises:
            NotFoundError: unknown model (``metadata["suggestions"]`` holds close names), or a
                provider prefix that does not match the model's owner.
            InvalidRequestError: a prefixed name that fits several models.
        """
        await self.models()
        key = name.strip().lower()
        hit = self._index.get(key)
        if hit is not None:
            return hit
        if "/" in key:
            return self._resolve_prefixed(name.strip())
        raise self._unknown(name)

    async def find(self, name: str) -> ModelInfo | None:
        """Like :meth:`get`, but None for an unknown model."""
        try:
            return await self.get(name)
        except NotFoundError:
            return None

    def _resolve_prefixed(self, name: str) -> ModelInfo:
        prefix, _, rest = name.partition("/")
        candidates = [m for m in self._models or () if m.id.lower() == rest.lower()]
        if not candidates:
            raise self._unknown(name, rest)
        owned = [m for m in candidates if _owner_matches(prefix, m.provider)]
        if len(owned) == 1:
            return owned[0]
        if not owned:
            m = candidates[0]
            raise NotFoundError(
                f"Model {name!r} does not exist: {m.id} is made by {m.provider}, not {prefix!r}. "
                f"Model ids here carry no provider prefix: use {m.id!r} if you meant that model.",
                metadata={"model": name, "suggestions": [m.id]},
            )
        ids = ", ".join(m.id for m in owned)
        raise InvalidRequestError(
            f"Model {name!r} is ambiguous: it fits {ids}. Use the exact id.",
            metadata={"model": name, "candidates": [m.id for m in owned]},
        )

    def suggestions(self, name: str, n: int = C.SUGGESTIONS) -> list[str]:
        """Up to ``n`` ids close to ``name`` (spelling, or containing it), best first."""
        query = name.strip().lower().rpartition("/")[2]
        ids = list(self._index)
        close = difflib.get_close_matches(query, ids, n=n, cutoff=C.SUGGESTION_CUTOFF)
        containing = [i for i in ids if query and (query in i or i in query)]
        ranked = list(dict.fromkeys(close + containing))[:n]
        return [self._index[i].id for i in ranked]

    def _unknown(self, name: str, query: str | None = None) -> NotFoundError:
        found = self.suggestions(query or name)
        message = f"Unknown model {name!r}."
        if found:  # one hint: the likely names, else where the list is
            message += f" Did you mean: {', '.join(found)}?"
        else:
            message += " `poe-mcp models` lists the available models."
        return NotFoundError(message, metadata={"model": name, "suggestions": found})

    async def search(
        self,
        query: str | None = None,
        *,
        modality: str | None = None,
        supports_tools: bool | None = None,
        input_modality: str | None = None,
        all_kinds: bool = False,
    ) -> list[ModelInfo]:
        """Models matching every given filter.

        Args:
            query: words that must all appear in the id, provider or description (any case).
            modality: what the model produces (``text``, ``image``, ``video``, ``audio``).
            supports_tools: only models with (True) or without (False) function calling.
            input_modality: what the model accepts (``image`` for vision models).
            all_kinds: also models known not to chat (OpenAI's embedding, speech,
                transcription, image, moderation and instruct models); by default only models
                that chat, or whose kind is unknown, are listed.
        """
        words = (query or "").lower().split()
        found: list[ModelInfo] = []
        for m in await self.models():
            if not all_kinds and m.kind not in (None, "chat"):
                continue
            text = f"{m.id} {m.provider or ''} {m.description}".lower()
            if any(w not in text for w in words):
                continue
            if modality and modality.lower() not in m.output_modalities:
                continue
            if input_modality and input_modality.lower() not in m.input_modalities:
                continue
            if supports_tools is not None and m.supports_tools != supports_tools:
                continue
            found.append(m)
        return found

    # --- prices and parameters -------------------------------------------------------------

    async def cost(self, model: str | ModelInfo, usage: Usage) -> float | None:
        """USD for ``usage`` on ``model``: tokens times the listed per-token prices, exactly.

        None when the model or its price is unknown, or the catalog cannot be loaded: an
        unknown price is never reported as 0.
        """
        info = model if isinstance(model, ModelInfo) else await self._find_quietly(model)
        return None if info is None else info.cost(usage)

    async def answer_cost(self, requested: str, answered: str, usage: Usage) -> float | None:
        """USD of a call that asked for ``requested`` and was answered by ``answered``.

        Priced by the answering model when its price is known; else, when it is a dated
        snapshot or alias of the requested one (``gpt-4o`` answered by ``gpt-4o-2024-08-06``,
        see :mod:`poe_mcp._model_ids`), by the requested model or its family. Another model
        altogether, or no price anywhere, stays None (unknown, never 0).
        """
        info = await self._find_quietly(answered) if answered else None
        if info is not None and info.price_known:
            return info.cost(usage)
        if answered and not same_model(answered, requested):
            return None
        for name in dict.fromkeys((requested, model_family(requested))):
            info = await self._find_quietly(name)
            if info is not None and info.price_known:
                return info.cost(usage)
            price = self._prices.get(name.lower())  # a [prices] entry the list does not carry
            if price is not None and price.known:
                exact = price.cost(usage)
                return None if exact is None else float(exact)
        return None

    async def context_window(self, model: str) -> int:
        """The model's context window in tokens, or the default when the catalog does not say."""
        info = await self._find_quietly(model)
        if info is None or not info.context_window:
            return C.DEFAULT_CONTEXT_WINDOW
        return info.context_window

    async def check_params(self, model: str, params: Mapping[str, Any] | None) -> None:
        """Refuse bot parameters the model does not declare, or values outside their schema.

        Nothing is checked when the catalog cannot tell (unknown model, no declared list,
        catalog unreachable): the provider then has the last word.

        Raises:
            InvalidRequestError: names what is wrong and what the model accepts.
        """
        if not params:
            return
        info = await self._find_quietly(model)
        if info is None or info.parameters is None:
            return
        declared = {p.name: p for p in info.parameters}
        unknown = sorted(set(params) - set(declared))
        if unknown:
            accepted = ", ".join(sorted(declared)) or "none"
            raise InvalidRequestError(
                f"{info.id} does not accept the parameter(s) {', '.join(unknown)}. "
                f"Parameters it accepts: {accepted}.",
                metadata={"model": info.id, "unknown_parameters": unknown},
            )
        for name, value in params.items():
            _check_value(info.id, declared[name], value)

    async def _find_quietly(self, model: str) -> ModelInfo | None:
        try:
            return await self.find(model)
        except PoeError as exc:
            log.debug("catalog unavailable for %s: %s", model, exc)
            return None


def _check_value(model_id: str, param: ModelParameter, value: Any) -> None:
    schema = param.schema
    what = f"parameter {param.name!r} of {model_id}"
    typ = schema.get("type")
    checks: dict[str, bool] = {
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "string": isinstance(value, str),
    }
    if not checks.get(str(typ), True):
        raise InvalidRequestError(f"{what} must be of type {typ}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(repr(v) for v in schema["enum"])
        raise InvalidRequestError(f"{what} must be one of {allowed}, got {value!r}")
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and "minimum" in schema and value < schema["minimum"]:
        raise InvalidRequestError(f"{what} must be at least {schema['minimum']}, got {value!r}")
    if numeric and "maximum" in schema and value > schema["maximum"]:
        raise InvalidRequestError(f"{what} must be at most {schema['maximum']}, got {value!r}")


def _openai_builtin() -> list[dict[str, Any]]:
    """OpenAI's models from the table in ``_openai_models``, shaped like ``/v1/models`` items."""
    return [openai_api_item(m) for m in OPENAI_MODELS]
