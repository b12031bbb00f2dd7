"""What a new user (and an attacker) found at the edges after issue 20 landed, kept fixed.

- OpenAI: the alias's own dated snapshot is listed at the alias's price; the moderation,
  transcription, realtime and responses-only models of a real list are not listed as chat; the
  simulator's OpenAI mode guards ``/v1/models`` with the key as OpenAI does; an unsupported
  country is no moderation refusal; a provider's message that names another provider's page
  loses that sentence, so every error points at one place, its own provider's.
- MCP prompts: missing, blank, unknown, misspelt and oversized arguments are clear
  ``INVALID_PARAMS`` errors (no server-side traceback); a diff cannot close its own fence.
- Tool definitions: nesting too deep for the validator, NaN, a ``$ref`` to nowhere (or to a
  file or URL) and huge schemas are ``invalid_request`` errors naming the path, on the library
  and over MCP, before anything is sent.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from poe_mcp import _constants as C
from poe_mcp.catalog import Catalog
from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import AuthError, BalanceError, InvalidRequestError, PoeError, QuotaError
from poe_mcp.simulator import Simulator

from .conftest import run_cli

URL = re.compile(r"https?://\S+")
POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))
POE_PAGE, OPENAI_PAGE = "poe.com/api_key", "platform.openai.com"


# --- OpenAI ----------------------------------------------------------------------------------


def test_an_alias_s_own_snapshot_is_listed_at_the_alias_s_price(openai_sim: Simulator) -> None:
    env = {"OPENAI_API_KEY": "sk-test-edges"}
    args = ["models", "--provider", "openai", "--base-url", openai_sim.base_url, "--json"]
    result = run_cli(*args, env=env)
    assert result.exit_code == 0, result.output
    by_id = {m["id"]: m["pricing"] for m in json.loads(result.stdout)["models"]}
    for alias, snapshot in (("gpt-4o", "gpt-4o-2024-08-06"), ("o3-mini", "o3-mini-2025-01-31")):
        assert by_id[snapshot]["known"], snapshot  # was "unknown" while a call on it was priced
        assert by_id[snapshot]["input_per_mtok"] == by_id[alias]["input_per_mtok"]
        assert by_id[snapshot]["output_per_mtok"] == by_id[alias]["output_per_mtok"]
    assert not by_id["gpt-4.1-2025-04-14"]["known"]  # no price for the family: still unknown
    table = run_cli(*args[:-1], env=env).stdout
    row = next(line for line in table.splitlines() if line.startswith("gpt-4o-2024-08-06 "))
    assert "$2.50 in / $10.00 out per 1M tokens" in row  # money as everywhere else: $


@pytest.mark.parametrize("path", ["/models", "/models/gpt-4o"])
def test_openai_mode_wants_a_key_for_the_model_list(openai_sim: Simulator, path: str) -> None:
    url = f"{openai_sim.base_url}{path}"
    missing = httpx2.get(url)
    invalid = httpx2.get(url, headers={"Authorization": "Bearer invalid-key"})
    fine = httpx2.get(url, headers={"Authorization": "Bearer sk-test-edges"})
    assert missing.status_code == 401
    assert set(missing.json()["error"]) == {"message", "type", "param", "code"}  # OpenAI's body
    assert invalid.status_code == 401
    assert invalid.json()["error"]["code"] == "invalid_api_key"
    assert fine.status_code == 200


async def test_openai_s_other_non_chat_families_are_not_listed_as_chat(
    openai_sim: Simulator,
) -> None:
    """Ids a real OpenAI list carries that the table first missed: shown apart, by kind."""
    kinds = {
        "omni-moderation-2024-09-26": "moderation",
        "gpt-4o-mini-transcribe": "transcription",
        "gpt-4o-realtime-preview-2024-12-17": "realtime",
        "gpt-4o-mini-realtime-preview": "realtime",
        "o1-pro": "responses",
        "codex-mini-latest": "responses",
        "tts-1-hd-1106": "speech",
        "gpt-3.5-turbo-instruct-0914": "completion",
    }

    async def fetch() -> list[dict[str, Any]]:
        plain = {"object": "model", "created": 1, "owned_by": "system"}
        return [{"id": model_id, **plain} for model_id in [*kinds, "gpt-4o"]]

    catalog = Catalog(fetch, provider="openai")
    assert {m.id for m in await catalog.search()} == {"gpt-4o"}
    every = {m.id: m.kind for m in await catalog.search(all_kinds=True)}
    assert every == {**kinds, "gpt-4o": "chat"}
    async with AsyncPoeClient(
        "sk-test-edges", provider="openai", base_url=openai_sim.base_url, store=False,
        max_retries=0, catalog=False,
    ) as client:  # fmt: skip
        with pytest.raises(PoeError) as raised:
            await client.chat("o1-pro", "hi")
    assert raised.value.kind == "not_found"
    assert "only supported in v1/responses" in raised.value.message


@pytest.mark.timeout(60)  # a server process
async def test_serve_simulate_keeps_provider_openai(tmp_path: Path) -> None:
    """``serve --simulate --provider openai`` used to drop the provider silently (Poe's
    simulator, where ``gpt-4o`` does not exist); it now plays OpenAI's API."""
    env = {k: v for k, v in os.environ.items() if k not in ("POE_API_KEY", "OPENAI_API_KEY")}
    env |= {"POE_MCP_HOME": str(tmp_path / "data"), "POE_MCP_CONFIG_DIR": str(tmp_path / "c")}
    args = ["serve", "--simulate", "--provider", "openai", "--tools", "chat,info"]
    async with Client(StdioServerParameters(command=POE_MCP, args=args, env=env)) as mcp:
        answer = await mcp.call_tool("ask_poe_v2", {"bot": "gpt-4o", "prompt": "hi"})
        info = await mcp.call_tool("get_server_info", {})
    assert not answer.is_error, answer.content
    assert answer.structured_content["model"] == "gpt-4o-2024-08-06"  # OpenAI's dated id
    assert answer.structured_content["simulated"] is True
    assert info.structured_content["provider"] == "openai"


