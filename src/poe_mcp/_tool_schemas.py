"""Checking tool definitions callers pass in, before anything is sent.

A definition with a broken ``parameters`` schema (``{"type": "nonsense"}``) would otherwise go
to the provider and come back as its error, or worse be accepted and then make every call's
arguments unverifiable. Schemas are checked with ``jsonschema`` (the reference validator, which
knows every draft's meta-schema) against the draft the schema names, Draft 2020-12 by default.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import _constants as C
from .errors import InvalidRequestError

__all__ = ["check_parameters_schema", "check_tool_definitions"]

_VALID: dict[str, None] = {}  # JSON of schemas that passed, oldest first (insertion order)


def _path(base: str, parts: Iterable[Any]) -> str:
    out = base
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def check_parameters_schema(schema: Any, where: str) -> None:
    """Refuse a ``parameters`` value that is not a valid JSON Schema for an object.

    Args:
        schema: the tool's ``parameters``.
        where: how the caller names it (``tools[0].function.parameters``).

    Raises:
        InvalidRequestError: naming the path of the first problem, e.g.
            ``tools[0].function.parameters.type: 'nonsense' is not valid ...``.
    """
    if not isinstance(schema, Mapping):
        raise InvalidRequestError(
            f"{where}: must be a JSON Schema object, got {type(schema).__name__}",
            metadata={"path": where},
        )
    try:
        key = json.dumps(schema, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        key = None
    if key is not None and key in _VALID:
        return  # agents send the same tools every turn: the meta-schema check costs ~0.6 ms
    import jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        path = _path(where, exc.path)
        raise InvalidRequestError(
            f"{path}: {exc.message} (the tool's parameters are not a valid JSON Schema)",
            metadata={"path": path},
        ) from None
    kind = schema.get("type", "object")
    if kind != "object":
        path = f"{where}.type"
        raise InvalidRequestError(
            f"{path}: a tool's parameters must be an object schema, got {kind!r}",
            metadata={"path": path},
        )
    if key is not None:
        if len(_VALID) >= C.TOOL_SCHEMA_CACHE_MAX:
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):  # another thread
                _VALID.pop(next(iter(_VALID)))
        _VALID[key] = None


def check_tool_definitions(tools: Sequence[Any], where: str = "tools") -> None:
    """Check OpenAI-format tool definitions (``{"type": "function", "function": {...}}``).

    Raises:
        InvalidRequestError: a definition that is not an object, has no function name, or
            whose ``parameters`` is not a valid JSON Schema; the message names the path.
    """
    for index, definition in enumerate(tools):
        here = f"{where}[{index}]"
        if not isinstance(definition, Mapping):
            raise InvalidRequestError(
                f"{here} must be an object: {{'type': 'function', 'function': {{'name': ..., "
                "'description': ..., 'parameters': {...}}}}}",
                metadata={"path": here},
            )
        spec = definition.get("function", definition)
        if "function" in definition:
            here += ".function"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise InvalidRequestError(
                f"{here}.name is missing: a tool definition needs {{'type': 'function', "
                "'function': {'name': ..., 'description': ..., 'parameters': {...}}}",
                metadata={"path": f"{here}.name"},
            )
        if spec.get("parameters") is not None:
            check_parameters_schema(spec["parameters"], f"{here}.parameters")
