"""Close names ("did you mean") for a misspelt argument, setting or model alias.

One helper, so every refusal of an unknown name (MCP tool arguments, ``config.toml`` keys,
aliases) suggests the same way: spelling first (``difflib``), then names that contain the word
or are contained in it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from . import _constants as C

__all__ = ["did_you_mean", "suggest"]


def suggest(word: str, candidates: Iterable[str], n: int = C.SUGGESTIONS) -> list[str]:
    """Up to ``n`` of ``candidates`` close to ``word``, best first (case-insensitive)."""
    names = list(dict.fromkeys(candidates))
    lowered = {name.lower(): name for name in names}
    query = word.strip().lower()
    if not query:
        return []
    close = difflib.get_close_matches(query, list(lowered), n=n, cutoff=C.SUGGESTION_CUTOFF)
    containing = [
        low
        for low in lowered
        if len(query) >= 3 and len(low) >= 3 and (query in low or low in query)
    ]
    ranked = list(dict.fromkeys(close + containing))[:n]
    return [lowered[low] for low in ranked]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` (with a leading space), or ``""`` when nothing is close."""
    found = suggest(word, candidates)
    if not found:
        return ""
    return " Did you mean " + " or ".join(repr(f) for f in found) + "?"
