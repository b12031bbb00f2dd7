"""The catalog against the simulator's /v1/models, through the real client."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from poe_mcp.catalog import Catalog, ModelInfo, default_cache_path
from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings
from poe_mcp.errors import InvalidRequestError, NetworkError, NotFoundError
from poe_mcp.simulator import CATALOG as SIM_CATALOG
from poe_mcp.simulator import Simulator
from poe_mcp.types import Usage


async def test_every_field_is_parsed(sim_client: AsyncPoeClient) -> None:
    catalog = Catalog(sim_client.list_models)
    sonnet = await catalog.get("Claude-Sonnet-4")
    assert sonnet.id == "Claude-Sonnet-4"
    assert sonnet.provider == sonnet.owned_by == "Anthropic"
    assert sonnet.description
    assert sonnet.input_modalities == ("text", "image", "file")
    assert sonnet.output_modalities == ("text",)
    assert sonnet.supports_tools is True
    assert sonnet.vision is True
    assert sonnet.context_window == 200_000
    assert sonnet.max_output_tokens == 8192
    assert sonnet.input_price == 0.000003
    assert sonnet.output_price == 0.000015
    assert sonnet.request_price is None
    assert sonnet.price_known is True
    assert sonnet.created == 1_735_689_600_000
    assert sonnet.raw["id"] == "Claude-Sonnet-4"
    thinking = sonnet.parameter("thinking_budget")
    assert thinking is not None
    assert thinking.default == 0
    assert thinking.schema == {"type": "integer", "minimum": 0, "maximum": 32_768}
    assert thinking.description

    llama = await catalog.get("Llama-3.1-405B")
    assert (llama.supports_tools, llama.vision) == (False, False)
    assert llama.parameters == ()  # declares that it takes no bot parameters

    image = await catalog.get("GPT-Image-1")
    assert image.output_modalities == ("image",)
    assert image.request_price == 0.04
    assert image.input_price is None
    assert {p.name for p in image.parameters or ()} == {"aspect", "quality"}

    assistant = await catalog.get("Assistant")
    assert assistant.price_known is False
    assert (assistant.input_price, assistant.output_price) == (None, None)

    listed = await catalog.models()
    assert len(listed) == len(SIM_CATALOG)
    assert catalog.source == "live"
    assert catalog.stale is False

    as_json = json.loads(json.dumps(sonnet.to_dict()))
    assert as_json["pricing"]["input_per_mtok"] == 3.0
    assert as_json["pricing"]["output_per_mtok"] == 15.0
    assert as_json["parameters"][0]["name"] == "thinking_budget"


async def test_lookup_is_case_insensitive_with_suggestions(sim_client: AsyncPoeClient) -> None:
    catalog = Catalog(sim_client.list_models)
    assert (await catalog.get("claude-sonnet-4")).id == "Claude-Sonnet-4"
    assert (await catalog.get("  GPT-4.1 ")).id == "GPT-4.1"
    with pytest.raises(NotFoundError) as info:
        await catalog.get("claude-sonet-4")
    assert "Did you mean: Claude-Sonnet-4" in str(info.value)
    assert info.value.metadata["suggestions"][0] == "Claude-Sonnet-4"
    with pytest.raises(NotFoundError) as info:
        await catalog.get("gemini")
    assert "Gemini-2.5-Pro" in info.value.metadata["suggestions"]
    with pytest.raises(NotFoundError, match="poe-mcp models"):
        await catalog.get("zzzzzzzz")
    assert await catalog.find("zzzzzzzz") is None
    assert (await catalog.find("grok-4")) is not None


async def test_provider_prefixes_resolved_or_refused(sim_client: AsyncPoeClient) -> None:
    catalog = Catalog(sim_client.list_models)
    assert (await catalog.get("anthropic/claude-sonnet-4")).id == "Claude-Sonnet-4"
    assert (await catalog.get("xai/grok-4")).id == "Grok-4"
    assert (await catalog.get("x-ai/grok-4")).id == "Grok-4"
    assert (await catalog.get("google/Gemini-2.5-Pro")).id == "Gemini-2.5-Pro"
    assert (await catalog.get("meta-llama/llama-3.1-405b")).id == "Llama-3.1-405B"
    with pytest.raises(NotFoundError) as info:
        await catalog.get("openai/claude-sonnet-4")  # a real model, but not OpenAI's
    assert "made by Anthropic" in str(info.value)
    assert "'Claude-Sonnet-4'" in str(info.value)
    with pytest.raises(NotFoundError) as info:
        await catalog.get("anthropic/claude-sonnet-4-20250514")
    assert info.value.metadata["suggestions"][0] == "Claude-Sonnet-4"


async def test_search_filters(sim_client: AsyncPoeClient) -> None:
    catalog = Catalog(sim_client.list_models)
    assert [m.id for m in await catalog.search(modality="image")] == ["GPT-Image-1"]
    assert [m.id for m in await catalog.search(modality="video")] == ["Veo-3"]
    assert [m.id for m in await catalog.search(modality="audio")] == ["ElevenLabs"]
    claude = [m.id for m in await catalog.search("claude")]
    assert claude == ["Claude-Opus-4.1", "Claude-Sonnet-4"]
    no_tools = {m.id for m in await catalog.search(modality="text", supports_tools=False)}
    assert no_tools == {"Llama-3.1-405B"}
    tools = await catalog.search(supports_tools=True)
    assert all(m.supports_tools for m in tools)
    assert len(tools) >= 5
    assert [m.id for m in await catalog.search("google video")] == ["Veo-3"]
    vision = {m.id for m in await catalog.search(input_modality="image")}
    assert "GPT-4.1" in vision
    assert "Llama-3.1-405B" not in vision


async def test_cost_of_a_real_call_matches_the_listed_price_exactly(
    simulator: Simulator, sim_client: AsyncPoeClient
) -> None:
    catalog = Catalog(sim_client.list_models)
    sdk = AsyncOpenAI(api_key="cost-key", base_url=simulator.base_url, max_retries=0)
    reply = await sdk.chat.completions.create(
        model="Claude-Sonnet-4", messages=[{"role": "user", "content": "price me please"}]
    )
    await sdk.close()
    assert reply.usage is not None
    usage = Usage(reply.usage.prompt_tokens, reply.usage.completion_tokens)
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    raw = (await catalog.get("Claude-Sonnet-4")).raw["pricing"]
    expected = float(
        Decimal(raw["prompt"]) * usage.input_tokens
        + Decimal(raw["completion"]) * usage.output_tokens
    )
    assert await catalog.cost("claude-sonnet-4", usage) == expected
    info = await catalog.get("Claude-Sonnet-4")
    assert await catalog.cost(info, usage) == expected


async def test_unknown_prices_are_none_never_zero(sim_client: AsyncPoeClient) -> None:
    catalog = Catalog(sim_client.list_models)
    usage = Usage(100, 50)
    assert await catalog.cost("Assistant", usage) is None
    assert await catalog.cost("No-Such-Model", usage) is None
    assert await catalog.cost("GPT-Image-1", usage) == 0.04  # priced per request
    assert await catalog.cost("GPT-4.1", Usage(0, 0)) == 0.0


async def test_price_overrides_fill_in_unknown_prices(sim_client: AsyncPoeClient) -> None:
    catalog = Catalog(
        sim_client.list_models, price_overrides={"assistant": [1.5, 6], "Veo-3": {"request": 0.5}}
    )
    assistant = await catalog.get("Assistant")
    assert assistant.input_price == 1.5e-6
    assert await catalog.cost("Assistant", Usage(1_000_000, 1_000_000)) == 7.5
    assert await catalog.cost("Veo-3", Usage(10, 0)) == 0.5


async def test_check_params_follows_declarations(
    simulator: Simulator, sim_client: AsyncPoeClient
) -> None:
    catalog = Catalog(sim_client.list_models)
    await catalog.check_params("Claude-Sonnet-4", {"thinking_budget": 1024, "web_search": True})
    await catalog.check_params("Claude-Sonnet-4", None)
    await catalog.check_params("Not-A-Model", {"anything": 1})  # the provider will judge
    with pytest.raises(InvalidRequestError, match="does not accept the parameter") as info:
        await catalog.check_params("Claude-Sonnet-4", {"aspect": "1:1"})
    assert "thinking_budget" in str(info.value)  # says what it does accept
    with pytest.raises(InvalidRequestError, match="accepts: none"):
        await catalog.check_params("GPT-4.1", {"web_search": True})
    with pytest.raises(InvalidRequestError, match="at most 32768"):
        await catalog.check_params("Claude-Sonnet-4", {"thinking_budget": 99_999})
    with pytest.raises(InvalidRequestError, match="one of"):
        await catalog.check_params("GPT-Image-1", {"aspect": "4:5"})
    with pytest.raises(InvalidRequestError, match="type boolean"):
        await catalog.check_params("Grok-4", {"web_search": "yes"})

    # what the catalog lets through, the simulator (strict like Poe) accepts too
    sdk = AsyncOpenAI(api_key="param-key", base_url=simulator.base_url, max_retries=0)
    await sdk.chat.completions.create(
        model="Claude-Sonnet-4",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"thinking_budget": 1024, "web_search": True},
    )
    await sdk.close()


async def test_disk_cache_then_refresh(
    sim_client: AsyncPoeClient, dead_client: AsyncPoeClient, tmp_path: Path
) -> None:
    cache = tmp_path / "cache" / "models.json"
    calls = 0

    async def counting_fetch() -> list[dict[str, object]]:
        nonlocal calls
        calls += 1
        return await sim_client.list_models()

    first = Catalog(counting_fetch, cache_path=cache)
    await first.models()
    await first.models()
    assert calls == 1  # in memory within the TTL
    assert first.source == "live"
    saved = json.loads(cache.read_text())
    assert len(saved["data"]) == len(SIM_CATALOG)

    # another process (a new catalog) reads the disk cache and does not touch the network
    second = Catalog(dead_client.list_models, cache_path=cache)
    assert len(await second.models()) == len(SIM_CATALOG)
    assert second.source == "cache"
    assert second.stale is False

    await first.models(refresh=True)
    assert calls == 2
    assert first.source == "live"


async def test_offline_fallback_to_an_expired_cache(
    sim_client: AsyncPoeClient, dead_client: AsyncPoeClient, tmp_path: Path
) -> None:
    cache = tmp_path / "models.json"
    await Catalog(sim_client.list_models, cache_path=cache).models()
    offline = Catalog(dead_client.list_models, cache_path=cache, ttl_s=0)
    models = await offline.models()
    assert len(models) == len(SIM_CATALOG)
    assert offline.source == "offline"
    assert offline.stale is True
    assert "could not be fetched" in (offline.offline_reason or "")
    assert (await offline.get("claude-sonnet-4")).input_price == 0.000003
    # an explicit refresh still falls back rather than failing
    await offline.models(refresh=True)
    assert offline.source == "offline"


async def test_offline_without_any_cache_says_so(dead_client: AsyncPoeClient) -> None:
    catalog = Catalog(dead_client.list_models)
    with pytest.raises(NetworkError, match="no copy is cached yet"):
        await catalog.models()
    assert await catalog.cost("Claude-Sonnet-4", Usage(1, 1)) is None  # cost never raises


async def test_openai_offline_uses_the_builtin_price_table(dead_client: AsyncPoeClient) -> None:
    catalog = Catalog(dead_client.list_models, provider="openai", price_overrides={"o1": [10, 40]})
    ids = {m.id for m in await catalog.models()}
    assert {"gpt-4o", "gpt-4o-mini", "o1", "o3-mini"} <= ids
    assert catalog.source == "offline"
    assert await catalog.cost("gpt-4o", Usage(1_000_000, 1_000_000)) == 12.5
    assert await catalog.cost("gpt-4o-mini", Usage(1000, 2000)) == float(
        Decimal("0.15") / 1_000_000 * 1000 + Decimal("0.60") / 1_000_000 * 2000
    )
    assert await catalog.cost("o1", Usage(1_000_000, 0)) == 10.0  # overridden in config
    gpt4o = await catalog.get("GPT-4o")
    assert gpt4o.supports_tools
    assert gpt4o.vision


async def test_errors_other_than_unreachable_surface(
    simulator: Simulator, sim_client: AsyncPoeClient, tmp_path: Path
) -> None:
    cache = tmp_path / "models.json"
    await Catalog(sim_client.list_models, cache_path=cache).models()
    # a wrong base URL answers 404: that is a configuration problem, not an outage to hide
    async with AsyncPoeClient(
        api_key="test-key", base_url=simulator.url + "/wrong/v1", max_retries=0, store=False
    ) as wrong:
        with pytest.raises(NotFoundError):
            await Catalog(wrong.list_models, cache_path=cache, ttl_s=0).models()


async def test_corrupt_cache_is_ignored(sim_client: AsyncPoeClient, tmp_path: Path) -> None:
    cache = tmp_path / "models.json"
    cache.write_text("{not json")
    catalog = Catalog(sim_client.list_models, cache_path=cache)
    assert len(await catalog.models()) == len(SIM_CATALOG)
    assert catalog.source == "live"
    assert json.loads(cache.read_text())["provider"] == "poe"  # rewritten whole


async def test_from_settings_reads_prices_and_caches_per_base_url(
    simulator: Simulator, sim_client: AsyncPoeClient, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text('[prices]\n"Assistant" = [2.0, 8.0]\n')
    settings = Settings.load(base_url=simulator.base_url)
    catalog = Catalog.from_settings(sim_client.list_models, settings)
    assert await catalog.cost("Assistant", Usage(500_000, 0)) == 1.0
    path = default_cache_path(settings)
    assert path.exists()
    assert path.parent == tmp_path / "data" / "cache"
    other = default_cache_path(settings.with_(base_url="http://127.0.0.1:1/v1"))
    assert other != path


def test_model_info_from_a_minimal_item() -> None:
    info = ModelInfo.from_api({"id": "some-model", "object": "model", "owned_by": "acme"})
    assert info.input_modalities == ("text",)
    assert info.supports_tools is None  # unknown, not absent: only a stated no refuses
    assert info.capability("tools") == "unknown"
    assert info.parameters is None  # nothing declared: nothing can be checked
    assert info.cost(Usage(1, 1)) is None
    item = {"id": "m", "context_window": 4096, "pricing": {"prompt": "0.1", "completion": None}}
    odd = ModelInfo.from_api(item)
    assert odd.context_window == 4096
    assert odd.cost(Usage(10, 0)) == 1.0
    assert odd.cost(Usage(10, 1)) is None  # the output price is unknown


async def test_concurrent_first_use_fetches_once(sim_client: AsyncPoeClient) -> None:
    calls = 0

    async def counting_fetch() -> list[dict[str, object]]:
        nonlocal calls
        calls += 1
        return await sim_client.list_models()

    catalog = Catalog(counting_fetch)
    found = await asyncio.gather(*(catalog.get("gpt-4.1") for _ in range(20)))
    assert {m.id for m in found} == {"GPT-4.1"}
    assert calls == 1
