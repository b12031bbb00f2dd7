"""``--schema FILE|JSON`` and ``--json-object``: the ``response_format`` of a CLI chat.

``--schema`` takes a file or inline JSON holding any of:

- a JSON Schema (``{"type": "object", "properties": ...}``), named after the file;
- a ``json_schema`` object (``{"name": ..., "schema": {...}, "strict": ...}``);
- a whole ``response_format`` (``{"type": "json_schema", "json_schema": {...}}``).

The library checks the schema (:class:`poe_mcp.structured.ResponseFormat`); here the text only
becomes JSON, with an error naming the option when it cannot.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

__all__ = ["response_format_option"]


def _load(value: str) -> Any:
    text = value
    name = "response"
    if not value.lstrip().startswith(("{", "[")):
        path = Path(value).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"{value!r} is neither inline JSON nor a readable file ({exc.strerror})",
                param_hint="--schema",
            ) from None
        name = re.sub(r"[^A-Za-z0-9_-]", "_", path.stem.removesuffix(".schema")) or name
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--schema") from None
    if not isinstance(data, dict):
        raise click.BadParameter("a JSON Schema is a JSON object", param_hint="--schema")
    if data.get("type") == "json_schema" or "json_schema" in data:
        return data
    if isinstance(data.get("schema"), dict) and "type" not in data:
        return {"type": "json_schema", "json_schema": data}
    return {"type": "json_schema", "json_schema": {"name": name, "schema": data}}


def response_format_option(schema: str | None, json_object: bool) -> Any:
    """The ``response_format`` the options ask for, or None.

    Raises:
        click.UsageError: both options given.
        click.BadParameter: ``--schema`` is neither a readable file nor JSON.
    """
    if schema is not None and json_object:
        raise click.UsageError("use either --schema or --json-object, not both")
    if json_object:
        return {"type": "json_object"}
    return None if schema is None else _load(schema)
