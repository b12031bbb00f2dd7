"""MCP server: what ``poe-mcp serve`` costs the assistant that spawns it, over real stdio.

Every server is a real subprocess driven by the official MCP SDK client (``mode="legacy"``:
the ``initialize`` handshake Claude Desktop, Claude Code and Cursor use), against one
in-process simulator (latency 0, rate limits out of the way). Baselines are the small scripts in
``bench/_minimal_servers.py``, run with the same interpreter.

- Start-up: spawn -> ``initialize`` -> ``tools/list`` answered, against a bare one-tool
  ``MCPServer``. Runs alternate between the two servers so machine noise hits both alike.
- Round trip: ``ask_poe_v2`` without ``session_id`` (a new session each call, so each call is
  one turn without history, like the baseline), warm, sequential, against a one-tool
  ``MCPServer`` that calls the openai SDK. ``poe-mcp serve`` runs with its default store
  (SQLite in the data dir, which it writes on every call) and, for reference, ``memory://``.
- ``tools/list`` size with every tool enabled: the characters of the JSON-RPC response line
  as it crosses the pipe, and each tool's share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ._common import Options, Row, measure

SECTION_START = "MCP server start-up over stdio (spawn -> initialize + tools/list, median)"
SECTION_CALL = "MCP server round trip over stdio (tools/call, warm, sequential, median)"
SECTION_SIZE = "MCP tools/list size (characters of the JSON on the wire)"
MODEL = "GPT-4.1"
KEY = "bench-key-server-0000"
PROMPT = "Say hello to the benchmark."
SIZE_TARGET = 12_000
HANDSHAKE_VERSION = "2025-11-25"

_MINIMAL = str(Path(__file__).with_name("_minimal_servers.py"))
_POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))


class _Servers:
    """Commands and environments of the servers under test (all against one simulator)."""

    def __init__(self, base_url: str, root: Path) -> None:
        self.base_url = base_url
        self.root = root
        self.errlog = open(root / "servers.log", "w")  # noqa: SIM115 - closed by close()

    def env(self, name: str, **extra: str) -> dict[str, str]:
        # The stdio client merges this over a small safe set (PATH, HOME...), as assistants do.
        home = self.root / name
        return {
            "POE_API_KEY": KEY,
            "POE_BASE_URL": self.base_url,
            "POE_MCP_HOME": str(home / "data"),
            "POE_MCP_CONFIG_DIR": str(home / "config"),
            "POE_MCP_RPM": "1000000",
            **extra,
        }

    def poe_mcp(self, name: str, *args: str, **extra: str) -> Any:
        from mcp import StdioServerParameters

        return StdioServerParameters(
            command=_POE_MCP, args=["serve", *args], env=self.env(name, **extra)
        )

    def minimal(self, kind: str) -> Any:
        from mcp import StdioServerParameters

        return StdioServerParameters(
            command=sys.executable, args=[_MINIMAL, kind], env=self.env(f"minimal-{kind}")
        )

    @contextlib.asynccontextmanager
    async def client(self, params: Any) -> AsyncIterator[Any]:
        from mcp import Client
        from mcp.client.stdio import stdio_client

        transport = stdio_client(params, errlog=self.errlog)
        async with Client(transport, mode="legacy", cache=None) as client:
            yield client

    def close(self) -> None:
        self.errlog.close()


async def _startup(servers: _Servers, opts: Options) -> list[Row]:
    candidates = {
        "poe-mcp serve": servers.poe_mcp("startup"),
        "bare one-tool MCPServer": servers.minimal("bare"),
    }
    times: dict[str, list[float]] = {name: [] for name in candidates}
    tool_counts: dict[str, int] = {}
    runs = 5 if opts.quick else 10
    for _ in range(runs + 1):  # the first round warms the page cache and .pyc files
        for name, params in candidates.items():
            started = time.perf_counter()
            async with servers.client(params) as client:
                listed = await client.list_tools()
                times[name].append(time.perf_counter() - started)
            tool_counts[name] = len(listed.tools)
    ms = 1e3
    ours = times["poe-mcp serve"][1:]
    base = times["bare one-tool MCPServer"][1:]
    spread = f"min {min(ours) * ms:.0f} / max {max(ours) * ms:.0f} ms"
    return [
        Row(
            SECTION_START,
            "poe-mcp serve",
            statistics.median(ours) * ms,
            "ms",
            "bare one-tool MCPServer",
            1.15,
            f"{runs} runs each, alternating; {tool_counts['poe-mcp serve']} tools; {spread}",
        ),
        Row(
            SECTION_START,
            "bare one-tool MCPServer",
            statistics.median(base) * ms,
            "ms",
            note=f"min {min(base) * ms:.0f} / max {max(base) * ms:.0f} ms",
        ),
    ]


STRUCTURED = "minimal MCPServer + openai SDK, structured"


async def _round_trip(servers: _Servers, opts: Options) -> list[Row]:
    ours_args = {"bot": MODEL, "prompt": PROMPT}
    checks: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        sqlite = await stack.enter_async_context(servers.client(servers.poe_mcp("call-sqlite")))
        memory = await stack.enter_async_context(
            servers.client(servers.poe_mcp("call-memory", POE_MCP_STORE="memory://"))
        )
        minimal = await stack.enter_async_context(servers.client(servers.minimal("openai")))
        structured = await stack.enter_async_context(
            servers.client(servers.minimal("openai-structured"))
        )

        def ask_poe_v2(client: Any, name: str) -> Any:
            async def op() -> object:
                result = await client.call_tool("ask_poe_v2", ours_args)
                if result.is_error:
                    raise RuntimeError(f"{name}: {result.content}")
                checks[name] = result.structured_content["text"]
                return result

            return op

        async def ask_minimal() -> object:
            result = await minimal.call_tool("ask", ours_args)
            if result.is_error:
                raise RuntimeError(f"minimal: {result.content}")
            checks["minimal"] = result.content[0].text
            return result

        async def ask_structured() -> object:
            result = await structured.call_tool("ask", ours_args)
            if result.is_error:
                raise RuntimeError(f"minimal structured: {result.content}")
            checks["structured"] = result.structured_content["text"]
            return result

        n = 50 if opts.quick else 200
        samples = await measure(
            {
                "ask_poe_v2 (default SQLite store)": ask_poe_v2(sqlite, "sqlite"),
                "ask_poe_v2 (memory:// store)": ask_poe_v2(memory, "memory"),
                "minimal MCPServer + openai SDK": ask_minimal,
                STRUCTURED: ask_structured,
            },
            n=n,
            rounds=5,
            warmup=10,
        )
    # Both answer the same prompt from the same simulator: the comparison is like for like.
    assert checks["sqlite"] == checks["memory"] == checks["minimal"] == checks["structured"], checks
    ms = 1e3
    base = "minimal MCPServer + openai SDK"
    return [
        Row(
            SECTION_CALL,
            "ask_poe_v2 (default SQLite store)",
            samples["ask_poe_v2 (default SQLite store)"].latency * ms,
            "ms",
            base,
            1.1,
            f"{n} calls each, no session_id (a new one-turn session per call)",
        ),
        Row(
            SECTION_CALL,
            "ask_poe_v2 (memory:// store)",
            samples["ask_poe_v2 (memory:// store)"].latency * ms,
            "ms",
            base,
            note="reference: the store's share",
        ),
        Row(
            SECTION_CALL,
            STRUCTURED,
            samples[STRUCTURED].latency * ms,
            "ms",
            base,
            note="reference: the SDK's share of structured output (outputSchema + validation)",
        ),
        Row(SECTION_CALL, base, samples[base].latency * ms, "ms", note="AsyncOpenAI created once"),
    ]


def _tools_list_wire(command: list[str], env: dict[str, str]) -> str:
    """The raw ``tools/list`` response line of a stdio server (after the handshake)."""
    full_env = {**os.environ, **env}
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": HANDSHAKE_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}},
    ]
    with subprocess.Popen(
        command,
        env=full_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        for request in requests:
            proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        try:
            for line in proc.stdout:
                if json.loads(line).get("id") == 2:
                    return line.rstrip("\n")
            raise RuntimeError(f"{command[0]} closed stdout before answering tools/list")
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)


def _sizes(servers: _Servers) -> list[Row]:
    ours = _tools_list_wire(
        [_POE_MCP, "serve", "--tools", "all"], {**servers.env("size"), "POE_MCP_TOOLS": "all"}
    )
    base = _tools_list_wire([sys.executable, _MINIMAL, "bare"], servers.env("size-bare"))
    tools = json.loads(ours)["result"]["tools"]
    rows = [
        Row(
            SECTION_SIZE,
            "tools/list, every tool",
            float(len(ours)),
            "ch",
            note=f"target < {SIZE_TARGET:,}: {'ok' if len(ours) < SIZE_TARGET else 'MISS'}; "
            f"{len(tools)} tools",
        ),
        Row(SECTION_SIZE, "tools/list, bare one-tool MCPServer", float(len(base)), "ch"),
    ]
    for tool in sorted(tools, key=lambda t: -len(json.dumps(t, separators=(",", ":")))):
        size = len(json.dumps(tool, ensure_ascii=False, separators=(",", ":")))
        description = len(tool.get("description") or "")
        rows.append(
            Row(
                SECTION_SIZE,
                f"  {tool['name']}",
                float(size),
                "ch",
                note=f"description {description}, input schema "
                f"{len(json.dumps(tool.get('inputSchema'), separators=(',', ':')))}, output "
                f"schema {len(json.dumps(tool.get('outputSchema'), separators=(',', ':')))}",
            )
        )
    return rows


def run(opts: Options) -> list[Row]:
    from poe_mcp.simulator import Simulator

    root = Path(tempfile.mkdtemp(prefix="poe-mcp-bench-server-"))
    with Simulator(rpm=10**9) as sim:
        servers = _Servers(sim.base_url, root)
        try:
            rows = asyncio.run(_startup(servers, opts))
            rows += asyncio.run(_round_trip(servers, opts))
            rows += _sizes(servers)
        finally:
            servers.close()
    rows[0].note += f"; default SQLite store (opened on first call); files under {root}"
    return rows
