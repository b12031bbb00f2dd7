"""Answers already paid for are kept: impossible values from a provider are made harmless.

- **Lone surrogates.** JSON lets a provider send ``"\\ud800"`` on its own; Python keeps it in
  the ``str``, and UTF-8 (SQLite, Redis, stdout, the MCP wire) refuses it. :func:`clean_text`
  replaces each one with U+FFFD; valid pairs become the character they encode.
- **Impossible usage.** Token counts that are not whole numbers, negative, or larger than
  ``USAGE_TOKENS_MAX`` are not believed: :func:`usage_counts` says so and the caller estimates
  and flags the usage (``Usage.estimated``), as when the provider sends none.
- **Answers as callers and stores get them.** :func:`clean_result` and :func:`scrubbed_delta`
  (used by the client for every result and streamed delta) apply both of the above and the key
  scrubber of ``_redact``.
- **Oversized requests.** :func:`check_request_size` refuses a request whose text (prompt and
  history) exceeds the backend's ``REQUEST_TEXT_MAX_CHARS`` before anything is sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import _constants as C
from ._redact import redact
from .errors import TooLargeError

if TYPE_CHECKING:
    from .types import ChatResult, Delta

__all__ = [
    "check_request_size",
    "clean_obj",
    "clean_result",
    "clean_text",
    "for_output",
    "for_storage",
    "scrubbed_delta",
    "usage_counts",
]


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (unchanged when there is none)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 with surrogatepass pairs up what can be paired; the rest becomes U+FFFD.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def clean_obj(value: Any) -> Any:
    """A JSON-like value with :func:`clean_text` applied to every string (keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_obj(k): clean_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_obj(v) for v in value]
    return value


def for_storage(value: Any) -> Any:
    """What a store keeps of a JSON-like value: surrogates replaced, secrets scrubbed."""
    if isinstance(value, str):
        return redact(clean_text(value))
    if isinstance(value, dict):
        return {for_storage(k): for_storage(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [for_storage(v) for v in value]
    return value


for_output = for_storage  # what leaves the process (tool results) gets the same treatment


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        return None
    return number if 0 <= number <= C.USAGE_TOKENS_MAX else None


def usage_counts(raw: Any) -> tuple[int, int] | None:
    """``(input_tokens, output_tokens)`` from an OpenAI-style ``usage`` object, or None when
    it has no counts or impossible ones (not whole numbers, negative, absurdly large).

    A missing ``completion_tokens`` counts as 0, as providers omit it for empty answers.
    """
    if not isinstance(raw, Mapping):
        return None
    prompt = raw.get("prompt_tokens", raw.get("input_tokens"))
    completion = raw.get("completion_tokens", raw.get("output_tokens", 0))
    if prompt is None:
        return None
    counts = (_count(prompt), _count(0 if completion is None else completion))
    if counts[0] is None or counts[1] is None:
        return None
    return counts[0], counts[1]


def _text_chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, Iterable) and not isinstance(content, (bytes, Mapping)):
        total = 0
        for part in content:
            if isinstance(part, str):
                total += len(part)
            elif isinstance(part, Mapping) and part.get("type") == "text":
                total += len(str(part.get("text") or ""))
        return total
    return 0


def check_request_size(messages: Iterable[Mapping[str, Any]], backend: str) -> None:
    """Refuse a request whose text exceeds what ``backend`` takes.

    Counts the characters of every message's text (content strings and text parts, tool-call
    arguments); attachments have their own limit (``MAX_ATTACHMENT_BYTES``).

    Raises:
        TooLargeError: the text is larger than ``REQUEST_TEXT_MAX_CHARS[backend]``.
    """
    limit = C.REQUEST_TEXT_MAX_CHARS.get(backend, min(C.REQUEST_TEXT_MAX_CHARS.values()))
    total = 0
    for message in messages:
        total += _text_chars(message.get("content"))
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping):
                function = call.get("function")
                if isinstance(function, Mapping):
                    total += len(str(function.get("arguments") or ""))
        if total > limit:
            raise TooLargeError(
                f"the request holds more than {limit:,} characters of text (prompt, system "
                f"prompt and conversation history), the most the {backend!r} backend sends: "
                "shorten the prompt or start a new session",
                metadata={"limit_chars": limit, "backend": backend},
            )


def clean_result(result: ChatResult) -> None:
    """An answer as the caller and every store get it: no key or bearer token, no lone
    surrogate (which UTF-8 stores and the MCP wire refuse)."""
    result.text = redact(clean_text(result.text))
    if result.reasoning:
        result.reasoning = redact(clean_text(result.reasoning))
    result.model = clean_text(result.model)
    if result.finish_reason is not None:
        result.finish_reason = clean_text(result.finish_reason)
    if result.request_id is not None:
        result.request_id = clean_text(result.request_id)
    if result.tool_calls:
        result.tool_calls = tuple(
            dataclasses.replace(
                call,
                name=redact(clean_text(call.name)),
                arguments=redact(clean_text(call.arguments)),
            )
            for call in result.tool_calls
        )


def scrubbed_delta(delta: Delta, shown: str) -> Delta:
    """``delta`` with its text replaced by the scrubbed ``shown`` and its tool-call
    fragments scrubbed (each fragment on its own)."""
    fragments = delta.tool_calls
    if fragments:
        fragments = tuple(
            dataclasses.replace(f, arguments=redact(clean_text(f.arguments))) for f in fragments
        )
    reasoning = redact(clean_text(delta.reasoning)) if delta.reasoning else ""
    if shown == delta.text and fragments == delta.tool_calls and reasoning == delta.reasoning:
        return delta
    return dataclasses.replace(delta, text=shown, tool_calls=fragments, reasoning=reasoning)
