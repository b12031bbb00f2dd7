"""Answers already paid for are kept: impossible values from a provider are made harmless.

- **Lone surrogates.** JSON lets a provider send ``"\\ud800"`` on its own; Python keeps it in
  the ``str``, and UTF-8 (SQLite, Redis, stdout, the MCP wire) refuses it. :func:`clean_text`
  replaces each one with U+FFFD; valid pairs become the character they encode.
- **Impossible usage.** Token counts that are not whole numbers, negative, or larger than
  ``USAGE_TOKENS_MAX`` are not believed: :func:`usage_counts` says so and the caller estimates
  and flags the usage (``Usage.estimated``), as when the provider sends none.
- **Answers as callers and stores get them.** :func:`clean_result` and :func:`scrubbed_delta`
  (used by the client for every result and streamed delta) apply both of the above and the key
  scrubber of ``_redact`` to every text a provider sent: the answer, its reasoning, tool calls
  (ids, names, arguments), the model name, finish reason, request id and attachments.
- **Oversized requests.** :func:`check_request_size` refuses a request whose text (prompt and
  history) exceeds the backend's ``REQUEST_TEXT_MAX_CHARS`` before anything is sent.
- **Text that cannot be sent or stored.** :func:`check_sendable` refuses a request holding a
  lone surrogate anywhere (model name, parameters, messages: undecodable bytes from a command
  line) with ``invalid_request`` instead of a crash deep in the HTTP layer;
  :class:`TextSafeConnection` (the SQLite store's connection) replaces them in every query
  parameter, so a lookup by such a value finds nothing instead of failing.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import _constants as C
from ._redact import current_scrubber, map_strings, redact, verbatim_in_json
from .errors import InvalidRequestError, TooLargeError

if TYPE_CHECKING:
    from .types import ChatResult, Delta

__all__ = [
    "TextSafeConnection",
    "check_request_size",
    "check_sendable",
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
    return map_strings(clean_text, value)


def for_storage(value: Any) -> Any:
    """What a store keeps of a JSON-like value: surrogates replaced, secrets scrubbed."""
    return map_strings(lambda text: redact(clean_text(text)), value)


def for_output(value: Any) -> Any:
    """What leaves the process (tool results): as :func:`for_storage`, but ``value`` itself
    when nothing in it needs a change, checked on one JSON dump (the common case costs a
    dump and a few substring searches instead of a walk over every string)."""
    if verbatim_in_json():
        try:
            text = json.dumps(value, ensure_ascii=False)
            text.encode("utf-8")  # a lone surrogate: the walk replaces it
        except (TypeError, ValueError, RecursionError):
            pass
        else:
            if redact(text) == text:
                return value
    return for_storage(value)


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


def _clean(text: str) -> str:
    return redact(clean_text(text))


def _clean_opt(text: str | None) -> str | None:
    return None if text is None else redact(clean_text(text))


def clean_result(result: ChatResult) -> None:
    """An answer as the caller and every store get it: no key or bearer token, no lone
    surrogate (which UTF-8 stores and the MCP wire refuse), in any text a provider sent."""
    result.text = _clean(result.text)
    if result.reasoning:
        result.reasoning = _clean(result.reasoning)
    result.model = _clean(result.model)
    result.finish_reason = _clean_opt(result.finish_reason)
    result.request_id = _clean_opt(result.request_id)
    if result.tool_calls:
        result.tool_calls = tuple(
            dataclasses.replace(
                call, id=_clean(call.id), name=_clean(call.name), arguments=_clean(call.arguments)
            )
            for call in result.tool_calls
        )
    if result.attachments:
        result.attachments = tuple(
            dataclasses.replace(
                found,
                url=_clean(found.url),
                content_type=_clean_opt(found.content_type),
                name=_clean_opt(found.name),
            )
            for found in result.attachments
        )
    if result.notes:
        result.notes = tuple(_clean(note) for note in result.notes)


def scrubbed_delta(delta: Delta, shown: str) -> Delta:
    """``delta`` with its text replaced by the scrubbed ``shown``, and its reasoning and
    tool-call arguments scrubbed as streams of their own: a key split across several deltas'
    reasoning (or one call's argument fragments) is held back like one split across their
    text, by the stream's :class:`~poe_mcp._redact.StreamScrubber` (the one that produced
    ``shown``)."""
    scrubber = current_scrubber()

    def scrubbed(name: object, text: str) -> str:
        text = clean_text(text)
        return scrubber.part(name, text) if scrubber is not None else redact(text)

    fragments = delta.tool_calls
    if fragments:
        fragments = tuple(
            dataclasses.replace(
                f,
                id=_clean_opt(f.id),
                name=_clean_opt(f.name),
                arguments=scrubbed(("arguments", f.index), f.arguments),
            )
            for f in fragments
        )
    reasoning = scrubbed("reasoning", delta.reasoning) if delta.reasoning else ""
    if shown == delta.text and fragments == delta.tool_calls and reasoning == delta.reasoning:
        return delta
    return dataclasses.replace(delta, text=shown, tool_calls=fragments, reasoning=reasoning)


def _unsendable(value: Any, where: str, depth: int = 0) -> str | None:
    """Where in ``value`` a string holds a lone surrogate (None: nowhere)."""
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"{where} (character {exc.start})"
        return None
    if depth > C.TOOL_ARGUMENT_MAX_DEPTH * 4:
        return None  # deeper than anything JSON encoding accepts anyway
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _unsendable(key, where, depth + 1) or _unsendable(
                item, f"{where}.{key}", depth + 1
            )
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _unsendable(item, f"{where}[{index}]", depth + 1)
            if found:
                return found
    return None


def check_sendable(
    model: str, messages: Iterable[Mapping[str, Any]], params: Mapping[str, Any], extra: Any
) -> None:
    """Refuse a request holding a lone surrogate (an undecodable byte from a command line or
    a file name) in its model name, messages, parameters or extra fields: UTF-8 JSON cannot
    carry it, and the HTTP layer would fail with a ``UnicodeEncodeError`` instead.

    Raises:
        InvalidRequestError: naming the field.
    """
    found = (
        _unsendable(model, "the model name")
        or _unsendable(list(messages), "messages")
        or _unsendable(dict(params), "parameter")
        or _unsendable(extra, "extra")
    )
    if found:
        raise InvalidRequestError(
            f"{found[:200]} is not valid text (an undecodable byte or lone surrogate): "
            "nothing was sent",
            metadata={"param": found.split(" ", 1)[0][:80]},
        )


def _storable(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) and not value.isascii() else value


def _storable_params(params: Any) -> Any:
    if isinstance(params, Mapping):
        return {k: _storable(v) for k, v in params.items()}
    if isinstance(params, (list, tuple)):
        return [_storable(v) for v in params]
    return params


class TextSafeConnection(sqlite3.Connection):
    """A SQLite connection whose query parameters never hold a lone surrogate (replaced by
    U+FFFD, as :func:`clean_text` does): sqlite3 encodes strings as strict UTF-8, so a session
    id or search term with an undecodable byte failed with ``UnicodeEncodeError``."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, _storable_params(parameters))

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return super().executemany(sql, (_storable_params(p) for p in seq_of_parameters))
