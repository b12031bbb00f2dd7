"""Reading OpenAI chat completions as real providers send them: one answer, or a stream.

:func:`parse_completion` reads a whole ``chat.completion``; :class:`StreamReader` reads the events
of a streamed one (``chat.completion.chunk`` s). Both use the shape rules of :mod:`._shapes` and
the error rules of :mod:`._wire_errors`. The rules for streams, as providers behave:

- events come from an SSE parser that follows the WHATWG spec (``httpx-sse``): lines end only at
  ``\\n``, ``\\r\\n`` or ``\\r`` (never at U+2028 inside a JSON string), comments and
  ``event:``/``id:``/``retry:`` lines are handled, multi-line ``data`` is joined;
- keep-alives (an empty ``data``, ``data: : keepalive``, ``data: ping``) are skipped; two
  chunks on consecutive ``data:`` lines of one event (no blank line between) are both read;
- finish reasons are given in OpenAI's words (Together's ``eos``, Anthropic's ``end_turn`` and
  ``tool_use``, Gemini's ``STOP`` and ``MAX_TOKENS``...);
- a ``<think>`` block at the start of the text is reasoning (:mod:`._think`);
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
from ..types import Delta, ToolCall, ToolCallDelta
from ._shapes import ToolCallAssembler, message_reasoning, split_content, tool_calls_from_message
from ._sse import EOF_EVENT
from ._think import ThinkSplitter, split_think
from ._wire_errors import error_from_body, protocol_error

__all__ = [
    "SIMULATOR_HEADER",
    "Completion",
    "StreamReader",
    "json_values",
    "parse_completion",
    "rate_limit_headers",
    "read_json_lines",
]

logger = logging.getLogger("poe_mcp.backends.openai")

SIMULATOR_HEADER = "x-poe-simulator"  # on every answer of the built-in simulator


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The provider's ``x-ratelimit-*`` request figures (limit, remaining, reset_s), for
    diagnostics; None when the answer has none."""
    remaining = headers.get("x-ratelimit-remaining-requests")
    if remaining is None:
        return None
    return {
        "limit": headers.get("x-ratelimit-limit-requests", ""),
        "remaining": remaining,
        "reset_s": headers.get("x-ratelimit-reset-requests", ""),
    }


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
    first: Mapping[str, Any] = choices[0]
    return first  # one choice numbered otherwise (from 1, say): still the answer


# Finish reasons as providers spell them -> OpenAI's. Together says "eos", TGI "eos_token",
# Anthropic-compatible APIs "end_turn", "stop_sequence", "max_tokens", "tool_use", Gemini "STOP",
# "MAX_TOKENS", "SAFETY", Mistral "model_length". Others are kept (lower case).
_FINISHES: dict[str, str] = {
    **dict.fromkeys(
        ("stop", "eos", "eos_token", "end_turn", "stop_sequence", "end", "end_of_turn",
         "finished", "complete", "completed"),
        "stop",
    ),
    **dict.fromkeys(
        ("length", "max_tokens", "max_output_tokens", "model_length", "max_length",
         "token_limit", "model_context_window_exceeded"),
        "length",
    ),
    **dict.fromkeys(("tool_calls", "tool_call", "tool_use", "function_call"), "tool_calls"),
    **dict.fromkeys(
        ("content_filter", "safety", "recitation", "blocklist", "prohibited_content", "spii",
         "image_safety", "content_filtered", "refusal"),
        "content_filter",
    ),
}  # fmt: skip


def _finish(choice: Mapping[str, Any]) -> str | None:
    value = choice.get("finish_reason")
    if not value:
        return None  # "" and null: not finished yet
    name = str(value).strip().lower()
    return _FINISHES.get(name, name)


def _tool_calls(message: Mapping[str, Any]) -> Any:
    """``tool_calls``, or the one call of the deprecated ``function_call`` (older vLLM, LocalAI
    and friends answer tools in that shape)."""
    calls = message.get("tool_calls")
    legacy = message.get("function_call")
    if not calls and isinstance(legacy, Mapping):
        return [{"index": 0, "function": legacy}]
    return calls


