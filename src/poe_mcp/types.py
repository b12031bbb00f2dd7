"""The values the library hands back: results, usage, deltas, tool calls, media.

Plain dataclasses: cheap to build on the hot path, easy to serialise with ``to_dict()``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from ._constants import USAGE_TOKENS_MAX
from ._money import usd_repr
from .errors import InvalidRequestError

if TYPE_CHECKING:
    from ._messages import AttachmentSource

__all__ = [
    "Attachment",
    "Attempt",
    "ChatOptions",
    "ChatResult",
    "Delta",
    "MediaKind",
    "MediaOptions",
    "MediaResult",
    "ProgressCallback",
    "ReasoningEffort",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

MediaKind = Literal["image", "video", "audio"]
# How hard a model should think: a level, or a budget of reasoning tokens (0 = none).
ReasoningEffort = Literal["low", "medium", "high"] | int


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call (or a sum of calls).

    ``estimated`` is True when the provider reported no counts and we estimated them
    (Poe's bot protocol reports none). The details are parts of the two counts, as OpenAI
    reports them: ``reasoning_tokens`` are output tokens the model spent thinking,
    ``cached_tokens`` input tokens read from the provider's prompt cache and
    ``cache_write_tokens`` input tokens written to it (0 when the provider does not say).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.estimated or other.estimated,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def details(self) -> dict[str, int]:
        """The token details, keyed like the ledger's columns."""
        return {
            "reasoning_tokens": self.reasoning_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }

    def to_dict(self) -> dict[str, Any]:
        """The usage as a JSON-ready dict."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "estimated": self.estimated,
            **self.details(),
        }

    @classmethod
    def from_openai(cls, raw: Any) -> Usage | None:
        """Counts from an OpenAI-format ``usage`` object, or None when it has none.

        Reads ``completion_tokens_details.reasoning_tokens`` and
        ``prompt_tokens_details.cached_tokens`` (and the cache-write count some providers add
        there, or Anthropic's ``cache_read_input_tokens`` / ``cache_creation_input_tokens``).
        """
        if not isinstance(raw, Mapping) or raw.get("prompt_tokens") is None:
            return None
        from ._sanitize import usage_counts

        counts = usage_counts(raw)
        if counts is None:  # impossible counts (junk, negative, absurd): unknown, not 0
            return None
        prompt = raw.get("prompt_tokens_details")
        prompt = prompt if isinstance(prompt, Mapping) else {}
        completion = raw.get("completion_tokens_details")
        completion = completion if isinstance(completion, Mapping) else {}
        return cls(
            counts[0],
            counts[1],
            reasoning_tokens=_count(completion.get("reasoning_tokens")),
            cached_tokens=_count(prompt.get("cached_tokens", raw.get("cache_read_input_tokens"))),
            cache_write_tokens=_count(
                prompt.get(
                    "cache_write_tokens",
                    prompt.get("cache_creation_tokens", raw.get("cache_creation_input_tokens")),
                )
            ),
        )


def _count(value: Any) -> int:
    """A detail count from a provider (reasoning, cached tokens): a whole number in
    0..``USAGE_TOKENS_MAX``, else 0 (unknown: null, missing, junk, negative, absurd; never
    clamped to the maximum, which would be believed and priced)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float) and not value.is_integer():  # also JSON's NaN / Infinity
        return 0
    number = int(value)
    return number if 0 <= number <= USAGE_TOKENS_MAX else 0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for. ``arguments`` is the JSON text the model sent."""

    id: str
    name: str
    arguments: str = "{}"

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; raises InvalidRequestError when they are not a JSON object."""
        try:
            value = json.loads(self.arguments or "{}")
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(
                f"tool call {self.name!r} has arguments that are not valid JSON: {exc.msg}"
            ) from exc
        if not isinstance(value, dict):
            raise InvalidRequestError(f"tool call {self.name!r} arguments must be a JSON object")
        return value

    def to_dict(self) -> dict[str, Any]:
        """The call as a JSON-ready dict."""
        return {"id": self.id, "name": self.name, "arguments": self.arguments}

    def to_openai(self) -> dict[str, Any]:
        """The assistant-message form the chat completions API expects back."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call; fragments with the same ``index`` form one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a bot returned (bot protocol ``file`` event) or a file we uploaded."""

    url: str
    content_type: str | None = None
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The file as a JSON-ready dict."""
        return {"url": self.url, "content_type": self.content_type, "name": self.name}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One model of a fallback chain, as it went.

    Attributes:
        model: the model tried (as asked for).
        outcome: ``ok`` (it answered), ``skipped`` (it failed in a way another model may not,
            so the next one was tried) or ``failed`` (the chain stopped here).
        error_kind: the error's kind (``overloaded``, ``rate_limit``...), when it failed.
        message: the error's message, when it failed.
        latency_s: wall time spent on this model, retries included.
    """

    model: str
    outcome: Literal["ok", "skipped", "failed"]
    error_kind: str | None = None
    message: str | None = None
    latency_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The attempt as a JSON-ready dict."""
        return {
            "model": self.model,
            "outcome": self.outcome,
            "error_kind": self.error_kind,
            "message": self.message,
            "latency_s": round(self.latency_s, 6),
        }


@dataclass(slots=True)
class ChatResult:
    """The outcome of one chat call.

    Attributes:
        text: the assistant's answer.
        model: the model that answered.
        finish_reason: ``stop``, ``length``, ``tool_calls``... or None if the provider gave none.
        usage: token counts (``usage.estimated`` says whether they were estimated).
        cost: USD, or None when the model's price is unknown (never guessed as 0).
        request_id: the provider's request id.
        latency_s: wall time of the call, retries and rate-limit waits included.
        tool_calls: function calls the model asked for.
        attachments: files the bot returned.
        provider / backend: where the call went.
        session_id: the conversation it belongs to, when there is one.
        simulated: True when the answer came from the built-in simulator.
        parsed: with ``response_format``: the answer parsed and validated against the schema
            (an instance of the pydantic model when one was given), else None.
        attempts: with fallbacks: every model tried, in order, and why the ones before the
            answering model were skipped (empty when no fallback chain was used).
        notes: how the request was adapted for the model (e.g. the reasoning effort mapped
            to its ``thinking_budget``, or an answer cut at ``max_tokens`` by poe-mcp on a
            backend without it), for the caller to see.
        reasoning: the model's thinking, when the provider sent it apart from the answer
            (thinking parts, ``reasoning_content``); never part of ``text``.
        finish_inferred: True when the provider gave no finish reason and ``finish_reason``
            was inferred (a stream that ended cleanly with ``[DONE]``).
    """

    text: str
    model: str
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    request_id: str | None = None
    latency_s: float = 0.0
    tool_calls: tuple[ToolCall, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    provider: str = "poe"
    backend: str = "openai"
    session_id: str | None = None
    simulated: bool = False
    parsed: Any = None
    attempts: tuple[Attempt, ...] = ()
    notes: tuple[str, ...] = ()
    reasoning: str = ""
    finish_inferred: bool = False

    __repr__ = usd_repr

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (``parsed`` as JSON when it is a pydantic model)."""
        data = asdict(self)
        data["usage"] = self.usage.to_dict()
        dump = getattr(self.parsed, "model_dump", None)  # a pydantic model: its JSON form
        if callable(dump):
            data["parsed"] = dump(mode="json")
        return data


