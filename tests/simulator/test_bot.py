"""The simulator's bot protocol (``POST /bot/<name>``) driven by fastapi_poe's own client."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import fastapi_poe as fp
import httpx
import httpx2
import pytest
import pytest_asyncio
from fastapi_poe.client import PROTOCOL_VERSION
from PIL import Image

from poe_mcp.simulator import Simulator

pytestmark = pytest.mark.asyncio(loop_scope="session")

WEATHER_TOOL = fp.ToolDefinition(
    type="function",
    function=fp.types.FunctionDefinition(
        name="get_weather",
        description="Weather of a city",
        parameters=fp.types.ParametersDefinition(
            type="object", properties={"city": {"type": "string"}}, required=["city"]
        ),
    ),
)


def _quiet(exc: Exception, msg: str) -> None:
    """fastapi_poe prints every failed try by default; the tests assert on the raised error."""


def user(text: str, **kw: Any) -> fp.ProtocolMessage:
    return fp.ProtocolMessage(role="user", content=text, **kw)


def query(messages: list[fp.ProtocolMessage], **kw: Any) -> fp.QueryRequest:
    return fp.QueryRequest(
        query=messages, user_id="", conversation_id="", message_id="",
        version=PROTOCOL_VERSION, type="query", **kw,
    )  # fmt: skip


@dataclass
class Bots:
    """fastapi_poe's client on the simulator; one try per request, so faults surface at once."""

    sim: Simulator
    key: str
    session: httpx.AsyncClient

    def iterate(
        self, bot: str, messages: list[fp.ProtocolMessage], **kw: Any
    ) -> AsyncIterator[fp.PartialResponse]:
        tools = kw.pop("tools", None)
        executables = kw.pop("tool_executables", None)
        key = kw.pop("key", self.key)
        num_tries = kw.pop("num_tries", 1)
        return fp.stream_request(
            query(messages, **kw), bot, key, tools=tools, tool_executables=executables,
            session=self.session, base_url=self.sim.bot_base_url, num_tries=num_tries,
            retry_sleep_time=0, on_error=_quiet,
        )  # fmt: skip

    async def stream(
        self, bot: str, messages: list[fp.ProtocolMessage], **kw: Any
    ) -> list[fp.PartialResponse]:
        return [m async for m in self.iterate(bot, messages, **kw)]

    async def stream_into(
        self, seen: list[fp.PartialResponse], bot: str, messages: list[fp.ProtocolMessage]
    ) -> None:
        """Like :meth:`stream`, keeping what arrived before an error in ``seen``."""
        async for m in self.iterate(bot, messages):
            seen.append(m)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def session() -> AsyncIterator[httpx.AsyncClient]:
    # One client for the module: creating one costs tens of milliseconds.
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def bots(simulator: Simulator, api_key: str, session: httpx.AsyncClient) -> Bots:
    return Bots(simulator, api_key, session)


def final_text(messages: list[fp.PartialResponse]) -> str:
    """The text a correct client shows: meta skipped, replace_response honoured."""
    chunks: list[str] = []
    for m in messages:
        if isinstance(m, fp.MetaResponse) or m.is_suggested_reply:
            continue
        if m.is_replace_response:
            chunks.clear()
        chunks.append(m.text)
    return "".join(chunks)


def error_of(exc: BaseException) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(str(exc))
    return data


async def test_text_reply_quotes_last_message_and_counts_all_roles(bots: Bots) -> None:
    history = [
        fp.ProtocolMessage(role="system", content="Be brief."),
        user("first question"),
        fp.ProtocolMessage(role="bot", content="first answer"),
        user("what is the capital of France?"),
    ]
    parts = [
        m
        async for m in fp.get_bot_response(
            history, "GPT-4.1", bots.key, base_url=bots.sim.bot_base_url, session=bots.session
        )
    ]
    assert isinstance(parts[0], fp.MetaResponse), "meta comes first, as from Poe"
    text_events = [m for m in parts if not isinstance(m, fp.MetaResponse)]
    assert len(text_events) > 2, "the reply arrives in several text events"
    assert not any(m.is_replace_response for m in parts)
    text = final_text(parts)
    assert 'You said: "what is the capital of France?"' in text
    assert "GPT-4.1 received 4 messages (system prompt: yes)." in text


