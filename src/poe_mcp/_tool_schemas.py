"""Checking tool definitions callers pass in, before anything is sent.

A definition with a broken ``parameters`` schema (``{"type": "nonsense"}``) would otherwise go
to the provider and come back as its error, or worse be accepted and then make every call's
arguments unverifiable. Schemas are checked with ``jsonschema`` (the reference validator, which
knows every draft's meta-schema) against the draft the schema names, Draft 2020-12 by default.

Before the meta-schema: nesting deeper than ``TOOL_SCHEMA_MAX_DEPTH`` (the validator would
overflow Python's recursion limit), NaN or infinite numbers (not JSON) and schemas larger than
``TOOL_SCHEMA_MAX_CHARS`` are refused. After it: every ``$ref`` must resolve inside the schema
(with ``referencing``, the resolver ``jsonschema`` uses; nothing is ever fetched), since neither
the provider nor the model can follow a reference to nowhere.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import _constants as C
from .errors import InvalidRequestError

__all__ = ["check_parameters_schema", "check_schema_refs", "check_tool_definitions"]

_VALID: dict[str, None] = {}  # JSON of schemas that passed, oldest first (insertion order)


def _path(base: str, parts: Iterable[Any]) -> str:
    out = base
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


# Keywords whose values are data, not schemas: a "$ref" inside them is not a reference.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
_ROOT_URI = "urn:poe-mcp:tool-parameters"

# ($ref value, its path parts, the schema objects enclosing it below the root)
_Ref = tuple[str, list[str | int], list[Mapping[str, Any]]]


def _refuse(where: str, parts: Iterable[Any], why: str) -> InvalidRequestError:
    path = _path(where, parts)
    return InvalidRequestError(f"{path}: {why}", metadata={"path": path})


def _walk(schema: Mapping[str, Any], where: str) -> list[_Ref]:
    """Refuse too deep a nesting or a non-finite number; return the ``$ref`` values found.

    Iterative, so a schema nested thousands deep is refused rather than a ``RecursionError``.
    """
    refs: list[_Ref] = []
    stack: list[tuple[Any, list[str | int], list[Mapping[str, Any]], bool]] = [
        (schema, [], [], False)
    ]
    while stack:
        node, parts, chain, data = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            raise _refuse(where, parts, f"{node} is not a JSON number")
        if not isinstance(node, Mapping | list | tuple):
            continue
        if len(parts) >= C.TOOL_SCHEMA_MAX_DEPTH:
            raise _refuse(
                where, parts, f"nested deeper than {C.TOOL_SCHEMA_MAX_DEPTH} levels of objects "
                "and arrays; flatten the tool's parameters"
            )  # fmt: skip
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if not data and isinstance(ref, str):
                refs.append((ref, [*parts, "$ref"], chain))
            inner = chain if not parts or data else [*chain, node]
            for key, value in node.items():
                stack.append((value, [*parts, key], inner, data or key in _DATA_KEYWORDS))
        else:
            for index, value in enumerate(node):
                stack.append((value, [*parts, index], chain, data))
    return refs


def _check_refs(schema: Mapping[str, Any], refs: list[_Ref], where: str) -> None:
    """Refuse a ``$ref`` that does not resolve inside ``schema`` (nothing is fetched)."""
    from referencing import Registry
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012, specification_with

    dialect = schema.get("$schema")
    spec = specification_with(dialect, default=DRAFT202012) if isinstance(dialect, str) else (
        DRAFT202012
    )  # fmt: skip
    root = spec.id_of(schema) or _ROOT_URI
    registry: Registry[Any] = Registry().with_resource(root, spec.create_resource(schema))
    registry = registry.crawl()
    for ref, parts, chain in refs:
        resolver = registry.resolver(base_uri=root)
        try:
            for node in chain:  # a nested $id moves the base relative references start from
                # (a map of property names may hold a property called "$id": not an id)
                ident = node.get("$id", node.get("id"))
                sub = spec.id_of(node) if isinstance(ident, str) else None
                if sub:
                    resolver = resolver.lookup(sub).resolver
            resolver.lookup(ref)
        except Unresolvable:
            raise _refuse(
                where, parts, f"{ref[: C.TOOL_NAME_MAX_CHARS]!r} refers to nothing in this "
                "schema (only references inside it, such as '#/$defs/name', are followed; "
                "nothing is fetched)"
            ) from None  # fmt: skip


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
    refs = _walk(schema, where)
    try:
        key = json.dumps(schema, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        key = None
    size = len(key) if key is not None else len(json.dumps(schema, default=repr))
    if size > C.TOOL_SCHEMA_MAX_CHARS:
        raise _refuse(
            where, [], f"the schema is {size:,} characters of JSON, at most "
            f"{C.TOOL_SCHEMA_MAX_CHARS:,}; describe the tool's parameters more briefly"
        )  # fmt: skip
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
    if refs:
        _check_refs(schema, refs, where)
    if key is not None:
        if len(_VALID) >= C.TOOL_SCHEMA_CACHE_MAX:
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):  # another thread
                _VALID.pop(next(iter(_VALID)))
        _VALID[key] = None


def check_schema_refs(schema: Mapping[str, Any], where: str) -> None:
    """Refuse too deep a nesting, a non-finite number or a ``$ref`` that does not resolve
    inside ``schema`` (nothing is fetched): for any JSON Schema a caller passes, such as a
    ``response_format`` schema, whose answer would otherwise be validated only after paying.

    Raises:
        InvalidRequestError: naming the path of the problem under ``where``.
    """
    refs = _walk(schema, where)
    if refs:
        _check_refs(schema, refs, where)


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
