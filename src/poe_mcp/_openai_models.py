"""OpenAI's own models: what each one is for, what it can do, its context window and price.

OpenAI's ``/v1/models`` lists only ``id, object, created, owned_by``: it says nothing about which
models can chat, take tools or see images. This table is the one place that knows; the catalog
reads it for the ``openai`` provider and the simulator's OpenAI mode serves it. Where the table is
silent the answer is *unknown* (None), never a guess from the model's name.

Kinds (the endpoint that serves a model): ``chat`` (``/v1/chat/completions``), ``completion``
(the legacy ``/v1/completions``), ``embedding``, ``image`` (Images API), ``speech`` (text to
speech), ``transcription`` (speech to text), ``moderation``, ``realtime`` (the Realtime API's
WebSocket), ``responses`` (only ``/v1/responses``: o1-pro, o3-pro, codex, computer use). Only
``chat`` models can be asked through this project.

Prices are USD per million tokens as OpenAI lists them, only where this project has a source
(REFERENCE.md section 6); the others are unknown and can be set in ``[prices]`` of config.toml.
OpenAI answers with dated snapshot ids (``gpt-4o`` -> ``gpt-4o-2024-08-06``); :func:`lookup`
resolves a snapshot or a fine-tune (``ft:gpt-4o-mini:org::id``) to its family's entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CHAT",
    "OPENAI_MODELS",
    "OpenAIModel",
    "OpenAIModelKind",
    "api_item",
    "lookup",
    "price_table",
]

OpenAIModelKind = Literal[
    "chat",
    "completion",
    "embedding",
    "image",
    "speech",
    "transcription",
    "moderation",
    "realtime",
    "responses",
]
CHAT: OpenAIModelKind = "chat"

# Fixed creation times keep the simulator's list deterministic (seconds, as OpenAI sends them).
_CREATED = 1_715_367_049


@dataclass(frozen=True, slots=True)
class OpenAIModel:
    """One OpenAI model family.

    Attributes:
        id: the alias people use (``gpt-4o``).
        kind: which endpoint serves it (see the module docstring).
        snapshot: the dated id OpenAI answers with for the alias, when known.
        context_window / max_output_tokens: in tokens; None = unknown.
        tools: function calling (True / False / None = unknown).
        vision: accepts images (True / False / None = unknown).
        input_per_mtok / output_per_mtok: USD per million tokens as decimal strings; None = unknown.
    """

    id: str
    kind: OpenAIModelKind
    snapshot: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    tools: bool | None = None
    vision: bool | None = None
    input_per_mtok: str | None = None
    output_per_mtok: str | None = None

    @property
    def input_modalities(self) -> tuple[str, ...]:
        if self.kind == "transcription":
            return ("audio",)
        if self.kind == "realtime":
            return ("text", "audio")
        return ("text", "image") if self.vision else ("text",)

    @property
    def output_modalities(self) -> tuple[str, ...]:
        return {
            "embedding": ("embedding",),
            "image": ("image",),
            "speech": ("audio",),
            "moderation": ("moderation",),
            "realtime": ("text", "audio"),
        }.get(self.kind, ("text",))


def _chat(
    model_id: str,
    snapshot: str | None,
    window: int,
    max_out: int,
    *,
    tools: bool | None = True,
    vision: bool | None = True,
    price: tuple[str, str] | None = None,
) -> OpenAIModel:
    inp, out = price if price else (None, None)
    return OpenAIModel(model_id, CHAT, snapshot, window, max_out, tools, vision, inp, out)


OPENAI_MODELS: tuple[OpenAIModel, ...] = (
    _chat("gpt-4o", "gpt-4o-2024-08-06", 128_000, 16_384, price=("2.50", "10.00")),
    _chat("gpt-4o-mini", "gpt-4o-mini-2024-07-18", 128_000, 16_384, price=("0.15", "0.60")),
    _chat("gpt-4.1", "gpt-4.1-2025-04-14", 1_047_576, 32_768),
    _chat("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", 1_047_576, 32_768),
    _chat("gpt-4.1-nano", "gpt-4.1-nano-2025-04-14", 1_047_576, 32_768),
    _chat("gpt-4-turbo", "gpt-4-turbo-2024-04-09", 128_000, 4_096),
    _chat("gpt-4", "gpt-4-0613", 8_192, 8_192, vision=False),
    _chat("gpt-3.5-turbo", "gpt-3.5-turbo-0125", 16_385, 4_096, vision=False),
    _chat("o1", "o1-2024-12-17", 200_000, 100_000, price=("15.00", "60.00")),
    _chat("o1-mini", "o1-mini-2024-09-12", 128_000, 65_536, tools=False, vision=False),
    _chat("o3", "o3-2025-04-16", 200_000, 100_000),
    _chat("o3-mini", "o3-mini-2025-01-31", 200_000, 100_000, vision=False,
          price=("1.10", "4.40")),
    _chat("o4-mini", "o4-mini-2025-04-16", 200_000, 100_000),
    _chat("gpt-5", "gpt-5-2025-08-07", 400_000, 128_000),
    _chat("gpt-5-mini", "gpt-5-mini-2025-08-07", 400_000, 128_000),
    _chat("gpt-5-nano", "gpt-5-nano-2025-08-07", 400_000, 128_000),
    OpenAIModel("gpt-3.5-turbo-instruct", "completion", None, 4_096, 4_096, False, False),
    OpenAIModel("davinci-002", "completion", None, 16_384, 16_384, False, False),
    OpenAIModel("babbage-002", "completion", None, 16_384, 16_384, False, False),
    OpenAIModel("text-embedding-3-small", "embedding", None, 8_191, None, False, False),
    OpenAIModel("text-embedding-3-large", "embedding", None, 8_191, None, False, False),
    OpenAIModel("text-embedding-ada-002", "embedding", None, 8_191, None, False, False),
    OpenAIModel("dall-e-3", "image", None, None, None, False, False),
    OpenAIModel("dall-e-2", "image", None, None, None, False, False),
    OpenAIModel("gpt-image-1", "image", None, None, None, False, True),
    OpenAIModel("tts-1", "speech", None, None, None, False, False),
    OpenAIModel("tts-1-hd", "speech", None, None, None, False, False),
    OpenAIModel("gpt-4o-mini-tts", "speech", None, None, None, False, False),
    OpenAIModel("whisper-1", "transcription", None, None, None, False, False),
    OpenAIModel("gpt-4o-transcribe", "transcription", None, None, None, False, False),
    OpenAIModel("gpt-4o-mini-transcribe", "transcription", None, None, None, False, False),
    OpenAIModel("omni-moderation-latest", "moderation", "omni-moderation-2024-09-26",
                None, None, False, True),
    OpenAIModel("text-moderation-latest", "moderation", None, None, None, False, False),
    OpenAIModel("text-moderation-stable", "moderation", None, None, None, False, False),
    OpenAIModel("gpt-4o-realtime-preview", "realtime", "gpt-4o-realtime-preview-2024-12-17",
                None, None, False, False),
    OpenAIModel("gpt-4o-mini-realtime-preview", "realtime",
                "gpt-4o-mini-realtime-preview-2024-12-17", None, None, False, False),
    OpenAIModel("gpt-realtime", "realtime", None, None, None, False, False),
    OpenAIModel("o1-pro", "responses", None, None, None, False, None),
    OpenAIModel("o3-pro", "responses", None, None, None, False, None),
    OpenAIModel("codex-mini-latest", "responses", None, None, None, False, None),
    OpenAIModel("computer-use-preview", "responses", None, None, None, False, None),
)  # fmt: skip

_BY_ID: dict[str, OpenAIModel] = {m.id: m for m in OPENAI_MODELS}
_BY_SNAPSHOT: dict[str, OpenAIModel] = {m.snapshot: m for m in OPENAI_MODELS if m.snapshot}
# Dated snapshots: gpt-4o-2024-08-06 (ISO date) or gpt-3.5-turbo-0125 / gpt-4-0613 (MMDD).
_DATED = re.compile(r"^(?P<base>.+?)-(?:\d{4}-\d{2}-\d{2}|\d{4})$")


def lookup(model_id: str) -> OpenAIModel | None:
    """The table's entry for ``model_id``: an alias, a dated snapshot of one, or a fine-tune.

    None when the table does not know the model (its capabilities are then unknown).
    """
    key = model_id.strip().lower()
    if key.startswith("ft:"):  # ft:<base>:<org>:<suffix>:<id>
        key = key[3:].split(":", 1)[0]
    found = _BY_ID.get(key) or _BY_SNAPSHOT.get(key)
    if found is not None:
        return found
    match = _DATED.match(key)
    return _BY_ID.get(match.group("base")) if match else None


def api_item(model: OpenAIModel, model_id: str | None = None) -> dict[str, Any]:
    """The plain ``/v1/models`` item OpenAI sends for ``model`` (id, object, created, owned_by)."""
    owner = "system" if model.kind != CHAT else "openai"
    return {"id": model_id or model.id, "object": "model", "created": _CREATED, "owned_by": owner}


def price_table() -> dict[str, list[str]]:
    """``[prices]``-shaped entries (USD per million tokens) for the models with a known price.

    The alias's own snapshot (``gpt-4o-2024-08-06`` for ``gpt-4o``) is the same model at the
    same price, so it is priced too; other dated snapshots of a family may have had other
    prices (``gpt-4o-2024-05-13`` did) and stay unknown here.
    """
    table: dict[str, list[str]] = {}
    for m in OPENAI_MODELS:
        if m.input_per_mtok is None or m.output_per_mtok is None:
            continue
        for model_id in (m.id, m.snapshot):
            if model_id:
                table[model_id] = [m.input_per_mtok, m.output_per_mtok]
    return table
