"""Other members of fault kinds 1, 2, 3, 4 and 6 of issue 14, as real providers send them.

The kind tests (``test_sse_lines.py`` ... ``test_stream_ends.py``) pin the examples of the issue;
these pin further members found in public bug reports against other clients (``data:`` without
a space, MiniMax/NIM names repeated on every fragment, Gemini names in pieces, Mistral's
thinking chunks, ``<think>`` tags, Together's ``eos``, Gemini's ``STOP``, a chunked body cut
short...), each through the library against a loopback stand-in upstream, and MCP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client

from poe_mcp import Agent, AsyncPoeClient
from poe_mcp.errors import IncompleteStreamError

from .conftest import WEATHER, ask, collect, drain, error_json
from .members import ANSWER, TEXT, data_line, get_weather, sse_body
from .standin import StandIn, chunk, completion

# --- kind 1: SSE framing --------------------------------------------------------------------

FRAMINGS: dict[str, str] = {
    "no_space_after_colon": sse_body(
        data_line(chunk(TEXT[:7]), ""), data_line(chunk(TEXT[7:], finish="stop"), ""), "data:[DONE]"
    ),
    "raw_u2029_u0085_crlf": sse_body(
        data_line(chunk(TEXT[:12])),
        data_line(chunk(TEXT[12:], finish="stop")),
        data_line("[DONE]"),
        end="\r\n",
    ),
    "done_without_final_newline": sse_body(data_line(chunk(TEXT)))
    + data_line(chunk(finish="stop"))
    + "\n\ndata: [DONE]",
    "last_chunk_without_blank_line": sse_body(data_line(chunk(TEXT[:5])))
    + data_line(chunk(TEXT[5:], finish="stop"))
    + "\n",
    "event_message_and_ids": "event: message\nid: 7\n"
    + sse_body(data_line(chunk(TEXT)))
    + "event: message\n"
    + sse_body(data_line(chunk(finish="stop")), "event: done\ndata: [DONE]"),
    "anthropic_ping_events": sse_body(
        'event: ping\ndata: {"type": "ping"}',
        data_line(chunk(TEXT)),
        ": OPENROUTER PROCESSING",
        data_line(chunk(finish="stop")),
        data_line("[DONE]"),
    ),
    "two_spaces_and_tabs": sse_body(
        data_line(chunk(TEXT), "  "), data_line(chunk(finish="stop"), " \t"), data_line("[DONE]")
    ),
    "json_lines_in_one_event": data_line(chunk(TEXT[:4]))
    + "\n"
    + data_line(chunk(TEXT[4:]))
    + "\n\n"
    + sse_body(data_line(chunk(finish="stop")), data_line("[DONE]")),
    "choices_null_chunks": sse_body(
        data_line({"id": "x", "choices": None, "model": "m"}),
        data_line(chunk(TEXT)),
        data_line(
            {"id": "x", "choices": None, "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
        ),
        data_line(chunk(finish="stop")),
        data_line("[DONE]"),
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
    text = "Zürich ☃ 😀"
    body = sse_body(
        data_line(chunk(text)), data_line(chunk(finish="stop")), data_line("[DONE]"), end="\r\n"
    )
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
        [[_tc(0, "c1", "get_weather", {"city": "Paris"})],
         [_tc(1, "c2", "get_weather", {"city": "Rome"})]],
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


# --- kind 3: tool-call ids that do not tell calls apart -----------------------------------------

CITIES = ["Paris", "Rome", "Oslo"]

# name -> the ids a provider gives three calls in one answer
IDS: dict[str, list[Any]] = {
    "three_share_one": ["call_0", "call_0", "call_0"],
    "none_at_all": [None, None, None],
    "empty_strings": ["", "", ""],
    "two_of_three_share": ["a", "b", "a"],
    "numbers": [0, 0, 1],  # some servers number their calls
}


def _three_calls(ids: list[Any]) -> dict[str, Any]:
    calls = []
    for call_id, city in zip(ids, CITIES, strict=True):
        call: dict[str, Any] = {"type": "function", "function": {
            "name": "get_weather", "arguments": json.dumps({"city": city})}}  # fmt: skip
        if call_id is not None:
            call["id"] = call_id
        calls.append(call)
    return completion({"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls")


@pytest.mark.parametrize("name", sorted(IDS))
@pytest.mark.parametrize("streamed", [True, False])
async def test_an_agent_answers_each_call_with_its_own_result(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], name: str, streamed: bool
) -> None:
    standin.answer(json.dumps(_three_calls(IDS[name])), content_type="application/json")
    standin.answer(json.dumps(completion({"role": "assistant", "content": "Done."})),
                   content_type="application/json")  # fmt: skip
    client = make_client(standin.base_url, provider="compatible", catalog=None)
    result = await Agent(client, "m", tools=[get_weather], stream=streamed).run("weather x3")
    assert result.text == "Done."
    assert sorted(str(t.result) for t in result.trace) == sorted(f"mild in {c}" for c in CITIES)
    second = standin.calls()[1]["body"]["messages"]
    (assistant,) = [m for m in second if m.get("tool_calls")]
    tools = [m for m in second if m["role"] == "tool"]
    # each result follows its own call; the ids go back as the provider wrote them
    sent_ids = [c["id"] for c in assistant["tool_calls"]]
    by_id_and_order = list(zip(sent_ids, assistant["tool_calls"], tools, strict=True))
    for call_id, call, answer in by_id_and_order:
        assert answer["tool_call_id"] == call_id
        assert json.loads(call["function"]["arguments"])["city"] in answer["content"]
    provided = [str(i) for i in IDS[name] if i]
    if provided and len(provided) == 3:
        assert sent_ids == provided
    assert len(standin.calls()) == 2


async def test_ask_poe_with_tools_tells_three_calls_sharing_an_id_apart(
    standin: StandIn, make_server: Callable[..., Any]
) -> None:
    standin.answer(json.dumps(_three_calls(IDS["three_share_one"])),
                   content_type="application/json")  # fmt: skip
    standin.answer(json.dumps(completion({"role": "assistant", "content": "Done."})),
                   content_type="application/json")  # fmt: skip
    async with Client(make_server(standin.base_url, provider="compatible")) as mcp:
        first = await mcp.call_tool(
            "ask_poe_with_tools", {"bot": "m", "prompt": "weather x3", "tools": [WEATHER]}
        )
        pending = first.structured_content["pending_tool_calls"]
        ids = [p["id"] for p in pending]
        assert len(set(ids)) == 3
        results = {p["id"]: f"mild in {p['arguments']['city']}" for p in pending}
        done = await mcp.call_tool(
            "ask_poe_with_tools",
            {"bot": "m", "session_id": first.structured_content["session_id"],
             "tool_results": results},
        )  # fmt: skip
    assert not done.is_error, done.content[0].text
    tools = [m for m in standin.calls()[1]["body"]["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tools] == [
        ("call_0", "mild in Paris"), ("call_0", "mild in Rome"), ("call_0", "mild in Oslo")
    ]  # fmt: skip


# --- kind 4: shapes of content ---------------------------------------------------------------

THOUGHT = "First, 2 + 2."

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
    result = await ask(make_client(standin.base_url), "m", "hi", streamed=streamed)
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


# --- kind 6: a stream whose connection breaks -----------------------------------------------------


def _broken(*payloads: Any) -> list[Any]:
    """An event stream whose chunked body stops in the middle (the server dies)."""
    pieces: list[Any] = [f"{data_line(p)}\n\n".encode() for p in payloads]
    return [*pieces, RuntimeError("upstream died")]


async def test_a_connection_that_breaks_mid_stream_keeps_the_partial_text(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    standin.answer(_broken(chunk("Half an "), chunk("answer")), times=5)
    seen: list[str] = []
    with pytest.raises(IncompleteStreamError) as info:
        await drain(make_client(standin.base_url, max_retries=2).stream("m", "hi"), seen)
    # A tail the key scrubber held back is shown before the error: screen and error agree.
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
        result = await mcp.call_tool("ask_poe_v2", {"bot": "m", "prompt": "hi", "stream": True})
    error = error_json(result)
    assert error["metadata"]["kind"] == "incomplete_stream"
    assert error["metadata"]["partial_text"] == "Half an answer"
    assert len(standin.calls()) == 1


async def test_a_stream_that_stalls_after_its_finish_reason_is_a_whole_answer(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient]
) -> None:
    events = [f"{data_line(c)}\n\n".encode() for c in (chunk("Whole."), chunk(finish="stop"))]
    standin.answer([*events, 3.0])  # then nothing: no [DONE], no end of the body
    _, result = await collect(make_client(standin.base_url).stream("m", "hi", timeout=0.3))
    assert (result.text, result.finish_reason) == ("Whole.", "stop")
    assert len(standin.calls()) == 1


@pytest.mark.parametrize("streamed", [True, False])
async def test_the_deprecated_function_call_shape_is_a_tool_call(
    standin: StandIn, make_client: Callable[..., AsyncPoeClient], streamed: bool
) -> None:
    call = {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    if streamed:
        standin.sse(
            chunk(None, function_call={"name": "get_weather", "arguments": ""}),
            chunk(None, function_call={"arguments": '{"city":'}),
            chunk(None, function_call={"arguments": '"Paris"}'}),
            chunk(finish="function_call"),
        )
    else:
        message = {"role": "assistant", "content": None, "function_call": call}
        standin.answer(json.dumps(completion(message, "function_call")),
                       content_type="application/json")  # fmt: skip
    result = await ask(make_client(standin.base_url), "m", "hi", streamed=streamed,
                       tools=[WEATHER])  # fmt: skip
    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [PARIS]
    assert result.tool_calls[0].id
    assert result.finish_reason == "tool_calls"
