"""What one model can do and what it costs, parsed from a ``/v1/models`` item.

Prices stay exact: Poe publishes them as decimal strings (USD per token), so they are parsed with
:class:`~decimal.Decimal` and a call's cost is computed in decimal before it becomes a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from . import _constants as C
from ._openai_models import lookup as openai_lookup
from .errors import ConfigError
from .types import Usage

__all__ = ["Capability", "ModelInfo", "ModelParameter", "Price", "parse_price_overrides"]

Capability = Literal["yes", "no", "unknown"]


@dataclass(frozen=True, slots=True)
class Price:
    """Exact USD prices of one model; None where the provider does not say."""

    input: Decimal | None = None  # per input token
    output: Decimal | None = None  # per output token
    request: Decimal | None = None  # per call (media bots)
    cache_read: Decimal | None = None  # per input token read from the prompt cache
    cache_write: Decimal | None = None  # per input token written to the prompt cache

    @property
    def known(self) -> bool:
        return any(p is not None for p in (self.input, self.output, self.request))

    def cost(self, usage: Usage) -> Decimal | None:
        """The exact cost of ``usage``, or None when a price it needs is unknown.

        Cached input tokens are priced at the cache-read price and tokens written to the
        cache at the cache-write price; where the catalog lists no such price, they cost what
        any input token costs (the provider then bills them as such). Reasoning tokens are
        output tokens and cost what output costs.
        """
        if not self.known:
            return None
        per_call_only = self.request is not None and self.input is None and self.output is None
        total = self.request or Decimal(0)
        if per_call_only:
            return total
        cached, written = usage.cached_tokens, usage.cache_write_tokens
        fresh = max(0, usage.input_tokens - cached - written)
        parts = (
            (fresh, self.input),
            (cached, self.cache_read if self.cache_read is not None else self.input),
            (written, self.cache_write if self.cache_write is not None else self.input),
            (usage.output_tokens, self.output),
        )
        for tokens, price in parts:
            if tokens:
                if price is None:
                    return None
                total += price * tokens
        return total


@dataclass(frozen=True, slots=True)
class ModelParameter:
    """A bot parameter a model declares (thinking budget, aspect ratio, web search...)."""

    name: str
    schema: dict[str, Any] = field(default_factory=dict)
    default: Any = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schema": self.schema,
            "default": self.default,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model of the active provider.

    Attributes:
        id: the model id as the provider spells it (``Claude-Sonnet-4``, ``gpt-4o``).
        provider: who makes it (``owned_by``), when known.
        input_modalities / output_modalities: e.g. ``("text", "image")`` / ``("video",)``.
        supports_tools: function calling: True (stated yes), False (stated no) or None
            (unknown: the provider's list says nothing, as OpenAI, Ollama, vLLM, LM Studio and
            llama.cpp do). Only a stated no may refuse a request; see :meth:`capability`.
        vision: accepts images; three-valued like ``supports_tools``.
        kind: what the model is for: ``chat`` (answers chat completions; every Poe bot),
            another endpoint's kind for OpenAI's non-chat models (``embedding``, ``speech``,
            ``transcription``, ``image``, ``moderation``, ``completion``, ``realtime``,
            ``responses``), or None (unknown).
        context_window / max_output_tokens: in tokens, when known.
        parameters: declared bot parameters; None when the API does not declare any list
            (then nothing can be checked), ``()`` when it declares that none are accepted.
        input_price / output_price: USD per token; request_price: USD per call; None = unknown.
        description: the provider's one-line description.
        raw: the ``/v1/models`` item as received.
        price: the exact prices behind the float fields.
    """

    id: str
    provider: str | None = None
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("text",)
    supports_tools: bool | None = None
    vision: bool | None = None
    kind: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    parameters: tuple[ModelParameter, ...] | None = None
    input_price: float | None = None
    output_price: float | None = None
    request_price: float | None = None
    description: str = ""
    created: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    price: Price = field(default_factory=Price, repr=False)

    @property
    def owned_by(self) -> str | None:
        return self.provider

    @property
    def price_known(self) -> bool:
        return self.price.known

    def cost(self, usage: Usage) -> float | None:
        """USD for ``usage`` on this model, or None when its price is unknown (never 0)."""
        exact = self.price.cost(usage)
        return None if exact is None else float(exact)

    def capability(self, name: Literal["tools", "vision"]) -> Capability:
        """``yes``, ``no`` or ``unknown``: what the provider's list states about ``name``."""
        value = self.supports_tools if name == "tools" else self.vision
        return "unknown" if value is None else "yes" if value else "no"

    def parameter(self, name: str) -> ModelParameter | None:
        for p in self.parameters or ():
            if p.name == name:
                return p
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (prices also per million tokens, as people quote them)."""

        def per_mtok(p: Decimal | None) -> float | None:
            return None if p is None else float(p * C.TOKENS_PER_MTOK)

        return {
            "id": self.id,
            "provider": self.provider,
            "description": self.description,
            "input_modalities": list(self.input_modalities),
            "output_modalities": list(self.output_modalities),
            "supports_tools": self.supports_tools,
            "vision": self.vision,
            "capabilities": {
                "tools": self.capability("tools"),
                "vision": self.capability("vision"),
            },
            "kind": self.kind,
            "context_window": self.context_window,
            "max_output_tokens": self.max_output_tokens,
            "parameters": None
            if self.parameters is None
            else [p.to_dict() for p in self.parameters],
            "pricing": {
                "known": self.price_known,
                "input_per_token": self.input_price,
                "output_per_token": self.output_price,
                "per_request": self.request_price,
                "input_per_mtok": per_mtok(self.price.input),
                "output_per_mtok": per_mtok(self.price.output),
                "cache_read_per_mtok": per_mtok(self.price.cache_read),
                "cache_write_per_mtok": per_mtok(self.price.cache_write),
            },
        }

    @classmethod
    def from_api(
        cls, item: Mapping[str, Any], *, provider: str = "poe", price: Price | None = None
    ) -> ModelInfo:
        """Parse one ``/v1/models`` item; ``price`` (an override) replaces its own pricing."""
        model_id = str(item.get("id") or "")
        arch = item.get("architecture") if isinstance(item.get("architecture"), Mapping) else None
        # OpenAI's own list is bare: its one maintained table knows; else the model is unknown.
        known = openai_lookup(model_id) if provider == "openai" and arch is None else None
        if arch is not None:
            ins = _strings(arch.get("input_modalities")) or ("text",)
            outs = _strings(arch.get("output_modalities")) or ("text",)
        elif known is not None:
            ins, outs = known.input_modalities, known.output_modalities
        else:
            ins, outs = ("text",), ("text",)
        features = _features(item.get("supported_features"))
        tools = _tool_support(item, features)
        if arch is not None or features is not None:
            vision: bool | None = "image" in ins or (features is not None and "vision" in features)
        else:
            vision = None  # a bare {id, object, owned_by} item says nothing about images
        if known is not None:
            tools = known.tools if tools is None else tools
            vision = known.vision if vision is None else vision
        window, max_out = _context(item)
        if known is not None:
            window = window or known.context_window
            max_out = max_out or known.max_output_tokens
        exact = price if price is not None else _pricing(item.get("pricing"))
        raw_params = item.get("parameters")
        params = _parameters(raw_params) if isinstance(raw_params, list) else None
        owner = item.get("owned_by")
        created = item.get("created")
        return cls(
            id=model_id,
            provider=str(owner) if owner else None,
            input_modalities=ins,
            output_modalities=outs,
            supports_tools=tools,
            vision=vision,
            kind=known.kind if known else "chat" if arch or features is not None else None,
            context_window=window,
            max_output_tokens=max_out,
            parameters=params,
            input_price=_float(exact.input),
            output_price=_float(exact.output),
            request_price=_float(exact.request),
            description=str(item.get("description") or ""),
            created=created if isinstance(created, int) else None,
            raw=dict(item),
            price=exact,
        )


# Names a provider's list uses for function calling, in its features, parameters or capabilities.
_TOOL_WORDS = frozenset({"tools", "tool_choice", "function_calling", "tool_calling", "tool_use"})


def _tool_support(item: Mapping[str, Any], features: set[str] | None) -> bool | None:
    """Function calling: stated yes, stated no, or None when the list does not say.

    Read from Poe's ``supported_features``, OpenRouter's ``supported_parameters``, or a
    ``capabilities`` list (Ollama, LM Studio); a list that is present but lacks tools is a no.
    OpenAI's own API states nothing: ``from_api`` asks its table (``_openai_models``) instead.
    """
    for stated in (features, _features(item.get("supported_parameters"))):
        if stated is not None:
            return bool(stated & _TOOL_WORDS)
    capabilities = item.get("capabilities")
    if isinstance(capabilities, Mapping):
        said = [bool(v) for k, v in capabilities.items() if str(k).lower() in _TOOL_WORDS]
        if said:
            return any(said)
    elif isinstance(capabilities, list) and capabilities:
        return bool(set(_strings(capabilities)) & _TOOL_WORDS)
    return None


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v).lower() for v in value if v)


def _features(value: Any) -> set[str] | None:
    if isinstance(value, list):
        return {str(v).lower() for v in value}
    if isinstance(value, Mapping):
        return {str(k).lower() for k, v in value.items() if v}
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _context(item: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """An int on some providers; ``{context_length, max_output_tokens}`` on Poe."""
    value = item.get("context_window", item.get("context_length"))
    if isinstance(value, Mapping):
        return _int(value.get("context_length")), _int(value.get("max_output_tokens"))
    return _int(value), _int(item.get("max_output_tokens"))


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        # str() first: a float price (some compatible servers send numbers) keeps its short form.
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() and result >= 0 else None


def _pricing(value: Any) -> Price:
    if not isinstance(value, Mapping):
        return Price()
    return Price(
        input=_decimal(value.get("prompt", value.get("input"))),
        output=_decimal(value.get("completion", value.get("output"))),
        request=_decimal(value.get("request")),
        cache_read=_decimal(value.get("input_cache_read", value.get("cache_read"))),
        cache_write=_decimal(value.get("input_cache_write", value.get("cache_write"))),
    )


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _parameters(items: list[Any]) -> tuple[ModelParameter, ...]:
    params: list[ModelParameter] = []
    for p in items:
        if not isinstance(p, Mapping) or not p.get("name"):
            continue
        schema = p.get("schema")
        params.append(
            ModelParameter(
                name=str(p["name"]),
                schema=dict(schema) if isinstance(schema, Mapping) else {},
                default=p.get("default_value", p.get("default")),
                description=str(p.get("description") or ""),
            )
        )
    return tuple(params)


_MTOK = Decimal(C.TOKENS_PER_MTOK)


def parse_price_overrides(table: Mapping[str, Any]) -> dict[str, Price]:
    """Read a ``[prices]`` table: USD per **million** tokens, keyed by model id (any case).

    Each value is ``[input, output]`` or a table of ``input``, ``output``, ``cache_read``,
    ``cache_write`` (per million tokens) and ``request`` (USD per call)::

        [prices]
        "gpt-4o" = [2.5, 10.0]
        "claude-sonnet-4" = { input = 3.0, output = 15.0, cache_read = 0.3, cache_write = 3.75 }
        "GPT-Image-1" = { request = 0.04 }

    Raises:
        ConfigError: a value has another shape or is not a non-negative number.
    """
    prices: dict[str, Price] = {}
    for name, value in table.items():
        where = f"[prices] {name!r} in config.toml"
        if isinstance(value, list | tuple) and len(value) == 2:
            parts: dict[str, Any] = {"input": value[0], "output": value[1]}
        elif isinstance(value, Mapping) and set(value) <= set(_PRICE_KEYS):
            parts = dict(value)
        else:
            raise ConfigError(
                f"{where} must be [input, output] in USD per million tokens, "
                f"or a table with {'/'.join(_PRICE_KEYS)}"
            )
        exact: dict[str, Decimal | None] = {}
        for key in _PRICE_KEYS:
            raw = parts.get(key)
            if raw is None:
                exact[key] = None
                continue
            amount = None if isinstance(raw, bool) else _decimal(raw)
            if amount is None:
                raise ConfigError(f"{where}: {key} must be a non-negative number, got {raw!r}")
            exact[key] = amount if key == "request" else amount / _MTOK
        prices[str(name).lower()] = Price(**exact)
    return prices


_PRICE_KEYS = ("input", "output", "request", "cache_read", "cache_write")
