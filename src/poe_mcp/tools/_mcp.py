"""Tools of other MCP servers, offered to Poe models as ordinary :class:`~poe_mcp.tools.Tool`\\ s.

This is how users register their own tools: write an MCP server (any language), name it in
``config.toml``, and its tools become callable by every Poe model through the agent loop::

    [mcp_servers.notes]
    command = "python"
    args = ["-m", "my_notes_server"]
    env = { NOTES_DIR = "/home/me/notes" }   # the server gets only these + a safe default set
    prefix = "notes_"                         # optional: prepended to its tool names
    tools = ["search", "read"]                # optional: only these tools
    timeout_s = 60                            # optional: per call

    [mcp_servers.remote]
    url = "http://127.0.0.1:9000/mcp"
    headers = { Authorization = "Bearer ..." }

Connections use the official ``mcp`` client (``mcp.client.Client``) and stay open while the
:class:`MCPToolset` is entered; enter it once (e.g. for the life of ``poe-mcp serve``) and
hand ``toolset.tools`` to every :class:`~poe_mcp.agent.Agent`::

    async with MCPToolset(settings.mcp_servers) as ts:
        agent = Agent(client, "Claude-Sonnet-4", tools=ts.tools)

Arguments are checked against each tool's input schema before the call. A result marked
``isError`` becomes an error the model reads. Nothing supplied is ever executed here: the
other server runs its own tools.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from .. import _constants as C
from .._logging import register_secret
from ..errors import ConfigError, ToolExecutionError
from . import Tool, format_tool_result

__all__ = ["MCPServerSpec", "MCPToolset", "mcp_servers_from_config"]

logger = logging.getLogger(__name__)

_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64


@dataclass(frozen=True, slots=True)
class MCPServerSpec:
    """One MCP server whose tools should be offered to models.

    Attributes:
        name: a label for messages and errors.
        command / args / env / cwd: start the server as a subprocess over stdio.
        url: or connect to it over streamable HTTP (``http://host:port/mcp``).
        headers: HTTP headers for ``url`` (values are treated as secrets).
        prefix: prepended to every tool name (avoids clashes between servers).
        tools: only these tools (by the server's names); None for all.
        timeout_s: seconds one call may take; None for the agent's ``tool_timeout``.
    """

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""
    tools: tuple[str, ...] | None = None
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        if (self.command is None) == (self.url is None):
            raise ConfigError(
                f"MCP server {self.name!r}: give exactly one of 'command' (stdio) or 'url' (HTTP)"
            )
        for value in self.headers.values():
            register_secret(value)

    def __repr__(self) -> str:  # headers and env may hold secrets
        target = self.url or " ".join([self.command or "", *self.args])
        return f"MCPServerSpec(name={self.name!r}, target={target!r})"


def mcp_servers_from_config(section: Mapping[str, Any]) -> list[MCPServerSpec]:
    """The servers of the ``[mcp_servers]`` table of ``config.toml`` (see the module docstring).

    Raises:
        ConfigError: a server table is malformed.
    """
    specs = []
    for name, table in section.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"[mcp_servers.{name}] must be a table")
        known = {"command", "args", "env", "cwd", "url", "headers", "prefix", "tools", "timeout_s"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(
                f"[mcp_servers.{name}] has unknown keys {unknown}; known: {sorted(known)}"
            )
        try:
            args = table.get("args", [])
            tools = table.get("tools")
            specs.append(
                MCPServerSpec(
                    name=str(name),
                    command=table.get("command"),
                    args=tuple(str(a) for a in args),
                    env={str(k): str(v) for k, v in table["env"].items()}
                    if "env" in table
                    else None,
                    cwd=table.get("cwd"),
                    url=table.get("url"),
                    headers={str(k): str(v) for k, v in table.get("headers", {}).items()},
                    prefix=str(table.get("prefix", "")),
                    tools=tuple(str(t) for t in tools) if tools is not None else None,
                    timeout_s=float(table["timeout_s"]) if "timeout_s" in table else None,
                )
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise ConfigError(f"[mcp_servers.{name}] has a value of the wrong type: {exc}") from exc
    return specs


class MCPToolset:
    """Open connections to MCP servers and their tools as :class:`Tool` objects.

    Args:
        servers: :class:`MCPServerSpec` entries; an ``mcp`` ``Server``/``MCPServer`` object is
            also accepted (connected in process, useful in tests).
        ignore_failures: a server that cannot be reached is skipped (logged, and listed in
            :attr:`failures`) instead of raising.

    Attributes:
        tools: the tools of every connected server, after entering.
        failures: server name -> why it was skipped (with ``ignore_failures``).
    """

    def __init__(
        self, servers: Iterable[MCPServerSpec | Any], *, ignore_failures: bool = False
    ) -> None:
        self.servers = list(servers)
        self.ignore_failures = ignore_failures
        self.tools: list[Tool] = []
        self.failures: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    async def __aenter__(self) -> MCPToolset:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Connect to every server and list its tools (what ``async with`` does).

        Raises:
            ConfigError: a server could not be used (without ``ignore_failures``), or two
                servers offer the same tool name.
        """
        if self._task is not None:
            raise ConfigError("this MCPToolset is already started")
        ready = asyncio.Event()
        self._closing = asyncio.Event()
        # The SDK's anyio cancel scopes must be entered and left by the same task; a task of
        # our own holds the connections, so start() and aclose() may run in different tasks
        # (a server's lifespan, a test fixture).
        self._task = asyncio.create_task(self._hold(ready, self._closing))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._task.done():
            task, self._task = self._task, None
            task.result()  # raises what stopped it

    async def aclose(self) -> None:
        """Close every connection (stops stdio servers)."""
        task, self._task = self._task, None
        self.tools = []
        if task is not None:
            self._closing.set()
            await task

    async def _hold(self, ready: asyncio.Event, closing: asyncio.Event) -> None:
        async with AsyncExitStack() as stack:
            for server in self.servers:
                spec = server if isinstance(server, MCPServerSpec) else None
                label = spec.name if spec else type(server).__name__
                try:
                    self.tools.extend(await self._connect(stack, server, spec))
                except ConfigError:
                    raise
                except Exception as exc:  # any transport or SDK failure means "unusable"
                    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    if not self.ignore_failures:
                        raise ConfigError(
                            f"MCP server {label!r} could not be used: {reason}"
                        ) from exc
                    logger.warning("MCP server %r skipped: %s", label, reason)
                    self.failures[label] = reason
            names = [t.name for t in self.tools]
            clashes = sorted({n for n in names if names.count(n) > 1})
            if clashes:
                raise ConfigError(
                    f"several MCP servers offer tools named {clashes}: give them a 'prefix'"
                )
            ready.set()
            await closing.wait()

    async def _connect(
        self, stack: AsyncExitStack, server: Any, spec: MCPServerSpec | None
    ) -> list[Tool]:
        from mcp.client import Client

        target: Any = server
        if spec is not None and spec.command is not None:
            from mcp.client.stdio import StdioServerParameters

            target = StdioServerParameters(
                command=spec.command,
                args=list(spec.args),
                env=dict(spec.env) if spec.env is not None else None,
                cwd=spec.cwd,
            )
        elif spec is not None and spec.url is not None:
            target = spec.url
            if spec.headers:
                import httpx2
                from mcp.client.streamable_http import streamable_http_client

                http = await stack.enter_async_context(
                    httpx2.AsyncClient(
                        headers=dict(spec.headers),
                        timeout=httpx2.Timeout(
                            C.MCP_TOOL_CONNECT_TIMEOUT_S, read=C.DEFAULT_TIMEOUT_S
                        ),
                    )
                )
                target = streamable_http_client(spec.url, http_client=http)

        client = Client(target)
        async with asyncio.timeout(C.MCP_TOOL_CONNECT_TIMEOUT_S):
            await stack.enter_async_context(client)
            listed = []
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                listed.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
        wanted = set(spec.tools) if spec and spec.tools is not None else None
        prefix = spec.prefix if spec else ""
        timeout = spec.timeout_s if spec else None
        return [
            _as_tool(client, item, prefix, timeout)
            for item in listed
            if wanted is None or item.name in wanted
        ]


def _as_tool(client: Any, item: Any, prefix: str, timeout: float | None) -> Tool:
    remote_name: str = item.name
    name = _BAD_NAME_CHARS.sub("_", f"{prefix}{remote_name}")[:_MAX_NAME]

    async def run(arguments: dict[str, Any]) -> str:
        result = await client.call_tool(remote_name, arguments)
        text = _result_text(result)
        if result.is_error:
            raise ToolExecutionError(text or f"{remote_name} failed")
        return text

    definition = {
        "name": name,
        "description": item.description or item.title or remote_name,
        "parameters": dict(item.input_schema or {"type": "object", "properties": {}}),
    }
    made = Tool.from_openai({"type": "function", "function": definition}, runner=run)
    made.timeout = timeout
    return made


def _result_text(result: Any) -> str:
    """A CallToolResult as text for a model: text parts as they are, media described."""
    parts: list[str] = []
    for block in result.content or ():
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            size = len(base64.b64decode(block.data, validate=False)) if block.data else 0
            parts.append(f"[{kind} {block.mime_type}, {size} bytes]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}{' ' + block.name if block.name else ''}]")
        elif kind == "resource":
            res = block.resource
            text = getattr(res, "text", None)
            parts.append(text if text is not None else f"[resource {res.uri}, binary]")
        else:
            parts.append(format_tool_result(block.model_dump(mode="json", by_alias=True)))
    if not parts and result.structured_content is not None:
        parts.append(format_tool_result(result.structured_content))
    return "\n".join(parts)
