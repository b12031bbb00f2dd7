"""Other members of each fault kind of issue 14, as real providers send them.

The kind tests (``test_sse_lines.py`` ... ``test_retries.py``) pin the examples of the issue;
these pin further members found in public bug reports against other clients (Together's
``eos``, Gemini's ``STOP`` and list-wrapped errors, MiniMax/NIM names repeated on every
fragment, Mistral's thinking chunks, ``data:`` without a space, a chunked body cut short...),
each through the library against a loopback stand-in upstream, the simulator, the CLI or MCP.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from poe_mcp import Agent, AsyncPoeClient, tool
from click.testing import CliRunner
from mcp import Client

from poe_mcp._model_ids import same_model
from poe_mcp.cli import cli
from poe_mcp.errors import IncompleteStreamError, PoeError
from poe_mcp.simulator import Simulator
from poe_mcp.simulator.quirks import THINKING

from .conftest import (
    CLOCK,
    KEY,
    TWO_CALLS,
    WEATHER,
    ask,
    chat_calls,
    collect,
    drain,
    error_json,
    upstream_calls,
)
from .standin import StandIn, chunk, completion

TEXT = "The answer is 4.\u2028Done\u0085."


def _sse(*payloads: str, end: str = "\n") -> str:
    return "".join(f"{p}{end}{end}" for p in payloads)


def _data(value: Any, space: str = " ") -> str:
    return f"data:{space}{value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"


# --- kind 1: SSE framing --------------------------------------------------------------------

FRAMINGS: dict[str, str] = {
    "no_space_after_colon": _sse(
        _data(chunk(TEXT[:7]), ""), _data(chunk(TEXT[7:], finish="stop"), ""), "data:[DONE]"
    ),
    "raw_u2029_u0085_crlf": _sse(
        _data(chunk(TEXT[:12])), _data(chunk(TEXT[12:], finish="stop")), _data("[DONE]"), end="\r\n"
    ),
    "done_without_final_newline": _sse(_data(chunk(TEXT)))
    + _data(chunk(finish="stop"))
    + "\n\ndata: [DONE]",
    "last_chunk_without_blank_line": _sse(_data(chunk(TEXT[:5])))
    + _data(chunk(TEXT[5:], finish="stop"))
    + "\n",
    "event_message_and_ids": "event: message\nid: 7\n"
    + _sse(_data(chunk(TEXT)))
    + "event: message\n"
    + _sse(_data(chunk(finish="stop")), "event: done\ndata: [DONE]"),
    "anthropic_ping_events": _sse(
        'event: ping\ndata: {"type": "ping"}',
        _data(chunk(TEXT)),
        ": OPENROUTER PROCESSING",
        _data(chunk(finish="stop")),
        _data("[DONE]"),
    ),
    "two_spaces_and_tabs": _sse(
        _data(chunk(TEXT), "  "), _data(chunk(finish="stop"), " \t"), _data("[DONE]")
    ),
    "json_lines_in_one_event": _data(chunk(TEXT[:4]))
    + "\n"
    + _data(chunk(TEXT[4:]))
    + "\n\n"
    + _sse(_data(chunk(finish="stop")), _data("[DONE]")),
    "choices_null_chunks": _sse(
        _data({"id": "x", "choices": None, "model": "m"}),
        _data(chunk(TEXT)),
        _data({"id": "x", "choices": None, "usage": {"prompt_tokens": 3, "completion_tokens": 4}}),
        _data(chunk(finish="stop")),
        _data("[DONE]"),
    ),
}


@pytest.mark.parametrize("name", sorted(FRAMINGS))
@pytest.mark.parametrize("streamed", [True, False])
async def test_sse_framings_read_as_the_spec_says(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], name: str, streamed: bool
) -> None:
    standin.answer(FRAMINGS[name])
    client = make_client(standin.base_url)
    if streamed:
        deltas, result = await collect(client.stream("m", "hi"))
        assert "".join(d.text for d in deltas) == TEXT
    else:
        result = await client.chat("m", "hi")
    assert result.text == TEXT
    assert result.finish_reason == "stop"
    assert len(standin.calls()) == 1


async def test_utf8_split_across_network_pieces_and_crlf_split_between_reads(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    body = _sse(_data(chunk("Zürich ☃ 😀")), _data(chunk(finish="stop")), _data("[DONE]"), end="\r\n")
    raw = body.encode()
    cut_a = raw.index("ü".encode()) + 1  # inside the two bytes of ü
    cut_b = raw.index("😀".encode()) + 2  # inside the four bytes of the emoji
    cut_c = raw.index(b"\r\n") + 1  # between \r and \n
    cuts = sorted({cut_a, cut_b, cut_c})
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    standin.answer(pieces)
    _, result = await collect(make_client(standin.base_url).stream("m", "hi"))
    assert result.text == "Zürich ☃ 😀"


# --- kind 2: streamed tool-call assembly -----------------------------------------------------


def _tc(index: Any = None, call_id: str | None = None, name: str | None = None,
        args: Any = None, kind: str | None = None) -> dict[str, Any]:  # fmt: skip
    item: dict[str, Any] = {"function": {}}
    if index is not None:
        item["index"] = index
    if call_id is not None:
        item["id"] = call_id
    if kind is not None:
        item["type"] = kind
    if name is not None:
        item["function"]["name"] = name
    if args is not None:
        item["function"]["arguments"] = args
    return item


PARIS = ("get_weather", {"city": "Paris"})
ROME = ("get_weather", {"city": "Rome"})
ZURICH = ("get_weather", {"city": "Zürich"})

ASSEMBLIES: dict[str, tuple[list[list[dict[str, Any]]], list[tuple[str, Any]]]] = {
    # OpenAI: type only on the first fragment
    "type_only_first": (
        [[_tc(0, "c1", "get_weather", "", "function")], [_tc(0, args='{"city":')],
         [_tc(0, args='"Paris"}')]],
        [PARIS],
    ),
    # MiniMax via NVIDIA NIM: the whole name again on every fragment, no id after the first
    "name_on_every_fragment": (
        [[_tc(0, "c1", "get_weather", "")], [_tc(0, None, "get_weather", '{"city":')],
         [_tc(0, None, "get_weather", '"Paris"}')], [_tc(0, None, "get_weather", "")]],
        [PARIS],
    ),
    # ...and with the id repeated too
    "name_and_id_on_every_fragment": (
        [[_tc(0, "c1", "get_weather", "")], [_tc(0, "c1", "get_weather", '{"city":')],
         [_tc(0, "c1", "get_weather", '"Paris"}')], [_tc(0, "c1", "get_weather", "")]],
        [PARIS],
    ),
    # Gemini: the name itself streamed in pieces
    "name_in_pieces": (
        [[_tc(0, "c1", "get_wea")], [_tc(0, None, "ther", '{"city":"Paris"}')]],
        [PARIS],
    ),
    # arguments cut inside a \\u escape
    "arguments_cut_inside_an_escape": (
        [[_tc(0, "c1", "get_weather", '{"city":"Z\\u00')], [_tc(0, args='fc')],
         [_tc(0, args='rich"}')]],
        [ZURICH],
    ),
    # an empty string first, then the whole object
    "empty_then_object": (
        [[_tc(0, "c1", "get_weather", "")], [_tc(0, args='{"city":"Paris"}')]],
        [PARIS],
    ),
    # Anthropic-to-OpenAI proxies: "{}" on the opening fragment, then the streamed input
    "braces_then_streamed_input": (
        [[_tc(0, "c1", "get_weather", "{}")], [_tc(0, args='{"city":')], [_tc(0, args='"Paris"}')]],
        [PARIS],
    ),
    # parallel calls whose fragments arrive for index 1 before index 0
    "index_one_before_zero": (
        [[_tc(1, "c2", "get_weather", '{"city":')], [_tc(0, "c1", "get_weather", '{"city":')],
         [_tc(1, args='"Rome"}')], [_tc(0, args='"Paris"}')]],
        [PARIS, ROME],
    ),
    # interleaved parallel fragments, ids only on the first ones
    "interleaved": (
        [[_tc(0, "c1", "get_weather", ""), _tc(1, "c2", "get_weather", "")],
         [_tc(0, args='{"city":"Pa'), _tc(1, args='{"city":"Ro')],
         [_tc(0, args='ris"}'), _tc(1, args='me"}')]],
        [PARIS, ROME],
    ),
    # index as text
    "index_as_text": (
        [[_tc("0", "c1", "get_weather", ""), _tc("1", "c2", "get_weather", "")],
         [_tc("1", args='{"city":"Rome"}')], [_tc("0", args='{"city":"Paris"}')]],
        [PARIS, ROME],
    ),
    # Mistral: both whole calls in one chunk, no index
    "two_whole_calls_one_chunk": (
        [[_tc(None, "a1", "get_weather", '{"city":"Paris"}'),
          _tc(None, "a2", "get_weather", '{"city":"Rome"}')]],
        [PARIS, ROME],
    ),
    # vLLM/Ollama: an empty tool_calls list on text chunks, calls without ids
    "no_ids_at_all": (
        [[], [_tc(0, None, "get_weather", '{"city":"Paris"}')],
         [_tc(1, None, "get_weather", '{"city":"Rome"}')]],
        [PARIS, ROME],
    ),
    # the whole arguments object sent again after it was complete (a provider's repeat)
    "arguments_repeated_whole": (
        [[_tc(0, "c1", "get_weather", "")], [_tc(0, args='{"city":"Paris"}')],
         [_tc(0, args='{"city":"Paris"}')]],
        [PARIS],
    ),
    # arguments as an object on the first fragment of a stream (Ollama)
    "object_arguments_streamed": (
        [[_tc(0, "c1", "get_weather", {"city": "Paris"})], [_tc(1, "c2", "get_weather", {"city": "Rome"})]],
        [PARIS, ROME],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ASSEMBLIES))
async def test_streamed_tool_call_fragments_assemble(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], name: str
) -> None:
    fragments, expected = ASSEMBLIES[name]
    standin.sse(
        *[chunk(None, tool_calls=f) for f in fragments],
        chunk(finish="tool_calls"),
    )
    _, result = await collect(make_client(standin.base_url).stream("m", "hi", tools=[WEATHER]))
    got = [(c.name, json.loads(c.arguments)) for c in result.tool_calls]
    assert got == expected
    assert len({c.id for c in result.tool_calls}) == len(expected)


# --- kind 4: shapes of content ---------------------------------------------------------------

THOUGHT = "First, 2 + 2."
ANSWER = "The answer is 4."

# (message or delta fields, expected text, expected reasoning)
SHAPES: dict[str, tuple[dict[str, Any], str, str]] = {
    # OpenAI Responses-style parts relayed by proxies
    "output_text_parts": (
        {"content": [{"type": "output_text", "text": "The answer ", "annotations": []},
                     {"type": "output_text", "text": "is 4."}]}, ANSWER, ""),
    # Mistral Magistral: a thinking part whose "thinking" is itself a list of text chunks
    "mistral_thinking_chunks": (
        {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": THOUGHT}]},
                     {"type": "text", "text": ANSWER}]}, ANSWER, THOUGHT),
    # DeepSeek, vLLM (older), SiliconFlow
    "reasoning_content_field": ({"content": ANSWER, "reasoning_content": THOUGHT}, ANSWER, THOUGHT),
    # OpenRouter, Groq, vLLM (newer), Ollama's OpenAI API
    "reasoning_field": ({"content": ANSWER, "reasoning": THOUGHT}, ANSWER, THOUGHT),
    # Ollama's native shape relayed as is, some proxies
    "thinking_field": ({"content": ANSWER, "thinking": THOUGHT}, ANSWER, THOUGHT),
    # OpenRouter's reasoning_details without a plain reasoning field
    "reasoning_details": (
        {"content": ANSWER,
         "reasoning_details": [{"type": "reasoning.text", "text": THOUGHT, "index": 0}]},
        ANSWER, THOUGHT),
    # DeepSeek-R1 on servers without a reasoning parser (vLLM, LM Studio, Together, Ollama < 0.9)
    "think_tags_in_content": ({"content": f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}"}, ANSWER,
                              THOUGHT),
    # OpenAI: a refusal beside a null content
    "refusal": ({"content": None, "refusal": "I can't help with that."},
                "I can't help with that.", ""),
    # Anthropic-compatible text blocks with citations
    "anthropic_text_blocks": (
        {"content": [{"type": "text", "text": ANSWER, "citations": None},
                     {"type": "redacted_thinking", "data": "abc"}]}, ANSWER, ""),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SHAPES))
async def test_content_shapes_whole(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], name: str
) -> None:
    fields, text, reasoning = SHAPES[name]
    standin.answer(
        json.dumps(completion({"role": "assistant", **fields})), content_type="application/json"
    )
    result = await make_client(standin.base_url).chat("m", "hi")
    assert (result.text, result.reasoning.strip()) == (text, reasoning)


def _split_fields(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The same fields as a stream sends them: each text cut in two chunks."""
    out: list[dict[str, Any]] = []
    for key, value in fields.items():
        if isinstance(value, str) and len(value) > 4:
            out += [{key: value[: len(value) // 2]}, {key: value[len(value) // 2 :]}]
        elif value is not None:
            out.append({key: value})
    return out


@pytest.mark.parametrize("name", sorted(SHAPES))
async def test_content_shapes_streamed(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], name: str
) -> None:
    fields, text, reasoning = SHAPES[name]
    pieces = [chunk(d.pop("content", None), **d) for d in _split_fields(fields)]
    standin.sse(*pieces, chunk(finish="stop"))
    deltas, result = await collect(make_client(standin.base_url).stream("m", "hi"))
    assert (result.text, result.reasoning.strip()) == (text, reasoning)
    assert "".join(d.text for d in deltas) == text
    assert "<think>" not in "".join(d.text for d in deltas)


@pytest.mark.parametrize(
    "choice",
    [
        {"index": 0, "text": ANSWER, "finish_reason": "stop"},  # completions-style choice
        {"index": 1, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"},
    ],
    ids=["text_field", "index_one"],
)
async def test_choice_shapes_whole(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], choice: dict[str, Any]
) -> None:
    body = {"id": "x", "object": "chat.completion", "model": "m", "choices": [choice]}
    standin.answer(json.dumps(body), content_type="application/json")
    result = await make_client(standin.base_url).chat("m", "hi")
    assert result.text == ANSWER


# --- kind 6: ends of streams: finish reasons providers spell their own way ---------------------

FINISHES = {
    "eos": "stop",  # Together (Llama)
    "eos_token": "stop",  # TGI
    "end_turn": "stop",  # Bedrock gateways, Anthropic-compatible
    "stop_sequence": "stop",  # Anthropic-compatible
    "STOP": "stop",  # Gemini
    "MAX_TOKENS": "length",  # Gemini
    "max_tokens": "length",  # Anthropic-compatible
    "model_length": "length",  # Mistral
    "tool_use": "tool_calls",  # Anthropic-compatible
    "function_call": "tool_calls",  # legacy OpenAI
    "SAFETY": "content_filter",  # Gemini
}


@pytest.mark.parametrize("raw", sorted(FINISHES))
@pytest.mark.parametrize("streamed", [True, False])
async def test_finish_reasons_are_normalised(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], raw: str, streamed: bool
) -> None:
    if streamed:
        standin.sse(chunk(ANSWER), chunk(finish=raw))
    else:
        message = {"role": "assistant", "content": ANSWER}
        standin.answer(json.dumps(completion(message, raw)), content_type="application/json")
    client = make_client(standin.base_url)
    result = (await collect(client.stream("m", "hi")))[1] if streamed else await client.chat("m", "hi")
    assert result.finish_reason == FINISHES[raw]
    assert result.text == ANSWER


@pytest.mark.parametrize("answer", ["<", " <thi", "<thinking> is a tag", "4 <think>x</think>"])
async def test_text_that_only_looks_like_a_think_tag_is_the_answer(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], answer: str
) -> None:
    standin.sse(*[chunk(c) for c in answer], chunk(finish="stop"))
    deltas, result = await collect(make_client(standin.base_url).stream("m", "hi"))
    assert result.text == answer == "".join(d.text for d in deltas)
    assert result.reasoning == ""