async def test_reasoning_model_sends_placeholder_then_replace_response(bots: Bots) -> None:
    parts = await bots.stream("Claude-Sonnet-4", [user("think about it")])
    texts = [m for m in parts if not isinstance(m, fp.MetaResponse)]
    assert texts[0].text == "Thinking…"
    assert not texts[0].is_replace_response
    assert texts[1].is_replace_response
    naive = "".join(m.text for m in texts)
    assert naive.startswith("Thinking…"), "a client ignoring replace_response shows the placeholder"
    text = final_text(parts)
    assert text.startswith('You said: "think about it"')
    assert "Thinking" not in text


async def test_bot_parameters_arrive(bots: Bots) -> None:
    msg = user("solve it", parameters={"thinking_budget": 2048, "web_search": True})
    text = final_text(await bots.stream("Claude-Opus-4.1", [msg]))
    assert "Parameters: thinking_budget=2048, web_search=True" in text


async def test_undeclared_parameter_is_a_user_caused_error(bots: Bots) -> None:
    msg = user("solve it", parameters={"thinking": 2048})
    with pytest.raises(fp.BotErrorNoRetry) as caught:
        await bots.stream("GPT-4.1", [msg])
    err = error_of(caught.value)
    assert err["error_type"] == "user_caused_error"
    assert err["allow_retry"] is False
    assert "thinking" in err["text"]


async def test_temperature_and_stop_sequences(bots: Bots) -> None:
    bots.sim.clear_requests()
    parts = await bots.stream(
        "GPT-4.1", [user("hello")], temperature=0.3, stop_sequences=["received"]
    )
    text = final_text(parts)
    assert text.startswith('You said: "hello"')
    assert "received" not in text
    assert text.endswith("GPT-4.1 "), "the reply stops right before the stop sequence"
    (entry,) = [r for r in bots.sim.requests() if r["path"] == "/bot/GPT-4.1"]
    assert entry["body"]["temperature"] == 0.3
    assert entry["body"]["stop_sequences"] == ["received"]

    with pytest.raises(fp.BotErrorNoRetry) as caught:
        await bots.stream("GPT-4.1", [user("hello")], temperature=2.5)
    assert error_of(caught.value)["error_type"] == "user_caused_error"


async def test_media_bot_sends_a_file_event(bots: Bots) -> None:
    msg = user("a red fox", parameters={"aspect": "16:9"})
    parts = await bots.stream("GPT-Image-1", [msg])
    files = [m.attachment for m in parts if m.attachment is not None]
    assert len(files) == 1
    att = files[0]
    assert att.content_type == "image/png"
    assert att.name.endswith(".png")
    assert att.url.startswith(bots.sim.url + "/media/")
    text = final_text(parts)
    assert text == f"![PNG image 114x64]({att.url})", "the placeholder was replaced by the link"
    got = await bots.session.get(att.url)
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(got.content)).size == (114, 64)


async def test_tool_calls_arrive_as_json_chunks(bots: Bots) -> None:
    parts = await bots.stream(
        "GPT-4.1", [user("call get_weather city=Paris")], tools=[WEATHER_TOOL]
    )
    deltas = [d for m in parts for d in m.tool_calls]
    assert len(deltas) > 2, "id and name first, then the arguments in fragments"
    first = deltas[0]
    assert first.id
    assert first.id.startswith("call_")
    assert first.type == "function"
    assert first.function.name == "get_weather"
    assert all(d.id is None for d in deltas[1:])
    arguments = "".join(d.function.arguments for d in deltas)
    assert json.loads(arguments) == {"city": "Paris"}


async def test_tool_round_trip_with_executables(bots: Bots) -> None:
    calls: list[str] = []

    def get_weather(city: str) -> str:
        calls.append(city)
        return f"sunny in {city}"

    parts = await bots.stream(
        "GPT-4.1", [user("get_weather city=Oslo please")],
        tools=[WEATHER_TOOL], tool_executables=[get_weather],
    )  # fmt: skip
    assert calls == ["Oslo"]
    text = final_text(parts)
    assert 'Tool results: get_weather -> ""sunny in Oslo""' in text
    assert "received 3 messages" in text, "user message, tool call and tool result"


