"""Every string a tool takes has a limit in its schema, and going over it is a quick, short
``invalid_request`` (a 10 MB ``bot`` once took 8 s and produced a 30 MB error)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from poe_mcp import _constants as C
from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import installed_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator


@pytest.fixture
async def server(simulator: Simulator, poe_home: Path) -> AsyncIterator[Any]:
    settings = Settings.load(store="memory://", base_url=simulator.base_url)
    runtime = ServerRuntime(
        settings, api_key="zq-limits-key", simulated=True, tools=installed_tools()
    )
    yield build_server(runtime)
    await runtime.aclose()


def _strings(schema: Any, path: str, defs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, schema) of every string in a JSON Schema."""
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        yield from _strings(defs.get(ref.rsplit("/", 1)[-1]), path, defs)
        return
    kind = schema.get("type")
    if kind == "string" or (isinstance(kind, list) and "string" in kind):
        yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from _strings(sub, f"{path}.{name}", defs)
    for key in ("items", "additionalProperties"):
        yield from _strings(schema.get(key), f"{path}[]", defs)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or ():
            yield from _strings(sub, path, defs)


def _too_long(schema: dict[str, Any]) -> Any:
    """A value one character over the first string limit of a top-level property."""
    options = [schema, *(schema.get("anyOf") or ())]
    for option in options:
        kind = option.get("type")
        if kind == "string" and "maxLength" in option:
            return "x" * (option["maxLength"] + 1)
        if kind == "array":
            item = option.get("items") or {}
            if item.get("type") == "string" and "maxLength" in item:
                return ["x" * (item["maxLength"] + 1)]
    return None


async def test_every_string_input_of_every_tool_has_a_limit(server: Any) -> None:
    async with Client(server) as client:
        tools = await client.list_tools()
    assert len(tools.tools) >= 10
    missing = []
    for tool in tools.tools:
        schema = tool.input_schema
        for path, string in _strings(schema, tool.name, schema.get("$defs") or {}):
            if "maxLength" not in string and "enum" not in string:
                missing.append(path)
    assert missing == []


async def test_every_string_over_its_limit_is_refused_quickly(server: Any) -> None:
    tried = 0
    async with Client(server) as client:
        tools = await client.list_tools()
        for tool in tools.tools:
            for name, prop in (tool.input_schema.get("properties") or {}).items():
                value = _too_long(prop)
                if value is None:
                    continue
                started = time.perf_counter()
                result = await client.call_tool(tool.name, {name: value})
                elapsed = time.perf_counter() - started
                text = result.content[0].text
                assert result.is_error, f"{tool.name}.{name}"
                assert "[kind: invalid_request]" in text, f"{tool.name}.{name}: {text[:300]}"
                assert name in text
                assert len(text) < 2_000, f"{tool.name}.{name}: a {len(text)}-character error"
                assert elapsed < 2.0
                tried += 1
    assert tried >= 20


async def test_ten_megabyte_bot_on_ask_poe_with_tools(server: Any) -> None:
    async with Client(server) as client:
        started = time.perf_counter()
        result = await client.call_tool(
            "ask_poe_with_tools", {"bot": "B" * 10_000_000, "prompt": "hi"}
        )
    assert time.perf_counter() - started < 3.0
    assert result.is_error
    text = result.content[0].text
    assert len(text) < 2_000
    error = json.loads(text[text.index("{") :])["error"]
    assert error["metadata"]["kind"] == "invalid_request"
    assert error["metadata"]["max_length"] == C.TOOL_BOT_MAX_CHARS


async def test_strings_inside_free_form_values_are_bounded(server: Any) -> None:
    huge = "p" * (C.TOOL_TEXT_MAX_CHARS + 1)
    async with Client(server) as client:
        params = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "hi", "params": {"note": huge}}
        )
        nested = await client.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "hi", "params": {"a": [{"b": huge}]}}
        )
    for result in (params, nested):
        assert result.is_error
        assert "[kind: invalid_request]" in result.content[0].text
        assert len(result.content[0].text) < 2_000


async def test_media_prompts_are_bounded(server: Any) -> None:
    async with Client(server) as client:
        for tool in ("generate_image", "generate_video", "generate_audio"):
            result = await client.call_tool(
                tool, {"prompt": "m" * (C.TOOL_MEDIA_PROMPT_MAX_CHARS + 1)}
            )
            assert result.is_error
            assert "[kind: invalid_request]" in result.content[0].text


async def test_limits_leave_normal_calls_alone(server: Any) -> None:
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_poe_v2",
            {"bot": "GPT-4.1", "prompt": "p" * 100_000, "system": "s" * 10_000, "stop": ["zz"]},
        )
    assert not result.is_error, result.content[0].text
