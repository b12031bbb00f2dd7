"""Other members of the issue-12 kinds, found by attacking what landed (see each section).

- keys: encoded (base64 at any alignment, hex, percent, case), split across reasoning deltas or
  tool-call argument fragments, in the model name, response id, finish reason, attachments,
  upstream error fields (code, metadata), tracebacks in text logs, uvicorn's own log lines and
  progress labels;
- config: a base URL that does not parse (a password holding '/', a broken IPv6 literal) is a
  ``config`` error, never a traceback quoting it; ``doctor`` masks secret-looking values
  anywhere, URL path segments too;
- HTTP: absolute-form request targets name the host; WebSocket upgrades are Host-checked
  plain HTTP; a connection flood does not fail requests on connections already accepted; an
  event stream (``GET /mcp``) is closed after the session idle time;
- stdio: a request whose id is no string or integer gets ``-32600``; a byte-order mark is
  ignored;
- the same cut-short answer gets the same kind on both backends;
- lone surrogates (undecodable bytes from a command line) in a model name, parameters, session
  ids and log filters are ``invalid_request`` / not found, never a crash;
- impossible usage details are unknown (0), never clamped to the maximum.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from poe_mcp.cli import main as cli_main
from poe_mcp.client import AsyncPoeClient
from poe_mcp.config import Settings
from poe_mcp.errors import InvalidRequestError, PoeError
from poe_mcp.server.app import build_server
from poe_mcp.server.runtime import ServerRuntime
from tests.wire.standin import StandIn, chunk, completion, serve

from .hidden_world import HttpWorld, StdioWorld, bot_events, http_world, stdio_world

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    yield from serve(StandIn())


def new_key() -> str:
    return f"zqK{uuid.uuid4().hex}Ab9"


def client(standin: StandIn, key: str, backend: str = "openai") -> AsyncPoeClient:
    return AsyncPoeClient(
        key,
        base_url=standin.base_url,
        backend=backend,
        store=False,
        catalog=False,
        rpm=0,
        max_retries=0,
        timeout=5,
    )


def encodings(key: str) -> list[str]:
    """The key as a model asked to encode it would write it (each inside longer text)."""
    raw = key.encode()
    found = [
        encode(pad + raw + b"!").decode()
        for encode in (base64.b64encode, base64.urlsafe_b64encode)
        for pad in (b"", b"x", b"xy")
    ]
    found += [raw.hex(), raw.hex().upper(), "".join(f"%{b:02X}" for b in raw)]
    return [*found, key.upper(), key.lower()]


def never_shown(key: str, text: str) -> None:
    assert key not in text
    assert key[:12] not in text
    assert key[-12:] not in text
    for form in encodings(key):
        assert form[8:-8] not in text, form  # what depends on the key alone


def pieces(text: str, parts: int = 5) -> list[str]:
    size = -(-len(text) // parts)
    return [text[i : i + size] for i in range(0, len(text), size)]


# --- keys in every field of an answer ---------------------------------------------------------


def script_rest_answer(standin: StandIn, key: str) -> None:
    """One streamed answer holding the key everywhere a provider can put text."""
    events: list[Any] = [chunk(None, reasoning_content=p) for p in pieces(key)]
    events += [chunk(f" {form} ") for form in encodings(key)]
    call = {"index": 0, "id": f"call_{key}", "type": "function",
            "function": {"name": "save", "arguments": ""}}  # fmt: skip
    events.append(chunk(None, tool_calls=[call]))
    arguments = json.dumps({"token": key})
    for part in pieces(arguments, 9):
        events.append(chunk(None, tool_calls=[{"index": 0, "function": {"arguments": part}}]))
    events.append(chunk(None, finish=key))
    standin.sse(*({**e, "model": key, "id": f"cmpl-{key}"} for e in events))


@pytest.mark.parametrize("streamed", [True, False])
async def test_rest_answers_hold_the_key_nowhere(standin: StandIn, streamed: bool) -> None:
    key = new_key()
    script_rest_answer(standin, key)
    shown: dict[str, str] = {"text": "", "reasoning": "", "arguments": ""}
    async with client(standin, key) as poe:
        if streamed:
            async for delta in poe.stream("m", "hi"):
                if delta.result is not None:
                    result = delta.result
                shown["text"] += delta.text
                shown["reasoning"] += delta.reasoning
                shown["arguments"] += "".join(f.arguments for f in delta.tool_calls)
                shown["ids"] = shown.get("ids", "") + "".join(
                    f"{f.id}{f.name}" for f in delta.tool_calls
                )
        else:
            result = await poe.chat("m", "hi")
    never_shown(key, json.dumps(shown) + repr(result))
    assert result.reasoning == "[redacted]"
    assert json.loads(result.tool_calls[0].arguments) == {"token": "[redacted]"}
    assert result.model == "[redacted]"
    assert result.request_id is None or "[redacted]" in result.request_id  # streams: header only
    assert result.text.count("[redacted]") >= len(encodings(key))


@pytest.mark.parametrize("streamed", [True, False])
async def test_bot_protocol_answers_hold_the_key_nowhere(standin: StandIn, streamed: bool) -> None:
    key = new_key()
    texts = [f" {form} " for form in encodings(key)]
    reasoning = [
        {"choices": [{"index": 0, "delta": {"reasoning_content": p}}]} for p in pieces(key)
    ]
    attachment = {"url": f"https://files.example/f?token={key}", "content_type": "image/png",
                  "name": f"{key}.png", "inline_ref": None}  # fmt: skip
    standin.answer(bot_events(texts, json_events=reasoning, files=[attachment]))
    shown = ""
    async with client(standin, key, "legacy") as poe:
        if streamed:
            async for delta in poe.stream("m", "hi"):
                if delta.result is not None:
                    result = delta.result
                shown += delta.text + "\n" + delta.reasoning
        else:
            result = await poe.chat("m", "hi")
    never_shown(key, shown + repr(result))
    assert result.attachments[0].url == "https://files.example/f?token=[redacted]"
    assert result.reasoning == "[redacted]"


async def test_the_compatible_providers_key_is_scrubbed_too(
    standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"sk-proj-{uuid.uuid4().hex}{uuid.uuid4().hex[:8].upper()}"
    monkeypatch.setenv("POE_MCP_COMPATIBLE_API_KEY", key)
    standin.sse(*(chunk(p) for p in pieces(f"yours: {key}; {' '.join(encodings(key))}", 7)))
    async with AsyncPoeClient(
        provider="compatible", base_url=standin.base_url, store=False, catalog=False, rpm=0
    ) as poe:
        result = await poe.chat("m", "hi")
    assert standin.requests[-1]["body"]["messages"]  # it did go out, with that key
    never_shown(key, repr(result))


def test_a_split_key_stays_whole_when_another_secret_starts_like_its_end() -> None:
    from poe_mcp._redact import StreamScrubber, redact, register_secret

    key = new_key()
    register_secret(f"{key[-3:]}{uuid.uuid4().hex}")  # begins with the key's last characters
    register_secret(key)
    text = f"key {key}; again Bearer {key}, and {key}"
    for size in (1, 2, 3, 5, 7, 11, 19, len(key), len(key) + 1):
        scrubber = StreamScrubber()
        emitted = [scrubber.feed(text[i : i + size]) for i in range(0, len(text), size)]
        emitted.append(scrubber.flush())
        assert all(key[:8] not in piece for piece in emitted), (size, emitted)
        assert "".join(emitted) == redact(text)


@pytest.mark.parametrize("status", [400, 500])
async def test_an_upstream_error_echoing_the_key_shows_it_nowhere(
    standin: StandIn, status: int
) -> None:
    key = new_key()
    body = {"error": {"message": f"bad key {key}", "code": key, "param": key,
                      "metadata": {"raw": [key, {"k": key}]}}}  # fmt: skip
    standin.answer(json.dumps(body), status=status, content_type="application/json")
    async with client(standin, key) as poe:
        with pytest.raises(PoeError) as info:
            await poe.chat("m", "hi")
    error = info.value
    never_shown(key, f"{error} {error!r} {error.to_json()} {error.metadata} {error.code}")
    assert "[redacted]" in error.to_json()


def test_a_traceback_in_a_text_log_holds_no_key(tmp_path: Path) -> None:
    from poe_mcp._logging import register_secret, setup_logging

    key = new_key()
    register_secret(key)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        for fmt in ("text", "json"):
            log_file = tmp_path / f"server-{fmt}.log"
            setup_logging(logging.INFO, file=log_file, fmt=fmt)
            try:
                raise ValueError(f"the upstream said {key}")
            except ValueError:
                logging.getLogger("poe_mcp.test").exception("failed")
            logging.getLogger("poe_mcp.test").warning("where", stack_info=True)
            for handler in root.handlers:
                handler.flush()
            written = log_file.read_text()
            assert "ValueError: the upstream said [redacted]" in written.replace("\\n", "\n")
            never_shown(key, written)
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved[0], saved[1]


async def test_progress_labels_hold_no_key(standin: StandIn) -> None:
    key = new_key()
    runtime = ServerRuntime(
        Settings.load(store="memory://", base_url=standin.base_url), api_key=key
    )
    runtime.tools = ["ask_poe_v2"]
    standin.sse(chunk("fine"), chunk(None, finish="stop"))
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(str(message))

    try:
        async with Client(build_server(runtime)) as mcp:
            await mcp.call_tool(
                "ask_poe_v2",
                {"bot": f"m-{key}", "prompt": "hi", "stream": True},
                progress_callback=on_progress,
            )
    finally:
        await runtime.aclose()
    assert seen
    never_shown(key, "\n".join(seen))


# --- configuration ------------------------------------------------------------------------------

PASSWORD = "pA55w0rdXyZqq91LmN"
SECRET = "sk-Zx81kP0qLm29Vb7Nc4Xt6Yw3Rr5s"


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        code = cli_main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return int(code or 0), out.out + out.err


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{PASSWORD}/x@evil.example/v1",  # the password ends the authority
        f"http://[::1:{PASSWORD}@evil/v1",  # a broken IPv6 literal
        f"https://user:{PASSWORD}@evil.example:99999/v1",
        f"https://evil.example/v1 {PASSWORD}",
    ],
)
def test_a_base_url_that_does_not_parse_is_a_config_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("POE_API_KEY", "zq-config-key-123456")
    code, out = run_main(capsys, "chat", "--base-url", url, "-m", "m", "--no-stream", "hi")
    assert code == 1
    assert "error (config)" in out
    assert "Traceback" not in out
    assert PASSWORD not in out


def test_doctor_masks_secret_looking_values_everywhere(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / SECRET  # a key pasted into POE_MCP_HOME
    monkeypatch.setenv("POE_MCP_HOME", str(home))
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(
        f'[aliases]\nfast = "{SECRET}"\n\n[mcp_servers.x]\ncommand = "{SECRET}"\n'
    )
    _, out = run_main(capsys, "doctor")
    assert "store" in out
    assert "aliases" in out
    assert SECRET not in out
    assert SECRET[3:15] not in out


def test_urls_lose_secret_path_segments() -> None:
    from poe_mcp._redact import redact_url

    shown = redact_url(f"https://api.example/bot{SECRET[3:]}/v1?x=1")
    assert shown == "https://api.example/***/v1?x=1"
    assert redact_url("sqlite:////home/me/poe-mcp.db") == "sqlite:////home/me/poe-mcp.db"


# --- HTTP transport -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpWorld]:
    yield from http_world(tmp_path_factory.mktemp("hidden-http"))


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("http://evil.example/health", 421),
        ("http://evil.example:{port}/health", 421),
        ("http://user@127.0.0.1:{port}/health", 421),
        ("HTTP://LOCALHOST:{port}/health?x=1", 200),
        ("http://127.0.0.1:{port}/health", 200),
    ],
)
def test_an_absolute_target_names_the_host(http: HttpWorld, target: str, status: int) -> None:
    line = f"GET {target.format(port=http.port)} HTTP/1.1"
    assert (
        http.status(f"{line}\r\nHost: 127.0.0.1:{http.port}\r\nConnection: close\r\n\r\n") == status
    )


def test_a_connect_request_is_refused(http: HttpWorld) -> None:
    request = f"CONNECT 127.0.0.1:{http.port} HTTP/1.1\r\nHost: 127.0.0.1:{http.port}\r\n\r\n"
    assert http.status(request) == 421


@pytest.mark.parametrize(("host", "status"), [("evil.example", 421), ("127.0.0.1:{port}", 401)])
def test_a_websocket_upgrade_is_host_checked_http(http: HttpWorld, host: str, status: int) -> None:
    request = (
        f"GET /mcp HTTP/1.1\r\nHost: {host.format(port=http.port)}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    assert http.status(request) == status  # never 101: there is no WebSocket endpoint


def test_a_connection_flood_spares_connections_already_accepted(http: HttpWorld) -> None:
    mine = http.keep_alive()
    assert http.health_on(mine) == 200
    flood = [socket.create_connection(("127.0.0.1", http.port), timeout=5) for _ in range(12)]
    try:
        time.sleep(0.3)  # every flood connection accepted or refused by now
        assert http.health_on(mine) == 200  # uvicorn's own count answered 503 here
        assert http.refused(flood) == 12 - (http.max_connections - 1)
    finally:
        for s in flood:
            s.close()
        mine.close()


def test_an_event_stream_is_closed_after_the_session_idle_time(http: HttpWorld) -> None:
    session = http.mcp_session()
    for _ in range(2):  # a client may open another at once: the session lives on
        stream = http.open_event_stream(session)
        try:
            started, data = time.monotonic(), b""
            while not data.endswith(b"\r\n0\r\n\r\n") and (more := stream.recv(4096)):
                data += more  # headers, then nothing until the server ends the stream
            elapsed = time.monotonic() - started
        finally:
            stream.close()
        assert data.startswith(b"HTTP/1.1 200")
        assert data.endswith(b"\r\n0\r\n\r\n")  # ended properly: the SDK client reopens it
        assert http.idle_s * 0.8 <= elapsed < http.idle_s + 4


def test_uvicorn_lines_go_to_the_redacting_log_file(http: HttpWorld) -> None:
    http.status("GET /health HTTP/1.1\r\nHost: \x01\x02\r\n\r\n")  # uvicorn: invalid request
    deadline = time.monotonic() + 5
    while "uvicorn.error" not in http.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "uvicorn.error" in http.log_text()


# --- stdio ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stdio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StdioWorld]:
    yield from stdio_world(tmp_path_factory.mktemp("hidden-stdio"))


@pytest.mark.parametrize("bad_id", ['{"a":1}', "1.5", "1e400", "true", "null", "[1]"])
def test_a_request_with_an_impossible_id_is_answered(stdio: StdioWorld, bad_id: str) -> None:
    replies = stdio.exchange(f'{{"jsonrpc":"2.0","id":{bad_id},"method":"ping"}}')
    assert len(replies) == 1, replies
    assert replies[0]["id"] is None
    assert replies[0]["error"]["code"] == -32600


def test_a_byte_order_mark_is_ignored(stdio: StdioWorld) -> None:
    replies = stdio.exchange(b'\xef\xbb\xbf{"jsonrpc":"2.0","id":"bom","method":"ping"}')
    assert replies == [{"jsonrpc": "2.0", "id": "bom", "result": {}}]


def test_commands_the_stdio_server_starts_read_no_protocol(stdio: StdioWorld) -> None:
    # poe-mcp reads the protocol from a private copy of fd 0 (to see each raw line) and, as
    # the SDK did, points fd 0 itself at the null device: a child reading stdin gets EOF.
    assert stdio.exchange('{"jsonrpc":"2.0","id":"alive","method":"ping"}')
    assert os.readlink(f"/proc/{stdio.proc.pid}/fd/0") == os.devnull


def test_a_bad_notification_is_still_not_answered(stdio: StdioWorld) -> None:
    line = '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{}}}'
    assert stdio.exchange(line) == []


# --- one kind per fault on both backends ------------------------------------------------------

CUT = ConnectionResetError("cut")
FAULTS = {
    "cut before the first event": ([CUT], [CUT]),
    "an empty event stream": ([b""], [b""]),
    "no end": (
        [f"data: {json.dumps(chunk('hello '))}\n\n".encode()],
        bot_events(["hello "], done=False),
    ),
}


async def _ask(poe: Any, streamed: bool) -> None:
    """One question, streamed (read to the end) or not."""
    if streamed:
        async for _ in poe.stream("m", "hi"):
            pass
    else:
        await poe.chat("m", "hi")


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("streamed", [True, False])
async def test_a_cut_answer_has_one_kind_on_both_backends(
    standin: StandIn, fault: str, streamed: bool
) -> None:
    kinds = []
    for backend, body in zip(("openai", "legacy"), FAULTS[fault], strict=True):
        standin.answer(list(body))
        async with client(standin, new_key(), backend) as poe:
            with pytest.raises(PoeError) as info:
                await _ask(poe, streamed)
        kinds.append(info.value.kind)
    assert kinds == ["incomplete_stream" if streamed else "network"] * 2


# --- lone surrogates --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["openai", "legacy"])
@pytest.mark.parametrize(
    "options",
    [{"model": "GPT-4.1\udcff"}, {"stop": ["\udcfe"]}, {"extra": {"style": "a\ud800b"}}],
)
async def test_unsendable_text_is_an_invalid_request(
    standin: StandIn, backend: str, options: dict[str, Any]
) -> None:
    before = len(standin.calls())
    options = dict(options)  # shared by both backends' runs
    model = options.pop("model", "m")
    async with client(standin, new_key(), backend) as poe:
        with pytest.raises(InvalidRequestError) as info:
            await poe.chat(model, "hi", **options)
    assert "not valid text" in str(info.value)
    assert len(standin.calls()) == before  # nothing was sent


@pytest.mark.parametrize(
    "args",
    [("sessions", "show", "\udcff\udcfe"), ("sessions", "clear", "x\udced"),
     ("logs", "export", "\udcff"), ("logs", "--session", "\udcff"), ("logs", "--model", "\udcff")],
)  # fmt: skip
def test_undecodable_command_line_values_never_crash(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    code, out = run_main(capsys, *args)
    assert "Traceback" not in out
    assert "UnicodeEncodeError" not in out
    assert code in (0, 1)


@pytest.mark.parametrize("kind", ["sqlite", "redis", "memory"])
async def test_a_lookup_by_an_undecodable_id_finds_nothing(
    kind: str, tmp_path: Path, redis_server: Any
) -> None:
    from poe_mcp.store import open_store

    url = {"sqlite": f"sqlite:///{tmp_path}/s.db", "memory": "memory://"}.get(kind)
    store = open_store(url or redis_server.url(5))
    try:
        assert await store.sessions.get("\udcff\udcfe") is None
        assert await store.sessions.delete("x\udced") is False
    finally:
        await store.aclose()


# --- impossible usage details -----------------------------------------------------------------


@pytest.mark.parametrize(
    "details",
    [
        {"completion_tokens_details": {"reasoning_tokens": 10**30}},
        {"completion_tokens_details": {"reasoning_tokens": -4}},
        {"prompt_tokens_details": {"cached_tokens": 1e400}},
        {"prompt_tokens_details": {"cached_tokens": 2.5, "cache_write_tokens": "9"}},
    ],
)
async def test_impossible_usage_details_are_unknown(
    standin: StandIn, details: dict[str, Any]
) -> None:
    answer = completion({"role": "assistant", "content": "counted"})
    answer["usage"].update(details)
    standin.answer(json.dumps(answer).replace("Infinity", "1e400"), content_type="application/json")
    async with client(standin, new_key()) as poe:
        result = await poe.chat("m", "hi")
    assert result.text == "counted"
    usage = result.usage
    assert (usage.input_tokens, usage.output_tokens) == (3, 4)
    assert usage.reasoning_tokens == usage.cached_tokens == usage.cache_write_tokens == 0
