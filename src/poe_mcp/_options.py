"""The typed keyword options checked at run time: :class:`~poe_mcp.ChatOptions` and
:class:`~poe_mcp.ClientOptions` promise types that a caller without a type checker can miss.

A value of the wrong type is a ``TypeError`` naming the option, what it takes and the type it
was given, before anything is sent, as Python itself says for a wrong keyword: never an
``AttributeError`` from deep inside, a value sent to the provider for it to refuse (or a
simulator to crash on), or a string iterated character by character. Values of the right type
that are out of range are the callee's to judge (``InvalidRequestError`` for a call's option,
``ConfigError`` for the client's), so the range messages stay in one place each.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .errors import ConfigError, InvalidRequestError
from .types import ChatOptions

__all__ = [
    "CHAT_OPTIONS",
    "check_chat_call",
    "check_chat_options",
    "check_client_options",
    "check_model_name",
    "check_seconds",
    "refuse_unknown",
]

CHAT_OPTIONS = frozenset(ChatOptions.__annotations__)


def refuse_unknown(options: Mapping[str, Any], known: frozenset[str], what: str = "") -> None:
    """What Python says for a keyword the signature does not have (options are typed dicts).

    Raises:
        TypeError: naming the unknown keywords (and the close known ones).
    """
    unknown = sorted(set(options) - known)
    if unknown:
        from ._suggest import did_you_mean

        hints = "".join(did_you_mean(name, sorted(known)) for name in unknown)
        raise TypeError(
            f"unexpected keyword argument(s){what}: {', '.join(unknown)}.{hints}".rstrip(".")
        )


def _wrong(name: str, takes: str, value: object) -> TypeError:
    # The type only, never the value: a key pasted into the wrong option stays unquoted.
    return TypeError(f"{name} takes {takes}, not {type(value).__name__}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_texts(value: object) -> bool:
    """A sequence (list, tuple) that is neither a string nor a mapping."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def _text(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise _wrong(name, "a string", value)


def _number(name: str, value: object) -> None:
    if not _is_number(value):
        raise _wrong(name, "a number", value)


def _whole(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(name, "a whole number (int)", value)


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise _wrong(name, "True or False", value)


def _mapping(name: str, value: object) -> None:
    if not isinstance(value, Mapping):
        raise _wrong(name, "a dict", value)
    if not all(isinstance(k, str) for k in value):
        raise TypeError(f"{name} takes a dict with string keys")


def _text_or_texts(name: str, value: object) -> None:
    if not isinstance(value, str) and not _is_texts(value):
        raise _wrong(name, "a string or a list of strings", value)


def _objects(name: str, value: object) -> None:
    if not _is_texts(value):
        raise _wrong(name, "a list of dicts", value)


def _text_or_mapping(name: str, value: object) -> None:
    if not isinstance(value, str | Mapping):
        raise _wrong(name, "a string or a dict", value)


def check_seconds(name: str, value: object, error: type[Exception] = InvalidRequestError) -> None:
    """Refuse a duration that is not a finite number of seconds above 0.

    Raises:
        TypeError: not a number. ``error`` (InvalidRequestError): out of range.
    """
    _number(name, value)
    assert isinstance(value, int | float)
    if not (math.isfinite(value) and value > 0):
        raise error(f"{name} must be a finite number of seconds greater than 0, got {value}")


_FILE = (str, bytes, bytearray, os.PathLike)


def _files(name: str, value: object) -> None:
    if isinstance(value, _FILE):
        return  # one file
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise _wrong(name, "a path, bytes, or a list of them", value)
    if isinstance(value, Sequence | set | frozenset):  # never consume a one-shot iterator
        for item in value:
            if not isinstance(item, _FILE):
                raise TypeError(
                    f"{name} takes paths (str or Path) and bytes, not {type(item).__name__}"
                )


_CHAT_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "system": _text,
    "temperature": _number,
    "max_tokens": _whole,
    "top_p": _number,
    "stop": _text_or_texts,
    "tools": _objects,
    "tool_choice": _text_or_mapping,
    "parallel_tool_calls": _flag,
    "attachments": _files,
    "extra": _mapping,
    "session_id": _text,
    "timeout": check_seconds,
    "backend": _text,
    "stream_options": _mapping,
    "fallbacks": _text_or_texts,
}
# response_format (a dict or a pydantic class) and reasoning_effort (a word or a number) are
# checked whole where they are used: their messages already name every accepted form.


