"""The values the library hands back: results, usage, deltas, tool calls, media.

Plain dataclasses: cheap to build on the hot path, easy to serialise with ``to_dict()``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .errors import InvalidRequestError

__all__ = [
    "Attachment",
    "ChatResult",
    "Delta",
    "MediaKind",
    "MediaResult",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

MediaKind = Literal["image", "video", "audio"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call (or a sum of calls).

    ``estimated`` is True when the provider reported no counts and we estimated them
    (Poe's bot protocol reports none).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.estimated or other.estimated,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "estimated": self.estimated,
        }


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
        return {"url": self.url, "content_type": self.content_type, "name": self.name}


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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["usage"] = self.usage.to_dict()
        return data


@dataclass(frozen=True, slots=True)
class Delta:
    """One item of ``client.stream(...)``.

    Items carry text and/or tool-call fragments; ``replace`` means the text so far is replaced
    (the bot protocol's ``replace_response``). The last item has ``result`` set to the assembled
    :class:`ChatResult`, usage included.
    """

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    replace: bool = False
    result: ChatResult | None = None


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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["usage"] = self.usage.to_dict()
        return data
