"""Error codes map to the right kind; each provider's errors name its own pages, one hint once."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from poe_mcp import errors as E
from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import resolve_api_key
from poe_mcp.simulator import Simulator

from .conftest import run_cli


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        # OpenAI's codes decide the kind whatever the status says
        (400, {"error": {"code": "billing_hard_limit_reached", "type": "invalid_request_error"}},
         "quota"),
        (429, {"error": {"code": "insufficient_quota", "type": "insufficient_quota"}}, "quota"),
        (429, {"error": {"code": "billing_not_active"}}, "quota"),
        (401, {"error": {"code": "invalid_api_key", "type": "invalid_request_error"}}, "auth"),
        (403, {"error": {"code": None, "type": "access_terminated"}}, "auth"),
        (400, {"error": {"code": "model_not_found"}}, "not_found"),
        (404, {"error": {"code": "model_not_found"}}, "not_found"),
        (400, {"error": {"code": "context_length_exceeded"}}, "too_large"),
        (400, {"error": {"code": "content_policy_violation"}}, "moderation"),
        (429, {"error": {"code": "rate_limit_exceeded", "type": "requests"}}, "rate_limit"),
        (500, {"error": {"code": None, "type": "server_error"}}, "upstream"),
        # Poe's types and statuses
        (402, {"error": {"code": 402, "type": "insufficient_credits"}}, "balance"),
        (400, {"error": {"code": 400, "type": "insufficient_credits"}}, "balance"),
        (403, {"error": {"code": 403, "type": "moderation_error"}}, "moderation"),
        (413, {"error": {"code": 413, "type": "request_too_large"}}, "too_large"),
        (529, {"error": {"code": 529, "type": "overloaded_error"}}, "overloaded"),
        (400, {"error": {"code": 400, "type": "invalid_request_error"}}, "invalid_request"),
        # the bot protocol's error types
        (400, {"error": {"type": "insufficient_fund"}}, "balance"),
        (400, {"error": {"type": "user_message_too_long"}}, "too_large"),
    ],
)  # fmt: skip
def test_codes_map_to_kinds(status: int, body: dict[str, Any], kind: str) -> None:
    assert E.error_from_response(status, body).kind == kind


@pytest.mark.parametrize(
    ("provider", "kind_body", "own", "foreign"),
    [
        ("poe", (401, "Unauthorized"), "https://poe.com/api_key", "openai.com"),
        ("openai", (401, "Unauthorized"), "https://platform.openai.com/api-keys", "poe.com"),
        ("openai", (429, "insufficient_quota"), "platform.openai.com/settings", "poe.com"),
        ("poe", (402, "no points"), "https://poe.com/api_key", "openai.com"),
    ],
)
def test_each_provider_names_its_own_page(
    provider: str, kind_body: tuple[int, str], own: str, foreign: str
) -> None:
    status, text = kind_body
    body = {"error": {"message": text, "code": text if status == 429 else None}}
    err = E.error_from_response(status, body, provider=provider)
    assert own in err.message
    assert foreign not in err.message
    again = E.add_hint(err, provider)
    assert again.message == err.message  # once


async def test_compatible_provider_points_to_its_own_base_url(simulator: Simulator) -> None:
    simulator.add_fault("status", status=401, message="Unauthorized", times=2)
    async with AsyncPoeClient(
        "some-key", provider="compatible", base_url=simulator.base_url, store=False, rpm=0,
        max_retries=0,
    ) as client:  # fmt: skip
        with pytest.raises(E.AuthError) as auth:
            await client.chat("GPT-4.1", "hi")
        with pytest.raises(E.AuthError) as streamed:
            async for _ in client.stream("GPT-4.1", "hi"):
                pass
    for exc in (auth.value, streamed.value):
        assert f"Check the API key configured for {simulator.base_url}." in exc.message
        assert "poe.com" not in exc.message
        assert exc.message.count("Check") == 1


async def test_poe_invalid_key_gives_one_hint_once(simulator: Simulator) -> None:
    async with AsyncPoeClient(
        "invalid-key-1", base_url=simulator.base_url, store=False, rpm=0, catalog=False
    ) as client:
        with pytest.raises(E.AuthError) as auth:
            await client.chat("GPT-4.1", "hi")
    message = auth.value.message
    assert message.count("poe.com/api_key") == 1
    assert "doctor" not in message


async def test_mcp_tool_error_names_the_key_page_once(
    simulator: Simulator, make_runtime: Callable[..., Any]
) -> None:
    from poe_mcp.server.app import build_server

    runtime = make_runtime(simulator.base_url)
    runtime.api_key = "invalid-key-2"
    async with Client(build_server(runtime)) as mcp:
        result = await mcp.call_tool("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "hi"})
    assert result.is_error
    text = result.content[0].text
    first_line = text.splitlines()[0]
    assert first_line.count("poe.com/api_key") == 1
    assert "[kind: auth]" in first_line
    error = json.loads(text[text.index("{") :])["error"]
    assert error["message"].count("poe.com/api_key") == 1


def test_the_checks_never_say_run_the_checks(simulator: Simulator) -> None:
    env = {"POE_API_KEY": "invalid-key-3", "POE_BASE_URL": simulator.base_url}
    result = run_cli("doctor", env=env)
    assert result.exit_code == 1
    failing = [line for line in result.stdout.splitlines() if line.startswith("[FAIL]")]
    assert failing, result.stdout
    for line in failing:
        assert "doctor" not in line
        assert line.count("poe.com/api_key") <= 1


def test_a_broken_config_check_gives_one_hint() -> None:
    config = Path(os.environ["POE_MCP_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text('api_key = "pasted-here"\nrpmm = 5\n')
    result = run_cli("doctor")
    assert result.exit_code == 1
    out = result.stdout + result.stderr
    assert "does not belong in config.toml" in out
    assert "doctor" not in out


def test_missing_key_points_to_the_providers_page(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(E.AuthError) as openai:
        resolve_api_key("openai")
    with pytest.raises(E.AuthError) as poe:
        resolve_api_key("poe")
    assert "https://platform.openai.com/api-keys" in openai.value.message
    assert "poe.com" not in openai.value.message
    assert "OPENAI_API_KEY" in openai.value.message
    assert "https://poe.com/api_key" in poe.value.message
    assert "POE_API_KEY" in poe.value.message
    env = {"POE_MCP_PROVIDER": "openai"}
    out = run_cli("doctor", env=env).stdout
    key_line = next(line for line in out.splitlines() if "api_key" in line)
    assert "OPENAI_API_KEY" in key_line
    assert "POE_API_KEY" not in key_line
