"""Stored conversations as the Discussion page shows them, and as Markdown exports.

A stored history is OpenAI-format messages (system, user with text and attachment parts,
assistant with text or tool calls, tool results). The page wants one item per bubble: its role,
text, attachments (small images inline), tool calls with their results, and, for answers, the
model, tokens, cost and latency the prompt log recorded for that exchange.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from .._money import format_usd

if TYPE_CHECKING:
    from ..store.base import Store

__all__ = ["history_view", "markdown_export"]


def _text_and_files(content: Any) -> tuple[str, list[dict[str, str]]]:
    if isinstance(content, str) or content is None:
        return content or "", []
    texts: list[str] = []
    files: list[dict[str, str]] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "image_url":
            image = part.get("image_url") or {}
            url = str(image.get("url", ""))
            name = str(image.get("filename") or image.get("name") or "image")
            files.append(
                {"kind": "image", "name": name, "url": url if url.startswith("data:image/") else ""}
            )
        elif kind == "file":
            inner = part.get("file") or {}
            files.append({"kind": "file", "name": str(inner.get("filename") or "file"), "url": ""})
        elif kind == "input_audio":
            files.append({"kind": "audio", "name": "audio", "url": ""})
    return "\n".join(t for t in texts if t), files


async def _log_meta(store: Store, session_id: str) -> list[dict[str, Any]]:
    from ..store._logs import LogQuery

    try:
        entries = await store.logs.search(
            LogQuery(session_id=session_id, oldest_first=True, limit=10_000)
        )
    except Exception:  # noqa: BLE001 - figures are a nicety; the history shows without them
        return []
    return [
        {
            "response": e.response,
            "model": e.model,
            "tokens": f"{e.input_tokens:,} in / {e.output_tokens:,} out",
            "cost": format_usd(e.cost),
            "latency": f"{e.latency_s:.2f} s",
        }
        for e in entries
    ]


async def history_view(
    store: Store, session_id: str, messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One item per bubble, tool results attached to their calls."""
    metas = await _log_meta(store, session_id)
    items: list[dict[str, Any]] = []
    calls: dict[str, dict[str, Any]] = {}
    for message in messages:
        role = message.get("role")
        text, files = _text_and_files(message.get("content"))
        if role == "tool":
            call = calls.get(str(message.get("tool_call_id")))
            if call is not None:
                call["result"] = text
            continue
        item: dict[str, Any] = {"role": role, "text": text, "files": files, "calls": []}
        for raw in message.get("tool_calls") or []:
            function = raw.get("function") or {}
            call = {
                "id": raw.get("id"),
                "name": function.get("name"),
                "arguments": function.get("arguments"),
                "result": None,
            }
            calls[str(raw.get("id"))] = call
            item["calls"].append(call)
        if role == "assistant" and text:
            match = next((m for m in metas if m["response"] == text), None)
            if match is not None:
                metas.remove(match)
                item["meta"] = match
        if text or files or item["calls"]:
            items.append(item)
    return items


def markdown_export(
    title: str, session_id: str, model: str | None, messages: list[dict[str, Any]]
) -> str:
    """The conversation as Markdown: a heading per turn, tool calls as code blocks."""
    lines = [
        f"# {title}",
        "",
        f"Session `{session_id}`" + (f" · model {model}" if model else ""),
        "",
    ]
    for message in messages:
        role = str(message.get("role"))
        text, files = _text_and_files(message.get("content"))
        heading = {
            "system": "System",
            "user": "You",
            "assistant": "Assistant",
            "tool": "Tool result",
        }
        lines.append(f"## {heading.get(role, role)}")
        lines.append("")
        if text:
            lines += [text, ""]
        for f in files:
            lines += [f"*[attached {f['kind']}: {f['name']}]*", ""]
        for raw in message.get("tool_calls") or []:
            function = raw.get("function") or {}
            arguments = function.get("arguments") or "{}"
            with contextlib.suppress(ValueError):
                arguments = json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
            lines += [f"Tool call `{function.get('name')}`:", "", "```json", arguments, "```", ""]
    return "\n".join(lines).rstrip() + "\n"