# --- kind 5: error bodies, and the retry rules ---------------------------------------------------

_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_GATEWAY_TIMEOUT = (
    "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>api.example.com | 504: "
    "Gateway time-out</title><style>body{}</style></head><body><h1>504</h1></body></html>"
)
_RETRY_NOW = {"retry-after": "0"}

# name -> (status, content type, body, headers, kind, words, retried)
ERRORS: dict[str, tuple[int, str, str, dict[str, str], str, str, bool]] = {
    "error_as_a_string_200": (
        200, "application/json", '{"error": "model \'llama9\' not found, try pulling it first"}',
        {}, "not_found", "model 'llama9' not found", False),
    "error_as_a_string_404": (
        404, "application/json", '{"error": "model \'llama9\' not found"}', {}, "not_found",
        "model 'llama9' not found", False),
    "gemini_list_wrapped_400": (
        400, "application/json",
        '[{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", '
        '"status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.'
        'ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}]', {}, "auth",
        "API key not valid", False),
    "gemini_list_wrapped_429": (
        429, "application/json",
        '[{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", '
        '"status": "RESOURCE_EXHAUSTED"}}]', _RETRY_NOW, "rate_limit", "Resource has been "
        "exhausted", True),
    "cloudflare_errors_list_200": (
        200, "application/json",
        '{"result": null, "success": false, "errors": [{"code": 5007, "message": "No such '
        'model @cf/meta/llama-9 or task"}], "messages": []}', {}, "not_found", "No such model",
        False),
    "top_level_message_and_code_200": (
        200, "application/json", '{"code": 1211, "message": "Unknown Model, please check the '
        'model code.", "success": false}', {}, "not_found", "Unknown Model", False),
    "empty_200": (200, "application/json", "", {}, "upstream", "empty", False),
    "empty_503": (503, "text/plain", "", _RETRY_NOW, "upstream", "503", True),
    "nginx_502_html": (502, "text/html", _NGINX_502, _RETRY_NOW, "upstream", "502 Bad Gateway",
                       True),
    "cloudflare_504_html": (504, "text/html; charset=UTF-8", _GATEWAY_TIMEOUT, _RETRY_NOW,
                            "timeout", "504: Gateway time-out", True),
    "html_403_captive": (403, "text/html", "<html><head><title>Access denied | Cloudflare"
                         "</title></head><body>blocked</body></html>", {}, "moderation",
                         "Access denied", False),
    "plain_text_401": (401, "text/plain", "Unauthorized", {}, "auth", "Unauthorized", False),
    "litellm_wrapped_400": (
        400, "application/json", '{"error": {"message": "litellm.BadRequestError: '
        'OpenAIException - Error code: 400 - {\'error\': {\'message\': \'Invalid model\'}}", '
        '"type": null, "param": null, "code": "400"}}', {}, "invalid_request", "Invalid model",
        False),
    "vllm_object_error_404": (
        404, "application/json", '{"object": "error", "message": "The model `x` does not '
        'exist.", "type": "NotFoundError", "param": null, "code": 404}', {}, "not_found",
        "does not exist", False),
    "anthropic_overloaded_529": (
        529, "application/json", '{"type": "error", "error": {"type": "overloaded_error", '
        '"message": "Overloaded"}}', _RETRY_NOW, "overloaded", "Overloaded", True),
    "azure_content_filter_400": (
        400, "application/json", '{"error": {"message": "The response was filtered due to the '
        'prompt triggering Azure OpenAI\'s content management policy.", "type": null, "param": '
        '"prompt", "code": "content_filter", "status": 400}}', {}, "moderation",
        "content management policy", False),
    "text_plain_429_http_date": (
        429, "text/plain", "Too Many Requests", {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"},
        "rate_limit", "Too Many Requests", True),
    "retry_after_ms": (
        503, "application/json", '{"error": {"message": "busy", "type": "service_unavailable"}}',
        {"retry-after-ms": "5"}, "upstream", "busy", True),
    "retry_after_too_long": (
        429, "application/json", '{"error": {"message": "slow down", "type": "rate_limit_error"}}',
        {"retry-after": "3600"}, "rate_limit", "slow down", False),
    "conflict_409": (409, "application/json", '{"error": {"message": "lock timeout"}}',
                     _RETRY_NOW, "upstream", "lock timeout", True),
    "too_early_425": (425, "text/plain", "Too Early", _RETRY_NOW, "upstream", "Too Early", True),
    "request_timeout_408": (408, "application/json", '{"error": {"message": "timed out"}}',
                            _RETRY_NOW, "timeout", "timed out", True),
    "unprocessable_422_detail": (
        422, "application/json", '{"detail": [{"type": "missing", "loc": ["body", "messages"], '
        '"msg": "Field required"}]}', {}, "invalid_request", "body.messages: Field required",
        False),
    "quota_429": (
        429, "application/json", '{"error": {"message": "You exceeded your current quota", '
        '"type": "insufficient_quota", "code": "insufficient_quota"}}', _RETRY_NOW, "quota",
        "exceeded your current quota", False),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ERRORS))
