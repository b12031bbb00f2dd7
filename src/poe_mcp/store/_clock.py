"""A store's injected clock, checked: ``open_store(url, clock=...)`` takes any callable, and a
wrong one must fail as a clear error naming the clock, at once or at the call that meets it.

Without the check a clock returning a string failed as ``TypeError: can only concatenate str``
inside a backend, ``nan`` as ``NOT NULL constraint failed`` after the model had answered (the
paid turn lost), and ``inf`` expired every session as soon as it was written.
"""

from __future__ import annotations

import math

from ..errors import ConfigError, StoreError
from .base import Clock

__all__ = ["checked_clock"]

_TAKES = "a store's clock returns seconds since the epoch as a finite number, like time.time"


def _problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"returned {type(value).__name__}"
    if not math.isfinite(value):
        return f"returned {value}"
    return None


def checked_clock(clock: Clock | None) -> Clock | None:
    """``clock`` tried once now and checked at every call; None (the backend's own) as is.

    Raises:
        TypeError: ``clock`` is not callable.
        ConfigError: its first reading raises or is not a finite number.
    """
    if clock is None:
        return None
    if not callable(clock):
        raise TypeError(f"clock takes a function (such as time.time), not {type(clock).__name__}")
    source: Clock = clock

    def read(error: type[ConfigError] | type[StoreError]) -> float:
        try:
            value = source()
        except Exception as exc:  # the caller's code: whatever it raises is reported as ours
            raise error(f"the store's clock raised {type(exc).__name__}: {exc} ({_TAKES})") from exc
        problem = _problem(value)
        if problem is not None:
            raise error(f"the store's clock {problem}: {_TAKES}")
        return float(value)

    read(ConfigError)

    def now() -> float:
        return read(StoreError)

    return now
