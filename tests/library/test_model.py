"""The model-bound object (``client.model(...)``) and its blocking twin, against the simulator."""

from __future__ import annotations

import inspect
import typing

from poe_mcp import AsyncPoeClient, PoeClient
from poe_mcp.simulator import Simulator
from poe_mcp.store.memory import MemoryStore


def _last_body(sim: Simulator) -> dict[str, typing.Any]:
    calls = [r for r in sim.requests() if r["path"] == "/v1/chat/completions"]
    body = calls[-1]["body"]
    assert isinstance(body, dict)
    return body


async def test_invoke_merges_defaults_with_per_call_options(
    client: AsyncPoeClient, simulator: Simulator, api_key: str
) -> None:
    model = client.model("Claude-Sonnet-4", temperature=0.7, system="Be brief")
    result = await model.invoke("Explain GCRA", max_tokens=300)
    assert result.model == "Claude-Sonnet-4"
    assert 'You said: "Explain GCRA"' in result.text
    assert "(system prompt: yes)" in result.text
    assert result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0
    body = _last_body(simulator)
    assert (body["temperature"], body["max_tokens"]) == (0.7, 300)

    await model.invoke("again", temperature=0.1)  # the call's own value wins
    assert _last_body(simulator)["temperature"] == 0.1
    assert model.defaults["temperature"] == 0.7


async def test_stream_ends_with_the_assembled_text_and_usage(client: AsyncPoeClient) -> None:
    model = client.model("GPT-4.1", max_tokens=50)
    texts: list[str] = []
    final = None
    async for delta in model.stream("Count to five"):
        if delta.result is not None:
            final = delta.result
        else:
            texts.append(delta.text)
    assert final is not None
    assert final.text == "".join(texts)
    assert len(texts) > 1
    assert final.model == "GPT-4.1"
    assert final.usage.output_tokens > 0
    assert final.cost is not None
    assert final.cost > 0


async def test_conversation_keeps_turns_and_resets(
    client: AsyncPoeClient, store: MemoryStore
) -> None:
    chat = client.model("GPT-4.1").conversation(system="You are a poet")
    first = await chat.ask("Write a haiku")
    assert "received 2 messages" in first.text
    pieces = [d async for d in chat.stream("Now in French")]
    final = pieces[-1].result
    assert final is not None
    assert "received 4 messages" in final.text
    assert chat.session_id is not None
    assert len(await chat.history()) == 5
    await chat.reset()
    assert chat.session_id is None
    assert "received 2 messages" in (await chat.ask("Fresh start")).text


def test_blocking_twin_invoke_stream_and_conversation(simulator: Simulator, api_key: str) -> None:
    with PoeClient(api_key, base_url=simulator.base_url, store=False, rpm=0) as client:
        model = client.model("GPT-4.1", temperature=0.2)
        result = model.invoke("hello")
        assert 'You said: "hello"' in result.text
        assert _last_body(simulator)["temperature"] == 0.2
        deltas = list(model.stream("stream it"))
        final = deltas[-1].result
        assert final is not None
        assert final.text == "".join(d.text for d in deltas[:-1])
        chat = model.conversation()
        chat.ask("one")
        assert "received 3 messages" in chat.ask("two").text
        streamed = list(chat.stream("three"))[-1].result
        assert streamed is not None
        assert "received 5 messages" in streamed.text
        chat.reset()
        assert chat.session_id is None


def _keywords(fn: typing.Callable[..., object]) -> set[str]:
    return {
        name
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _unpacked(fn: typing.Callable[..., object]) -> object:
    """The annotation of the ``**options`` / ``**defaults`` parameter, as written."""
    (variadic,) = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.VAR_KEYWORD
    ]
    return variadic.annotation


def test_chat_options_match_the_clients_keywords_and_every_twin_uses_them() -> None:
    # The clients take exactly ChatOptions: no keyword of their own beside it.
    assert _keywords(AsyncPoeClient.chat) == _keywords(AsyncPoeClient.stream) == set()
    import poe_mcp

    unpack = "Unpack[ChatOptions]"  # the modules use postponed annotations
    twins = [
        AsyncPoeClient.chat,
        AsyncPoeClient.stream,
        PoeClient.chat,
        PoeClient.stream,
        PoeClient.model,
        AsyncPoeClient.model,
        poe_mcp.AsyncModel.invoke,
        poe_mcp.Model.invoke,
        poe_mcp.AsyncModel.stream,
        poe_mcp.Model.stream,
        poe_mcp.AsyncModelConversation.ask,
        poe_mcp.ModelConversation.ask,
        poe_mcp.Conversation.ask,
        poe_mcp.Conversation.stream,
    ]
    for fn in twins:
        assert _unpacked(fn) == unpack, fn.__qualname__
    for name in ("invoke", "stream", "conversation"):
        sync_params = list(inspect.signature(getattr(poe_mcp.Model, name)).parameters)
        async_params = list(inspect.signature(getattr(poe_mcp.AsyncModel, name)).parameters)
        assert sync_params == async_params, name
