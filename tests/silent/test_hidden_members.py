"""Other members of each "nothing silent" kind: each failed before its fix, through the entry
point a user would meet it on (library, MCP in memory, CLI) against the simulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import AsyncPoeClient, ConfigError, InvalidRequestError, Settings
from poe_mcp.cli import cli
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import select_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .conftest import error_of, said, sent, write_config

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


# --- arguments: bot parameters ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"model": "GPT-4.1"}, "'model' is set by the call itself"),
        ({"messages": [{"role": "user", "content": "other"}]}, "'messages' is set by the call"),
        ({"stream": True}, "'stream' is set by the call itself"),
        ({"temperature": 5}, "pass it as temperature=..."),
        ({"max_completion_tokens": 3}, "pass it as max_tokens=..."),
    ],
)
async def test_bot_parameters_cannot_carry_the_request_s_own_fields(
    simulator: Simulator, api_key: str, backend: str, extra: dict[str, Any], says: str
) -> None:
    # On REST, extra used to be merged into the body: {"model": ...} sent (and billed) another
    # model, {"messages": ...} replaced the conversation, {"temperature": 5} skipped the checks.
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.chat("Claude-Sonnet-4", "hi", extra=extra, backend=backend)
    assert says in info.value.message
    assert sent(simulator) == []


def test_cli_param_cannot_switch_the_model(simulator: Simulator, api_key: str) -> None:
    out = CliRunner().invoke(
        cli,
        ["chat", "-m", "Claude-Sonnet-4", "-p", "model=GPT-4.1", "hi", "--no-stream",
         "--base-url", simulator.base_url],
        env={"POE_API_KEY": api_key},
    )  # fmt: skip
    assert out.exit_code == 1
    assert "'model' is set by the call itself" in said(out)
    assert sent(simulator) == []


@pytest.mark.parametrize("backend", ["openai", "legacy"])
async def test_undeclared_bot_parameters_are_refused_unsent_on_every_backend(
    simulator: Simulator, api_key: str, backend: str
) -> None:
    # The bot protocol may drop an unknown parameter silently: the model list decides first.
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.chat("GPT-4.1", "hi", extra={"thinking_budget": 1024}, backend=backend)
        thought = await client.chat(
            "Claude-Sonnet-4", "hi", extra={"thinking_budget": 1024}, backend=backend
        )
    assert "GPT-4.1 does not accept the parameter(s) thinking_budget" in info.value.message
    assert "Models that take thinking_budget: Claude-Opus-4.1, Claude-Sonnet-4" in str(info.value)
    assert "thinking_budget=1024" in thought.text  # a declared one takes effect
    assert len(sent(simulator)) == 1


async def test_mcp_thinking_on_a_model_without_it_is_refused_unsent(
    server: Any, simulator: Simulator
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_poe", {"bot": "GPT-4.1", "prompt": "x", "thinking": 1024}
        )
    error = error_of(result)
    assert "GPT-4.1 does not accept the parameter(s) thinking_budget" in error["message"]
    assert error["metadata"]["suggestions"][:2] == ["Claude-Opus-4.1", "Claude-Sonnet-4"]
    assert sent(simulator) == []


# --- arguments: tool_choice ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"tool_choice": "required"}, 'tool_choice "required" needs tools'),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "f"}}},
            "names the function 'f', which is not among the tools offered (get_weather)",
        ),
        ({"tools": [WEATHER], "tool_choice": "requried"}, "not 'requried'"),
    ],
)
@pytest.mark.parametrize("provider", ["poe", "openai"])
async def test_a_tool_choice_that_cannot_take_effect_is_refused_unsent(
    simulator: Simulator, api_key: str, options: dict[str, Any], says: str, provider: str
) -> None:
    # Sent, these were ignored by the simulator (and by some providers): a forced call of
    # nothing, or of a tool that was never offered.
    async with AsyncPoeClient(
        api_key, base_url=simulator.base_url, store=False, provider=provider
    ) as client:
        with pytest.raises(InvalidRequestError, match="tool_choice") as info:
            await client.chat("GPT-4.1", "hi", **options)
    assert says in info.value.message
    assert sent(simulator) == []


# --- arguments: structured output ---------------------------------------------------------


@pytest.mark.parametrize(
    "ref", ["#/$defs/missing", "https://example.com/weather.schema.json", "other.json#/a"]
)
async def test_a_schema_reference_to_nowhere_is_refused_before_paying(
    server: Any, simulator: Simulator, api_key: str, ref: str
) -> None:
    # It used to be sent, paid for, and then crash validation (a bare referencing error, the
    # answer lost); nothing is ever fetched.
    fmt = {"type": "json_schema", "json_schema": {"name": "w", "schema": {"$ref": ref}}}
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False) as client:
        for model in ("GPT-4.1", "Gemini-2.5-Pro"):  # Responses API and instructed ways
            with pytest.raises(InvalidRequestError, match="refers to nothing in this schema"):
                await client.chat(model, "weather as json", response_format=fmt)
    async with Client(server) as mcp:
        result = await mcp.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "x", "response_format": fmt}
        )
    assert error_of(result)["metadata"]["param"] == "response_format"
    assert sent(simulator) == []


# --- arguments: MCP names and old forms ---------------------------------------------------


async def test_thinking_true_is_refused_not_a_one_token_budget(
    server: Any, simulator: Simulator
) -> None:
    async with Client(server) as client:
        yes = await client.call_tool(
            "ask_poe", {"bot": "Claude-Sonnet-4", "prompt": "x", "thinking": True}
        )
        no = await client.call_tool(
            "ask_poe", {"bot": "Claude-Sonnet-4", "prompt": "x", "thinking": False}
        )
    assert "give a token budget (thinking=2048)" in error_of(yes)["message"]
    assert not no.is_error
    assert "thinking_budget" not in no.structured_content["text"]  # false: no thinking
    assert len(sent(simulator)) == 1


async def test_ask_with_attachment_takes_thinking_as_earlier_servers_did(
    make_server: Any, shared_dir: Path, simulator: Simulator
) -> None:
    note = shared_dir / "note.txt"
    note.write_text("a note")
    async with Client(make_server()) as client:
        result = await client.call_tool(
            "ask_with_attachment",
            {"bot": "Claude-Sonnet-4", "prompt": "read it", "attachment_path": str(note),
             "thinking": {"budget_tokens": 1024}},
        )  # fmt: skip
    assert not result.is_error, result.content[0].text
    assert "thinking_budget=1024" in result.structured_content["text"]


@pytest.mark.parametrize(
    ("tool", "says"),
    [
        ("compare_models", "its group 'multi' (off by default) was not selected. Start the "
         "server with --tools all,multi"),
        ("orchestrate", "--tools all,orchestra"),
        ("query_bot", "a tool of an earlier Poe MCP server: use ask_poe (its message is prompt"),
        ("search_models", "use list_available_models_v2"),
        ("register_custom_tool", "poe-mcp never runs code sent as text"),
        ("ask-poe", "unknown tool 'ask-poe'. Did you mean 'ask_poe'"),
    ],
)  # fmt: skip
async def test_a_tool_the_server_lacks_says_what_to_call(
    server: Any, simulator: Simulator, tool: str, says: str
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(tool, {"prompt": "x"})
    error = error_of(result)  # was the SDK's bare "Unknown tool: ..."
    assert says in error["message"]
    assert error["metadata"]["kind"] == "invalid_request"
    assert sent(simulator) == []


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"Temperature": 1}, "'Temperature' (taken by ask_poe_v2, ask_poe_with_tools as "
         "'temperature', not by ask_poe)"),
        ({"files": ["/a.png"]}, "'files' (taken by ask_with_attachment as 'attachment_paths'"),
    ],
)  # fmt: skip
async def test_an_unknown_argument_points_to_the_tool_that_takes_it(
    server: Any, simulator: Simulator, arguments: dict[str, Any], says: str
) -> None:
    async with Client(server) as client:
        result = await client.call_tool("ask_poe", {"bot": "GPT-4.1", "prompt": "x", **arguments})
    assert says in error_of(result)["message"]
    assert sent(simulator) == []


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('base_url = "api.poe.com/v1"', "base_url must be an http:// or https:// URL"),
        ('bot_base_url = "ftp://bots"', "bot_base_url must be an http:// or https:// URL"),
        ('[mcp_servers.web]\nurl = "localhost:9000"', "[mcp_servers.web] url must be an http"),
        ('[media]\ndownload_policy = "sometimes"', "[media] download_policy must be one of"),
        ('[server]\ntools = "chat,bogus"', "[server] tools: unknown tool 'bogus'"),
        ('[media]\nimage_model = ""', "[media] image_model must be a name, not blank"),
        ('model = "  "', "model must be a name, not blank"),
        ('[aliases]\nfast = ""', "[aliases] fast must be a name, not blank"),
    ],
)
def test_file_values_that_could_not_take_effect_are_refused_at_load(text: str, says: str) -> None:
    # Each loaded before (doctor said "loaded, valid") and fell back or failed much later.
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        Settings.load()
    assert says in str(info.value)
    assert str(path) in str(info.value)


def test_a_table_of_the_wrong_shape_is_reported_once() -> None:
    write_config('[mcp_servers.search]\ncomand = "uvx"\n')
    with pytest.raises(ConfigError) as info:
        Settings.load()
    assert info.value.metadata["problems"] == [
        "unknown key [mcp_servers.search] comand (did you mean 'command'?)"
    ]


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("POE_MCP_RPM", "1.7", "POE_MCP_RPM must be a number of requests per minute, whole"),
        ("POE_MCP_LOG_PROMPTS", "maybe", "POE_MCP_LOG_PROMPTS must be true or false"),
        ("POE_BASE_URL", "api.poe.com", "POE_BASE_URL must be an http:// or https:// URL"),
        ("POE_MCP_DOWNLOAD_POLICY", "sometimes", "POE_MCP_DOWNLOAD_POLICY must be one of"),
        ("POE_MCP_STREAM_OPTIONS", "maybe", "POE_MCP_STREAM_OPTIONS must be auto, on or off"),
        ("POE_MCP_BUDGET_DAILY_USD", "ten", "POE_MCP_BUDGET_DAILY_USD must be an amount"),
        ("POE_MCP_SESSION_TTL", "-1", "POE_MCP_SESSION_TTL must be a number of seconds"),
    ],
)
def test_environment_values_that_could_not_take_effect_are_refused_at_load(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    # POE_MCP_RPM=1.7 used to mean 1 request a minute, POE_MCP_LOG_PROMPTS=maybe off.
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        Settings.load()
    assert says in str(info.value)


def test_good_environment_values_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "POE_MCP_RPM": "120",
        "POE_MCP_LOG_PROMPTS": "on",
        "POE_MCP_STREAM_OPTIONS": "off",
        "POE_MCP_SESSION_TTL": "90",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.load()
    assert (settings.rpm, settings.log_prompts, settings.session_ttl_s) == (120, True, 90.0)


def test_doctor_blames_the_environment_not_the_file() -> None:
    write_config("rpm = 100\n")
    out = CliRunner().invoke(cli, ["doctor", "--json"], env={"POE_MCP_RPM": "fast"})
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert out.exit_code == 1
    assert "config_file" not in checks
    assert checks["environment"]["status"] == "fail"
    assert "POE_MCP_RPM must be a number" in checks["environment"]["detail"]


async def test_ask_poe_with_tools_takes_openai_s_named_tool_choice(
    server: Any, simulator: Simulator
) -> None:
    # The form earlier servers' ask_poe_with_tools took; it was refused as "not a string".
    named = {"type": "function", "function": {"name": "get_weather"}}
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": "GPT-4.1", "prompt": "weather in Oslo", "tools": [WEATHER],
             "tool_choice": named},
        )  # fmt: skip
    assert not result.is_error, result.content[0].text
    (request,) = sent(simulator)
    assert request["body"]["tool_choice"] == named


# --- money: refused before a fan-out is paid ----------------------------------------------


@pytest.fixture
async def multi_server(simulator: Simulator, api_key: str) -> AsyncIterator[Any]:
    """A server with the optional group multi (compare_models, consensus)."""
    settings = Settings.load(store="memory://", base_url=simulator.base_url)
    runtime = ServerRuntime(
        settings, api_key=api_key, simulated=True, tools=select_tools("all,multi")
    )
    yield build_server(runtime)
    await runtime.aclose()


async def test_an_unknown_synthesizer_is_refused_before_the_panel_is_paid(
    multi_server: Any, simulator: Simulator
) -> None:
    async with Client(multi_server) as client:
        judged = await client.call_tool(
            "consensus",
            {"prompt": "x", "models": ["GPT-4.1", "Claude-Sonnet-4"], "synthesizer": "Claud-Opus"},
        )
        compared = await client.call_tool(
            "compare_models",
            {"prompt": "x", "models": ["GPT-4.1", "Claude-Sonnet-4"], "params": {"model": "o3"}},
        )
    assert "the synthesizer: Unknown model 'Claud-Opus'" in error_of(judged)["message"]
    assert "'model' is set by the call itself" in error_of(compared)["message"]  # once
    assert sent(simulator) == []


@pytest.mark.parametrize(
    ("tool", "params", "says"),
    [
        ("generate_image", {"aspect_ratio": "16:9"}, "Did you mean 'aspect' (for 'aspect_ratio')?"),
        ("generate_image", {"duration": 5}, "Models that take duration: Veo-3."),
        ("generate_video", {"size": "4k"}, "Parameters it accepts: aspect, duration."),
    ],
)
async def test_a_media_parameter_the_bot_lacks_names_what_takes_it(
    server: Any, simulator: Simulator, tool: str, params: dict[str, Any], says: str
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(tool, {"prompt": "a fox", "params": params})
    assert says in error_of(result)["message"]
    assert sent(simulator) == []


async def test_responses_api_names_map_and_top_k_is_not_top_p(
    server: Any, simulator: Simulator
) -> None:
    async with Client(server) as client:
        mapped = await client.call_tool(
            "ask_poe_v2",
            {"bot": "Claude-Sonnet-4", "prompt": "hi", "max_output_tokens": 5,
             "instructions": "be brief", "reasoning": {"effort": "low"}},
        )  # fmt: skip
        top_k = await client.call_tool("ask_poe_v2", {"bot": "GPT-4.1", "prompt": "x", "top_k": 5})
    assert not mapped.is_error, mapped.content[0].text
    (request,) = sent(simulator)
    body = request["body"]
    assert body["max_tokens"] == 5
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert body["thinking_budget"] > 0  # the effort, as Claude's budget
    message = error_of(top_k)["message"]
    assert "has no top_k (top_p is another thing)" in message
    assert "did you mean" not in message