def _choice_text(choice: Mapping[str, Any], message: Mapping[str, Any]) -> Any:
    """The content of a choice: its message's, or a completions-style ``text`` beside it."""
    content = message.get("content")
    if content is None and isinstance(choice.get("text"), str):
        return choice["text"]
    return content


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
    text, reasoning = split_content(_choice_text(choice, message))
    text, thought = split_think(text)
    reasoning = (reasoning + thought) or message_reasoning(message, "message")
    calls = tool_calls_from_message(_tool_calls(message))
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
    _think: ThinkSplitter = field(default_factory=ThinkSplitter)
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
        values = json_values(payload)
        if values is None:
            if event == EOF_EVENT:
                return None  # the body was cut inside its last chunk: incomplete, see completion()
            limit = C.STREAM_CHUNK_QUOTE_CHARS
            quoted = payload if len(payload) <= limit else payload[:limit] + "..."
            raise protocol_error(
                f"the provider sent a stream chunk that is not JSON: {quoted!r}",
                request_id=self.request_id,
            )
        deltas = []
        for chunk in values:
            if event == "error" and not (isinstance(chunk, Mapping) and chunk.get("error")):
                chunk = {"error": chunk}
            delta = self.feed_chunk(chunk)
            if delta is not None:
                deltas.append(delta)
        return _joined(deltas)

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
        text, reasoning = split_content(_choice_text(choice, delta), "delta.content")
        refusal = delta.get("refusal")
        if not text and isinstance(refusal, str):
            text = refusal  # OpenAI streams a refusal beside a null content
        if text:
            text, thought = self._think.feed(text)
            reasoning += thought
        reasoning = reasoning or message_reasoning(delta, "delta")
        fragments = self._calls.add(_tool_calls(delta))
        return self._shown(text, reasoning, fragments)

    def _shown(
        self, text: str, reasoning: str, fragments: tuple[ToolCallDelta, ...] = ()
    ) -> Delta | None:
        if text:
            self._text.append(text)
        if reasoning:
            self._reasoning.append(reasoning)
        if text or reasoning or fragments:
            return Delta(text=text, tool_calls=fragments, reasoning=reasoning)
        return None

    def flush(self) -> Delta | None:
        """What was held back (a possible ``<think>`` tag) once the stream ended."""
        text, reasoning = self._think.flush()
        return self._shown(text, reasoning)

    def completion(self) -> Completion:
        """The assembled answer, once the stream ended.

        Raises:
            IncompleteStreamError: it ended without ``[DONE]`` and without a finish reason.
        """
        self.flush()
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


def json_values(payload: str) -> list[Any] | None:
    """The JSON values in one event's data: one as a rule, several when a server put chunks on
    consecutive ``data:`` lines without the blank line between events (the spec joins them with
    ``\\n``); None when it is not JSON."""
    try:
        return [json.loads(payload)]
    except ValueError:
        pass
    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(payload):
        try:
            value, at = decoder.raw_decode(payload, at)
        except ValueError:
            return None
        values.append(value)
        while at < len(payload) and payload[at] in " \t\r\n":
            at += 1
    return values or None


def read_json_lines(text: str, request_id: str | None = None) -> Completion | None:
    """A whole body that is chunks one after the other without SSE framing (JSON lines), or
    None when it is not that."""
    values = json_values(text)
    if values is None or len(values) < 2 or not all(isinstance(v, Mapping) for v in values):
        return None
    reader = StreamReader(request_id=request_id)
    for value in values:
        reader.feed_chunk(value)
    reader.done = True  # the body was read to its end
    return reader.completion()


def _joined(deltas: list[Delta]) -> Delta | None:
    if len(deltas) <= 1:
        return deltas[0] if deltas else None
    return Delta(
        text="".join(d.text for d in deltas),
        tool_calls=tuple(f for d in deltas for f in d.tool_calls),
        reasoning="".join(d.reasoning for d in deltas),
    )


def _unreadable_error(chunk: Any, request_id: str | None) -> PoeError:
    shown = json.dumps(chunk)[: C.STREAM_CHUNK_QUOTE_CHARS]
    return protocol_error(f"the provider sent an error event: {shown}", request_id=request_id)