@pytest.mark.parametrize("streamed", [True, False])
async def test_error_bodies_are_classified_and_retried_only_when_they_can_change(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], name: str, streamed: bool
) -> None:
    status, content_type, body, headers, kind, words, retried = ERRORS[name]
    standin.answer(body, status=status, content_type=content_type, headers=headers, times=9)
    client = make_client(standin.base_url, max_retries=2)
    with pytest.raises(PoeError) as info:
        if streamed:
            await collect(client.stream("m", "hi"))
        else:
            await client.chat("m", "hi")
    assert info.value.kind == kind, info.value.message
    assert words in info.value.message
    assert "<" not in info.value.message  # never a raw page
    assert len(standin.calls()) == (3 if retried else 1)


async def test_a_gzipped_html_error_page_is_summarised(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    page = gzip.compress(_NGINX_502.encode())
    standin.answer(
        [page], status=502, content_type="text/html", headers={"content-encoding": "gzip"}
    )
    with pytest.raises(PoeError) as info:
        await make_client(standin.base_url, max_retries=0).chat("m", "hi")
    assert (info.value.kind, info.value.status) == ("upstream", 502)
    assert "502 Bad Gateway" in info.value.message and "<" not in info.value.message


# --- kind 6: a stream whose connection breaks -----------------------------------------------------


def _broken(*payloads: Any) -> list[Any]:
    """An event stream whose chunked body stops in the middle (the server dies)."""
    pieces: list[Any] = [f"{_data(p)}\n\n".encode() for p in payloads]
    return [*pieces, RuntimeError("upstream died")]


async def test_a_connection_that_breaks_mid_stream_keeps_the_partial_text(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    standin.answer(_broken(chunk("Half an "), chunk("answer")), times=5)
    seen: list[str] = []
    with pytest.raises(IncompleteStreamError) as info:
        await drain(make_client(standin.base_url, max_retries=2).stream("m", "hi"), seen)
    assert "".join(seen) == "Half an answer"
    assert info.value.partial_text == "Half an answer"
    assert len(standin.calls()) == 1  # text was shown: not sent again


async def test_a_connection_that_breaks_after_the_finish_reason_is_a_whole_answer(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    standin.answer(_broken(chunk("Whole."), chunk(finish="stop")))
    _, result = await collect(make_client(standin.base_url).stream("m", "hi"))
    assert (result.text, result.finish_reason) == ("Whole.", "stop")
    assert len(standin.calls()) == 1


async def test_over_mcp_a_broken_connection_keeps_the_partial_text(
    standin: StandIn, make_server: Callable[..., Any]
) -> None:
    standin.answer(_broken(chunk("Half an "), chunk("answer")), times=5)
    async with Client(make_server(standin.base_url)) as mcp:
        result = await mcp.call_tool(
            "ask_poe_v2", {"bot": "m", "prompt": "hi", "stream": True}
        )
    error = error_json(result)
    assert error["metadata"]["kind"] == "incomplete_stream"
    assert error["metadata"]["partial_text"] == "Half an answer"
    assert len(standin.calls()) == 1


# --- kind 7: optional request fields a provider refuses -----------------------------------------

# name -> (status, body): refusals of stream_options as servers word them
REFUSALS: dict[str, tuple[int, str]] = {
    # Azure OpenAI on an older api-version
    "azure_unrecognized": (400, '{"error": {"message": "Unrecognized request argument supplied: '
                                'stream_options", "type": "invalid_request_error", "param": null, '
                                '"code": null}}'),
    # pydantic (FastAPI) naming the nested field
    "fastapi_nested_loc": (422, '{"detail": [{"type": "extra_forbidden", "loc": ["body", '
                                '"stream_options", "include_usage"], "msg": "Extra inputs are not '
                                'permitted", "input": true}]}'),
    # serde (Rust servers: mistral.rs, TGI) naming only the inner field
    "serde_unknown_field": (422, "Failed to deserialize the JSON body into the target type: "
                                 "unknown field `include_usage`, expected `stream` at line 1"),
    # a Python server passing the field on as a keyword
    "python_keyword_500": (500, '{"error": {"message": "TypeError: create() got an unexpected '
                                'keyword argument \'stream_options\'"}}'),
    # OpenAI-style param only
    "param_only": (400, '{"error": {"message": "Invalid value.", "type": "invalid_request_error",'
                        ' "param": "stream_options.include_usage", "code": null}}'),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REFUSALS))
async def test_refusals_of_stream_options_in_other_words(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], name: str
) -> None:
    status, body = REFUSALS[name]
    content_type = "application/json" if body.startswith("{") else "text/plain"
    standin.answer(body, status=status, content_type=content_type)
    standin.sse(chunk("Fine."), chunk(finish="stop"))
    standin.sse(chunk("Again."), chunk(finish="stop"))
    client = make_client(standin.base_url, max_retries=0)
    _, first = await collect(client.stream("m", "hi"))
    _, second = await collect(client.stream("m", "hi"))
    assert (first.text, second.text) == ("Fine.", "Again.")
    assert first.usage.estimated  # no usage chunk came: estimated, and flagged
    assert ["stream_options" in c["body"] for c in standin.calls()] == [True, False, False]


async def test_without_stream_options_usage_comes_from_a_final_chunk_if_sent(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    status, body = REFUSALS["azure_unrecognized"]
    standin.answer(body, status=status, content_type="application/json")
    usage = {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}
    standin.sse(chunk("Fine."), {**chunk(finish="stop"), "usage": usage})
    _, result = await collect(make_client(standin.base_url).stream("m", "hi"))
    assert (result.usage.input_tokens, result.usage.output_tokens) == (11, 2)
    assert not result.usage.estimated


# --- kind 8: capability unknown is not capability absent ---------------------------------------


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city.
    """
    return f"mild in {city}"


_PARIS_CALL = {"id": "c1", "type": "function",
               "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}  # fmt: skip

# name -> (the /v1/models items, the model asked for)
LISTINGS: dict[str, tuple[list[dict[str, Any]], str]] = {
    "supported_features_null": ([{"id": "m1", "object": "model", "supported_features": None}], "m1"),
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
    make_client: Callable[..., AsyncPoeClient], model: str, streamed: bool
) -> None:
    async with Simulator(provider="openai") as openai_sim:
        client = make_client(openai_sim.base_url, provider="openai")
        result = await ask(client, model, "hello", streamed=streamed)
    assert result.model.startswith(f"{model}-20")
    per_in, per_out = OPENAI_PRICES[model]
    usage = result.usage
    assert result.cost == pytest.approx((usage.input_tokens * per_in + usage.output_tokens * per_out) / 1e6)


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
    fresh: Simulator, make_client: Callable[..., AsyncPoeClient], backend: str, streamed: bool
) -> None:
    client = make_client(fresh.base_url, backend=backend)
    plain = await client.chat("GPT-4.1", "hello there")
    fresh.clear_requests()
    fresh.add_fault("quirk", quirks=NEW_QUIRKS)
    result = await ask(client, "GPT-4.1", "hello there", streamed=streamed)
    assert result.text == plain.text
    assert result.finish_reason == "stop"
    if backend == "openai":
        assert result.reasoning.strip() == THINKING
        assert result.finish_inferred is False
    assert len(upstream_calls(fresh, backend)) == 1


@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize("streamed", [True, False])
async def test_tool_calls_with_names_on_every_fragment(
    fresh: Simulator, make_client: Callable[..., AsyncPoeClient], backend: str, streamed: bool
) -> None:
    fresh.add_fault("quirk", quirks=NEW_QUIRKS)
    client = make_client(fresh.base_url, backend=backend)
    result = await ask(client, "GPT-4.1", TWO_CALLS, streamed=streamed, tools=[WEATHER, CLOCK])
    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"zone": "Rome"}),
    ]
    assert result.finish_reason == "tool_calls"
    assert len(upstream_calls(fresh, backend)) == 1


@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_runs_through_every_new_quirk(
    fresh: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    fresh.add_fault("quirk", quirks=NEW_QUIRKS, times=2)
    agent = Agent(make_client(fresh.base_url), "GPT-4.1", tools=[get_weather], stream=streamed)
    result = await agent.run("get_weather city=Oslo")
    assert [t.result for t in result.trace] == ["mild in Oslo"]
    assert 'get_weather -> "mild in Oslo"' in result.text
    assert "<think>" not in result.text
    assert result.stopped_reason == "final"
    assert len(chat_calls(fresh)) == 2


def test_the_cli_prints_the_answer_without_the_thinking(fresh: Simulator) -> None:
    fresh.add_fault("quirk", quirks=NEW_QUIRKS)
    result = CliRunner().invoke(
        cli,
        ["chat", "-m", "GPT-4.1", "hello cli", "--stream", "--base-url", fresh.base_url],
        env={"POE_API_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    assert 'You said: "hello cli"' in result.stdout
    assert "<think>" not in result.stdout and THINKING not in result.stdout
    assert "end_turn" not in result.output
    assert len(chat_calls(fresh)) == 1


@pytest.mark.parametrize("stream", [True, False])
async def test_ask_poe_v2_and_ask_poe_with_tools_over_mcp(
    fresh: Simulator, make_server: Callable[..., Any], stream: bool
) -> None:
    fresh.add_fault("quirk", quirks=NEW_QUIRKS, times=2)
    async with Client(make_server(fresh.base_url)) as mcp:
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
    assert len(chat_calls(fresh)) == 2
