"""Every string a tool takes has a limit, stated in its schema and enforced before parsing.

A tool's own annotations give the tight limits (``bot`` 200, ``prompt`` 2M characters...);
:func:`bound_schema` gives every other string in an input schema ``TOOL_TEXT_MAX_CHARS``
(nested in arrays, objects and unions too), so a new tool cannot forget one.
:func:`check_arguments` enforces the schema's ``maxLength`` on what a caller sent, and the same
default on strings inside free-form values (bot ``params``, ``tool_results``...), before the
SDK builds pydantic models from them: a 10 MB ``bot`` is refused at once with
``invalid_request`` instead of travelling through validation and error messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _constants as C
from ..errors import InvalidRequestError

__all__ = ["bound_schema", "check_arguments"]

_COMBINATORS = ("anyOf", "oneOf", "allOf")


def _is_string(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def bound_schema(schema: Any, default: int = C.TOOL_TEXT_MAX_CHARS) -> None:
    """Give every string in a JSON Schema a ``maxLength`` (``default`` where none is set)."""
    if not isinstance(schema, dict):
        return
    if _is_string(schema) and "maxLength" not in schema and "enum" not in schema:
        schema["maxLength"] = default
    for key in ("properties", "$defs", "definitions", "patternProperties"):
        for sub in (schema.get(key) or {}).values():
            bound_schema(sub, default)
    for key in ("items", "additionalProperties", "not"):
        bound_schema(schema.get(key), default)
    for key in (*_COMBINATORS, "prefixItems"):
        for sub in schema.get(key) or ():
            bound_schema(sub, default)


def _limit(schema: Any, defs: Mapping[str, Any]) -> int | None:
    """The ``maxLength`` a value under ``schema`` has when it is a string."""
    if not isinstance(schema, Mapping):
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _limit(defs.get(ref.rsplit("/", 1)[-1]), defs)
    if _is_string(schema) and isinstance(schema.get("maxLength"), int):
        return int(schema["maxLength"])
    for key in _COMBINATORS:
        limits = [_limit(sub, defs) for sub in schema.get(key) or ()]
        known = [n for n in limits if n is not None]
        if known:
            return max(known)
    return None


def _sub(schema: Any, key: str | int, defs: Mapping[str, Any]) -> Any:
    """The schema of ``value[key]`` under ``schema`` (None: free-form)."""
    if not isinstance(schema, Mapping):
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _sub(defs.get(ref.rsplit("/", 1)[-1]), key, defs)
    for combinator in _COMBINATORS:
        for option in schema.get(combinator) or ():
            found = _sub(option, key, defs)
            if found is not None:
                return found
    if isinstance(key, int):
        return schema.get("items")
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def _walk(value: Any, schema: Any, where: str, defs: Mapping[str, Any], depth: int) -> None:
    if depth > C.TOOL_ARGUMENT_MAX_DEPTH:
        raise InvalidRequestError(
            f"argument {where} nests deeper than {C.TOOL_ARGUMENT_MAX_DEPTH} levels",
            metadata={"param": where},
        )
    if isinstance(value, str):
        limit = _limit(schema, defs) or C.TOOL_TEXT_MAX_CHARS
        if len(value) > limit:
            raise InvalidRequestError(
                f"argument {where} is {len(value):,} characters long; at most {limit:,} are "
                "accepted. Shorten it and call again.",
                metadata={"param": where, "max_length": limit},
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and len(key) > C.TOOL_NAME_MAX_CHARS:
                raise InvalidRequestError(
                    f"argument {where} has a key of {len(key):,} characters; at most "
                    f"{C.TOOL_NAME_MAX_CHARS} are accepted",
                    metadata={"param": where},
                )
            _walk(item, _sub(schema, str(key), defs), f"{where}.{key}"[:80], defs, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, _sub(schema, index, defs), f"{where}[{index}]", defs, depth + 1)


def check_arguments(tool: str, schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> None:
    """Refuse arguments whose strings exceed the schema's limits (or the default).

    Raises:
        InvalidRequestError: the first string that is too long, named by its path.
    """
    defs = schema.get("$defs") or {}
    props = schema.get("properties") or {}
    try:
        for name, value in arguments.items():
            short = name[: C.TOOL_NAME_MAX_CHARS]
            _walk(value, props.get(name), repr(short if short == name else short + "…"), defs, 0)
    except InvalidRequestError as exc:
        exc.message = f"invalid arguments for {tool}: {exc.message}"
        exc.args = (exc.message,)
        raise
