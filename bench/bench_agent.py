"""Agent loop: its own overhead per turn, and how well one turn's tool calls overlap.

- Overhead: a two-turn conversation (one tool call, then the answer) run by ``Agent`` against
  the same conversation written by hand over ``AsyncPoeClient.chat`` (the baseline). The row
  "loop overhead per turn" is the agent's wall time minus its model requests and tool phases.
- Parallel efficiency: the tool phase of a turn with 8 tools that each sleep 50 ms, against a
  turn with one such tool (ideal ratio 1.0x; 8.0x would be sequential). Async tools share the
  event loop; sync tools run in worker threads.

Ledger, catalog and budget are off so the numbers are the loop's.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from typing import Any

from ._common import Options, Row, measure

SECTION = "agent loop (simulator latency 0)"
MODEL = "GPT-4.1"
KEY = "bench-key-agent-0000"
PROMPT = "get_weather city=Paris"
SLEEP_S = 0.05
FAN_OUT = 8


async def _overhead(opts: Options, base_url: str) -> list[Row]:
    from poe_mcp import Agent, AsyncPoeClient, tool

    client = AsyncPoeClient(
        KEY, base_url=base_url, store=False, catalog=False, budget=False, rpm=10**9
    )

    def weather(city: str) -> str:
        """The weather in a city.

        Args:
            city: the city name.
        """
        return f"sunny in {city}"

    get_weather = tool(name="get_weather")(weather)
    agent = Agent(client, MODEL, tools=[get_weather])
    definitions = [get_weather.to_openai()]
    overheads: list[float] = []

    async def op_agent() -> object:
        result = await agent.run(PROMPT)
        overheads.append((result.elapsed_s - result.model_s - result.tools_s) / result.turns)
        return result

    async def op_by_hand() -> object:
        messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPT}]
        first = await client.chat(MODEL, messages, tools=definitions, tool_choice="auto")
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [c.to_openai() for c in first.tool_calls],
            }
        )
        for call in first.tool_calls:
            output = weather(**json.loads(call.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
        return await client.chat(MODEL, messages, tools=definitions, tool_choice="auto")

    n = max(40, opts.n // 4)
    samples = await measure({"Agent.run": op_agent, "by hand": op_by_hand}, n=n, warmup=10)
    await client.aclose()
    ms = 1e3
    return [
        Row(
            SECTION,
            "conversation: Agent.run",
            samples["Agent.run"].latency * ms,
            "ms",
            "conversation: by hand",
            1.15,
            "2 requests + 1 tool call",
        ),
        Row(SECTION, "conversation: by hand", samples["by hand"].latency * ms, "ms"),
        Row(
            SECTION,
            "loop overhead per turn",
            statistics.median(overheads) * ms,
            "ms",
            note="wall time minus model requests and tool phases",
        ),
    ]


async def _parallel(opts: Options, base_url: str) -> list[Row]:
    from poe_mcp import Agent, AsyncPoeClient, Tool, tool

    client = AsyncPoeClient(
        KEY, base_url=base_url, store=False, catalog=False, budget=False, rpm=10**9
    )

    def sleeper(name: str, *, threaded: bool) -> Tool:
        if threaded:

            def fn() -> str:
                time.sleep(SLEEP_S)
                return "done"

        else:

            async def fn() -> str:  # type: ignore[misc]
                await asyncio.sleep(SLEEP_S)
                return "done"

        fn.__doc__ = "Sleep."
        return tool(name=name)(fn)

    rows: list[Row] = []
    runs = 5 if opts.quick else 15
    for threaded in (False, True):
        kind = "sync tools (threads)" if threaded else "async tools"
        phases: dict[int, float] = {}
        for count in (1, FAN_OUT):
            names = [f"nap_{i}" for i in range(count)]
            agent = Agent(client, MODEL, tools=[sleeper(n, threaded=threaded) for n in names])
            prompt = "call " + " ".join(names)
            times = []
            for _ in range(runs):
                result = await agent.run(prompt)
                assert len(result.trace) == count, result.trace
                times.append(result.tools_s)
            phases[count] = statistics.median(times)
        base_name = f"{kind}: 1 call"
        rows.append(
            Row(SECTION, base_name, phases[1] * 1e3, "ms", note=f"sleeps {SLEEP_S * 1e3:g} ms")
        )
        efficiency = phases[1] / phases[FAN_OUT]
        rows.append(
            Row(
                SECTION,
                f"{kind}: {FAN_OUT} calls in one turn",
                phases[FAN_OUT] * 1e3,
                "ms",
                base_name,
                1.5,
                f"parallel efficiency {efficiency:.0%} (sequential would be {FAN_OUT}.0x)",
            )
        )
    await client.aclose()
    return rows


def run(opts: Options) -> list[Row]:
    from poe_mcp.simulator import Simulator

    home = tempfile.mkdtemp(prefix="poe-mcp-bench-")
    os.environ.setdefault("POE_MCP_HOME", home)
    os.environ.setdefault("POE_MCP_CONFIG_DIR", home)
    with Simulator(rpm=10**9) as sim:
        rows = asyncio.run(_overhead(opts, sim.base_url))
        rows += asyncio.run(_parallel(opts, sim.base_url))
    return rows
