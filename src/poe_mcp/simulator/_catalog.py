"""The simulator's model catalogue: what ``GET /v1/models`` lists and what each model can do.

Each :class:`ModelSpec` says which kind of bot it is (``text``, ``image``, ``video``, ``audio``),
whether it takes tools and images, its price (strings in USD per token, or ``None`` when unknown)
and the bot parameters it declares. Poe validates bot parameters strictly since 2026, so
:func:`validate_params` refuses anything undeclared.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import InvalidRequestError, NotFoundError
from ._quirks import listing

__all__ = ["CATALOG", "ModelKind", "ModelSpec", "ParamSpec", "find_model", "validate_params"]

ModelKind = Literal["text", "image", "video", "audio"]

_CREATED_MS = 1_735_689_600_000  # 2025-01-01, a fixed date keeps /v1/models deterministic


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A declared bot parameter (``extra_body`` on REST, ``parameters`` on the bot protocol)."""

    name: str
    schema: Mapping[str, Any]
    default: Any = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schema": dict(self.schema),
            "default_value": self.default,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One simulated Poe bot.

    Attributes:
        id: the bot name as Poe spells it (matched case-insensitively).
        kind: ``text`` for chat models, else the media the bot generates.
        owned_by: the provider.
        tools: whether function calling is supported.
        vision: whether images are accepted as input.
        prompt_price / completion_price: USD per token as strings, None when unknown.
        request_price: USD per request (media bots), None when not priced per request.
        priced: False for the model whose whole ``pricing`` is null.
        cache_read_price / cache_write_price: USD per cached input token read / written, as
            strings; None when not listed (the model then reports no cached tokens).
        parameters: declared bot parameters.
        endpoints: the API paths that serve it (``supported_endpoints``); the models with
            ``/v1/responses`` get structured output there (``text.format``).
    """

    id: str
    kind: ModelKind
    owned_by: str
    description: str
    context_window: int = 200_000
    max_output_tokens: int = 8192
    tools: bool = False
    vision: bool = False
    reasoning: bool = False
    web_search: bool = False
    prompt_price: str | None = None
    completion_price: str | None = None
    request_price: str | None = None
    priced: bool = True
    cache_read_price: str | None = None
    cache_write_price: str | None = None
    parameters: tuple[ParamSpec, ...] = field(default=())
    endpoints: tuple[str, ...] = ("/v1/chat/completions",)
    quirks: tuple[str, ...] = ()  # how it deviates from Poe's wire format (see _quirks.py)

    @property
    def is_media(self) -> bool:
        return self.kind != "text"

    def param(self, name: str) -> ParamSpec | None:
        for spec in self.parameters:
            if spec.name == name:
                return spec
        return None

    def input_modalities(self) -> list[str]:
        mods = ["text"]
        if self.vision:
            mods += ["image", "file"]
        return mods

    def output_modalities(self) -> list[str]:
        return ["text"] if self.kind == "text" else [self.kind]

    def to_openai(self) -> dict[str, Any]:
        """The ``/v1/models`` item: OpenAI's list shape plus Poe's own fields."""
        ins, outs = self.input_modalities(), self.output_modalities()
        features = ["streaming"] if self.kind == "text" else []
        if self.tools:
            features += ["tools", "parallel_tool_calls"]
        if self.vision:
            features.append("vision")
        if self.web_search:
            features.append("web_search")
        pricing: dict[str, Any] | None = None
        if self.priced:
            pricing = {
                "prompt": self.prompt_price,
                "completion": self.completion_price,
                "request": self.request_price,
                "image": None,
                "input_cache_read": self.cache_read_price,
                "input_cache_write": self.cache_write_price,
            }
        item = {
            "id": self.id,
            "object": "model",
            "created": _CREATED_MS,
            "owned_by": self.owned_by,
            "description": self.description,
            "architecture": {
                "input_modalities": ins,
                "output_modalities": outs,
                "modality": f"{'+'.join(ins)}->{'+'.join(outs)}",
            },
            "pricing": pricing,
            "context_window": {
                "context_length": self.context_window,
                "max_output_tokens": self.max_output_tokens,
            },
            "supported_features": features,
            "reasoning": {"supported": self.reasoning} if self.kind == "text" else None,
            "web_search": self.web_search,
            "parameters": [p.to_dict() for p in self.parameters],
            "supported_endpoints": list(self.endpoints),
        }
        return listing(item, self.quirks) if self.quirks else item


# Models Poe also serves through its Responses API (structured output with text.format).
_WITH_RESPONSES = ("/v1/chat/completions", "/v1/responses")

_THINKING = ParamSpec(
    "thinking_budget",
    {"type": "integer", "minimum": 0, "maximum": 32_768},
    0,
    "Tokens the model may spend thinking before it answers.",
)
_WEB_SEARCH = ParamSpec(
    "web_search", {"type": "boolean"}, False, "Let the bot search the web before answering."
)
_REASONING_EFFORT = ParamSpec(
    "reasoning_effort",
    {"type": "string", "enum": ["low", "medium", "high"]},
    "medium",
    "How hard the model thinks.",
)

CATALOG: tuple[ModelSpec, ...] = (
    ModelSpec(
        "Claude-Opus-4.1", "text", "Anthropic", "Anthropic's most capable model.",
        tools=True, vision=True, reasoning=True, web_search=True,
        prompt_price="0.000015", completion_price="0.000075",
        cache_read_price="0.0000015", cache_write_price="0.00001875",
        parameters=(_THINKING, _WEB_SEARCH), endpoints=_WITH_RESPONSES,
    ),
    ModelSpec(
        "Claude-Sonnet-4", "text", "Anthropic", "Fast, capable Claude model.",
        tools=True, vision=True, reasoning=True, web_search=True,
        prompt_price="0.000003", completion_price="0.000015",
        parameters=(_THINKING, _WEB_SEARCH), endpoints=_WITH_RESPONSES,
    ),
    ModelSpec(
        "GPT-4.1", "text", "OpenAI", "OpenAI's flagship non-reasoning model.",
        context_window=1_047_576, max_output_tokens=32_768, tools=True, vision=True,
        prompt_price="0.000002", completion_price="0.000008", endpoints=_WITH_RESPONSES,
    ),
    ModelSpec(
        "GPT-5-mini", "text", "OpenAI", "Fast, cheap reasoning model (poe-mcp's default model).",
        context_window=400_000, max_output_tokens=128_000, tools=True, vision=True,
        reasoning=True, prompt_price="0.00000025", completion_price="0.000002",
        cache_read_price="0.000000025", endpoints=_WITH_RESPONSES,
    ),
    ModelSpec(
        "GPT-4o-mini", "text", "OpenAI", "Small, cheap OpenAI model.",
        context_window=128_000, max_output_tokens=16_384, tools=True, vision=True,
        prompt_price="0.00000015", completion_price="0.0000006", endpoints=_WITH_RESPONSES,
    ),
    ModelSpec(
        "o3", "text", "OpenAI", "OpenAI's reasoning model (the short name earlier servers used).",
        context_window=200_000, max_output_tokens=100_000, tools=True, vision=True,
        reasoning=True, prompt_price="0.000002", completion_price="0.000008",
    ),
    ModelSpec(
        "Gemini-2.5-Pro", "text", "Google", "Google's reasoning model.",
        context_window=1_048_576, max_output_tokens=65_536, tools=True, vision=True,
        reasoning=True, web_search=True,
        prompt_price="0.00000125", completion_price="0.00001",
        cache_read_price="0.00000031", parameters=(_THINKING, _WEB_SEARCH),
    ),
    ModelSpec(
        "Grok-4", "text", "xAI", "xAI's reasoning model.",
        context_window=256_000, tools=True, vision=True, reasoning=True, web_search=True,
        prompt_price="0.000003", completion_price="0.000015",
        parameters=(_REASONING_EFFORT, _WEB_SEARCH),
    ),
    ModelSpec(
        "Llama-3.1-405B", "text", "Meta", "Open-weights model without function calling.",
        context_window=128_000, max_output_tokens=4096,
        prompt_price="0.000003", completion_price="0.000003",
    ),
    # Two models served the way other OpenAI-compatible providers serve theirs (_quirks.py):
    ModelSpec(
        "Local-Llama-3.1", "text", "Meta", "A local model listed without capabilities.",
        context_window=128_000, tools=True, priced=False, quirks=("plain_listing",),
    ),
    ModelSpec(
        "Mistral-Large", "text", "Mistral", "Answers with its dated snapshot id.",
        context_window=128_000, tools=True,
        prompt_price="0.000002", completion_price="0.000006", quirks=("dated_id",),
    ),
    ModelSpec(
        "Assistant", "text", "Poe", "Poe's general assistant; its price is not published.",
        context_window=128_000, tools=True, priced=False,
    ),
    ModelSpec(
        "GPT-Image-1", "image", "OpenAI", "Image generation (PNG).",
        context_window=32_000, vision=True, request_price="0.04",
        parameters=(
            ParamSpec("aspect", {"type": "string", "enum": ["1:1", "3:2", "2:3", "16:9", "9:16"]},
                      "1:1", "Aspect ratio of the image."),
            ParamSpec("quality", {"type": "string", "enum": ["low", "medium", "high"]},
                      "medium", "Higher quality gives a larger image."),
        ),
    ),
    ModelSpec(
        "Veo-3", "video", "Google", "Video generation (MP4).",
        context_window=8_000, request_price="0.75",
        parameters=(
            ParamSpec("duration", {"type": "integer", "minimum": 1, "maximum": 8}, 8,
                      "Length of the video in seconds."),
            ParamSpec("aspect", {"type": "string", "enum": ["16:9", "9:16"]}, "16:9",
                      "Aspect ratio of the video."),
        ),
    ),
    ModelSpec(
        "ElevenLabs", "audio", "ElevenLabs", "Text to speech (MP3 or WAV).",
        context_window=8_000, request_price="0.01",
        parameters=(
            ParamSpec("voice", {"type": "string", "enum": ["Rachel", "Adam", "Bella"]}, "Rachel",
                      "The voice that reads the text."),
            ParamSpec("format", {"type": "string", "enum": ["mp3", "wav"]}, "mp3",
                      "Audio container of the result."),
        ),
    ),
)  # fmt: skip

_BY_LOWER: dict[str, ModelSpec] = {m.id.lower(): m for m in CATALOG}


def find_model(name: str | None) -> ModelSpec:
    """The model called ``name`` (any case).

    Raises:
        InvalidRequestError: no model given.
        NotFoundError: unknown model; the message names close matches.
    """
    if not name:
        raise InvalidRequestError("'model' is required")
    spec = _BY_LOWER.get(name.lower())
    if spec is not None:
        return spec
    close = difflib.get_close_matches(name.lower(), list(_BY_LOWER), n=3, cutoff=0.4)
    hint = ", ".join(_BY_LOWER[c].id for c in close)
    message = f"Model {name!r} does not exist."
    if hint:
        message += f" Did you mean: {hint}?"
    raise NotFoundError(
        message, metadata={"model": name, "suggestions": [_BY_LOWER[c].id for c in close]}
    )


def _check_value(model: ModelSpec, spec: ParamSpec, value: Any) -> None:
    schema = spec.schema
    bad = f"parameter {spec.name!r} of {model.id}"
    typ = schema.get("type")
    ok = {
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "string": isinstance(value, str),
    }.get(str(typ), True)
    if not ok:
        raise InvalidRequestError(f"{bad} must be of type {typ}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(repr(v) for v in schema["enum"])
        raise InvalidRequestError(f"{bad} must be one of {allowed}, got {value!r}")
    if "minimum" in schema and value < schema["minimum"]:
        raise InvalidRequestError(f"{bad} must be >= {schema['minimum']}, got {value!r}")
    if "maximum" in schema and value > schema["maximum"]:
        raise InvalidRequestError(f"{bad} must be <= {schema['maximum']}, got {value!r}")


def validate_params(model: ModelSpec, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check bot parameters against the model's declarations; return them with defaults filled in.

    Raises:
        InvalidRequestError: an undeclared parameter (Poe's strict mode) or a value outside
            its schema.
    """
    params = params or {}
    declared = {p.name for p in model.parameters}
    unknown = sorted(set(params) - declared)
    if unknown:
        accepted = ", ".join(sorted(declared)) or "none"
        raise InvalidRequestError(
            f"Unrecognized request argument(s) for {model.id}: {', '.join(unknown)}. "
            f"Parameters this bot accepts: {accepted}.",
            metadata={"unknown_parameters": unknown},
        )
    resolved: dict[str, Any] = {}
    for spec in model.parameters:
        if spec.name in params:
            _check_value(model, spec, params[spec.name])
            resolved[spec.name] = params[spec.name]
        else:
            resolved[spec.name] = spec.default
    return resolved
