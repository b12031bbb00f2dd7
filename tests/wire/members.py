"""Helpers shared by the ``test_hidden_members*`` files: event-stream text and a tool."""

from __future__ import annotations

import json
from typing import Any

from poe_mcp import tool

ANSWER = "The answer is 4."
TEXT = "The answer is 4.\u2028Done\u0085."  # raw separators that str.splitlines() cuts at


def sse_body(*payloads: str, end: str = "\n") -> str:
    """Events of one ``data`` line each, closed by blank lines."""
    return "".join(f"{p}{end}{end}" for p in payloads)


def data_line(value: Any, space: str = " ") -> str:
    """A ``data:`` line holding ``value`` (dicts dumped with raw non-ASCII)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"data:{space}{text}"


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city.
    """
    return f"mild in {city}"
