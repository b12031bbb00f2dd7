"""Structured answers of the simulated models: JSON that validates the schema asked for.

A model answers with JSON when it is asked to, in one of three ways (``respond`` checks them
after tool calls, before the usual "You said" text):

- ``response_format`` on chat completions, honoured in OpenAI mode only (Poe's chat completions
  ignore it, as the real API does: REFERENCE.md section 1);
- ``text.format`` on ``POST /v1/responses`` (``_rest_responses.py``), for models whose catalog entry
  lists that endpoint;
- an instruction in a system (or developer) message: a fenced ```` ```json ```` block after the
  words "JSON Schema" is the schema; without one, a system message asking for a "JSON object"
  gets a JSON object.

The answer is deterministic (:func:`schema_instance`): a small instance of the schema. A value
is the schema's ``default`` when it has one, else its first ``enum``/``const`` value, else built
from its type: objects get every declared property at the top level and their required ones below
(so recursive models stay finite), arrays one item (``minItems`` when more; unique when
``uniqueItems``), numbers their lower bound (exclusive bounds and ``multipleOf`` respected),
strings the property's name (``minLength``/``maxLength`` respected), sample values for the
common ``format`` names. Local ``$ref``\\ s are followed, ``allOf`` merged, and the first
non-null ``anyOf``/``oneOf`` branch taken. ``pattern`` is not understood, so a schema that needs
one can get an invalid answer (as from a real model). A ``json_object`` request gets
``{"you_said": <last user text>, "model": <id>, "messages": <n>}``.

The ``invalid_json`` fault (``POST /sim/faults``) spoils one answer (or ``times`` answers;
``times: 0`` for every answer until cleared): :func:`spoil` puts prose before it and cuts it in
half, on chat completions, ``/v1/responses`` and the bot protocol alike.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .. import _constants as C
from .._messages import content_text
from ..errors import InvalidRequestError

if TYPE_CHECKING:
    from ._catalog import ModelSpec
    from ._replies import Reply

__all__ = ["json_answer", "requested_format", "schema_instance", "spoil"]

_SCHEMA_BLOCK = re.compile(
    r"JSON Schema(?:[ \t]+`([^`\n]+)`)?.*?```(?:json)?[ \t]*\r?\n(.*?)\r?\n```", re.DOTALL
)
_FORMATS: dict[str, str] = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "json-pointer": "/a",
    "regex": ".*",
}
_TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


def _text(content: Any) -> str:
    return content_text(content, ("text", "input_text"))


# --- what was asked for ------------------------------------------------------------------


def _normal(kind: str, schema: Mapping[str, Any] | None = None, name: Any = None) -> dict[str, Any]:
    if kind == "json_object":
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": name or "response", "schema": schema}}


def _from_format(value: Any) -> dict[str, Any] | None:
    """A ``response_format`` (nested) or ``text.format`` (flat), in the nested form."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequestError("'response_format' must be an object")
    kind = value.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return _normal("json_object")
    if kind != "json_schema":
        raise InvalidRequestError(
            f"response_format type {kind!r} is not supported: use text, json_object or json_schema"
        )
    inner = value.get("json_schema", value)
    schema = inner.get("schema") if isinstance(inner, Mapping) else None
    if not isinstance(schema, Mapping):
        raise InvalidRequestError("a json_schema response format needs a 'schema' object")
    return _normal("json_schema", schema, inner.get("name"))


def requested_format(
    messages: Sequence[Mapping[str, Any]], response_format: Any = None
) -> dict[str, Any] | None:
    """The JSON the request asks for, as chat completions' ``response_format`` (nested form,
    with the schema's name when the instruction gives one in backticks), or None.

    Raises:
        InvalidRequestError: a malformed ``response_format`` (or ``text.format``).
    """
    asked = _from_format(response_format)
    if asked is not None:
        return asked
    for message in messages:
        if message.get("role") not in ("system", "developer"):
            continue
        text = _text(message.get("content"))
        match = _SCHEMA_BLOCK.search(text)
        if match:
            try:
                schema = json.loads(match.group(2))
            except ValueError:
                continue
            if isinstance(schema, Mapping):
                return _normal("json_schema", schema, match.group(1))
        if "JSON object" in text:
            return _normal("json_object")
    return None