@dataclass(frozen=True, slots=True)
class Delta:
    """One item of ``client.stream(...)``.

    Items carry text and/or tool-call fragments; ``replace`` means the text so far is replaced
    (the bot protocol's ``replace_response``). ``reasoning`` is thinking the provider streamed
    apart from the answer. The last item has ``result`` set to the assembled
    :class:`ChatResult`, usage included.
    """

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    replace: bool = False
    result: ChatResult | None = None
    reasoning: str = ""


@dataclass(slots=True)
class MediaResult:
    """The outcome of an image, video or audio generation.

    ``paths`` are the downloaded files (empty when downloads were off); ``urls`` are where the
    bot put them.
    """

    kind: MediaKind
    model: str
    urls: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    media_type: str | None = None
    size_bytes: int | None = None
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    request_id: str | None = None
    latency_s: float = 0.0
    simulated: bool = False

    __repr__ = usd_repr

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        data = asdict(self)
        data["usage"] = self.usage.to_dict()
        return data


class ChatOptions(TypedDict, total=False):
    """The keyword options of one chat call, shared by every typed entry point.

    ``AsyncPoeClient.chat``/``stream``, ``PoeClient``, the model-bound objects
    (``client.model(...)``), :class:`~poe_mcp.conversation.Conversation`, ``compare`` and the
    :class:`~poe_mcp.agent.Agent` (its ``options``) take them as
    ``**options: Unpack[ChatOptions]``, so every twin type-checks the same calls; an unknown
    keyword is a ``TypeError``, as Python says for any function.

    Attributes:
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
        stream_options: ``{"include_usage": bool}``, for ``stream`` only (refused by ``chat``,
            as OpenAI refuses it).
        fallbacks: models to try in turn when the model fails with a rate limit (after
            retries), 5xx, overload, moderation or a too-small context window; None uses
            ``[fallbacks]`` of config.toml, ``()`` none. ``result.attempts`` tells the story.
        reasoning_effort: ``low``/``medium``/``high`` or a token budget, mapped to what the
            model takes (see :mod:`poe_mcp._reasoning`); ``result.notes`` says how.
    """

    system: str | None
    temperature: float | None
    max_tokens: int | None
    top_p: float | None
    stop: str | Sequence[str] | None
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    parallel_tool_calls: bool | None
    attachments: Iterable[AttachmentSource] | None
    extra: Mapping[str, Any] | None
    session_id: str | None
    timeout: float | None
    backend: str | None
    response_format: Any
    stream_options: Mapping[str, Any] | None
    fallbacks: Sequence[str] | None
    reasoning_effort: ReasoningEffort | None


# Progress of a media generation: (seconds elapsed, what is happening); sync or async.
ProgressCallback = Callable[[float, str], "Awaitable[None] | None"]


class MediaOptions(TypedDict, total=False):
    """The keyword options of ``generate_image``/``generate_video``/``generate_audio``.

    Attributes:
        model: the media bot (default: ``[media]`` ``image_model``..., else GPT-Image-1, Veo-3,
            ElevenLabs).
        params: bot parameters (e.g. ``{"aspect": "16:9"}``), checked against the model's
            declared ones.
        output_dir: where to save (default: ``[media] dir``, else the data dir's ``media``).
        download: False returns only the URLs.
        timeout: seconds for the generation (each attempt) and each read of the download.
        max_bytes: largest file downloaded.
        on_progress: called with (seconds elapsed, message) while the bot works.
        progress_interval: longest silence between two progress reports.
        backend: ``openai`` or ``legacy`` for this call.
        download_policy: ``public``, ``any`` or ``auto`` (see :mod:`poe_mcp._netpolicy`).
    """

    model: str | None
    params: Mapping[str, Any] | None
    output_dir: str | os.PathLike[str] | None
    download: bool
    timeout: float | None
    max_bytes: int | None
    on_progress: ProgressCallback | None
    progress_interval: float | None
    backend: str | None
    download_policy: str | None
