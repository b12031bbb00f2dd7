"""Plain-text tables and amounts for the ``models``, ``usage`` and ``sessions`` commands."""

from __future__ import annotations

import time
from collections.abc import Sequence

from .._money import format_usd

__all__ = ["ago", "money", "table", "utc"]


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int] | None = None
) -> str:
    """Columns padded to their widest cell; column indexes in ``right`` are right-aligned."""
    right = right or set()
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def money(usd: float | None, unknown_calls: int = 0) -> str:
    """:func:`~poe_mcp._money.format_usd`, with calls of unknown price flagged beside it (never
    folded in as $0)."""
    text = "unknown" if unknown_calls and usd == 0 else format_usd(usd)
    if unknown_calls:
        text += f" + {unknown_calls} unpriced" if text != "unknown" else f" ({unknown_calls} calls)"
    return text


def utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def ago(ts: float, now: float | None = None) -> str:
    """``3m ago`` / ``in 57m``: short relative times for session listings."""
    delta = (time.time() if now is None else now) - ts
    future = delta < 0
    seconds = abs(delta)
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            break
    else:
        amount = f"{int(seconds)}s"
    return f"in {amount}" if future else f"{amount} ago"
