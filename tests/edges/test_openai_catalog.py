"""OpenAI as it really is: what can chat, capabilities from one table, unknown where it is silent.

Run against the simulator's OpenAI mode (OpenAI's bare ``/v1/models``), through the CLI, the
library's catalog and the MCP model tools.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp import Client

from poe_mcp._openai_models import OPENAI_MODELS, lookup
from poe_mcp.catalog import Catalog
from poe_mcp.client import AsyncPoeClient
from poe_mcp.simulator import Simulator
from poe_mcp.types import Usage

from .conftest import run_cli

NON_CHAT = {"gpt-3.5-turbo-instruct", "text-embedding-3-small", "whisper-1", "dall-e-3", "tts-1"}


def models_cli(sim: Simulator, *args: str) -> Any:
    env = {"OPENAI_API_KEY": "sk-test-edges"}
    result = run_cli("models", "--provider", "openai", "--base-url", sim.base_url, *args, env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_models_lists_only_what_can_chat(openai_sim: Simulator) -> None:
    out = models_cli(openai_sim).stdout
    ids = {line.split()[0] for line in out.splitlines()[1:] if line.strip()}
    assert {"gpt-4o", "gpt-4.1", "o3-mini", "gpt-5"} <= ids
    assert not ids & NON_CHAT  # instruct, embeddings, speech, images: not chat models

    every = models_cli(openai_sim, "--all").stdout
    rows = {line.split()[0]: line.split()[1] for line in every.splitlines()[1:] if line.strip()}
    assert rows["text-embedding-3-small"] == "embedding"
    assert rows["gpt-3.5-turbo-instruct"] == "completion"
    assert rows["whisper-1"] == "transcription"
    assert rows["gpt-4o"] == "chat"
    assert every.splitlines()[0].split()[:2] == ["MODEL", "KIND"]


def test_capabilities_and_windows_come_from_the_table(openai_sim: Simulator) -> None:
    listed = json.loads(models_cli(openai_sim, "--all", "--json").stdout)["models"]
    by_id = {m["id"]: m for m in listed}
    # the name heuristics said instruct takes tools and o3-mini sees images: the table says no
    assert by_id["gpt-3.5-turbo-instruct"]["capabilities"]["tools"] == "no"
    assert by_id["o3-mini"]["capabilities"]["vision"] == "no"
    assert by_id["o3-mini"]["capabilities"]["tools"] == "yes"
    assert by_id["gpt-4o"]["capabilities"] == {"tools": "yes", "vision": "yes"}
    assert by_id["gpt-4.1"]["context_window"] == 1_047_576
    assert by_id["o1-mini"]["capabilities"]["tools"] == "no"
    # a dated snapshot in the list is its family
    assert by_id["gpt-4o-2024-08-06"]["context_window"] == 128_000
    # list prices where the project has a source, unknown elsewhere (never 0)
    assert by_id["gpt-4o"]["pricing"]["input_per_mtok"] == 2.5
    assert by_id["o3-mini"]["pricing"]["output_per_mtok"] == 4.4
    assert by_id["gpt-4.1"]["pricing"]["known"] is False
    tools_only = json.loads(models_cli(openai_sim, "--tools", "--json").stdout)["models"]
    assert "gpt-3.5-turbo-instruct" not in {m["id"] for m in tools_only}
    assert "o1-mini" not in {m["id"] for m in tools_only}


async def test_unknown_models_are_unknown_not_guessed_from_names() -> None:
    async def fetch() -> list[dict[str, Any]]:
        plain = {"object": "model", "created": 1, "owned_by": "system"}
        return [
            {"id": "gpt-4o", **plain},
            {"id": "gpt-4o-mini-2024-07-18", **plain},
            {"id": "gpt-7-preview", **plain},  # nobody's table knows it yet
            {"id": "o9-whatever", **plain},
            {"id": "ft:gpt-4o-mini:acme::abc123", **plain},
        ]

    catalog = Catalog(fetch, provider="openai")
    new = await catalog.get("gpt-7-preview")
    assert (new.supports_tools, new.vision, new.kind, new.context_window) == (None,) * 4
    assert new.capability("tools") == "unknown"
    odd = await catalog.get("o9-whatever")  # "o" prefix: no longer guessed to take tools
    assert odd.capability("tools") == "unknown"
    assert await catalog.cost("gpt-7-preview", Usage(1000, 1000)) is None
    tuned = await catalog.get("ft:gpt-4o-mini:acme::abc123")
    assert tuned.supports_tools is True
    assert tuned.context_window == 128_000
    dated = await catalog.get("gpt-4o-mini-2024-07-18")
    assert dated.kind == "chat"
    # unknown kinds are listed (they may chat); known non-chat ones are not
    assert {m.id for m in await catalog.search()} >= {"gpt-7-preview", "gpt-4o"}


def test_the_table_is_consistent() -> None:
    ids = [m.id for m in OPENAI_MODELS]
    assert len(ids) == len(set(ids))
    for model in OPENAI_MODELS:
        assert lookup(model.id) is model
        if model.snapshot:
            assert lookup(model.snapshot) is model
        if model.kind != "chat":
            assert model.tools is False  # only chat models call tools
    assert lookup("gpt-4o-2024-05-13") is lookup("gpt-4o")  # an older snapshot of the alias
    assert lookup("gpt-3.5-turbo-0125") is lookup("gpt-3.5-turbo")
    assert lookup("gpt-4o-search-preview") is None


async def test_library_and_mcp_see_the_same_list(
    openai_sim: Simulator, make_server: Callable[..., Any]
) -> None:
    async with AsyncPoeClient(
        "sk-test-edges", provider="openai", base_url=openai_sim.base_url, store=False
    ) as client:
        assert client.catalog is not None
        chat_ids = {m.id for m in await client.catalog.search()}
        all_ids = {m.id for m in await client.catalog.search(all_kinds=True)}
    assert all_ids >= NON_CHAT
    assert not NON_CHAT & chat_ids
    server = make_server(openai_sim.base_url, provider="openai")
    async with Client(server) as mcp:
        for tool in ("list_available_models", "list_available_models_v2"):
            listed = await mcp.call_tool(tool, {})
            assert not listed.is_error, listed.content
            mcp_ids = {m["id"] for m in listed.structured_content["models"]}
            assert "gpt-4o" in mcp_ids
            assert not NON_CHAT & mcp_ids


async def test_offline_openai_list_is_the_table(closed_port_url: str) -> None:
    async with AsyncPoeClient(
        "sk-test-edges", provider="openai", base_url=closed_port_url, store=False, max_retries=0
    ) as client:
        assert client.catalog is not None
        models = await client.catalog.search()
        assert client.catalog.source == "offline"
    by_id = {m.id: m for m in models}
    assert by_id["o3-mini"].vision is False
    assert "text-embedding-3-small" not in by_id
