"""Hostile inputs against every MCP tool (issue 12): oversized, 10 MB, lone-surrogate, control-
character, path and deeply nested arguments against the simulator, then a hostile upstream (a
model that repeats the key, lone surrogates, impossible usage) through the chat tools and into
SQLite. Prints, per tool: payloads tried, clean errors, answers, crashes (internal), leaks of
the key (in any result or the database file), errors over 5,000 characters, slowest call.

    .venv/bin/python scripts/hostile_inputs.py
"""

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ["POE_MCP_HOME"] = tempfile.mkdtemp()
os.environ["POE_MCP_CONFIG_DIR"] = tempfile.mkdtemp()
for k in ("POE_API_KEY", "OPENAI_API_KEY", "POE_MCP_STORE"):
    os.environ.pop(k, None)
from mcp import Client
from tests.security.hostile import Hostile

from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import installed_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

KEY = f"sk-poe-{uuid.uuid4().hex}"
stats = defaultdict(Counter)


def classify(tool, result, started):
    text = "".join(getattr(c, "text", "") or "" for c in result.content)
    blob = text + json.dumps(result.structured_content or {})
    if KEY in blob or KEY[:16] in blob:
        stats[tool]["LEAK"] += 1
    if result.is_error:
        kind = text.split("[kind: ")[1].split("]")[0] if "[kind: " in text else "?"
        stats[tool]["crash" if kind in ("internal", "?") else "clean_error"] += 1
    else:
        stats[tool]["ok"] += 1
    stats[tool]["tried"] += 1
    stats[tool]["max_ms"] = max(stats[tool]["max_ms"], int((time.perf_counter() - started) * 1000))
    if len(text) > 5000 and result.is_error:
        stats[tool]["long_error"] += 1


def base(schema):
    out = {}
    for name in schema.get("required") or ():
        prop = (schema.get("properties") or {}).get(name, {})
        kinds = {o.get("type") for o in [prop, *(prop.get("anyOf") or ())]}
        if "string" in kinds:
            out[name] = "GPT-4.1" if name in ("bot", "model") else "hi"
        elif "array" in kinds:
            out[name] = ["GPT-4.1", "GPT-4o-mini"] if "model" in name or "bot" in name else ["hi"]
    return out


def payloads(schema):
    for args in _payloads(schema):
        yield {**base(schema), **args}


def _payloads(schema):
    for name, prop in (schema.get("properties") or {}).items():
        options = [prop, *(prop.get("anyOf") or ())]
        for o in options:
            if o.get("type") == "string":
                limit = o.get("maxLength", 0)
                for v in (
                    "x" * (limit + 1),
                    "B" * 10_000_000,
                    "a\ud800b",
                    "nul\x00ctl\x1b",
                    "../../../../proc/self/environ",
                ):
                    yield {name: v}
            if o.get("type") == "array" and (o.get("items") or {}).get("type") == "string":
                yield {name: ["y" * ((o["items"].get("maxLength") or 0) + 1)]}
            if o.get("type") == "object":
                yield {name: {"k": "z" * 300_000}}
                nested = {}
                cur = nested
                for _ in range(60):
                    cur["n"] = {}
                    cur = cur["n"]
                yield {name: nested}


async def main():
    with Simulator(rpm=10**6) as sim, Hostile() as hostile:
        rt = ServerRuntime(
            Settings.load(store="memory://", base_url=sim.base_url),
            api_key=KEY,
            simulated=True,
            tools=installed_tools(),
        )
        async with Client(build_server(rt)) as c:
            tools = (await c.list_tools()).tools
            for t in tools:
                for args in payloads(t.input_schema):
                    started = time.perf_counter()
                    try:
                        r = await c.call_tool(t.name, args)
                    except Exception as e:
                        print("EXC", t.name, args.keys(), type(e).__name__, str(e)[:200])
                        stats[t.name]["crash"] += 1
                        stats[t.name]["tried"] += 1
                        continue
                    if r.is_error and "[kind: internal]" in r.content[0].text:
                        print(
                            "INTERNAL",
                            t.name,
                            {
                                k: (v[:20] if isinstance(v, str) else type(v).__name__)
                                for k, v in args.items()
                            },
                        )
                    classify(t.name, r, started)
        await rt.aclose()
        # A model that repeats the key, lone surrogates, impossible usage: through every chat tool.
        rt = ServerRuntime(
            Settings.load(
                store="sqlite:///" + tempfile.mkdtemp() + "/s.db",
                base_url=hostile.base_url,
                log_prompts=True,
            ),
            api_key=KEY,
            tools=installed_tools(),
        )
        calls = []
        for prompt in (
            "echo key",
            "surrogate",
            'usage {"prompt_tokens": "x"}',
            'usage {"prompt_tokens": NaN}',
            'usage {"prompt_tokens": -4, "completion_tokens": 1e40}',
        ):
            calls += [
                ("ask_poe", {"bot": "Hostile-1", "prompt": prompt}),
                ("ask_poe", {"bot": "Hostile-1", "prompt": prompt, "use_openai_client": True}),
                ("ask_poe_v2", {"bot": "Hostile-1", "prompt": prompt}),
                ("ask_poe_v2", {"bot": "Hostile-1", "prompt": prompt, "stream": True}),
                ("ask_poe_v2", {"bot": "Hostile-1", "prompt": prompt, "use_openai_client": False}),
                (
                    "ask_poe_with_tools",
                    {
                        "bot": "Hostile-1",
                        "prompt": prompt,
                        "tools": [
                            {
                                "type": "function",
                                "function": {
                                    "name": "save",
                                    "description": "Save",
                                    "parameters": {
                                        "type": "object",
                                        "properties": {"token": {"type": "string"}},
                                    },
                                },
                            }
                        ],
                    },
                ),
            ]
        async with Client(build_server(rt)) as c:
            for name, args in calls:
                started = time.perf_counter()
                try:
                    r = await c.call_tool(name, args)
                except Exception:
                    stats[name + " (hostile upstream)"]["crash"] += 1
                    continue
                classify(name + " (hostile upstream)", r, started)
            for name in ("list_sessions", "get_usage", "get_server_info"):
                r = await c.call_tool(name, {})
                classify(name + " (after)", r, time.perf_counter())
        db = rt.settings.store_url.removeprefix("sqlite:///")
        await rt.aclose()
        raw = b"".join(open(p, "rb").read() for p in [db, db + "-wal"] if os.path.exists(p))
        stats["sqlite file"]["LEAK"] += KEY.encode() in raw
    keys = ("tried", "clean_error", "ok", "crash", "LEAK", "long_error", "max_ms")
    print(f"{'tool':42s}" + "".join(f"{k:>12s}" for k in keys))
    total = Counter()
    for tool, c in sorted(stats.items()):
        print(f"{tool:42s}" + "".join(f"{c.get(k, 0):>12}" for k in keys))
        for k in keys[:-1]:
            total[k] += c.get(k, 0)
    print(f"{'TOTAL':42s}" + "".join(f"{total.get(k, 0):>12}" for k in keys[:-1]))


asyncio.run(main())