async def test_text_reply_with_tools_comes_as_json_content(bots: Bots) -> None:
    parts = await bots.stream("GPT-4.1", [user("just chat")], tools=[WEATHER_TOOL])
    assert not any(m.tool_calls for m in parts)
    assert final_text(parts).startswith('You said: "just chat"')


async def test_tools_to_a_model_without_tool_support(bots: Bots) -> None:
    with pytest.raises(fp.BotErrorNoRetry) as caught:
        await bots.stream("Llama-3.1-405B", [user("get_weather")], tools=[WEATHER_TOOL])
    err = error_of(caught.value)
    assert err["error_type"] == "user_caused_error"
    assert "tools" in err["text"]


async def test_broke_key_gets_insufficient_fund(bots: Bots) -> None:
    with pytest.raises(fp.BotErrorNoRetry) as caught:
        await bots.stream("GPT-4.1", [user("hi")], key="broke-key-1")
    err = error_of(caught.value)
    assert err["error_type"] == "insufficient_fund"
    assert err["allow_retry"] is False


async def test_too_long_message(bots: Bots) -> None:
    long_text = "x" * (8_000 * 4 + 40)  # Veo-3 takes 8,000 tokens of about 4 characters
    with pytest.raises(fp.BotErrorNoRetry) as caught:
        await bots.stream("Veo-3", [user(long_text)])
    assert error_of(caught.value)["error_type"] == "user_message_too_long"


async def test_foreign_attachment_is_a_privacy_error(bots: Bots) -> None:
    att = fp.Attachment(url="https://example.com/secret.png", content_type="image/png", name="s")
    with pytest.raises(fp.BotErrorNoRetry) as caught:
        await bots.stream("GPT-4.1", [user("look", attachments=[att])])
    err = error_of(caught.value)
    assert err["error_type"] == "privacy_authorization_error"
    assert "example.com" in err["text"]


@pytest.mark.parametrize("error_type", ["user_caused_error", "privacy_authorization_error"])
async def test_stream_error_fault_mid_stream(bots: Bots, error_type: str) -> None:
    bots.sim.add_fault("stream_error", after_chunks=3, allow_retry=False, error_type=error_type,
                       message="boom", model="GPT-4.1")  # fmt: skip
    seen: list[fp.PartialResponse] = []
    with pytest.raises(fp.BotErrorNoRetry) as caught:
        await bots.stream_into(seen, "GPT-4.1", [user("hello")])
    assert error_of(caught.value) == {
        "allow_retry": False,
        "text": "boom",
        "error_type": error_type,
    }
    assert len(seen) == 3, "meta and two text events came before the error"


async def test_retryable_stream_error_raises_bot_error(bots: Bots) -> None:
    bots.sim.add_fault("stream_error", after_chunks=1, allow_retry=True, model="GPT-4.1")
    with pytest.raises(fp.BotError) as caught:
        await bots.stream("GPT-4.1", [user("hello")])
    assert not isinstance(caught.value, fp.BotErrorNoRetry)
    assert error_of(caught.value)["allow_retry"] is True


async def test_client_retry_recovers_from_one_retryable_error(bots: Bots) -> None:
    bots.sim.add_fault("stream_error", after_chunks=0, allow_retry=True, model="GPT-4.1")
    parts = await bots.stream("GPT-4.1", [user("again")], num_tries=2)
    assert final_text(parts).startswith('You said: "again"')


async def test_status_fault(bots: Bots, http: httpx2.Client) -> None:
    bots.sim.add_fault("status", status=429, retry_after=2, model="GPT-4.1")
    got = http.post(
        "/bot/GPT-4.1", json=query([user("hi")]).model_dump(),
        headers={"Authorization": f"Bearer {bots.key}"},
    )  # fmt: skip
    assert got.status_code == 429
    assert got.headers["retry-after"] == "2"
    assert got.json()["error"]["type"] == "rate_limit_error"

    bots.sim.add_fault("status", status=503, model="GPT-4.1")
    with pytest.raises(fp.BotError) as caught:
        await bots.stream("GPT-4.1", [user("hi")])
    assert caught.value.__cause__ is not None, "an HTTP failure, not an error event"


