"""One way to print money everywhere (CLI, MCP text, console, reprs).

Single calls often cost millionths of a dollar, so a fixed number of decimals prints ``$0.0000`` for
a real cost. Amounts keep two significant digits below one cent, and an unknown price reads
``unknown``, never ``$0``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

__all__ = ["format_usd", "usd_repr"]


def format_usd(usd: float | None) -> str:
    """``$1.23``, ``$0.0123``, ``$0.0000012``; ``unknown`` for None or a non-finite amount.

    Args:
        usd: an amount in US dollars, or None when the price is unknown.
    """
    if usd is None or not math.isfinite(usd):
        return "unknown"
    if usd == 0:
        return "$0.00"
    sign = "-" if usd < 0 else ""
    value = abs(usd)
    if value >= 1:
        return f"{sign}${value:,.2f}"
    if value >= 0.01:
        text = f"{value:.4f}".rstrip("0")
        return f"{sign}${text}{'0' * max(0, 4 - len(text))}"  # at least two decimals: $0.50
    # Two significant digits, however small: $0.0000012, never $0.0000.
    decimals = -math.floor(math.log10(value)) + 1
    return f"{sign}${value:.{decimals}f}"


def usd_repr(obj: Any) -> str:
    """A dataclass's ``repr`` with its money fields (``cost``, ``*_usd``) as :func:`format_usd`
    prints them, so a result shows ``cost=$0.0000012`` in a REPL as it does everywhere else.

    Use as ``__repr__ = usd_repr`` in the class body (``@dataclass`` keeps a ``__repr__`` the
    class defines).
    """
    parts: list[str] = []
    for f in dataclasses.fields(obj):
        if not f.repr:
            continue
        value = getattr(obj, f.name)
        money = f.name == "cost" or f.name.endswith("_usd")
        if money and (value is None or isinstance(value, int | float)) and value is not True:
            parts.append(f"{f.name}={format_usd(value)}")
        else:
            parts.append(f"{f.name}={value!r}")
    return f"{type(obj).__name__}({', '.join(parts)})"
