"""Kind 5: errors where an answer should be, shown in the provider's own words and classified.

HTTP 200 with a ``text/plain`` or JSON ``{"error"}`` body (streamed requests too), an HTML page
from a CDN (summarised to its status and ``<title>``, never shown raw), an in-band error chunk
after some text. Retried only when the kind can change by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient
from poe_mcp.errors import (
    IncompleteStreamError,
    InvalidRequestError,
    NotFoundError,
    PoeError,
    UpstreamError,
)
from poe_mcp.simulator import Simulator

from .conftest import KEY, collect, drain, error_json, upstream_calls
from .standin import StandIn, chunk, completion


async def _ask(client: AsyncPoeClient, model: str, streamed: bool) -> Any:
    if streamed:
        return (await collect(client.stream(model, "hi")))[1]
    return await client.chat(model, "hi")


@pytest.mark.parametrize("quirk", ["error_200_text", "error_200_json"])
@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize("streamed", [True, False])
async def test_a_200_that_is_an_error_says_what_the_provider_said(
    simulator: Simulator,
    make_client: Callable[..., AsyncPoeClient],
    quirk: str,
    backend: str,
    streamed: bool,
) -> None:
    simulator.add_fault("quirk", quirks=[quirk], times=5)
    client = make_client(simulator.base_url, backend=backend)
    with pytest.raises(NotFoundError) as info:
        await _ask(client, "GPT-4.1", streamed)
    words = "unsupported model: GPT-4.1" if quirk == "error_200_text" else "does not exist"
    assert words in info.value.message
    assert "malformed" not in info.value.message
    assert info.value.kind == "not_found"
    assert len(upstream_calls(simulator, backend)) == 1  # it will not change: not retried


@pytest.mark.parametrize(
    ("body", "content_type", "cls", "words", "requests"),
    [
        ("rate limit exceeded, slow down", "text/plain", None, None, 2),  # passes: retried
        ("Internal failure in the pipeline #42", "text/plain", UpstreamError, "pipeline #42", 1),
        ('{"error": "model gpt-9 is not supported"}', "application/json", NotFoundError,
         "gpt-9 is not supported", 1),
        ('{"detail": "Bad temperature"}', "application/json", UpstreamError, "Bad temperature", 1),
        ("<!DOCTYPE html><html><head><title>Sign in to the Wi-Fi</title></head><body>"
         "<script>x()</script></body></html>", "text/html", UpstreamError,
         "Sign in to the Wi-Fi", 1),
    ],
    ids=["rate-limit-text", "unknown-text", "json-error-string", "detail", "html-200"],
)  # fmt: skip
@pytest.mark.parametrize("streamed", [True, False])
async def test_error_bodies_answered_as_success(
    standin: StandIn,
    make_client: Callable[..., AsyncPoeClient],
    body: str,
    content_type: str,
    cls: type[PoeError] | None,
    words: str | None,
    requests: int,
    streamed: bool,
) -> None:
    standin.answer(body, content_type=content_type)
    if streamed:
        standin.sse(chunk("recovered"), chunk(finish="stop"))
    else:
        recovered = completion({"role": "assistant", "content": "recovered"})
        standin.answer(json.dumps(recovered), content_type="application/json")
    client = make_client(standin.base_url)
    if cls is None:
        assert (await _ask(client, "m", streamed)).text == "recovered"
    else:
        with pytest.raises(cls) as info:
            await _ask(client, "m", streamed)
        assert words is not None
        assert words in info.value.message
        assert "<" not in info.value.message  # never raw HTML
    assert len(standin.calls()) == requests


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_an_html_error_page_is_summarised_to_status_and_title(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], status: int
) -> None:
    simulator.add_fault("quirk", quirks=["html_error"], status=status, times=2)
    client = make_client(simulator.base_url, max_retries=1)
    with pytest.raises(PoeError) as info:
        await client.chat("GPT-4.1", "hi")
    assert info.value.status == status
    assert info.value.message.startswith(f"HTTP {status}: {status} ")
    assert "<" not in info.value.message
    assert "cloudflare" not in info.value.message
    assert len(upstream_calls(simulator, "openai")) == 2  # a 5xx can pass: retried


async def test_html_errors_then_success_are_retried_to_the_answer(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient]
) -> None:
    simulator.add_fault("quirk", quirks=["html_error"], status=503)
    _, result = await collect(make_client(simulator.base_url).stream("GPT-4.1", "again"))
    assert 'You said: "again"' in result.text
    assert [c["status"] for c in upstream_calls(simulator, "openai")] == [503, 200]


async def test_a_fastapi_validation_error_keeps_the_providers_words(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    detail = [{"loc": ["body", "temperature"], "msg": "Input should be less than 2"}]
    standin.answer(json.dumps({"detail": detail}), status=422, content_type="application/json")
    with pytest.raises(InvalidRequestError) as info:
        await make_client(standin.base_url).chat("m", "hi")
    assert "body.temperature: Input should be less than 2" in info.value.message
    assert len(standin.calls()) == 1


@pytest.mark.parametrize("backend", ["openai", "legacy"])
async def test_an_in_band_error_after_text_keeps_the_text_and_the_words(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], backend: str
) -> None:
    simulator.add_fault(
        "stream_error", after_chunks=3, message="the GPU fell over", allow_retry=False
    )
    seen: list[str] = []
    with pytest.raises(IncompleteStreamError) as info:
        await drain(make_client(simulator.base_url, backend=backend).stream("GPT-4.1", "hi"), seen)
    assert seen
    assert info.value.partial_text == "".join(seen)
    assert "the GPU fell over" in info.value.message
    assert info.value.to_dict()["error"]["metadata"]["partial_text"] == "".join(seen)
    assert len(upstream_calls(simulator, backend)) == 1


def test_the_cli_shows_the_providers_words(simulator: Simulator) -> None:
    simulator.add_fault("quirk", quirks=["error_200_text"], times=5)
    args = ["chat", "-m", "GPT-4.1", "hi", "--no-stream", "--base-url", simulator.base_url]
    proc = subprocess.run(
        [sys.executable, "-m", "poe_mcp", *args],
        env={**os.environ, "POE_API_KEY": KEY},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error (not_found): unsupported model: GPT-4.1")
    assert "Traceback" not in proc.stderr
    assert len(upstream_calls(simulator, "openai")) == 1


@pytest.mark.parametrize("stream", [True, False])
async def test_ask_poe_v2_reports_the_providers_words_and_kind(
    simulator: Simulator, make_server: Callable[..., Any], stream: bool
) -> None:
    simulator.add_fault("quirk", quirks=["error_200_json"], times=5)
    async with Client(make_server(simulator.base_url)) as mcp:
        result = await mcp.call_tool(
            "ask_poe_v2", {"bot": "GPT-4.1", "prompt": "hi", "stream": stream}
        )
    error = error_json(result)
    assert error["metadata"]["kind"] == "not_found"
    assert "does not exist" in error["message"]
    assert len(upstream_calls(simulator, "openai")) == 1


@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_raises_the_providers_words_without_retrying(
    simulator: Simulator, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    simulator.add_fault("quirk", quirks=["error_200_text"], times=5)
    agent = Agent(make_client(simulator.base_url), "GPT-4.1", stream=streamed)
    with pytest.raises(NotFoundError, match=r"unsupported model: GPT-4\.1"):
        await agent.run("hello")
    assert len(upstream_calls(simulator, "openai")) == 1  # no retry, no fallback to another request