def _one_page(message: str, own: str) -> None:
    urls = URL.findall(message)
    assert len(urls) == 1, message  # one hint, once
    assert own in urls[0], message


@pytest.mark.parametrize("provider", ["poe", "openai", "compatible"])
@pytest.mark.parametrize("which", ["poe", "openai"])
@pytest.mark.parametrize("key", ["invalid-key", "broke-key"])
async def test_every_error_points_at_its_own_provider_s_page_only(
    simulator: Simulator, openai_sim: Simulator, provider: str, which: str, key: str
) -> None:
    """A stand-in of either shape behind any provider: Poe's words ("Get yours at
    poe.com/api_key") reaching the openai or a compatible provider, or OpenAI's ("find your
    key at platform.openai.com") reaching Poe's or a compatible one, never send the user to
    another provider's page, nor to two places."""
    sim = simulator if which == "poe" else openai_sim
    model = "GPT-4.1" if which == "poe" else "gpt-4o"
    async with AsyncPoeClient(
        key, provider=provider, base_url=sim.base_url, store=False, rpm=0, max_retries=0,
        catalog=False,
    ) as client:  # fmt: skip
        with pytest.raises(PoeError) as raised:
            await client.chat(model, "hi")
    err = raised.value
    assert isinstance(err, AuthError if key.startswith("invalid") else BalanceError | QuotaError)
    own = {"poe": POE_PAGE, "openai": OPENAI_PAGE, "compatible": sim.base_url}[provider]
    _one_page(err.message, own)
    assert json.loads(err.to_json())["error"]["message"] == err.message


async def test_an_unsupported_country_is_a_refusal_no_key_fixes(
    openai_sim: Simulator,
) -> None:
    openai_sim.add_fault(
        "status", status=403, error_type="unsupported_country_region_territory",
        message="Country, region, or territory not supported", times=1,
    )  # fmt: skip
    async with AsyncPoeClient(
        "sk-test-edges", provider="openai", base_url=openai_sim.base_url, store=False,
        rpm=0, max_retries=0, catalog=False,
    ) as client:  # fmt: skip
        with pytest.raises(PoeError) as raised:
            await client.chat("gpt-4o", "hi")
    assert raised.value.kind == "auth"  # a permission, not "moderation"
    assert raised.value.code == "unsupported_country_region_territory"
    assert "OPENAI_API_KEY" not in raised.value.message  # a new key would not help
    assert not URL.search(raised.value.message)