def check_model_name(model: object) -> None:
    """Refuse a model that is not a name (as ``client.model(...)`` does).

    Raises:
        InvalidRequestError: ``model`` is not a string, or is blank.
    """
    if not isinstance(model, str) or not model.strip():
        shown = type(model).__name__ if not isinstance(model, str) else repr(model)
        raise InvalidRequestError(f"a model name is needed, e.g. Claude-Sonnet-4; got {shown}")


def check_chat_options(options: Mapping[str, Any], what: str = "") -> None:
    """Refuse unknown chat options and values of the wrong type (None means "not given").

    Raises:
        TypeError: an unknown option, or a value of the wrong type.
        InvalidRequestError: a ``timeout`` that is not a finite number of seconds above 0.
    """
    refuse_unknown(options, CHAT_OPTIONS, what)
    for name, value in options.items():
        check = _CHAT_CHECKS.get(name)
        if value is not None and check is not None:
            check(name, value)


def check_chat_call(model: object, options: Mapping[str, Any], what: str = "") -> None:
    """:func:`check_model_name` and :func:`check_chat_options`: one call's inputs.

    Raises:
        InvalidRequestError / TypeError: as those two.
    """
    check_model_name(model)
    check_chat_options(options, what)


def _client_seconds(name: str, value: object) -> None:
    check_seconds(name, value, ConfigError)


def _count(name: str, value: object) -> None:
    _whole(name, value)
    assert isinstance(value, int)
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {value}")


def _provider(name: str, value: object) -> None:
    from ._providers import Provider

    if isinstance(value, Provider):
        raise TypeError(
            f"{name} takes the provider's name ({value.name!r}), not a Provider: its URLs come "
            "from the settings (base_url=..., or POE_BOT_BASE_URL / POE_UPLOAD_BASE_URL); the "
            "client's is client.provider_info"
        )
    _text(name, value)


def _optional(kind: str, takes: str, *attributes: str) -> Callable[[str, Any], None]:
    """A check for a collaborator: False (off) or an object with ``attributes``."""

    def check(name: str, value: object) -> None:
        if value is False and kind == "off":
            return
        if value is True or not all(hasattr(value, a) for a in attributes):
            raise _wrong(name, takes, value)

    return check


def _settings(name: str, value: object) -> None:
    from .config import Settings

    if not isinstance(value, Settings):
        raise _wrong(name, "a Settings (Settings.load())", value)


def _callable(name: str, value: object) -> None:
    if not callable(value):
        raise _wrong(name, "a function", value)


def _http_client(name: str, value: object) -> None:
    import httpx
    import httpx2

    if not isinstance(value, httpx2.AsyncClient | httpx.AsyncClient):
        raise _wrong(name, "an httpx2.AsyncClient (or httpx.AsyncClient)", value)


_CLIENT_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "provider": _provider,
    "base_url": _text,
    "backend": _text,
    "timeout": _client_seconds,
    "max_retries": _count,
    "rpm": _count,
    "settings": _settings,
    "store": _optional(
        "off",
        "a Store (poe_mcp.store.open_store(url)), None (the settings' store) or False",
        "sessions",
        "usage",
        "rate_limiter",
    ),
    "catalog": _optional("off", "a Catalog, None or False", "answer_cost", "context_window"),
    "limiter": _optional("", "a RateLimiter (poe_mcp.ratelimit)", "acquire", "status"),
    "budget": _optional("off", "a BudgetGuard, None or False", "check"),
    "entry_point": _text,
    "on_event": _callable,
    "http_client": _http_client,
}


def check_client_options(options: Mapping[str, Any], known: frozenset[str]) -> None:
    """Refuse unknown client options and values of the wrong type (None means "default").

    Raises:
        TypeError: an unknown option, or a value of the wrong type.
        ConfigError: a timeout, retry count or rpm out of range.
    """
    refuse_unknown(options, known)
    for name, value in options.items():
        check = _CLIENT_CHECKS.get(name)
        if value is not None and check is not None:
            check(name, value)
