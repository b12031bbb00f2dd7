"""Reading OpenAI chat completions as real providers send them: one answer, or a stream.

:func:`parse_completion` reads a whole ``chat.completion``; :class:`StreamReader` reads the events
of a streamed one (``chat.completion.chunk`` s). Both use the shape rules of :mod:`._shapes` and
the error rules of :mod:`._wire_errors`. The rules for streams, as providers behave:

- events come from an SSE parser that follows the WHATWG spec (``httpx-sse``): lines end only at
  ``\\n``, ``\\r\\n`` or ``\\r`` (never at U+2028 inside a JSON string), comments and
  ``event:``/``id:``/``retry:`` lines are handled, multi-line ``data`` is joined;
- keep-alives (an empty ``data``, ``data: : keepalive``, ``data: ping``) are skipped;
- ``finish_reason: ""`` on intermediate chunks means nothing; a usage chunk may have
  ``choices: []``;
- ``[DONE]`` ends the answer; when no chunk gave a finish reason, ``stop`` (or ``tool_calls``)
  is inferred and :attr:`ChatResult.finish_inferred` says so;
- a stream that ends without ``[DONE]`` and without a finish reason is incomplete
  (``IncompleteStreamError`` with the text so far); one that gave a finish reason is whole;
- an ``{"error": ...}`` chunk (or an ``error`` event) raises the provider's error, classified;
- ``data`` that is not JSON breaks the protocol: an ``UpstreamError`` that is not retried.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _constants as C
from ..errors import IncompleteStreamError, PoeError
from ..types import Delta, ToolCall
from ._shapes import ToolCallAssembler, message_reasoning, split_content, tool_calls_from_message
from ._wire_errors import error_from_body, protocol_error

__all__ = ["Completion", "StreamReader", "parse_completion"]

logger = logging.getLogger("poe_mcp.backends.openai")

_KEEPALIVES = frozenset({"", "ping", "keepalive", "keep-alive", "heartbeat"})


@dataclass(slots=True)
class Completion:
    """What one answer holds, whole or assembled from a stream."""

    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    finish_inferred: bool = False
    tool_calls: tuple[ToolCall, ...] = ()
    model: str | None = None
    usage: Any = None
    response_id: str | None = None


def _choice(data: Mapping[str, Any], where: str) -> Mapping[str, Any] | None:
    """The first choice (we always ask for n=1); None when the chunk has none."""
    choices = data.get("choices")
    if choices is None or choices == []:
        return None
    if not isinstance(choices, list):
        raise protocol_error(f"{where}.choices is a {type(choices).__name__}, not a list")
    for choice in choices:
        if not isinstance(choice, Mapping):
            raise protocol_error(f"{where}.choices holds a {type(choice).__name__}")
        if choice.get("index") in (0, None):
            return choice
    return None


def _finish(choice: Mapping[str, Any]) -> str | None:
    value = choice.get("finish_reason")
    return str(value) if value else None  # "" and null: not finished yet


def _model(data: Mapping[str, Any]) -> str | None:
    value = data.get("model")
    return value if isinstance(value, str) and value else None


def parse_completion(data: Any, *, request_id: str | None = None) -> Completion:
    """A whole ``chat.completion`` body (already JSON-decoded).

    Raises:
        PoeError: the body is an error (classified), or has no answer in a shape we read.
    """
    if not isinstance(data, Mapping):
        raise protocol_error(
            f"the provider answered with a JSON {type(data).__name__}, not an object",
            request_id=request_id,
        )
    error = error_from_body(200, json.dumps(data), request_id=request_id)
    if error is not None:
        raise error
    choice = _choice(data, "answer")
    if choice is None:
        raise protocol_error("the provider's answer has no choices", request_id=request_id)
    message = choice.get("message")
    if message is None:
        message = choice.get("delta") or {}
    if not isinstance(message, Mapping):
        raise protocol_error(f"choices[0].message is a {type(message).__name__}, not an object")
    text, reasoning = split_content(message.get("content"))
    reasoning = reasoning or message_reasoning(message, "message")
    calls = tool_calls_from_message(message.get("tool_calls"))
    refusal = message.get("refusal")
    if not text and not calls and isinstance(refusal, str):
        text = refusal  # OpenAI puts a refusal beside a null content
    return Completion(
        text=text,
        reasoning=reasoning,
        finish_reason=_finish(choice),
        tool_calls=calls,
        model=_model(data),
        usage=data.get("usage"),
        response_id=data.get("id") if isinstance(data.get("id"), str) else None,
    )


@dataclass(slots=True)
class StreamReader:
    """Feed it the SSE events of one streamed answer; it yields deltas and builds the result.

    Attributes:
        done: ``[DONE]`` arrived (stop reading).
        chunks: how many chunks were read.
    """

    request_id: str | None = None
    done: bool = False
    chunks: int = 0
    _text: list[str] = field(default_factory=list)
    _reasoning: list[str] = field(default_factory=list)
    _calls: ToolCallAssembler = field(default_factory=ToolCallAssembler)
    _finish: str | None = None
    _model: str | None = None
    _usage: Any = None

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    @property
    def finish_reason(self) -> str | None:
        """The finish reason a chunk gave, if any."""
        return self._finish

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return self._calls.calls()

    def feed(self, event: str, data: str) -> Delta | None:
        """One SSE event; returns the delta to show, if it carries any text or call.

        Raises:
            PoeError: an error chunk or event (the provider's, classified), or data that
                breaks the protocol (not retried).
        """
        payload = data.strip()
        if payload == "[DONE]":
            self.done = True
            return None
        if payload.lower() in _KEEPALIVES or payload.startswith(":"):
            return None  # keep-alives some servers send as data
        try:
            chunk = json.loads(payload)
        except ValueError:
            limit = C.STREAM_CHUNK_QUOTE_CHARS
            quoted = payload if len(payload) <= limit else payload[:limit] + "..."
            raise protocol_error(
                f"the provider sent a stream chunk that is not JSON: {quoted!r}",
                request_id=self.request_id,
            ) from None
        if event == "error" and not (isinstance(chunk, Mapping) and chunk.get("error")):
            chunk = {"error": chunk}
        return self.feed_chunk(chunk)

    def feed_chunk(self, chunk: Any) -> Delta | None:
        """One decoded ``chat.completion.chunk`` (the bot protocol's ``json`` events too)."""
        if isinstance(chunk, Mapping) and chunk.get("error"):
            found = error_from_body(200, json.dumps(chunk), request_id=self.request_id)
            raise found or _unreadable_error(chunk, self.request_id)
        if not isinstance(chunk, Mapping):
            logger.debug("ignoring a stream chunk that is a JSON %s", type(chunk).__name__)
            return None
        self.chunks += 1
        self._model = _model(chunk) or self._model
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        choice = _choice(chunk, "chunk")
        if choice is None:
            return None
        self._finish = _finish(choice) or self._finish
        delta = choice.get("delta")
        if delta is None:
            delta = choice.get("message") or {}
        if not isinstance(delta, Mapping):
            raise protocol_error(f"choices[0].delta is a {type(delta).__name__}, not an object")
        text, reasoning = split_content(delta.get("content"), "delta.content")
        reasoning = reasoning or message_reasoning(delta, "delta")
        fragments = self._calls.add(delta.get("tool_calls"))
        if text:
            self._text.append(text)
        if reasoning:
            self._reasoning.append(reasoning)
        if text or reasoning or fragments:
            return Delta(text=text, tool_calls=fragments, reasoning=reasoning)
        return None

    def completion(self) -> Completion:
        """The assembled answer, once the stream ended.

        Raises:
            IncompleteStreamError: it ended without ``[DONE]`` and without a finish reason.
        """
        calls = self._calls.calls()
        finish, inferred = self._finish, False
        if finish is None:
            if not self.done:
                raise IncompleteStreamError(
                    "the stream ended without [DONE] or a finish reason (the answer may be cut "
                    "short)",
                    partial_text=self.text,
                    request_id=self.request_id,
                )
            finish, inferred = ("tool_calls" if calls else "stop"), True
        return Completion(
            text=self.text,
            reasoning="".join(self._reasoning),
            finish_reason=finish,
            finish_inferred=inferred,
            tool_calls=calls,
            model=self._model,
            usage=self._usage,
        )


def _unreadable_error(chunk: Any, request_id: str | None) -> PoeError:
    shown = json.dumps(chunk)[: C.STREAM_CHUNK_QUOTE_CHARS]
    return protocol_error(f"the provider sent an error event: {shown}", request_id=request_id)
