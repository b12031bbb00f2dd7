"""Client core: ``AsyncPoeClient`` against the raw ``openai`` SDK and raw ``httpx2``.

All three talk to one in-process simulator (latency 0), sequentially, in the same run. Our
client runs its whole policy (validation, rate limiter, retry wrapper, error mapping); the
ledger and the catalog are off (``store=False, catalog=False``) so the numbers are the client's.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from typing import Any

from ._common import Options, Row, import_time, measure

SECTION = "client core (per request, sequential, simulator latency 0)"
MODEL = "GPT-4.1"
KEY = "bench-key-000000"
PROMPT = "Say hello to the benchmark."
STREAM_PROMPT = "Stream this sentence back in many small chunks please. " * 16


async def _bench(opts: Options, base_url: str) -> list[Row]:
    import httpx2
    import openai

    from poe_mcp import AsyncPoeClient

    ours = AsyncPoeClient(
        KEY, base_url=base_url, store=False, catalog=False, budget=False, rpm=10**9
    )
    raw = openai.AsyncOpenAI(api_key=KEY, base_url=base_url, max_retries=0)
    http = httpx2.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"})
    messages: list[Any] = [{"role": "user", "content": PROMPT}]

    async def op_ours() -> object:
        return await ours.chat(MODEL, PROMPT)

    async def op_openai() -> object:
        return await raw.chat.completions.create(model=MODEL, messages=messages)

    async def op_httpx2() -> object:
        response = await http.post("/chat/completions", json={"model": MODEL, "messages": messages})
        response.raise_for_status()
        return response.json()

    samples = await measure(
        {"AsyncPoeClient.chat": op_ours, "openai AsyncOpenAI": op_openai, "httpx2 raw": op_httpx2},
        n=opts.n,
    )

    # Streaming: CPU per chunk over a long answer (the simulator sends ~16-character chunks).
    stream_messages: list[Any] = [{"role": "user", "content": STREAM_PROMPT}]
    chunks = 0

    async def stream_ours() -> object:
        async for _ in ours.stream(MODEL, STREAM_PROMPT):
            pass
        return None

    async def stream_openai() -> object:
        nonlocal chunks
        count = 0
        stream = await raw.chat.completions.create(
            model=MODEL,
            messages=stream_messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for _ in stream:
            count += 1
        chunks = count
        return None

    n_stream = max(20, opts.n // 10)
    streams = await measure(
        {"stream ours": stream_ours, "stream openai": stream_openai},
        n=n_stream,
        rounds=4,
        warmup=5,
    )
    await ours.aclose()
    await raw.close()
    await http.aclose()

    ms, us = 1e3, 1e6
    base = "openai AsyncOpenAI"
    rows: list[Row] = []
    for name, sample in samples.items():
        target = 1.15 if name == "AsyncPoeClient.chat" else None
        rows.append(
            Row(SECTION, f"latency: {name}", sample.latency * ms, "ms", f"latency: {base}", target)
        )
    for name, sample in samples.items():
        target = 1.15 if name == "AsyncPoeClient.chat" else None
        rows.append(Row(SECTION, f"CPU: {name}", sample.cpu * ms, "ms", f"CPU: {base}", target))
    per_chunk = {name: s.cpu / max(chunks, 1) for name, s in streams.items()}
    rows.append(
        Row(
            SECTION,
            "stream CPU/chunk: ours",
            per_chunk["stream ours"] * us,
            "us",
            "stream CPU/chunk: openai",
            1.15,
            f"{chunks} chunks per answer",
        )
    )
    rows.append(Row(SECTION, "stream CPU/chunk: openai", per_chunk["stream openai"] * us, "us"))
    return rows


def run(opts: Options) -> list[Row]:
    from poe_mcp.simulator import Simulator

    home = tempfile.mkdtemp(prefix="poe-mcp-bench-")
    os.environ.setdefault("POE_MCP_HOME", home)
    os.environ.setdefault("POE_MCP_CONFIG_DIR", home)
    with Simulator(rpm=10**9) as sim:
        started = time.perf_counter()
        rows = asyncio.run(_bench(opts, sim.base_url))
        elapsed = time.perf_counter() - started

    runs = 3 if opts.quick else 7
    imports = {m: import_time(m, runs=runs) for m in ("poe_mcp", "poe_mcp.client", "openai")}
    section = "import time (fresh interpreter, median)"
    rows += [
        Row(section, "import poe_mcp", imports["poe_mcp"], "s", "import openai", note="lazy"),
        Row(section, "import poe_mcp.client", imports["poe_mcp.client"], "s", "import openai"),
        Row(section, "import openai", imports["openai"], "s", note="reference"),
    ]
    rows[0].note = f"{opts.n} requests per client, {elapsed:.1f} s in all"
    return rows
