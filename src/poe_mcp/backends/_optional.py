"""Optional request fields that some OpenAI-compatible providers refuse.

We add a few fields the caller never asked for: ``stream_options: {"include_usage": true}`` on
every streamed request (so usage arrives in the last chunk) and, from the agent, a
``parallel_tool_calls: true`` that only restates the default. Some servers validate strictly and
answer 400/422 ``stream_options: Extra inputs are not permitted`` (or name only the inner
``include_usage``, as serde-based servers do; a Python server may even answer 500 "unexpected
keyword argument 'stream_options'"). When the refusal names such a field, the request is sent
again once without it, and the field is left out of every later request to that base URL
(remembered for the life of the process).

Only fields whose absence changes nothing the caller asked for are dropped this way; a value the
caller chose (``parallel_tool_calls: false``) is never dropped silently.

The setting ``stream_options`` (``config.toml``) / ``POE_MCP_STREAM_OPTIONS`` (environment):

- ``auto`` (default): send it; drop and remember it when the provider refuses it;
- ``off``: never send it (usage then comes from the final chunk when the provider sends one
  anyway, else it is estimated and flagged ``estimated``);
- ``on``: always send it, refusal or not.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError, PoeError

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "StreamOptionsMode",
    "forget_rejections",
    "omit_remembered",
    "rejected_field",
    "remember_rejection",
    "stream_options_mode",
]

StreamOptionsMode = Literal["auto", "on", "off"]
_MODES: tuple[StreamOptionsMode, ...] = ("auto", "on", "off")
ENV_VAR = "POE_MCP_STREAM_OPTIONS"

# field -> whether a given value may be left out without changing what the caller asked for
_DROPPABLE: dict[str, Callable[[Any], bool]] = {
    "stream_options": lambda value: True,
    "parallel_tool_calls": lambda value: value is True,  # true is every provider's default
}
_REFUSAL_STATUSES = frozenset({400, 422})
# The names a refusal may give a field by: serde servers (mistral.rs, TGI) name the inner key.
_ALIASES: dict[str, tuple[str, ...]] = {
    "stream_options": ("stream_options", "include_usage", "streamOptions"),
    "parallel_tool_calls": ("parallel_tool_calls", "parallelToolCalls"),
}
# A server error that names a field in these words refuses it (a Python server passing the
# field on as a keyword answers 500 "unexpected keyword argument 'stream_options'").
_REFUSING_WORDS = re.compile(
    r"unexpected keyword|unrecognized|unknown (field|parameter|argument)|extra (inputs?|fields?)"
    r"|not (permitted|allowed|supported)|unsupported",
    re.IGNORECASE,
)

_lock = threading.Lock()
_rejected: dict[str, set[str]] = {}  # base URL -> fields its provider refused


def stream_options_mode(settings: Settings) -> StreamOptionsMode:
    """The ``stream_options`` setting (the environment, then ``config.toml``), default ``auto``.

    Raises:
        ConfigError: a value other than auto, on or off.
    """
    raw = settings.stream_options
    value = "auto" if raw is None else str(raw).strip().lower()
    if value in ("true", "1", "yes"):
        value = "on"
    elif value in ("false", "0", "no"):
        value = "off"
    for mode in _MODES:
        if value == mode:
            return mode
    raise ConfigError(f"stream_options ({ENV_VAR}) must be auto, on or off, got {raw!r}")


def _names(field: str) -> re.Pattern[str]:
    names = "|".join(re.escape(name) for name in _ALIASES[field])
    return re.compile(rf"(?<![A-Za-z0-9_])({names})(?![A-Za-z0-9_])")


_PATTERNS = {field: _names(field) for field in _DROPPABLE}


def rejected_field(error: PoeError, sent: Mapping[str, Any]) -> str | None:
    """The optional field ``error`` refuses by name, when ``sent`` has it and may go without."""
    if error.status is None:
        return None
    words = f"{error.message} {error.metadata.get('param', '')} {error.code or ''}"
    if error.status not in _REFUSAL_STATUSES and not (
        error.status >= 500 and _REFUSING_WORDS.search(words)
    ):
        return None
    for field, pattern in _PATTERNS.items():
        if field in sent and _DROPPABLE[field](sent[field]) and pattern.search(words):
            return field
    return None


def remember_rejection(base_url: str, field: str) -> None:
    with _lock:
        _rejected.setdefault(base_url.rstrip("/"), set()).add(field)


def omit_remembered(base_url: str, kwargs: dict[str, Any], *, keep: frozenset[str]) -> list[str]:
    """Remove from ``kwargs`` the droppable fields this base URL refused before; return them.

    Fields in ``keep`` stay whatever happened (the ``on`` setting).
    """
    with _lock:
        refused = set(_rejected.get(base_url.rstrip("/"), ()))
    dropped = []
    for field in sorted(refused - keep):
        if field in kwargs and _DROPPABLE[field](kwargs[field]):
            del kwargs[field]
            dropped.append(field)
    return dropped


def forget_rejections(base_url: str | None = None) -> None:
    """Forget what providers refused (all, or one base URL's), e.g. after a config change."""
    with _lock:
        if base_url is None:
            _rejected.clear()
        else:
            _rejected.pop(base_url.rstrip("/"), None)