def json_answer(
    model: ModelSpec, messages: Sequence[Mapping[str, Any]], asked: Mapping[str, Any]
) -> str:
    """The JSON text answering ``asked`` (a :func:`requested_format` result)."""
    schema = (asked.get("json_schema") or {}).get("schema")
    if isinstance(schema, Mapping):
        return json.dumps(schema_instance(schema), ensure_ascii=False)
    users = [m for m in messages if m.get("role") == "user"]
    last = _text(users[-1].get("content")) if users else ""
    return json.dumps(
        {"you_said": last, "model": model.id, "messages": len(messages)}, ensure_ascii=False
    )


def spoil(reply: Reply) -> Reply:
    """The ``invalid_json`` fault: prose before the answer and its second half gone."""
    half = reply.text[: max(1, len(reply.text) // 2)]
    return replace(reply, text=f"Here is the JSON you asked for:\n{half}")


# --- instances -------------------------------------------------------------------------------


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        return {}  # remote references are not fetched
    node: Any = root
    for token in ref[1:].split("/")[1:] if ref != "#" else []:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node.get(token) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _merged(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$ref`` target and ``allOf`` branches folded in."""
    out: dict[str, Any] = {}
    parts: list[Mapping[str, Any]] = []
    if isinstance(schema.get("$ref"), str):
        parts.append(_merged(_resolve(schema["$ref"], root), root))
    parts += [
        _merged(part, root) for part in schema.get("allOf") or () if isinstance(part, Mapping)
    ]
    parts.append({k: v for k, v in schema.items() if k not in ("$ref", "allOf")})
    for part in parts:
        for key, value in part.items():
            if key == "properties" and isinstance(value, Mapping):
                out["properties"] = {**out.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
            else:
                out[key] = value
    return out


def _type_of(schema: Mapping[str, Any]) -> str:
    typ = schema.get("type")
    if isinstance(typ, list):
        named = [t for t in _TYPE_ORDER if t in typ and t != "null"]
        return named[0] if named else "null"
    if isinstance(typ, str):
        return typ
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "multipleOf")):
        return "number"
    return "string"


def _bound(schema: Mapping[str, Any], inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    """A numeric bound and whether it is exclusive (draft 4's boolean flags too)."""
    value = schema.get(inclusive)
    flag = schema.get(exclusive)
    value = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if isinstance(flag, bool):
        return value, flag and value is not None
    if not isinstance(flag, (int, float)):
        return value, False
    if value is None or (flag >= value if inclusive == "minimum" else flag <= value):
        return float(flag), True
    return value, False


def _number(schema: Mapping[str, Any], integer: bool, index: int) -> int | float:
    step = schema.get("multipleOf")
    step = step if isinstance(step, (int, float)) and step > 0 else None
    unit = step or 1
    low, low_ex = _bound(schema, "minimum", "exclusiveMinimum")
    high, high_ex = _bound(schema, "maximum", "exclusiveMaximum")
    if low is not None:
        value = low + ((unit if integer or step else 0.5) if low_ex else 0)
    elif high is not None and high <= 0:
        value = high - (unit if high_ex else 0)
    else:
        value = 0.0
    value += index * unit
    if step:
        value = math.ceil(value / step - 1e-9) * step
    if integer:
        value = math.ceil(value)
    if high is not None and (value > high or (high_ex and value >= high)):
        # Squeezed: the middle of the allowed range, rounded down onto the grid.
        value = ((low if low is not None else high - 2 * unit) + high) / 2
        if step:
            value = math.floor(value / step) * step
        if integer:
            value = math.floor(value)
    return int(value) if integer else float(value)


def _string(schema: Mapping[str, Any], name: str | None, index: int) -> str:
    fmt = schema.get("format")
    text = _FORMATS.get(fmt, "") if isinstance(fmt, str) else ""
    base = name or "text"
    if not text:
        text = f"{base}{index + 1}" if index else base
    low = schema.get("minLength")
    high = schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text += "x" * (low - len(text))
    if isinstance(high, int) and len(text) > high:
        # the index first, so that the items of a uniqueItems array stay apart
        text = (f"{index + 1}{base}" if index else text)[:high]
    return text


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> dict[str, Any]:
    props = schema.get("properties")
    props = props if isinstance(props, Mapping) else {}
    required = [k for k in schema.get("required") or () if isinstance(k, str)]
    # Optional properties too at the top (a fuller example), required ones only below it
    # (recursive models stay finite).
    names = list(dict.fromkeys([*required, *props])) if depth == 0 else required
    most = schema.get("maxProperties")
    if isinstance(most, int):
        names = names[: max(most, len(required))]
    extra = schema.get("additionalProperties")
    out: dict[str, Any] = {}
    for key in names:
        sub = props.get(key, extra if isinstance(extra, Mapping) else {})
        out[key] = schema_instance(sub, root=root, depth=depth + 1, name=key)
    least = schema.get("minProperties")
    n = 0
    while isinstance(least, int) and len(out) < least and n < least:
        n += 1
        sub = extra if isinstance(extra, Mapping) else {}
        out[f"extra{n}"] = schema_instance(sub, root=root, depth=depth + 1, name=f"extra{n}")
    return out


def _array(
    schema: Mapping[str, Any], root: Mapping[str, Any], depth: int, name: str | None
) -> list[Any]:
    prefix = schema.get("prefixItems")
    prefix = prefix if isinstance(prefix, list) else []
    items = schema.get("items")
    if isinstance(items, list):  # draft 4-2019 tuple form
        prefix, items = items, schema.get("additionalItems")
    least = schema.get("minItems")
    most = schema.get("maxItems")
    shallow = depth < C.SIM_SCHEMA_MAX_DEPTH // 2  # deep down: only the items required
    count = max(least if isinstance(least, int) else 0, len(prefix), 1 if shallow else 0)
    if items is False:
        count = len(prefix)
    if isinstance(most, int):
        count = min(count, most)
    out: list[Any] = []
    for i in range(count):
        sub = prefix[i] if i < len(prefix) else items
        sub = sub if isinstance(sub, Mapping) else {}
        out.append(schema_instance(sub, root=root, depth=depth + 1, name=name, index=i))
    return out


def schema_instance(
    schema: Any,
    *,
    root: Mapping[str, Any] | None = None,
    depth: int = 0,
    name: str | None = None,
    index: int = 0,
) -> Any:
    """A deterministic value that validates ``schema`` (see the module docstring for limits).

    Args:
        schema: a JSON Schema (``True``/``{}`` accept anything).
        root: the document ``$ref`` pointers resolve in (default: ``schema``).
        depth: nesting so far; past ``SIM_SCHEMA_MAX_DEPTH`` the value is ``None``.
        name: the property the value is for (strings are named after it).
        index: the position in an array, so that ``uniqueItems`` arrays stay unique.
    """
    if not isinstance(schema, Mapping) or depth > C.SIM_SCHEMA_MAX_DEPTH:
        return (name or "text") if schema is True or schema is None else None
    root = schema if root is None else root
    schema = _merged(schema, root)
    if "const" in schema:
        return schema["const"]
    if "default" in schema and not index:  # the schema's own example of a valid value
        return schema["default"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][index % len(schema["enum"])]
    for key in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(key) or () if isinstance(b, Mapping)]
        if branches:
            typed = [b for b in branches if b.get("type") != "null"] or branches
            nulls = [b for b in branches if b.get("type") == "null"]
            deep = depth >= C.SIM_SCHEMA_MAX_DEPTH // 2
            chosen = nulls[0] if deep and nulls else typed[0]
            rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
            merged = {**rest, **chosen}
            return schema_instance(merged, root=root, depth=depth + 1, name=name, index=index)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        return _array(schema, root, depth, name)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer", index)
    if kind == "boolean":
        return index % 2 == 0
    if kind == "null":
        return None
    return _string(schema, name, index)
