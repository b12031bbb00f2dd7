"""The shapes real providers give ``content`` and tool calls, normalised for both backends.

Content (``message.content`` / ``delta.content``): a string, ``null`` (with tool calls), or a list
of parts: text parts (``text``, ``output_text``, ``refusal``) are the answer; thinking parts
(``thinking``, ``reasoning``, ``redacted_thinking``...) and the ``reasoning_content`` /
``reasoning`` fields some providers add are kept apart as reasoning, never mixed into the answer.

Tool calls:

- ``arguments`` may arrive as a JSON object instead of JSON text: it is serialised;
- streamed fragments (:class:`ToolCallAssembler`): a fragment with an ``id`` not seen before
  starts a new call whatever its ``index`` says (some providers send ``index: 0`` for every
  parallel call); a fragment without ``id`` continues the call of its ``index``, or the last call
  when ``index`` is missing or negative; a repeated ``id`` that brings a name again after the
  call's arguments were complete is a second call with the same id;
- ids are made unique on our side (:func:`unique_tool_calls`): a provider that gives two calls
  the same id (or none) would otherwise have both answered with one result. A duplicate becomes
  ``<id>#<n>``; :func:`provider_messages` maps such ids back to the provider's own before a
  conversation is sent again, so the provider sees exactly the ids it chose.

Anything else (a number where text belongs, a call that is not an object) is an
``UpstreamError`` naming what was wrong (:func:`~._wire_errors.protocol_error`), never a bare
``TypeError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..types import ToolCall, ToolCallDelta
from ._wire_errors import protocol_error

__all__ = [
    "ToolCallAssembler",
    "arguments_text",
    "message_reasoning",
    "provider_messages",
    "split_content",
    "tool_calls_from_message",
    "unique_tool_calls",
]

_TEXT_PARTS = frozenset({"text", "output_text", "refusal"})
_REASONING_PARTS = frozenset(
    {"thinking", "reasoning", "redacted_thinking", "reasoning_text", "summary_text",
     "reasoning.text", "reasoning.summary"}
)  # fmt: skip
# DeepSeek and vLLM say reasoning_content; OpenRouter, Groq and Ollama's OpenAI API reasoning
# (OpenRouter adds a reasoning_details list); Ollama's own API, relayed by proxies, thinking.
_REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking", "reasoning_details")
_DUPLICATE = re.compile(r"#\d+$")  # our suffix on a duplicated provider id


def _part_text(part: Mapping[str, Any], keys: Sequence[str], where: str) -> str:
    for key in keys:
        value = part.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping) and isinstance(value.get("value"), str):
            return str(value["value"])  # {"text": {"value": "...", "annotations": []}}
        if isinstance(value, list):
            # Mistral's thinking part: {"type": "thinking", "thinking": [{"type": "text", ...}]}
            text, thought = split_content(value, f"{where}.{key}")
            return text + thought
        raise protocol_error(
            f"{where}: a {part.get('type') or 'text'!r} part holds {type(value).__name__} "
            f"in {key!r} where text was expected"
        )
    return ""


def split_content(value: Any, where: str = "message.content") -> tuple[str, str]:
    """``(text, reasoning)`` of a ``content`` value in any of the shapes providers send.

    Raises:
        UpstreamError: a shape no provider is known to send (not retried).
    """
    if value is None:
        return "", ""
    if isinstance(value, str):
        return value, ""
    parts = [value] if isinstance(value, Mapping) else value
    if not isinstance(parts, list):
        raise protocol_error(
            f"{where} is a {type(value).__name__}; expected text or a list of content parts"
        )
    text: list[str] = []
    thought: list[str] = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
            continue
        if not isinstance(part, Mapping):
            raise protocol_error(
                f"{where} holds a {type(part).__name__} where a content part was expected"
            )
        kind = str(part.get("type") or "text").lower()
        if kind in _REASONING_PARTS:
            thought.append(
                _part_text(part, ("thinking", "reasoning", "text", "summary", "content"), where)
            )
        elif kind in _TEXT_PARTS:
            text.append(_part_text(part, ("text", "refusal"), where))
        # Other parts (images, citations, tool-use blocks mirrored as content) are no text.
    return "".join(text), "".join(thought)


def message_reasoning(message: Mapping[str, Any], where: str) -> str:
    """Reasoning a provider put beside the content (``reasoning_content``, ``reasoning``)."""
    for name in _REASONING_FIELDS:
        value = message.get(name)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list):
            return split_content(value, f"{where}.{name}")[1] or split_content(value)[0]
    return ""


def arguments_text(value: Any, where: str) -> str:
    """Tool-call arguments as JSON text: strings as sent, objects serialised, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (Mapping, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    raise protocol_error(f"{where}.arguments is a {type(value).__name__}; expected JSON text")


def _function(item: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    function = item.get("function")
    if function is None:
        return {}
    if not isinstance(function, Mapping):
        raise protocol_error(f"{where}.function is a {type(function).__name__}, not an object")
    return function


def _name(function: Mapping[str, Any], where: str) -> str | None:
    name = function.get("name")
    if name is None or name == "":
        return None
    if not isinstance(name, str):
        raise protocol_error(f"{where}.function.name is a {type(name).__name__}, not text")
    return name


def _call_id(item: Mapping[str, Any]) -> str | None:
    value = item.get("id")
    if value is None or value == "":
        return None
    return str(value)


def _call_list(raw: Any, where: str) -> list[Mapping[str, Any]]:
    if raw is None:
        return []
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list):
        raise protocol_error(f"{where} is a {type(raw).__name__}; expected a list of tool calls")
    for n, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise protocol_error(f"{where}[{n}] is a {type(item).__name__}, not a tool call object")
    return items


def tool_calls_from_message(raw: Any, where: str = "message.tool_calls") -> tuple[ToolCall, ...]:
    """The tool calls of a whole (non-streamed) message, ids made unique."""
    calls = []
    for n, item in enumerate(_call_list(raw, where)):
        function = _function(item, f"{where}[{n}]")
        name = _name(function, f"{where}[{n}]")
        if name is None:
            raise protocol_error(f"{where}[{n}] has no function name")
        arguments = arguments_text(function.get("arguments"), f"{where}[{n}].function")
        calls.append(ToolCall(id=_call_id(item) or "", name=name, arguments=arguments or "{}"))
    return unique_tool_calls(calls)


def unique_tool_calls(calls: Sequence[ToolCall]) -> tuple[ToolCall, ...]:
    """Every call with an id of its own: missing ids become ``call_<n>``, repeats ``<id>#<n>``."""
    seen: set[str] = set()
    out = []
    for n, call in enumerate(calls):
        base = call.id or f"call_{n}"
        new_id, copy = base, 1
        while new_id in seen:
            copy += 1
            new_id = f"{base}#{copy}"
        seen.add(new_id)
        out.append(call if new_id == call.id else ToolCall(new_id, call.name, call.arguments))
    return tuple(out)


def _provider_id(value: Any) -> Any:
    return _DUPLICATE.sub("", value) if isinstance(value, str) else value


def provider_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation with our de-duplicated tool-call ids mapped back to the provider's.

    Returns ``messages`` itself when nothing needs mapping (the usual case: no copy).
    """
    if not any(
        (m.get("role") == "tool" and _DUPLICATE.search(str(m.get("tool_call_id") or "")))
        or any(_DUPLICATE.search(str(c.get("id") or "")) for c in m.get("tool_calls") or ())
        for m in messages
        if isinstance(m, Mapping)
    ):
        return messages
    out: list[dict[str, Any]] = []
    for message in messages:
        copy = dict(message)
        if "tool_call_id" in copy:
            copy["tool_call_id"] = _provider_id(copy["tool_call_id"])
        if copy.get("tool_calls"):
            copy["tool_calls"] = [
                {**call, "id": _provider_id(call.get("id"))} for call in copy["tool_calls"]
            ]
        out.append(copy)
    return out


@dataclass(slots=True)
class _Call:
    id: str
    name: str
    arguments: str
    index: int | None = None  # the provider's index, when it gave one
    # Opened by a fragment that repeats a finished call's name with no arguments: a second
    # call under the same id or index, or a provider that repeats the name on every
    # fragment. Real once arguments arrive; dropped if none ever do.
    tentative: bool = False


def _index(value: Any) -> int | None:
    """The provider's ``index``: an int (or int-like text); None when missing or negative."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _is_json(text: str) -> bool:
    """Whether tool-call arguments are complete: a JSON object (or array) that parses."""
    stripped = text.rstrip()
    if not stripped or stripped[-1] not in "}]":
        return False  # cheap: most fragments end inside a value, and parsing each is quadratic
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


_EMPTY_OBJECT = re.compile(r"^\s*\{\s*\}\s*$")


class ToolCallAssembler:
    """Streamed tool-call fragments -> whole calls, by the module docstring's rules.

    Also:

    - a name already given is not given again: a provider that repeats the whole name on every
      fragment (MiniMax via NVIDIA NIM) gets one name, one that streams the name in pieces
      (Gemini) gets the pieces joined;
    - arguments that were already complete are not appended to again by a repeat of
      themselves; a ``{}`` placeholder (proxies translating Anthropic's ``input: {}``) is
      replaced by the arguments streamed after it;
    - the calls come out in the provider's ``index`` order when every call had one.

    The deltas it returns carry *our* index (the call's position), so consumers that assemble
    by ``index`` get the same calls.
    """

    def __init__(self) -> None:
        self._calls: list[_Call] = []
        self._by_index: dict[int, int] = {}
        self._by_id: dict[str, int] = {}

    def add(self, raw: Any, where: str = "delta.tool_calls") -> tuple[ToolCallDelta, ...]:
        """Take one chunk's ``tool_calls``; return the fragments as deltas."""
        out = []
        for n, item in enumerate(_call_list(raw, where)):
            spot = f"{where}[{n}]"
            function = _function(item, spot)
            name = _name(function, spot)
            arguments = arguments_text(function.get("arguments"), f"{spot}.function")
            call_id = _call_id(item)
            index = _index(item.get("index"))
            position, fresh = self._target(call_id, index, name, arguments)
            if position is None:
                continue  # a repeat of a whole call already read
            if fresh:
                position = len(self._calls)
                self._calls.append(_Call(call_id or "", "", "", index, tentative=fresh == "maybe"))
            call = self._calls[position]
            if call_id and not call.id:
                call.id = call_id
            if call.index is None:
                call.index = index
            was_tentative = call.tentative
            name = self._take_name(call, name)
            arguments = self._take_arguments(call, arguments)
            if index is not None:
                self._by_index[index] = position
            if call_id:
                self._by_id[call_id] = position
            if call.tentative:
                continue  # shown once it proves to be a call
            if was_tentative:
                call_id, name = call.id or None, call.name
            if name or arguments or fresh:
                out.append(
                    ToolCallDelta(index=position, id=call_id, name=name, arguments=arguments)
                )
        return tuple(out)

    def _target(
        self, call_id: str | None, index: int | None, name: str | None, arguments: str
    ) -> tuple[int | None, str]:
        """``(position, "")`` of the call this fragment continues, ``(None, "")`` for a repeat
        to skip, ``(0, "yes")`` for a new call, ``(0, "maybe")`` for a tentative one."""
        if call_id is not None:
            position = self._by_id.get(call_id)
        elif index is not None:
            position = self._by_index.get(index)
        else:
            position = len(self._calls) - 1 if self._calls else None
        if position is None:
            return 0, "yes"
        call = self._calls[position]
        if not (name and call.name and _is_json(call.arguments)):
            return position, ""
        # A name on a call that already finished its arguments: the provider reuses one id (or
        # index, or none) for parallel calls, or repeats the name on every fragment.
        if name != call.name:
            return 0, "yes"
        if not arguments:
            return 0, "maybe"
        if arguments == call.arguments:
            return None, ""  # the same whole call again
        return 0, "yes"

    @staticmethod
    def _take_name(call: _Call, name: str | None) -> str | None:
        """The part of ``name`` that is new for ``call``."""
        if not name or name == call.name:
            return None
        if call.name and call.arguments:
            return None  # arguments began: the name was whole
        call.name += name
        return name

    @staticmethod
    def _take_arguments(call: _Call, arguments: str) -> str:
        """Add ``arguments`` to ``call``; return what was added."""
        if not arguments:
            return ""
        call.tentative = False
        if _is_json(call.arguments):
            if arguments == call.arguments:
                return ""  # the whole arguments again
            if _EMPTY_OBJECT.match(call.arguments) and not _is_json(call.arguments + arguments):
                call.arguments = arguments  # "{}" was a placeholder
                return arguments
        call.arguments += arguments
        return arguments

    @property
    def started(self) -> bool:
        return bool(self._calls)

    def calls(self) -> tuple[ToolCall, ...]:
        """The assembled calls (those with a name), ids made unique."""
        kept = [c for c in self._calls if c.name and not c.tentative]
        if all(c.index is not None for c in kept):
            kept.sort(key=lambda c: c.index or 0)  # stable: calls sharing an index keep order
        return unique_tool_calls([ToolCall(c.id, c.name, c.arguments or "{}") for c in kept])