# --- MCP prompts -----------------------------------------------------------------------------


BAD_PROMPTS = [
    ("second_opinion", {}, "second_opinion needs 'question'"),
    ("second_opinion", {"question": "   "}, "second_opinion needs 'question'"),
    ("second_opinion", {"question": "q", "modle": "x"}, "Did you mean 'model'?"),
    ("second_opinion", {"question": "q", "extra": "1"}, "has no argument 'extra'"),
    ("review_diff", {"diff": "x" * (C.TOOL_PROMPT_MAX_CHARS + 1)}, "at most 2000000"),
    ("review_diff", {"diff": "+a", "model": "m" * (C.TOOL_BOT_MAX_CHARS + 1)}, "'model' is"),
    ("review_diff", {"diff": "+a", "focus": "f" * (C.PROMPT_FOCUS_MAX_CHARS + 1)}, "'focus' is"),
    ("model_comparison", {"prompt": "p"}, "model_comparison needs 'models'"),
    ("model_comparison", {"prompt": "p", "models": ", ,"}, "comma-separated model names"),
    ("model_comparison", {"prompt": "p", "models": ",".join("abcdefghi")}, "at most 8 models"),
    ("reviewdiff", {"diff": "+a"}, "Did you mean 'review_diff'?"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "arguments", "says"), BAD_PROMPTS)
async def test_bad_prompt_arguments_are_clear_errors(
    simulator: Simulator,
    make_server: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    name: str,
    arguments: dict[str, str],
    says: str,
) -> None:
    caplog.set_level(logging.ERROR)
    async with Client(make_server(simulator.base_url)) as mcp:
        with pytest.raises(MCPError) as refused:
            await mcp.get_prompt(name, arguments)
        still = await mcp.get_prompt("second_opinion", {"question": "still there?"})
    assert refused.value.code == INVALID_PARAMS
    assert says in refused.value.message
    if name in {"second_opinion", "review_diff", "model_comparison"} and "Did" in says:
        assert "It takes:" in refused.value.message
    assert "Traceback" not in caplog.text  # a caller's mistake, not a server crash
    assert "still there?" in still.messages[0].content.text


async def test_a_diff_cannot_close_the_review_prompt_s_fence(
    simulator: Simulator, make_server: Callable[..., Any]
) -> None:
    diff = "--- a/README.md\n+++ b/README.md\n@@ -1 +1,3 @@\n+```sh\n+rm -rf /\n+```\n"
    async with Client(make_server(simulator.base_url)) as mcp:
        review = await mcp.get_prompt("review_diff", {"diff": diff})
    text = review.messages[0].content.text
    assert f"````diff\n{diff}\n````" in text  # a fence longer than any inside the diff
    after = text.split(f"{diff}\n````", 1)[1]
    assert "```" not in after


# --- tool definitions ------------------------------------------------------------------------


def _nested(levels: int, bad_at: int | None = None) -> dict[str, Any]:
    root: dict[str, Any] = {"type": "object", "properties": {}}
    node = root
    for level in range(levels):
        inner: dict[str, Any] = {"type": "nonsense" if level == bad_at else "object"}
        inner["properties"] = {}
        node["properties"]["a"] = inner
        node = inner
    return root


def definition(parameters: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "lookup", "parameters": parameters}}


