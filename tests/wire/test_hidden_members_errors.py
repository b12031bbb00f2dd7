"""Other members of fault kinds 5 and 7 of issue 14, and of the retry rules.

Error bodies as providers send them (Ollama's ``{"error": "text"}``, Gemini's list-wrapped
errors, Cloudflare's ``errors`` list, LiteLLM, vLLM, nginx and Cloudflare pages, ``Retry-After``
as 0, an HTTP date or too long), errors inside streams, bodies under the wrong content type, and
refusals of ``stream_options`` in other words; each through the library against a stand-in.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import pytest

from poe_mcp import AsyncPoeClient
from poe_mcp.errors import PoeError

from .conftest import ask, collect
from .members import ANSWER, data_line, sse_body
from .standin import StandIn, chunk

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
    # a rate limit sent as a success can pass by itself: retried
    "rate_limit_as_a_200": (
        200, "application/json", '{"error": {"message": "Rate limit reached for requests", '
        '"code": 429}}', {}, "rate_limit", "Rate limit reached", True),
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
    "captive_portal_200": (200, "text/html", "<!DOCTYPE html><html><head><title>Hotel WiFi - "
                           "Sign in</title></head><body><form></form></body></html>", {},
                           "upstream", "Hotel WiFi - Sign in", False),
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
        await ask(client, "m", "hi", streamed=streamed)
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
    assert "502 Bad Gateway" in info.value.message
    assert "<" not in info.value.message


# --- retries of errors inside a stream ------------------------------------------------------------

# name -> (the event stream, kind, retried)
IN_BAND: dict[str, tuple[str, str, bool]] = {
    # OpenRouter: a rate limit as the first chunk
    "error_chunk_429_first": (
        sse_body(data_line({"error": {"message": "Rate limit exceeded", "code": 429}})),
        "rate_limit", True),
    # Anthropic-compatible: an error event before any text
    "overloaded_event_first": ("event: error\n" + sse_body(data_line(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
        "overloaded", True),
    # an error event without the error wrapper
    "bare_error_event": ("event: error\n" + sse_body(data_line({"message": "model not found",
                                                         "code": "model_not_found"})),
                         "not_found", False),
    # a text error in an error event
    "text_error_event": ("event: error\ndata: upstream connect error or disconnect\n\n",
                         "upstream", False),
    # OpenRouter: an error after text, with finish_reason "error"
    "error_after_text": (sse_body(data_line(chunk("Half")), data_line({
        "error": {"message": "Provider returned error", "code": 502},
        "choices": [{"index": 0, "delta": {}, "finish_reason": "error"}]})),
        "incomplete_stream", False),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(IN_BAND))
async def test_errors_inside_a_stream_are_retried_only_before_any_text_and_when_they_can_pass(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], name: str
) -> None:
    body, kind, retried = IN_BAND[name]
    standin.answer(body, times=9)
    with pytest.raises(PoeError) as info:
        await collect(make_client(standin.base_url, max_retries=1).stream("m", "hi"))
    assert info.value.kind == kind, info.value.message
    assert len(standin.calls()) == (2 if retried else 1)
    if kind == "incomplete_stream":
        assert info.value.partial_text == "Half"  # type: ignore[attr-defined]
        assert "Provider returned error" in info.value.message


# --- bodies under the wrong content type ----------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/event-stream", "text/event-stream; charset=utf-8"])
@pytest.mark.parametrize("streamed", [True, False])
async def test_a_json_error_sent_as_an_event_stream_keeps_its_words(
    standin: StandIn,
    make_client: Callable[..., AsyncPoeClient],
    content_type: str,
    streamed: bool,
) -> None:
    error = {"message": "Model gpt-9 does not exist", "type": "invalid_request_error",
             "code": "model_not_found"}  # fmt: skip
    body = json.dumps({"error": error}) + "\n"
    standin.answer(body, content_type=content_type, times=9)
    client = make_client(standin.base_url, max_retries=2)
    with pytest.raises(PoeError) as info:
        await ask(client, "m", "hi", streamed=streamed)
    assert info.value.kind == "not_found"
    assert "Model gpt-9 does not exist" in info.value.message
    assert len(standin.calls()) == 1


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json"])
@pytest.mark.parametrize("streamed", [True, False])
async def test_chunks_as_json_lines_without_sse_framing(
    standin: StandIn,
    make_client: Callable[..., AsyncPoeClient],
    content_type: str,
    streamed: bool,
) -> None:
    lines = [chunk("The answer "), chunk("is 4."), chunk(finish="stop")]
    standin.answer("".join(json.dumps(c) + "\n" for c in lines), content_type=content_type)
    result = await ask(make_client(standin.base_url), "m", "hi", streamed=streamed)
    assert (result.text, result.finish_reason) == (ANSWER, "stop")


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
