"""Which tools exist, which module defines each, and how they become SDK tools.

A tool module is a file under ``poe_mcp.server.tools`` whose ``TOOLS`` lists a
:class:`~.tools._base.ToolSpec` per tool (a module-level function and what ``tools/list`` says
about it). Adding a group of tools means writing such a module and listing its tools in
:data:`TOOL_MODULES`; modules that are not installed are skipped. :class:`ToolLoader` wraps
each selected tool with the error handling and metrics (``_guard``) and the argument checks
(``_arguments``, ``_sizes``), and shrinks its schemas.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations

from ..errors import ConfigError
from ._arguments import StrictTool
from ._guard import guarded
from ._sizes import bound_schema
from .runtime import ServerRuntime
from .tools._base import ToolSpec

__all__ = [
    "OPTIONAL_GROUPS",
    "TOOL_GROUPS",
    "TOOL_MODULES",
    "ToolLoader",
    "available_tools",
    "compact_output_schema",
    "compact_schema",
    "installed_tools",
    "select_tools",
]

# tool name -> module under poe_mcp.server that defines it (in its TOOLS)
TOOL_MODULES: dict[str, str] = {
    "ask_poe": "tools.chat",
    "ask_with_attachment": "tools.chat",
    "ask_poe_v2": "tools.chat",
    "ask_poe_with_tools": "tools.agent",
    "generate_image": "tools.media",
    "generate_video": "tools.media",
    "generate_audio": "tools.media",
    "clear_session": "tools.sessions",
    "list_sessions": "tools.sessions",
    "list_available_models": "tools.info",
    "list_available_models_v2": "tools.info",
    "get_usage": "tools.info",
    "get_server_info": "tools.info",
    "orchestrate": "tools.orchestra",
    "get_run": "tools.orchestra",
    "resume_run": "tools.orchestra",
    "cancel_run": "tools.orchestra",
    "compare_models": "tools.multi",
    "consensus": "tools.multi",
}

# Shorthands accepted by --tools.
TOOL_GROUPS: dict[str, tuple[str, ...]] = {
    "chat": ("ask_poe", "ask_with_attachment", "ask_poe_v2"),
    "sessions": ("clear_session", "list_sessions"),
    "models": ("list_available_models", "list_available_models_v2"),
    "info": ("get_usage", "get_server_info"),
    "agent": ("ask_poe_with_tools",),
    "media": ("generate_image", "generate_video", "generate_audio"),
    "orchestra": ("orchestrate", "get_run", "resume_run", "cancel_run"),
    "multi": ("compare_models", "consensus"),
}

# Groups that are off unless named (`--tools all,multi`): each tool's schema sits in the calling
# model's context on every tools/list, so the default set stays small.
OPTIONAL_GROUPS: tuple[str, ...] = ("multi", "orchestra")
_OPTIONAL = frozenset(name for group in OPTIONAL_GROUPS for name in TOOL_GROUPS[group])


def _module_present(module: str) -> bool:
    return importlib.util.find_spec(f"{__package__}.{module}") is not None


def installed_tools() -> list[str]:
    """Tools whose module is installed, in registry order (optional groups included)."""
    present = {m for m in set(TOOL_MODULES.values()) if _module_present(m)}
    return [name for name, module in TOOL_MODULES.items() if module in present]


def available_tools() -> list[str]:
    """The default selection (and ``all``): installed tools outside :data:`OPTIONAL_GROUPS`."""
    return [name for name in installed_tools() if name not in _OPTIONAL]


def select_tools(spec: str | Iterable[str] | None) -> list[str]:
    """Resolve a ``--tools`` selection (names, group names, ``all``; comma-separated or a list).

    Raises:
        ConfigError: an unknown name, or a tool this installation does not have.
    """
    available = available_tools()
    if spec is None:
        return available
    items = [spec] if isinstance(spec, str) else list(spec)
    words = [w.strip() for item in items for w in item.split(",") if w.strip()]
    if not words:
        return available
    installed = installed_tools()
    # "all" is every default tool; optional groups join only when named (all,multi).
    chosen: list[str] = list(available) if "all" in words else []
    for word in words:
        if word == "all":
            continue
        names = TOOL_GROUPS.get(word, (word,))
        for name in names:
            if name not in TOOL_MODULES:
                from .._suggest import did_you_mean

                hint = did_you_mean(name, [*TOOL_MODULES, *TOOL_GROUPS])
                raise ConfigError(
                    f"unknown tool {name!r} in --tools.{hint} Choose from "
                    f"{', '.join(available)}, the groups {', '.join(TOOL_GROUPS)}, or all"
                )
            if name not in installed:
                if word in TOOL_GROUPS:
                    continue  # a group names tools that later versions add
                raise ConfigError(f"tool {name!r} is not available in this version of poe-mcp")
            if name not in chosen:
                chosen.append(name)
    if not chosen:
        raise ConfigError("--tools selects no available tool")
    return [name for name in installed if name in chosen]


def compact_schema(schema: Any, *, optional_not_null: bool = False) -> Any:
    """Shrink a JSON schema (in place; returns it).

    Every ``tools/list`` puts all schemas in the calling model's context, so titles (they repeat
    property names) and ``default: null`` go. With ``optional_not_null`` (input schemas), an
    optional property's ``anyOf [X, null]`` becomes ``X``: leaving it out already means "none",
    and single-type schemas are the most portable (some clients map them onto dialects without
    type unions). The server still accepts an explicit null.
    """
    if isinstance(schema, list):
        for item in schema:
            compact_schema(item)
        return schema
    if not isinstance(schema, dict):
        return schema
    schema.pop("title", None)
    if schema.get("default", 0) is None:
        del schema["default"]
    if schema.get("additionalProperties") is True:  # JSON Schema's default: says nothing
        del schema["additionalProperties"]
    required = set(schema.get("required") or ())
    for name, prop in (schema.get("properties") or {}).items():
        options = prop.get("anyOf") if isinstance(prop, dict) else None
        if optional_not_null and name not in required and isinstance(options, list):
            rest = [o for o in options if o != {"type": "null"}]
            if len(rest) == 1 and len(options) == 2 and isinstance(rest[0], dict):
                del prop["anyOf"]
                prop.update({k: v for k, v in rest[0].items() if k not in prop})
            elif len(rest) < len(options):
                prop["anyOf"] = rest
        compact_schema(prop)
    for sub in (schema.get("$defs") or {}).values():
        compact_schema(sub)
    for key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
        if key in schema:
            compact_schema(schema[key])
    return schema


def compact_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """:func:`compact_schema` for results: top-level fields only, nothing required.

    Only tools whose result a calling program builds on (answers, media, comparisons) declare an
    output schema; listings, usage, server info and the agent's turn send ``structuredContent``
    without one, which keeps ``tools/list`` within its size goal. Nullable fields stay
    ``anyOf`` branches of one type each: single-type dialects (Gemini's) reject type arrays.

    Output schemas describe what the server sends; the calling model acts on the text and the
    top-level fields, so nested objects are described as ``{"type": "object"}`` only and
    ``required`` lists and defaults are dropped. What is sent still validates.
    """
    schema.pop("$defs", None)
    schema.pop("required", None)
    for prop in (schema.get("properties") or {}).values():
        if not isinstance(prop, dict):
            continue
        prop.pop("default", None)
        if "$ref" in prop:
            del prop["$ref"]
            prop["type"] = "object"
        items = prop.get("items")
        if isinstance(items, dict) and ("$ref" in items or "properties" in items):
            prop["items"] = {"type": "object"}
        items = prop.get("items")
        if prop.get("type") == "array" and isinstance(items, dict) and set(items) == {"type"}:
            del prop["items"]  # lists of ids, paths, records: the name says what is in them
        if "properties" in prop:
            for key in ("properties", "required", "additionalProperties"):
                prop.pop(key, None)
    # A field that may hold anything says nothing as {}: it is left undeclared (extra fields
    # are allowed), which also keeps the schema portable (single-type dialects reject {}).
    props = schema.get("properties") or {}
    for name in [
        n for n, p in props.items() if p == {} or p == {"description": p.get("description")}
    ]:
        del props[name]
    compact_schema(schema)
    return schema


class ToolLoader:
    """Builds the selected tools as SDK ``Tool`` objects.

    Args:
        runtime: the server's shared state (its metrics count every call).
        wanted: names of the tools to expose.
    """

    def __init__(self, runtime: ServerRuntime, wanted: Iterable[str]) -> None:
        self.runtime = runtime
        self.wanted = set(wanted)

    def _tool(self, spec: ToolSpec) -> Tool:
        read_only = spec.read_only
        destructive = spec.destructive
        if callable(destructive):
            destructive = destructive(self.runtime.settings)
        tool = StrictTool.from_function(
            guarded(self.runtime, spec.name)(spec.fn),
            name=spec.name,
            title=spec.title,
            description=spec.description,
            annotations=ToolAnnotations(
                read_only_hint=read_only or None,  # false is the spec's default
                destructive_hint=None if read_only else destructive,
                idempotent_hint=spec.idempotent or None,
                open_world_hint=spec.open_world,
            ),
        )
        compact_schema(tool.parameters, optional_not_null=True)
        bound_schema(tool.parameters)  # every string has a maxLength (see _sizes)
        # Unknown arguments are refused (see _arguments), and the schema says so.
        tool.parameters["additionalProperties"] = False
        if tool.fn_metadata.output_schema is not None:
            compact_output_schema(tool.fn_metadata.output_schema)
        return tool

    def load(self) -> list[Tool]:
        """The wanted tools, in :data:`TOOL_MODULES` order, ready for the server."""
        tools: list[Tool] = []
        for module in dict.fromkeys(TOOL_MODULES[n] for n in TOOL_MODULES if n in self.wanted):
            specs: tuple[ToolSpec, ...] = importlib.import_module(f"{__package__}.{module}").TOOLS
            tools += [self._tool(spec) for spec in specs if spec.name in self.wanted]
        order = {name: i for i, name in enumerate(TOOL_MODULES)}
        tools.sort(key=lambda t: order.get(t.name, len(order)))
        takers: dict[str, list[str]] = {}
        for tool in tools:
            for arg in tool.parameters.get("properties") or {}:
                takers.setdefault(arg, []).append(tool.name)
        for tool in tools:
            if isinstance(tool, StrictTool):
                elsewhere = {a: [t for t in ts if t != tool.name] for a, ts in takers.items()}
                tool.configure({a: ts for a, ts in elsewhere.items() if ts}, self._refused)
        return tools

    def _refused(self, tool: str) -> None:
        self.runtime.metrics.tool_call(tool, "error", 0.0, "invalid_request")
