"""Other members of fault kinds 8, 9 and 10 of issue 14, and the new simulator quirks.

Model lists that leave capabilities (or the model) out, dated and aliased ids as OpenAI, Azure,
Ollama, Gemini, Anthropic and Mistral answer with, data URIs as bots write them; then the
simulator's new quirks (``no_space``, ``json_lines``, ``tool_name_every_fragment``,
``think_tags``, ``native_finish_reason``) through the library, an agent, the CLI and MCP.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient
from poe_mcp._model_ids import same_model
from poe_mcp.cli import cli
from poe_mcp.simulator import THINKING, Simulator

from .conftest import CLOCK, KEY, TWO_CALLS, WEATHER, ask, chat_calls, upstream_calls
from .members import get_weather
from .standin import StandIn, completion

# --- kind 8: capability unknown is not capability absent ---------------------------------------


_PARIS_CALL = {"id": "c1", "type": "function",
               "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}  # fmt: skip

# name -> (the /v1/models items, the model asked for)
LISTINGS: dict[str, tuple[list[dict[str, Any]], str]] = {
    "supported_features_null": (
        [{"id": "m1", "object": "model", "supported_features": None}], "m1"),
    "openrouter_parameters_only": (
        [{"id": "acme/m1", "architecture": {"input_modalities": ["text"],
          "output_modalities": ["text"]}, "supported_parameters": ["tools", "tool_choice"]}],
        "acme/m1"),
    "mistral_capabilities_dict": (
        [{"id": "mistral-small-latest", "object": "model", "capabilities": {
            "completion_chat": True, "function_calling": True, "vision": False}}],
        "mistral-small-latest"),
    "vllm_plain": ([{"id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "owned_by": "vllm",
                     "root": "Qwen/Qwen2.5-7B-Instruct", "max_model_len": 32768,
                     "permission": [{"object": "model_permission"}]}],
                   "Qwen/Qwen2.5-7B-Instruct"),
    "gemini_prefixed_ids": ([{"id": "models/gemini-2.0-flash", "object": "model",
                              "owned_by": "google"}], "gemini-2.0-flash"),
    "ollama_tagged_ids": ([{"id": "llama3.1:latest", "object": "model", "owned_by": "library"}],
                          "llama3.1"),
    "azure_deployment_not_listed": ([{"id": "gpt-4o", "object": "model"}], "my-gpt4o-deployment"),
    "empty_list": ([], "anything"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(LISTINGS))
@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_sends_to_models_whose_tool_support_is_unknown_or_stated(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], name: str, streamed: bool
) -> None:
    standin.models, model = LISTINGS[name]
    standin.answer(
        json.dumps(completion({"role": "assistant", "content": None, "tool_calls": [_PARIS_CALL]},
                              "tool_calls")), content_type="application/json")  # fmt: skip
    standin.answer(json.dumps(completion({"role": "assistant", "content": "Mild in Paris."})),
                   content_type="application/json")  # fmt: skip
    client = make_client(standin.base_url, provider="compatible", catalog=None)
    result = await Agent(client, model, tools=[get_weather], stream=streamed).run("weather?")
    assert result.text == "Mild in Paris."
    assert [t.result for t in result.trace] == ["mild in Paris"]
    assert len(standin.calls()) == 2


@pytest.mark.parametrize("name", ["gemini_prefixed_ids", "azure_deployment_not_listed"])
async def test_ask_poe_with_tools_sends_to_models_whose_support_is_unknown(
    standin: StandIn, make_server: Callable[..., Any], name: str
) -> None:
    standin.models, model = LISTINGS[name]
    standin.answer(
        json.dumps(completion({"role": "assistant", "content": None, "tool_calls": [_PARIS_CALL]},
                              "tool_calls")), content_type="application/json")  # fmt: skip
    async with Client(make_server(standin.base_url, provider="compatible")) as mcp:
        result = await mcp.call_tool(
            "ask_poe_with_tools", {"bot": model, "prompt": "weather?", "tools": [WEATHER]}
        )
    assert not result.is_error, result.content[0].text
    (pending,) = result.structured_content["pending_tool_calls"]
    assert (pending["name"], pending["arguments"]) == ("get_weather", {"city": "Paris"})
    assert len(standin.calls()) == 1


# --- kind 9: dated model ids ------------------------------------------------------------------

OPENAI_PRICES = {"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6), "o1": (15.0, 60.0),
                 "o3-mini": (1.1, 4.4)}  # fmt: skip


@pytest.mark.parametrize("model", sorted(OPENAI_PRICES))
@pytest.mark.parametrize("streamed", [True, False])
async def test_openai_answers_under_dated_ids_are_priced_as_asked(
    make_client: Callable[..., AsyncPoeClient], openai_sim: Simulator, model: str, streamed: bool
) -> None:
    client = make_client(openai_sim.base_url, provider="openai")
    result = await ask(client, model, "hello", streamed=streamed)
    assert result.model.startswith(f"{model}-20")
    per_in, per_out = OPENAI_PRICES[model]
    usage = result.usage
    expected = (usage.input_tokens * per_in + usage.output_tokens * per_out) / 1e6
    assert result.cost == pytest.approx(expected)


@pytest.mark.parametrize(
    ("answered", "requested"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-4o-2024-11-20", "gpt-4o"),  # Azure's newer snapshot
        ("llama3.1:latest", "llama3.1"),  # Ollama's tag
        ("qwen2.5:7b", "qwen2.5:7b"),
        ("models/gemini-2.0-flash", "gemini-2.0-flash"),  # Gemini's OpenAI-compatible API
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku-latest"),
        ("mistral-small-2503", "mistral-small-latest"),
        ("codestral-2501", "codestral-latest"),
        ("gpt-35-turbo-0125", "gpt-35-turbo"),  # Azure's spelling
        ("openai/gpt-4o-2024-08-06", "openai/gpt-4o"),  # OpenRouter
        ("gpt-4o-2024-08-06", "openai/gpt-4o"),
        ("Meta-Llama-3.1-8B-Instruct", "meta-llama-3.1-8b-instruct"),
    ],
)
def test_more_snapshots_and_aliases_are_the_same_model(answered: str, requested: str) -> None:
    assert same_model(answered, requested)


@pytest.mark.parametrize(
    ("answered", "requested"),
    [
        ("chatgpt-4o-latest", "gpt-4o"),
        ("gpt-4o-audio-preview-2024-12-17", "gpt-4o"),
        ("o1-mini-2024-09-12", "o1"),
        ("gpt-4o-mini", "gpt-4o"),
        ("llama3.1:70b", "llama3.1:8b"),
        ("anthropic/claude-3-5-sonnet", "openai/gpt-4o"),
    ],
)
def test_other_models_are_not_the_same_model(answered: str, requested: str) -> None:
    assert not same_model(answered, requested)


@pytest.mark.parametrize(
    ("requested", "answered"),
    [("llama3.1", "llama3.1:latest"), ("gemini-2.0-flash", "models/gemini-2.0-flash"),
     ("mistral-large-latest", "mistral-large-2411")],
)  # fmt: skip
async def test_a_price_you_set_covers_the_answered_spelling(
    standin: StandIn,
    make_client: Callable[..., AsyncPoeClient],
    poe_home: Path,
    requested: str,
    answered: str,
) -> None:
    config = poe_home.parent / "config"
    config.mkdir(exist_ok=True)
    (config / "config.toml").write_text(f'[prices]\n"{requested}" = [1.0, 2.0]\n')
    standin.models = [{"id": answered, "object": "model"}]
    body = {**completion({"role": "assistant", "content": "ok"}), "model": answered}
    standin.answer(json.dumps(body), content_type="application/json")
    client = make_client(standin.base_url, provider="compatible", catalog=None)
    result = await client.chat(requested, "hi")
    assert result.cost == pytest.approx((3 * 1.0 + 4 * 2.0) / 1e6)


# --- kind 10: media inline ---------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + b"\0" * 40
GIF = b"GIF89a" + b"\x01\0\x01\0\x80\0\0" + b"\0" * 30
WEBP = b"RIFF" + (40).to_bytes(4, "little") + b"WEBPVP8 " + b"\0" * 30
JPEG = b"\xff\xd8\xff\xe0\0\x10JFIF\0" + b"\0" * 30


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# name -> (the reply's content, the bytes expected, the type expected)
INLINE: dict[str, tuple[str, bytes, str]] = {
    "charset_param": (f"![x](data:image/png;charset=utf-8;base64,{_b64(PNG)})", PNG, "image/png"),
    "name_param": (f"![x](data:image/gif;name=cat.gif;base64,{_b64(GIF)})", GIF, "image/gif"),
    "image_jpg_alias": (f"![x](data:image/jpg;base64,{_b64(JPEG)})", JPEG, "image/jpeg"),
    "uppercase": (f"![x](DATA:IMAGE/PNG;BASE64,{_b64(PNG)})", PNG, "image/png"),
    "webp": (f"![x](data:image/webp;base64,{_b64(WEBP)})", WEBP, "image/webp"),
    "no_declared_type": (f"![x](data:;base64,{_b64(PNG)})", PNG, "image/png"),
    "generic_type": (f"![x](data:application/octet-stream;base64,{_b64(PNG)})", PNG, "image/png"),
    "base64_with_newlines": (
        "![x](data:image/png;base64," + "\n".join(_b64(PNG)[i : i + 16]
                                                  for i in range(0, len(_b64(PNG)), 16)) + ")",
        PNG, "image/png"),
    "base64_with_spaces": (
        "![x](data:image/png;base64," + " ".join(_b64(PNG)[i : i + 16]
                                                 for i in range(0, len(_b64(PNG)), 16)) + ")",
        PNG, "image/png"),
    "urlsafe_unpadded": (f"![x](data:image/gif;base64,{_b64(GIF).rstrip('=').replace('/', '_')})",
                         GIF, "image/gif"),
    "markdown_title": (f'![x](data:image/png;base64,{_b64(PNG)} "a picture")', PNG, "image/png"),
    "bare_uri": (f"data:image/png;base64,{_b64(PNG)}", PNG, "image/png"),
    "bare_uri_in_prose": (f"Here you go: data:image/png;base64,{_b64(PNG)} enjoy", PNG,
                          "image/png"),
    "json_url": (json.dumps({"url": f"data:image/png;base64,{_b64(PNG)}", "mimeType": "image/png"}),
                 PNG, "image/png"),
    "html_img": (f'<img src="data:image/webp;base64,{_b64(WEBP)}" alt="x">', WEBP, "image/webp"),
    "angle_brackets": (f"![x](<data:image/png;base64,{_b64(PNG)}>)", PNG, "image/png"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(INLINE))
async def test_inline_media_in_the_shapes_bots_write_it(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], tmp_path: Path, name: str
) -> None:
    content, data, media_type = INLINE[name]
    standin.answer(json.dumps(completion({"role": "assistant", "content": content})),
                   content_type="application/json")  # fmt: skip
    client = make_client(standin.base_url, provider="compatible", catalog=None)
    result = await client.generate_image("a cat", model="img", output_dir=tmp_path)
    (path,) = result.paths
    assert Path(path).read_bytes() == data
    assert result.media_type == media_type
    assert len(standin.calls()) == 1


# --- the new members as simulator quirks, through every entry point ---------------------------

NEW_QUIRKS = ["no_space", "json_lines", "tool_name_every_fragment", "think_tags",
              "native_finish_reason"]  # fmt: skip


@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize("streamed", [True, False])
async def test_the_library_reads_every_new_quirk_at_once(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], backend: str, streamed: bool
) -> None:
    client = make_client(simulator.base_url, backend=backend)
    plain = await client.chat("GPT-4.1", "hello there")
    simulator.clear_requests()
    simulator.add_fault("quirk", quirks=NEW_QUIRKS)
    result = await ask(client, "GPT-4.1", "hello there", streamed=streamed)
    assert result.text == plain.text
    assert result.finish_reason == "stop"
    if backend == "openai":
        assert result.reasoning.strip() == THINKING
        assert result.finish_inferred is False
    assert len(upstream_calls(simulator, backend)) == 1


@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize("streamed", [True, False])
async def test_tool_calls_with_names_on_every_fragment(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], backend: str, streamed: bool
) -> None:
    simulator.add_fault("quirk", quirks=NEW_QUIRKS)
    client = make_client(simulator.base_url, backend=backend)
    result = await ask(client, "GPT-4.1", TWO_CALLS, streamed=streamed, tools=[WEATHER, CLOCK])
    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"zone": "Rome"}),
    ]
    assert result.finish_reason == "tool_calls"
    assert len(upstream_calls(simulator, backend)) == 1


@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_runs_through_every_new_quirk(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    simulator.add_fault("quirk", quirks=NEW_QUIRKS, times=2)
    agent = Agent(make_client(simulator.base_url), "GPT-4.1", tools=[get_weather], stream=streamed)
    result = await agent.run("get_weather city=Oslo")
    assert [t.result for t in result.trace] == ["mild in Oslo"]
    assert 'get_weather -> "mild in Oslo"' in result.text
    assert "<think>" not in result.text
    assert result.stopped_reason == "final"
    assert len(chat_calls(simulator)) == 2


def test_the_cli_prints_the_answer_without_the_thinking(simulator: Simulator) -> None:
    simulator.add_fault("quirk", quirks=NEW_QUIRKS)
    result = CliRunner().invoke(
        cli,
        ["chat", "-m", "GPT-4.1", "hello cli", "--stream", "--base-url", simulator.base_url],
        env={"POE_API_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    assert 'You said: "hello cli"' in result.stdout
    assert "<think>" not in result.stdout
    assert THINKING not in result.stdout
    assert "end_turn" not in result.output
    assert len(chat_calls(simulator)) == 1


@pytest.mark.parametrize("stream", [True, False])
async def test_ask_poe_v2_and_ask_poe_with_tools_over_mcp(
    simulator: Simulator, make_server: Callable[..., Any], stream: bool
) -> None:
    simulator.add_fault("quirk", quirks=NEW_QUIRKS, times=2)
    async with Client(make_server(simulator.base_url)) as mcp:
        asked = await mcp.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "over mcp", "stream": stream}
        )
        tools = await mcp.call_tool(
            "ask_poe_with_tools", {"bot": "GPT-4.1", "prompt": TWO_CALLS, "tools": [WEATHER, CLOCK]}
        )
    assert not asked.is_error, asked.content[0].text
    data = asked.structured_content
    assert 'You said: "over mcp"' in data["text"]
    assert "<think>" not in data["text"]
    assert data["finish_reason"] == "stop"
    assert not tools.is_error, tools.content[0].text
    pending = tools.structured_content["pending_tool_calls"]
    assert [(p["name"], p["arguments"]) for p in pending] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"zone": "Rome"}),
    ]
    assert len({p["id"] for p in pending}) == 2
    assert len(chat_calls(simulator)) == 2
