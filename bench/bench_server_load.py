"""MCP server under load: 50 concurrent MCP clients over streamable HTTP calling ``ask_poe_v2``.

Every process is real: the simulator (``poe-mcp simulator``, Poe's rate limit lifted), the
server under test and the baseline, each a subprocess; the clients are the official MCP SDK's,
in two worker processes (so the clients' own work does not set the pace), each with its own
MCP session. Each client calls the tool in a loop (a new one-turn session per call, like the
baseline), all 50 at once.

- ``poe-mcp serve --transport http`` with its defaults: bearer token, Host/Origin checks,
  metrics, the per-call log line, the default SQLite store (sessions and the usage ledger).
- The baseline: a one-tool ``MCPServer`` over the SDK's own streamable HTTP runner calling
  the openai SDK (``bench/_minimal_servers.py openai-http``): no auth, no store.

Server CPU per call is the server process's user + system CPU time (``/proc/<pid>/stat``)
over the measured calls divided by their number, so the clients' and the simulator's work is
not counted. The servers are measured one after the other, alternating, in several rounds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ._common import Options, Row

SECTION = "MCP server under load (50 concurrent clients, streamable HTTP, ask_poe_v2)"
MODEL = "GPT-4.1"
KEY = "bench-key-load-0000"
TOKEN = "bench-load-token-0123456789abcdef"
PROMPT = "Say hello to the benchmark."
CLIENTS = 50
WORKERS = 2  # client processes: 25 clients each
CONNECT_S = 20.0  # time the workers get to start, connect and warm up before the calls

_MINIMAL = str(Path(__file__).with_name("_minimal_servers.py"))
_POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))
_TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError as exc:
            if getattr(exc, "code", None) is not None:  # an HTTP answer: it is listening
                return
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class _Server:
    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}/mcp"
        self.proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def wait(self) -> None:
        _wait_http(self.url, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@contextlib.asynccontextmanager
async def _client(url: str, token: str | None) -> AsyncIterator[Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0))
    async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
        yield client


async def _clients_part(
    url: str, tool: str, token: str | None, clients: int, calls: int, start_at: float
) -> list[float]:
    """One worker's share: its clients connect and warm up, then all call at ``start_at``."""
    args = {"bot": MODEL, "prompt": PROMPT}
    latencies: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        connected = [await stack.enter_async_context(_client(url, token)) for _ in range(clients)]
        for client in connected:  # warm: the first call opens the store, the SDK client...
            result = await client.call_tool(tool, args)
            if result.is_error:
                raise RuntimeError(f"{url}: {result.content}")
        await asyncio.sleep(max(0.0, start_at - time.time()))

        async def run(client: Any) -> None:
            for _ in range(calls):
                t0 = time.perf_counter()
                result = await client.call_tool(tool, args)
                latencies.append(time.perf_counter() - t0)
                if result.is_error:
                    raise RuntimeError(f"{url}: {result.content}")

        await asyncio.gather(*(run(c) for c in connected))
    return latencies


def _worker(url: str, tool: str, token: str | None, clients: int, calls: int, start: float) -> Any:
    return asyncio.run(_clients_part(url, tool, token, clients, calls, start))


def _phase(server: _Server, tool: str, token: str | None, calls: int) -> dict[str, Any]:
    """``CLIENTS`` clients in ``WORKERS`` processes (so the clients' own work is not the
    bottleneck), connected first, then ``calls`` calls each, all at once."""
    share = CLIENTS // WORKERS
    start = time.time() + CONNECT_S
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
        futures = [
            pool.submit(_worker, server.url, tool, token, share, calls, start)
            for _ in range(WORKERS)
        ]
        time.sleep(max(0.0, start - time.time()))
        cpu0 = cpu_seconds(server.proc.pid)
        wall0 = time.perf_counter()
        latencies = [x for f in futures for x in f.result()]
        wall = time.perf_counter() - wall0
        cpu = cpu_seconds(server.proc.pid) - cpu0
    return {"latencies": latencies, "cpu": cpu, "wall": wall, "calls": len(latencies)}


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def run(opts: Options) -> list[Row]:
    root = Path(tempfile.mkdtemp(prefix="poe-mcp-bench-load-"))
    sim_port, ours_port, base_port = _free_port(), _free_port(), _free_port()
    base_url = f"http://127.0.0.1:{sim_port}/v1"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("POE_", "OPENAI_"))},
        "POE_API_KEY": KEY,
        "POE_BASE_URL": base_url,
        "POE_MCP_HOME": str(root / "data"),
        "POE_MCP_CONFIG_DIR": str(root / "config"),
        "POE_MCP_RPM": "100000000",
    }
    sim = _Server(
        "simulator",
        [_POE_MCP, "simulator", "--port", str(sim_port), "--rpm", "1000000000"],
        env,
        sim_port,
    )
    servers: list[_Server] = []
    try:
        _wait_http(f"{base_url}/models", sim.proc)
        ours = _Server(
            "poe-mcp serve",
            [_POE_MCP, "serve", "--transport", "http", "--port", str(ours_port),
             "--token", TOKEN],
            env,
            ours_port,
        )  # fmt: skip
        base = _Server(
            "minimal", [sys.executable, _MINIMAL, "openai-http", str(base_port)], env, base_port
        )
        servers = [ours, base]
        for server in servers:
            server.wait()
        calls = 4 if opts.quick else 10
        rounds = 2 if opts.quick else 3
        results: dict[str, list[dict[str, Any]]] = {"ours": [], "base": []}
        for _ in range(rounds):
            results["ours"].append(_phase(ours, "ask_poe_v2", TOKEN, calls))
            results["base"].append(_phase(base, "ask", None, calls))
    finally:
        for server in [*servers, sim]:
            server.stop()
    return _rows(results)


def _rows(results: dict[str, list[dict[str, Any]]]) -> list[Row]:
    def summary(phases: list[dict[str, Any]]) -> tuple[float, float, float, int]:
        latencies = [x for p in phases for x in p["latencies"]]
        calls = sum(p["calls"] for p in phases)
        cpu = sum(p["cpu"] for p in phases) / calls
        throughput = calls / sum(p["wall"] for p in phases)
        return cpu, _p99(latencies), throughput, calls

    ours_cpu, ours_p99, ours_rate, n = summary(results["ours"])
    base_cpu, base_p99, base_rate, _ = summary(results["base"])
    ms = 1e3
    cpu_base = "minimal MCPServer + openai SDK: server CPU per call"
    p99_base = "minimal MCPServer + openai SDK: p99 latency"
    note = f"{n} calls each, {CLIENTS} clients"
    return [
        Row(SECTION, "ask_poe_v2: server CPU per call", ours_cpu * ms, "ms", cpu_base, 1.25,
            f"{note}; {ours_rate:.0f} calls/s; default SQLite store, bearer token"),
        Row(SECTION, cpu_base, base_cpu * ms, "ms", note=f"{base_rate:.0f} calls/s"),
        Row(SECTION, "ask_poe_v2: p99 latency", ours_p99 * ms, "ms", p99_base, 1.3),
        Row(SECTION, p99_base, base_p99 * ms, "ms"),
    ]  # fmt: skip
