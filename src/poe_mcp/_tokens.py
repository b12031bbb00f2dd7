"""The one token estimator, for where no provider count exists.

Budgets check a call before it is sent, the bot protocol reports no usage, some providers send
none, and a conversation is fitted to a model's context window before the call: each needs a
token count nobody gave us. All of them use this rough one, so that an estimate means the same
everywhere: ``CHARS_PER_TOKEN`` characters a token, ``MESSAGE_OVERHEAD_TOKENS`` a message (role
and separators), and a flat ``ATTACHMENT_TOKENS`` an attachment (its base64 payload says nothing
about what the provider charges for it). The simulator keeps its own, deterministic counter:
it plays the provider, whose count this estimates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from . import _constants as C

__all__ = ["chars_for_tokens", "message_tokens", "prompt_tokens", "text_tokens"]


def text_tokens(text: str | int) -> int:
    """Tokens of ``text`` (or of that many characters), rounded up."""
    chars = text if isinstance(text, int) else len(text)
    return math.ceil(chars / C.CHARS_PER_TOKEN)


def chars_for_tokens(tokens: int) -> int:
    """Characters that make ``tokens`` tokens (a ``max_tokens`` enforced on text)."""
    return tokens * C.CHARS_PER_TOKEN


def _part_tokens(part: Any) -> int:
    if not isinstance(part, Mapping):
        return text_tokens(json.dumps(part, ensure_ascii=False, default=str))
    if part.get("type") == "text":
        return text_tokens(str(part.get("text", "")))
    return C.ATTACHMENT_TOKENS  # an image, a file, audio: whatever its size


def message_tokens(message: Mapping[str, Any]) -> int:
    """Tokens of one OpenAI-format message: content, tool calls and the per-message overhead."""
    content = message.get("content")
    tokens = C.MESSAGE_OVERHEAD_TOKENS
    if isinstance(content, str):
        tokens += text_tokens(content)
    elif isinstance(content, list):
        tokens += sum(_part_tokens(p) for p in content)
    if message.get("tool_calls"):
        tokens += text_tokens(json.dumps(message["tool_calls"], default=str))
    return tokens


def prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Tokens of a whole prompt (every message)."""
    return sum(message_tokens(m) for m in messages)
