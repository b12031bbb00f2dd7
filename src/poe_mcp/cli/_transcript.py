"""Conversations as Markdown: ``/save`` in the interactive chat and ``poe-mcp logs export``."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._money import format_usd

if TYPE_CHECKING:
    from ..store._logs import LogEntry

__all__ = ["entries_markdown", "messages_markdown"]

_HEADINGS = {"user": "You", "assistant": "Assistant", "system": "System prompt", "tool": "Tool"}


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content or []:
        if isinstance(part, Mapping) and part.get("type") == "text":
            parts.append(str(part.get("text", "")))
        elif isinstance(part, Mapping):
            inner = part.get("file")
            name = inner.get("filename") if isinstance(inner, Mapping) else None
            parts.append(f"*[attachment: {name or part.get('type', 'file')}]*")
    return "\n\n".join(parts)


def messages_markdown(title: str, messages: Sequence[Mapping[str, Any]]) -> str:
    """A stored session's history (system prompts, questions, answers) as Markdown."""
    lines = [f"# {title}", ""]
    for message in messages:
        heading = _HEADINGS.get(str(message.get("role")), str(message.get("role")))
        lines += [f"## {heading}", "", _content(message.get("content")).strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def entries_markdown(title: str, entries: Sequence[LogEntry]) -> str:
    """Logged exchanges (oldest first) as Markdown, each with its model, time and cost."""
    lines = [f"# {title}", ""]
    system: str | None = None
    for entry in entries:
        if entry.system and entry.system != system:
            lines += ["## System prompt", "", entry.system.strip(), ""]
            system = entry.system
        attached = f" (attached: {', '.join(entry.attachments)})" if entry.attachments else ""
        cost = "cost unknown" if entry.cost is None else format_usd(entry.cost)
        lines += [
            f"## You{attached}",
            "",
            entry.prompt.strip(),
            "",
            f"## {entry.model}",
            "",
            f"*{_when(entry.ts)} · {entry.input_tokens:,} in / {entry.output_tokens:,} out "
            f"tokens · {cost}*",
            "",
            entry.response.strip(),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"
