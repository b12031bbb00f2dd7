"""Tools a model can call: built from Python functions, OpenAI definitions or other MCP servers.

A :class:`Tool` holds a name, a description, the JSON schema of its arguments and, when it can
run here, the function behind it. The schema and the argument validator come from one place:
the function's signature, type hints and Google-style docstring, turned into a pydantic model
with :func:`pydantic.create_model` (so ``Annotated[int, Field(ge=0)]`` bounds, enums, nested
models and defaults all appear in the schema and are enforced by the same model).

Poe ignores ``strict`` in tool schemas, so every call's arguments are validated here before the
function runs; a validation error is a :class:`~poe_mcp.errors.ToolArgumentsError` whose message
is written for the model to read and correct itself.

Example::

    from poe_mcp import tool

    @tool
    def add(a: int, b: int = 1) -> int:
        \"\"\"Add two numbers.

        Args:
            a: the first number.
            b: the second number.
        \"\"\"
        return a + b

    add.to_openai()  # {"type": "function", "function": {"name": "add", ...}}

Also here, imported on first use: :func:`builtin_tools` / :func:`builtin_tools_from_config`
and :class:`FileSandbox` (files under configured roots, and commands; ``tools/_builtin.py``),
and :class:`MCPToolset` / :class:`MCPServerSpec` / :func:`mcp_servers_from_config` (the
tools of other MCP servers; ``tools/_mcp.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import re
import threading
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, overload

from .. import _constants as C
from .._lazy import lazy_exports
from .._tool_schemas import check_parameters_schema
from ..errors import ConfigError, InvalidRequestError, ToolArgumentsError, ToolExecutionError

# name -> submodule defining it, imported on first use (the file and MCP tools pull in more)
_LAZY: dict[str, str] = {
    "FileSandbox": "_builtin",
    "builtin_tools": "_builtin",
    "builtin_tools_from_config": "_builtin",
    "MCPServerSpec": "_mcp",
    "MCPToolset": "_mcp",
    "mcp_servers_from_config": "_mcp",
}

__all__ = [  # noqa: RUF022 - the core names, then the lazily imported ones
    "Tool",
    "ToolRegistry",
    "format_tool_result",
    "tool",
    "FileSandbox",
    "builtin_tools",
    "builtin_tools_from_config",
    "MCPServerSpec",
    "MCPToolset",
    "mcp_servers_from_config",
]

if typing.TYPE_CHECKING:
    from ._builtin import FileSandbox, builtin_tools, builtin_tools_from_config
    from ._mcp import MCPServerSpec, MCPToolset, mcp_servers_from_config


__getattr__ = lazy_exports(__name__, _LAZY)


ToolFunc = Callable[..., Any]
Validator = Callable[[dict[str, Any]], dict[str, Any]]
Runner = Callable[[dict[str, Any]], Awaitable[Any]]

# OpenAI's rule for function names; Poe forwards tools to providers that enforce it.
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SECTION_RE = re.compile(
    r"^\s*(Args|Arguments|Parameters|Returns?|Raises|Yields|Examples?|Notes?)\s*:\s*$"
)
_ARG_RE = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(eq=False)
class Tool:
    """A function a model can call.

    Build one with :func:`tool` (from a Python function), :meth:`Tool.from_openai` (a definition
    only: the caller runs it, see :class:`~poe_mcp.agent.Agent`), or the MCP toolset in
    ``poe_mcp.tools`` (:class:`MCPToolset`).

    Attributes:
        name: the function name the model sees.
        description: what the tool does, for the model.
        parameters: the JSON schema of the arguments (an ``object`` schema).
        timeout: seconds one call may take; None means the agent's ``tool_timeout``.
        mutating: True when a call changes something outside the conversation (writes a file,
            runs a command); the orchestrator's step mode asks before each such call.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    timeout: float | None = None
    mutating: bool = False
    func: ToolFunc | None = field(default=None, repr=False)
    _validator: Validator | None = field(default=None, repr=False)
    _runner: Runner | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ConfigError(
                f"tool name {self.name!r} is invalid: use 1-64 letters, digits, '_' or '-'"
            )

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_function(
        cls,
        func: ToolFunc,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Tool:
        """Build a tool from a sync or async function (see the module docstring)."""
        tool_name = name or func.__name__
        doc_description, arg_docs = parse_docstring(inspect.getdoc(func) or "")
        model = _arguments_model(func, arg_docs)
        parameters = _clean_schema(model.model_json_schema())

        def validate(arguments: dict[str, Any]) -> dict[str, Any]:
            from pydantic import ValidationError

            try:
                parsed = model.model_validate(arguments)
            except ValidationError as exc:
                raise ToolArgumentsError(_describe_validation_error(tool_name, exc)) from exc
            # Attribute access keeps nested models as models (model_dump would flatten them).
            return {key: getattr(parsed, key) for key in type(parsed).model_fields}

        return cls(
            name=tool_name,
            description=description or doc_description or tool_name,
            parameters=parameters,
            timeout=timeout,
            func=func,
            _validator=validate,
            _runner=_function_runner(func),
        )

    @classmethod
    def from_openai(cls, definition: Mapping[str, Any], *, runner: Runner | None = None) -> Tool:
        """Build a tool from an OpenAI definition (``{"type": "function", "function": {...}}``).

        Without ``runner`` the tool is *client-executed*: the agent cannot run it and stops with
        the model's calls in ``AgentResult.pending_tool_calls``. Arguments are checked against
        ``parameters`` with ``jsonschema`` either way.

        Raises:
            InvalidRequestError: the definition is malformed.
        """
        spec = definition.get("function", definition)
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise InvalidRequestError(
                "a tool definition needs {'type': 'function', 'function': {'name': ..., "
                "'description': ..., 'parameters': {...}}}"
            )
        params = spec.get("parameters") or {"type": "object", "properties": {}}
        check_parameters_schema(params, f"tool {spec['name']!r} parameters")
        try:
            return cls(
                name=spec["name"],
                description=str(spec.get("description") or ""),
                parameters=dict(params),
                _validator=_schema_validator(spec["name"], dict(params)),
                _runner=runner,
            )
        except ConfigError as exc:
            raise InvalidRequestError(exc.message) from exc

    # -- use ---------------------------------------------------------------------------------
    @property
    def executable(self) -> bool:
        """True when the agent can run this tool itself (False: client-executed)."""
        return self._runner is not None

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI ``tools[]`` entry for this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def validate(self, arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
        """Parse and check the model's arguments; returns the values the function receives.

        Raises:
            ToolArgumentsError: not a JSON object, or not matching the schema; the message is
                meant for the model.
        """
        if arguments is None or arguments == "":
            data: Any = {}
        elif isinstance(arguments, str):
            try:
                data = json.loads(arguments)
            except json.JSONDecodeError as exc:
                raise ToolArgumentsError(
                    f"Invalid arguments for {self.name}: not valid JSON ({exc.msg} at position "
                    f"{exc.pos}). Send a JSON object matching the tool's schema."
                ) from exc
        else:
            data = dict(arguments)
        if not isinstance(data, dict):
            raise ToolArgumentsError(
                f"Invalid arguments for {self.name}: expected a JSON object, "
                f"got {type(data).__name__}."
            )
        return self._validator(data) if self._validator else data

    async def run(self, arguments: dict[str, Any]) -> Any:
        """Run the tool with already validated arguments (sync functions run in a thread).

        Raises:
            ToolExecutionError: the tool is client-executed (no function here).
        """
        if self._runner is None:
            raise ToolExecutionError(f"tool {self.name!r} is executed by the client, not here")
        return await self._runner(arguments)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped function directly, so ``@tool`` functions stay usable as functions."""
        if self.func is None:
            raise ToolExecutionError(f"tool {self.name!r} has no Python function")
        return self.func(*args, **kwargs)


@overload
def tool(func: ToolFunc, /) -> Tool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout: float | None = None
) -> Callable[[ToolFunc], Tool]: ...
def tool(
    func: ToolFunc | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Tool | Callable[[ToolFunc], Tool]:
    """Turn a sync or async function into a :class:`Tool`; usable bare or with options.

    Args:
        func: the function (when used as ``@tool``).
        name: the tool name; default the function's name.
        description: the description; default the docstring's first paragraph.
        timeout: seconds one call may take; default the agent's ``tool_timeout``.
    """
    if func is not None:
        return Tool.from_function(func, name=name, description=description, timeout=timeout)

    def decorate(f: ToolFunc) -> Tool:
        return Tool.from_function(f, name=name, description=description, timeout=timeout)

    return decorate


class ToolRegistry:
    """Tools by name, in registration order; a second tool with a taken name is an error."""

    def __init__(self, tools: Iterable[Tool | ToolFunc | Mapping[str, Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, item: Tool | ToolFunc | Mapping[str, Any]) -> Tool:
        """Register a Tool, a plain function (wrapped with :func:`tool`) or an OpenAI definition.

        Raises:
            ConfigError: the name is already taken.
        """
        if isinstance(item, Tool):
            new = item
        elif isinstance(item, Mapping):
            new = Tool.from_openai(item)
        elif callable(item):
            new = Tool.from_function(item)
        else:
            raise ConfigError(
                f"cannot use {item!r} as a tool: give a Tool, a function or a definition"
            )
        if new.name in self._tools:
            raise ConfigError(f"two tools are named {new.name!r}: tool names must be unique")
        self._tools[new.name] = new
        return new

    def get(self, name: str) -> Tool | None:
        """The tool named ``name``, or None."""
        return self._tools.get(name)

    def definitions(self) -> list[dict[str, Any]]:
        """The OpenAI ``tools[]`` list."""
        return [t.to_openai() for t in self._tools.values()]

    def names(self) -> list[str]:
        """The tools' names, in registration order."""
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)


def format_tool_result(value: Any) -> str:
    """The text a model receives for a tool's return value (str as is, everything else JSON)."""
    if isinstance(value, str):
        return value
    from pydantic_core import to_json

    return to_json(value, fallback=str).decode()


# -- docstrings -------------------------------------------------------------------------------
def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its first paragraph and per-argument descriptions."""
    lines = doc.strip().splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION_RE.match(line):
            break
        summary.append(line.strip())

    args: dict[str, str] = {}
    in_args = False
    current: str | None = None
    arg_indent: int | None = None
    for line in lines:
        section = _SECTION_RE.match(line)
        if section:
            in_args = section.group(1) in ("Args", "Arguments", "Parameters")
            current, arg_indent = None, None
            continue
        if not in_args or not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        match = _ARG_RE.match(line)
        if match and (arg_indent is None or indent <= arg_indent):
            arg_indent = indent
            current = match.group(1)
            args[current] = match.group(2).strip()
        elif current is not None:
            args[current] = f"{args[current]} {line.strip()}".strip()
    return " ".join(summary), args


# -- schema and validation --------------------------------------------------------------------
def _arguments_model(func: ToolFunc, arg_docs: Mapping[str, str]) -> Any:
    from pydantic import ConfigDict, Field, create_model

    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except (NameError, TypeError) as exc:
        raise ConfigError(f"cannot read the type hints of {func.__name__}: {exc}") from exc
    fields: dict[str, Any] = {}
    for pname, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ConfigError(
                f"{func.__name__}: *args/**kwargs cannot be described to a model; "
                "name each argument"
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise ConfigError(
                f"{func.__name__}: positional-only argument {pname!r} is not supported"
            )
        annotation = hints.get(pname, Any)
        default = ... if param.default is param.empty else param.default
        fields[pname] = (annotation, Field(default, description=arg_docs.get(pname)))
    return create_model(
        f"{func.__name__}_arguments",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False),
        **fields,
    )


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's generated titles: they cost tokens and tell the model nothing."""

    def walk(node: Any, in_properties: bool = False) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key == "title" and not in_properties and isinstance(value, str):
                    continue
                out[key] = walk(value, in_properties=key in ("properties", "$defs"))
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    cleaned: dict[str, Any] = walk(schema)
    cleaned.setdefault("properties", {})
    return cleaned


def _describe_validation_error(name: str, exc: Any) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "(arguments)"
        got = err.get("input")
        shown = json.dumps(got, default=str)[:80] if got is not None else "nothing"
        problems.append(f"- {where}: {err.get('msg')} (got {shown})")
    return (
        f"Invalid arguments for {name}:\n"
        + "\n".join(problems)
        + "\nFix these and call the tool again."
    )


def _schema_validator(name: str, schema: dict[str, Any]) -> Validator:
    """A validator for a raw JSON schema (client-executed and MCP tools)."""
    checker: Any = None

    def validate(arguments: dict[str, Any]) -> dict[str, Any]:
        nonlocal checker
        if checker is None:
            import jsonschema

            try:
                cls = jsonschema.validators.validator_for(schema)
                cls.check_schema(schema)
                checker = cls(schema)
            except jsonschema.SchemaError as exc:
                raise InvalidRequestError(
                    f"tool {name!r} has an invalid schema: {exc.message}"
                ) from exc
        errors = sorted(checker.iter_errors(arguments), key=lambda e: list(e.path))
        if errors:
            problems = []
            for err in errors[:10]:
                where = ".".join(str(p) for p in err.path) or "(arguments)"
                problems.append(f"- {where}: {err.message}")
            raise ToolArgumentsError(
                f"Invalid arguments for {name}:\n"
                + "\n".join(problems)
                + "\nFix these and call the tool again."
            )
        return arguments

    return validate


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(C.TOOL_THREADS, thread_name_prefix="poe-mcp-tool")
        return _pool


def _function_runner(func: ToolFunc) -> Runner:
    if inspect.iscoroutinefunction(func):

        async def run_async(arguments: dict[str, Any]) -> Any:
            return await func(**arguments)

        return run_async

    async def run_sync(arguments: dict[str, Any]) -> Any:
        # Sync tools run in a worker thread so one slow tool never blocks the loop or the others.
        # Not asyncio.to_thread: its default pool has cpu_count + 4 threads, so on a small
        # machine the calls of one turn would queue behind each other.
        context = contextvars.copy_context()
        call = functools.partial(context.run, func, **arguments)
        result = await asyncio.get_running_loop().run_in_executor(_executor(), call)
        if inspect.isawaitable(result):  # a sync wrapper that returned a coroutine
            result = await result
        return result

    return run_sync
