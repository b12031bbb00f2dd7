"""The client core: one provider, one request loop, one options type, typed settings."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

import poe_mcp
from poe_mcp import AsyncPoeClient, ChatOptions, PoeClient, Provider
from poe_mcp.config import ENV_VARS, Settings
from poe_mcp.errors import NotFoundError
from poe_mcp.ratelimit import LocalRateLimiter
from poe_mcp.simulator import Simulator
from poe_mcp.store.memory import MemoryStore

SRC = Path(poe_mcp.__file__).parent


class CountingLimiter:
    """A user's own rate limiter (the public ``limiter=`` seam) that counts its slots."""

    def __init__(self) -> None:
        self.taken = 0

    async def acquire(self, key_id: str) -> None:
        self.taken += 1

    async def status(self, key_id: str) -> dict[str, Any]:
        return {"kind": "counting", "taken": self.taken}


@pytest.fixture
async def in_process() -> AsyncIterator[tuple[Simulator, AsyncPoeClient]]:
    """A client driving the simulator's ASGI app in process: no socket, no thread."""
    sim = Simulator()  # never started
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sim.app)) as http:
        client = AsyncPoeClient(
            "test-in-process", base_url="http://sim/v1", http_client=http, store=False, rpm=0
        )
        async with client:
            yield sim, client
        assert not http.is_closed  # the client never closes a connection it was given


async def test_http_client_drives_the_simulator_in_process(
    in_process: tuple[Simulator, AsyncPoeClient],
) -> None:
    sim, client = in_process
    result = await client.chat("GPT-4.1", "hello in process")
    assert 'You said: "hello in process"' in result.text
    assert result.simulated
    streamed = [d async for d in client.stream("GPT-4.1", "streamed in process")]
    assert streamed[-1].result is not None
    assert "streamed in process" in streamed[-1].result.text
    assert "Claude-Sonnet-4" in {m["id"] for m in await client.list_models()}
    assert await client.balance() == sim.balance("test-in-process")  # the account URL too
    paths = [r["path"] for r in sim.requests()]
    assert "/usage/current_balance" in paths
    assert paths.count("/v1/chat/completions") == 2


async def test_every_request_takes_a_rate_limit_slot(simulator: Simulator, api_key: str) -> None:
    limiter = CountingLimiter()
    async with AsyncPoeClient(
        api_key, base_url=simulator.base_url, store=False, catalog=False, limiter=limiter
    ) as client:
        await client.chat("GPT-4.1", "one")
        assert limiter.taken == 1
        [d async for d in client.stream("GPT-4.1", "two")]
        assert limiter.taken == 2
        await client.list_models()
        assert limiter.taken == 3
        await client.balance()  # the account endpoint is a request to the provider too
        assert limiter.taken == 4
        status = await client.rate_limit_status()
    assert status["client"] == {"kind": "counting", "taken": 4}


async def test_the_store_gives_the_limiter_with_the_configured_numbers(
    poe_home: Path, simulator: Simulator, api_key: str
) -> None:
    config = poe_home.parent / "config"
    config.mkdir(exist_ok=True)
    (config / "config.toml").write_text("rpm = 120\n[rate_limit]\nburst = 2\nmax_wait_s = 7\n")
    client = AsyncPoeClient(api_key, base_url=simulator.base_url, store=MemoryStore())
    limiter = await client.rate_limiter()
    # [rate_limit] takes effect on the in-process limiter too, not only on Redis's.
    assert isinstance(limiter, LocalRateLimiter)
    assert (limiter.rpm, limiter.burst, limiter.max_wait_s) == (120, 2, 7.0)
    assert await AsyncPoeClient(api_key, store=MemoryStore(), rpm=0).rate_limiter() is None


async def test_an_unknown_model_gets_suggestions_from_the_library(
    simulator: Simulator, api_key: str
) -> None:
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.chat("Claude-Sonet-4", "hi")
        with pytest.raises(NotFoundError) as streamed:
            [d async for d in client.stream("Claude-Sonet-4", "hi")]
    for exc in (caught.value, streamed.value):
        assert "Did you mean" in exc.message
        assert "Claude-Sonnet-4" in exc.metadata["suggestions"]
        assert exc.message.count("Did you mean") == 1