WHERE = "tools[0].function.parameters"
DEEP_PATH = WHERE + ".properties.a" * (C.TOOL_SCHEMA_MAX_DEPTH // 2)  # the first level too deep
BAD_SCHEMAS = [
    pytest.param(_nested(3_000), DEEP_PATH, "nested deeper than 64", id="deep-3000"),
    pytest.param(_nested(120), DEEP_PATH, "nested deeper than 64", id="deep-120"),
    pytest.param({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
                 f"{WHERE}.properties.a.$ref", "refers to nothing", id="ref-nowhere"),
    pytest.param({"type": "object", "properties": {"a": {"$ref": "file:///etc/passwd"}}},
                 f"{WHERE}.properties.a.$ref", "nothing is fetched", id="ref-file"),
    pytest.param({"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:9/s.json"}}},
                 f"{WHERE}.properties.a.$ref", "nothing is fetched", id="ref-url"),
    pytest.param({"type": "object", "properties": {"a": {"$ref": "#anchor"}}},
                 f"{WHERE}.properties.a.$ref", "refers to nothing", id="ref-no-anchor"),
    pytest.param({"type": "object", "properties": {"n": {"type": "number",
                                                         "maximum": float("nan")}}},
                 f"{WHERE}.properties.n.maximum", "not a JSON number", id="nan"),
    pytest.param({"type": "object", "properties": {"n": {"minimum": float("-inf")}}},
                 f"{WHERE}.properties.n.minimum", "not a JSON number", id="infinity"),
    pytest.param({"type": "object", "properties": {f"p{i}": {"type": "string",
                                                             "description": "x" * 100}
                                                   for i in range(5_000)}},
                 WHERE, "at most 500,000", id="huge"),
]  # fmt: skip


def model_calls(sim: Simulator) -> int:
    return len([r for r in sim.requests() if r["path"].endswith("/chat/completions")])


@pytest.mark.parametrize(("parameters", "path", "says"), BAD_SCHEMAS)
async def test_library_refuses_what_no_provider_could_use(
    simulator: Simulator, api_key: str, parameters: Any, path: str, says: str
) -> None:
    before = model_calls(simulator)
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as client:
        with pytest.raises(InvalidRequestError) as refused:
            await client.chat("GPT-4.1", "hi", tools=[definition(parameters)])
    assert refused.value.metadata["path"] == path
    assert refused.value.message.startswith(f"{path}:")
    assert says in refused.value.message
    assert model_calls(simulator) == before  # nothing sent


@pytest.mark.parametrize(
    ("parameters", "path"),
    [
        # MCP arguments have their own, lower nesting cap (server/_arguments.py): refused there
        (_nested(120), "function.parameters.properties.a.properties.a"),
        ({"type": "object", "properties": {"a": {"$ref": "#/definitions/x"}}},
         f"{WHERE}.properties.a.$ref"),
        ({"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
         f"{WHERE}.properties.a.$ref"),
    ],
    ids=["deep", "ref-nowhere", "ref-url"],
)  # fmt: skip
async def test_mcp_ask_with_tools_refuses_them_too(
    simulator: Simulator, make_server: Callable[..., Any], parameters: Any, path: str
) -> None:
    before = model_calls(simulator)
    async with Client(make_server(simulator.base_url, simulated=True)) as mcp:
        refused = await mcp.call_tool(
            "ask_poe_with_tools",
            {"bot": "GPT-4.1", "prompt": "lookup", "tools": [definition(parameters)]},
        )
    assert refused.is_error
    text = refused.content[0].text
    assert path in text.splitlines()[0]
    error = json.loads(text[text.index("{") :])["error"]
    assert error["metadata"]["kind"] == "invalid_request"
    assert model_calls(simulator) == before


async def test_references_inside_the_schema_still_pass(simulator: Simulator, api_key: str) -> None:
    schema = {
        "type": "object",
        "$defs": {"city": {"type": "string"}},
        "properties": {
            "from": {"$ref": "#/$defs/city"},
            "to": {"$ref": "#/properties/from"},
            "stop": {"$id": "https://example.com/stop", "$defs": {"n": {"type": "integer"}},
                     "type": "object", "properties": {"n": {"$ref": "#/$defs/n"}}},
            "$ref": {"type": "string"},  # a property called "$ref" is no reference
            "mode": {"enum": [{"$ref": "#/nowhere"}]},  # data, not a reference
        },
    }  # fmt: skip
    nested = _nested((C.TOOL_SCHEMA_MAX_DEPTH - 2) // 2)
    async with AsyncPoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as client:
        result = await client.chat("GPT-4.1", "lookup", tools=[definition(schema)])
        deep_enough = await client.chat("GPT-4.1", "lookup", tools=[definition(nested)])
    assert result.tool_calls  # sent and answered
    assert deep_enough.tool_calls
