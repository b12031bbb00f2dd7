"""Many models at once: a 4-model ``compare`` against one model, on 200 ms simulated models.

The simulator answers every request after ``LATENCY_MS``; the models are asked at once, so a
comparison should take about as long as one model (target: within 1.2x), not four times as
long. Both run in the same process against the same simulator, interleaved; medians.
The client's rate limiter is lifted (as in the client section) so the number is the library's
concurrency, not Poe's request spacing; ledger and catalog are off.
"""

from __future__ import annotations

import asyncio
import os
import tempfile

from ._common import Options, Row, measure

SECTION = "many models at once (simulated models answering in 200 ms)"
LATENCY_MS = 200
MODELS = ("Claude-Sonnet-4", "GPT-4.1", "Gemini-2.5-Pro", "Grok-4")
KEY = "bench-multi-key-0000"
PROMPT = "Compare these approaches in one paragraph."


async def _bench(opts: Options, base_url: str) -> list[Row]:
    from poe_mcp import AsyncPoeClient, compare

    client = AsyncPoeClient(
        KEY, base_url=base_url, store=False, catalog=False, budget=False, rpm=10**9
    )

    async def one() -> object:
        return await client.chat(MODELS[0], PROMPT)

    async def four() -> object:
        table = await compare(client, PROMPT, MODELS)
        if table.failed:
            raise RuntimeError(f"a model failed: {table.failed[0].error}")
        return table

    n = 6 if opts.quick else 20
    samples = await measure(
        {"one model": one, "compare 4 models": four}, n=n, rounds=2 if opts.quick else 4, warmup=2
    )
    await client.aclose()
    ms = 1e3
    base = samples["one model"].latency * ms
    four_ms = samples["compare 4 models"].latency * ms
    return [
        Row(SECTION, "one model (chat)", base, "ms", note=f"{n} calls, median"),
        Row(
            SECTION,
            "compare 4 models",
            four_ms,
            "ms",
            "one model (chat)",
            1.2,
            f"sum of four would be ~{4 * base:.0f} ms",
        ),
    ]


def run(opts: Options) -> list[Row]:
    from poe_mcp.simulator import Simulator

    home = tempfile.mkdtemp(prefix="poe-mcp-bench-")
    os.environ.setdefault("POE_MCP_HOME", home)
    os.environ.setdefault("POE_MCP_CONFIG_DIR", home)
    with Simulator(rpm=10**9, latency_ms=LATENCY_MS) as sim:
        return asyncio.run(_bench(opts, sim.base_url))