async def test_an_unknown_option_is_a_type_error_everywhere(client: AsyncPoeClient) -> None:
    with pytest.raises(TypeError, match="temprature"):
        await client.chat("GPT-4.1", "hi", temprature=0.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="temprature"):
        [d async for d in client.stream("GPT-4.1", "hi", temprature=0.5)]  # type: ignore[call-arg]
    every: ChatOptions = {"temperature": 0.5, "max_tokens": 50, "system": "be brief"}
    assert "be brief" not in (await client.chat("GPT-4.1", "hi", **every)).text


def test_the_blocking_client_takes_the_same_typed_arguments(simulator: Simulator) -> None:
    with PoeClient("test-sync-core", base_url=simulator.base_url, store=False, rpm=0) as client:
        assert client.aio.provider_info.base_url == simulator.base_url
        assert "sync core" in client.chat("GPT-4.1", "sync core", max_tokens=50).text
    with pytest.raises(TypeError):
        PoeClient("k", base_urll="http://x/v1")  # type: ignore[call-arg]


def test_the_provider_is_resolved_once_from_the_settings(
    poe_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("POE_UPLOAD_BASE_URL", "http://uploads.example/poe_api")
    settings = Settings.load()
    provider = settings.provider_info
    assert provider is settings.provider_info  # resolved once per settings
    assert (provider.name, provider.key_env, provider.key_section) == ("poe", "POE_API_KEY", "poe")
    assert provider.base_url == "http://127.0.0.1:9/v1"
    assert provider.bot_url == "http://127.0.0.1:9/bot/"  # derived from the REST base URL
    assert provider.upload_url == "http://uploads.example/poe_api/"  # the variable wins
    assert provider.account_url == "http://127.0.0.1:9"
    openai = Provider.named("openai")
    assert (openai.key_env, openai.base_url) == ("OPENAI_API_KEY", "https://api.openai.com/v1")
    assert openai.bot_url is None  # no bot protocol
    assert openai.account_url is None  # no point balance
    compatible = Provider.named("compatible", "http://llm.example/v1")
    assert compatible.key_env == "POE_MCP_COMPATIBLE_API_KEY"
    assert compatible.key_hint == "Check the API key configured for http://llm.example/v1."


def test_settings_expose_the_typed_sections(poe_home: Path) -> None:
    config = poe_home.parent / "config"
    config.mkdir(exist_ok=True)
    (config / "config.toml").write_text(
        "[media]\nimage_model = 'Imagen-4'\n[tools]\nroots = ['/tmp']\n"
        "[aliases]\nFast = 'GPT-4o-mini'\n[fallbacks]\n'Claude-Sonnet-4' = ['GPT-4.1']\n"
        "[prices]\nassistant = [1.5, 6]\n[budgets]\ndaily_usd = 2.5\n[logs]\nmcp = true\n"
    )
    settings = Settings.load()
    assert settings.media.image_model == "Imagen-4"
    assert settings.tools.roots == ["/tmp"]
    assert settings.aliases == {"fast": "GPT-4o-mini"}
    assert settings.fallbacks == {"claude-sonnet-4": ["GPT-4.1"]}
    assert "assistant" in settings.prices
    assert settings.budgets.daily_usd == 2.5
    assert "mcp" in settings.logs.entry_points
    assert settings.rate_limit.burst is None


def _environment_reads(path: Path) -> list[str]:
    """``os.environ`` / ``os.getenv`` reads in one module (writes and ``environ[...] =`` too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_the_package_reads_the_environment_in_one_place() -> None:
    # The simulator is a separate program; the terminal and install code read variables of
    # other programs (NO_COLOR, APPDATA), not poe-mcp's.
    allowed = {"config.py", "cli/_term.py", "cli/install.py"}
    elsewhere = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        if "simulator" not in path.parts and str(path.relative_to(SRC)) not in allowed
        for hit in _environment_reads(path)
    ]
    assert elsewhere == [], "read the variable in config.py (ENV_VARS) and use settings.environ"
    assert len(set(ENV_VARS)) == len(ENV_VARS)
    assert {"POE_API_KEY", "POE_BOT_BASE_URL", "POE_MCP_LOGS", "POE_MCP_BUDGET_DAILY_USD"} <= set(
        ENV_VARS
    )