async def test_cut_fault_breaks_the_stream(bots: Bots) -> None:
    bots.sim.add_fault("cut", after_chunks=3, model="GPT-4.1")
    seen: list[fp.PartialResponse] = []
    with pytest.raises(fp.BotError) as caught:
        await bots.stream_into(seen, "GPT-4.1", [user("hello there")])
    assert len(seen) == 3, "meta and two text events, then the connection closed"
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)


async def test_drop_fault(bots: Bots) -> None:
    bots.sim.add_fault("drop", model="GPT-4.1")
    with pytest.raises(fp.BotError) as caught:
        await bots.stream("GPT-4.1", [user("hi")])
    assert isinstance(caught.value.__cause__, httpx.TransportError)


async def test_malformed_fault(bots: Bots) -> None:
    bots.sim.add_fault("malformed", model="GPT-4.1")
    with pytest.raises(fp.BotErrorNoRetry, match="Invalid JSON"):
        await bots.stream("GPT-4.1", [user("hi")])


async def test_delay_fault(bots: Bots) -> None:
    bots.sim.add_fault("delay", delay_s=0.3, model="GPT-4.1")
    start = time.monotonic()
    parts = await bots.stream("GPT-4.1", [user("slow")])
    assert time.monotonic() - start >= 0.3
    assert final_text(parts).startswith('You said: "slow"')


@pytest.mark.parametrize("authorization", ["Bearer invalid-key", "", "raw-key-without-bearer"])
async def test_bad_keys_get_401(
    simulator: Simulator, http: httpx2.Client, authorization: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    got = http.post("/bot/GPT-4.1", json=query([user("hi")]).model_dump(), headers=headers)
    assert got.status_code == 401
    assert got.json()["error"]["type"] == "authentication_error"


async def test_invalid_key_through_the_client(bots: Bots) -> None:
    with pytest.raises(fp.BotError):
        await bots.stream("GPT-4.1", [user("hi")], key="invalid-key")


async def test_unknown_bot_is_404_with_close_matches(bots: Bots, http: httpx2.Client) -> None:
    got = http.post(
        "/bot/Claude-Sonet-4", json=query([user("hi")]).model_dump(),
        headers={"Authorization": f"Bearer {bots.key}"},
    )  # fmt: skip
    assert got.status_code == 404
    error = got.json()["error"]
    assert error["type"] == "not_found_error"
    assert "Claude-Sonnet-4" in error["message"]
    assert got.headers["x-request-id"]


async def test_bot_names_match_any_case(bots: Bots) -> None:
    text = final_text(await bots.stream("gpt-4.1", [user("hi")]))
    assert "GPT-4.1 received 1 messages" in text


async def test_rate_limit(bots: Bots) -> None:
    async with Simulator(rpm=1) as sim:
        limited = Bots(sim, bots.key, bots.session)
        await limited.stream("GPT-4.1", [user("one")])
        got = await bots.session.post(
            sim.bot_base_url + "GPT-4.1", json=query([user("two")]).model_dump(),
            headers={"Authorization": f"Bearer {bots.key}"},
        )  # fmt: skip
    assert got.status_code == 429
    assert int(got.headers["retry-after"]) >= 1
    assert got.json()["error"]["type"] == "rate_limit_error"


async def test_calls_are_charged_and_logged_without_the_key(bots: Bots) -> None:
    sim = bots.sim
    before = sim.balance(bots.key)
    sim.clear_requests()
    await bots.stream("GPT-4.1", [user("charge me")])
    assert sim.balance(bots.key) < before
    entries = [r for r in sim.requests() if r["path"] == "/bot/GPT-4.1"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["status"] == 200
    assert entry["model"] == "GPT-4.1"
    assert entry["body"]["query"][0]["content"] == "charge me"
    assert "authorization" in entry["headers"]
    assert bots.key not in json.dumps(sim.requests())


async def test_settings_request(bots: Bots, http: httpx2.Client) -> None:
    got = http.post(
        "/bot/GPT-4.1", json={"version": PROTOCOL_VERSION, "type": "settings"},
        headers={"Authorization": f"Bearer {bots.key}"},
    )  # fmt: skip
    assert got.status_code == 200
    assert got.json()["allow_attachments"] is True
