"""POST /v1/chat/completions without streaming: replies that prove what arrived."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from poe_mcp.simulator import Simulator


def test_reply_quotes_last_user_message_and_counts_messages(client: OpenAI) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "what is 2+2?"},
    ]
    resp = client.chat.completions.create(model="claude-sonnet-4", messages=messages)
    assert resp.model == "Claude-Sonnet-4"
    text = resp.choices[0].message.content
    assert text is not None
    assert 'You said: "what is 2+2?"' in text
    assert "received 4 messages" in text
    assert "system prompt: yes" in text
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.usage.completion_tokens == -(-len(text) // 4)  # ceil(chars / 4)


def test_same_request_same_answer_and_no_system_prompt(client: OpenAI) -> None:
    kwargs = {"model": "GPT-4.1", "messages": [{"role": "user", "content": "hello"}]}
    a = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    b = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.usage == b.usage
    assert "system prompt: no" in (a.choices[0].message.content or "")
    assert a.id != b.id


def test_developer_role_counts_as_system(client: OpenAI) -> None:
    resp = client.chat.completions.create(
        model="GPT-4.1",
        messages=[{"role": "developer", "content": "rules"}, {"role": "user", "content": "hi"}],
    )
    assert "system prompt: yes" in (resp.choices[0].message.content or "")


def test_max_tokens_truncates_with_length(client: OpenAI) -> None:
    resp = client.chat.completions.create(
        model="GPT-4.1",
        messages=[{"role": "user", "content": "tell me a long story"}],
        max_tokens=3,
    )
    assert resp.choices[0].finish_reason == "length"
    assert resp.choices[0].message.content == 'You said: "t'  # 3 tokens = 12 chars
    assert resp.usage is not None
    assert resp.usage.completion_tokens == 3


def test_max_completion_tokens_also_truncates(client: OpenAI) -> None:
    resp = client.chat.completions.create(
        model="GPT-4.1", messages=[{"role": "user", "content": "x"}], max_completion_tokens=2
    )
    assert resp.choices[0].finish_reason == "length"
    assert len(resp.choices[0].message.content or "") == 8


def test_stop_sequence_cuts_the_reply(client: OpenAI) -> None:
    resp = client.chat.completions.create(
        model="GPT-4.1", messages=[{"role": "user", "content": "ping"}], stop=["received"]
    )
    text = resp.choices[0].message.content or ""
    assert text.startswith('You said: "ping"')
    assert "received" not in text
    assert resp.choices[0].finish_reason == "stop"


async def test_async_client_and_headers(aclient: AsyncOpenAI) -> None:
    raw = await aclient.chat.completions.with_raw_response.create(
        model="Grok-4", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-request-id"]
    assert raw.headers["x-ratelimit-limit-requests"] == "500"
    assert int(raw.headers["x-ratelimit-remaining-requests"]) == 499
    assert raw.headers["x-ratelimit-reset-requests"] == "60"
    completion = raw.parse()
    assert completion.id.endswith(raw.headers["x-request-id"])


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"n": 2}, "'n'"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "robot"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_invalid_requests_get_400(client: OpenAI, extra: dict[str, object], needle: str) -> None:
    kwargs: dict[str, object] = {"model": "GPT-4.1", "messages": [{"role": "user", "content": "x"}]}
    kwargs.update(extra)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    err = info.value
    assert err.status_code == 400
    assert isinstance(err.body, dict)
    assert err.body["type"] == "invalid_request_error"
    assert needle in err.message
    assert err.response.headers["x-request-id"]


def test_unknown_model_is_404_with_suggestions(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4.2", messages=[{"role": "user", "content": "x"}])
    assert info.value.body["type"] == "not_found_error"  # type: ignore[index]
    assert "GPT-4.1" in info.value.message


@pytest.mark.parametrize("key", ["invalid-key", "invalid"])
def test_invalid_key_is_401(simulator: Simulator, key: str) -> None:
    with (
        OpenAI(api_key=key, base_url=simulator.base_url, max_retries=0) as c,
        pytest.raises(openai.AuthenticationError) as info,
    ):
        c.chat.completions.create(model="GPT-4.1", messages=[{"role": "user", "content": "x"}])
    assert info.value.body["type"] == "authentication_error"  # type: ignore[index]
    assert info.value.response.headers["x-ratelimit-limit-requests"]


def test_missing_key_is_401(http: httpx2.Client) -> None:
    resp = http.post(
        "/v1/chat/completions",
        json={"model": "GPT-4.1", "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 401
    body = resp.json()["error"]
    assert set(body) == {"code", "type", "message", "metadata"}
    assert body["type"] == "authentication_error"


def test_broke_key_is_402(simulator: Simulator) -> None:
    with (
        OpenAI(api_key="broke-key", base_url=simulator.base_url, max_retries=0) as c,
        pytest.raises(openai.APIStatusError) as info,
    ):
        c.chat.completions.create(model="GPT-4.1", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 402
    assert info.value.body["type"] == "insufficient_credits"  # type: ignore[index]


def test_body_that_is_not_json_is_400(http: httpx2.Client, api_key: str) -> None:
    resp = http.post(
        "/v1/chat/completions",
        content=b"{nope",
        headers={"authorization": f"Bearer {api_key}", "content-type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_ignored_openai_fields_are_accepted(client: OpenAI) -> None:
    resp = client.chat.completions.create(
        model="GPT-4.1",
        messages=[{"role": "user", "content": "x"}],
        seed=1,
        user="u",
        presence_penalty=0.5,
        response_format={"type": "json_object"},
    )
    assert resp.choices[0].message.content
