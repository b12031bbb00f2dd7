"""Checks of what people type into the console's forms, before anything is saved or sent.

Each check refuses a value with a message naming the field, so the page can say what to fix:
numbers must be finite (``nan`` and ``inf`` parse as floats but would switch a budget off or
reach the provider as invalid JSON) and, for whole numbers, fit TOML's 64-bit integers; names
(models, tiers) and URLs are one line of printable characters of a sane length (a newline or a
control character in a model name is never a model, and a 100,000-character one breaks every
page that shows it); an API key is printable ASCII, as HTTP headers need.
"""

from __future__ import annotations

import math
import unicodedata

from .. import _constants as C
from ..errors import InvalidRequestError, PoeError, TooLargeError

__all__ = [
    "check_api_key",
    "check_finite",
    "check_int64",
    "check_line",
    "check_model",
    "form_error",
    "short_label",
]

_INT64 = (-(2**63), 2**63 - 1)
# Control, format (zero-width, bidi overrides), line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def check_finite(value: float, label: str) -> float:
    """``value`` when it is a finite number (not ``nan``, ``inf`` or ``-inf``)."""
    if not math.isfinite(value):
        raise InvalidRequestError(f"{label} must be a finite number, got {value}")
    return value


def check_int64(value: int, label: str) -> int:
    """``value`` when it fits a 64-bit integer (what TOML and the stores hold)."""
    if not _INT64[0] <= value <= _INT64[1]:
        raise InvalidRequestError(f"{label} is too large (at most {_INT64[1]:,})")
    return value


def check_line(text: str, label: str, max_chars: int) -> str:
    """One line of printable characters, at most ``max_chars`` long."""
    if len(text) > max_chars:
        raise InvalidRequestError(
            f"{label} is too long ({len(text):,} characters, at most {max_chars:,})"
        )
    bad = next((c for c in text if unicodedata.category(c) in _HIDDEN), None)
    if bad is not None:
        raise InvalidRequestError(
            f"{label} contains a line break or an invisible character (U+{ord(bad):04X})"
        )
    return text


def check_model(text: str, label: str = "model") -> str:
    """A model name (or ``PROVIDER:MODEL``) as typed: one short line."""
    return check_line(text, label, C.CONSOLE_MODEL_MAX_CHARS)


def check_api_key(key: str) -> str:
    """An API key: printable ASCII without spaces (HTTP headers carry nothing else)."""
    if any(not (33 <= ord(c) <= 126) for c in key):
        raise InvalidRequestError(
            "an API key is made of printable ASCII characters, without spaces, line breaks or "
            "accented letters: copy it again from the provider's page"
        )
    return key


def form_error(detail: str) -> PoeError:
    """The error for a form Starlette could not read (a field or file over its limit)."""
    if "exceeded maximum size" in detail:
        most = C.CONSOLE_MESSAGE_MAX_BYTES // (1024 * 1024)
        return TooLargeError(
            f"the message is too large (at most {most} MB of text): attach long texts as files"
        )
    if "Too many files" in detail:
        return InvalidRequestError(f"at most {C.CONSOLE_ATTACHMENTS_MAX} attachments per message")
    return InvalidRequestError(f"the form could not be read: {detail}")


def short_label(text: str, max_chars: int = C.CONSOLE_LABEL_MAX_CHARS) -> str:
    """``text`` cut to ``max_chars`` with an ellipsis (the page shows the rest on hover)."""
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
