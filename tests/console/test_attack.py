"""The console under attack and misuse, in process (httpx against the app, uvicorn where a real
connection must drop), against the shared simulator.

Each test is one fault found by attacking the console: a token guessed through the
``Authorization`` header, a logout without its CSRF token, two answers at once in one
conversation, answers nobody reads, settings that switch budgets off or break the file,
keys no HTTP header can carry, credentials of a base URL shown on the page, forms over the
limits answered in plain text, uploads larger than the server in front takes, a Resume that
failed silently, and a dashboard made unreadable by one long model name.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import re
import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from poe_mcp import _constants as C
from poe_mcp.config import Settings
from poe_mcp.console import ConsoleContext, build_console_app, close_console, standalone_app
from poe_mcp.simulator import Simulator

from .conftest import ORIGIN, TOKEN, csrf_of, login, sse_events, turn

pytestmark = pytest.mark.timeout(30)


# --- login and sessions -----------------------------------------------------------------------


async def test_wrong_bearer_tokens_count_as_wrong_logins(console: Any) -> None:
    """Guessing the token in an Authorization header once skipped the login throttle."""
    client, _ = console
    for i in range(C.CONSOLE_LOGIN_FAILURES_MAX - 1):
        r = await client.get("/console/settings", headers={"Authorization": f"Bearer guess-{i}"})
        assert r.status_code == 401
        assert r.json()["error"]["kind"] == "auth"
    r = await client.get("/console/settings", headers={"Authorization": "Bearer last-guess"})
    assert r.status_code == 429  # the guess that reaches the limit is told to wait
    r = await client.get("/console/settings", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 429  # paused, even for the right token: no oracle while guessing
    assert "wait a minute" in r.json()["error"]["message"]
    r = await client.post("/console/login", data={"token": TOKEN}, headers={"Origin": ORIGIN})
    assert r.status_code == 429


async def test_logout_needs_the_csrf_token(console: Any) -> None:
    client, _ = console
    csrf = await login(client)
    r = await client.post("/console/logout", headers={"Origin": ORIGIN})
    assert r.status_code == 403
    assert (await client.get("/console/settings")).status_code == 200  # still logged in
    r = await client.post("/console/logout", data={"csrf": csrf}, headers={"Origin": ORIGIN})
    assert r.status_code == 303
    assert (await client.get("/console/settings")).status_code == 303


# --- turns ------------------------------------------------------------------------------------


async def test_a_second_turn_in_one_conversation_waits_for_the_first(
    console: Any, simulator: Simulator
) -> None:
    """Two answers at once in one conversation each answered without the other's question."""
    client, _ = console
    csrf = await login(client)
    sid = (await turn(client, csrf, message="first"))[-1][1]["session_id"]
    simulator.add_fault("delay", chunk_delay_s=0.1, model="Claude-Sonnet-4")
    headers = {"X-CSRF-Token": csrf}
    try:
        data = {"model": "Claude-Sonnet-4", "message": "second", "session_id": sid}
        first = await client.post("/console/discussion/turns", data=data, headers=headers)
        assert first.status_code == 200
        data = {"model": "GPT-4o-mini", "message": "third", "session_id": sid}
        r = await client.post("/console/discussion/turns", data=data, headers=headers)
        assert r.status_code == 409
        assert "still coming in this conversation" in r.json()["error"]["message"]
        other = await turn(client, csrf, message="elsewhere")  # other conversations go on
        assert other[-1][0] == "done"
        assert sse_events((await client.get(first.json()["events"])).text)[-1][0] == "done"
    finally:
        simulator.clear_faults()
    third = await turn(client, csrf, message="third", session_id=sid)
    assert "received 5 messages" in third[-1][1]["text"]  # it saw the second exchange


async def test_a_turn_nobody_follows_is_cancelled(
    console: Any, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer started but never read (the tab closed at once) ran, and was paid, to the end."""
    client, inner = console
    monkeypatch.setattr(C, "CONSOLE_RECONNECT_GRACE_S", 0.3)
    csrf = await login(client)
    simulator.add_fault("delay", chunk_delay_s=0.3, model="Claude-Sonnet-4")
    try:
        r = await client.post(
            "/console/discussion/turns",
            data={"model": "Claude-Sonnet-4", "message": "nobody reads this " * 10},
            headers={"X-CSRF-Token": csrf},
        )
        await asyncio.sleep(1.0)
        body = (await client.get(r.json()["events"])).text
    finally:
        simulator.clear_faults()
    assert sse_events(body)[-1][0] == "cancelled"
    store = await inner.state.console.context.store()
    assert await store.sessions.list() == []  # nothing stored for it


async def test_a_page_that_stops_reading_cancels_its_answer(
    poe_home: Path, simulator: Simulator, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real connection dropped mid-answer (tab closed): the upstream call stops."""
    import uvicorn

    monkeypatch.setenv("POE_API_KEY", api_key)
    monkeypatch.setenv("POE_BASE_URL", simulator.base_url)
    monkeypatch.setattr(C, "CONSOLE_RECONNECT_GRACE_S", 0.3)
    inner = build_console_app(ConsoleContext(Settings.load()), TOKEN)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    origin = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(standalone_app(inner, host="127.0.0.1"), log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    simulator.add_fault("delay", chunk_delay_s=0.3, model="Claude-Sonnet-4")
    try:
        async with httpx.AsyncClient(base_url=origin, timeout=10) as client:
            while not server.started:
                await asyncio.sleep(0.02)
            r = await client.post(
                "/console/login", data={"token": TOKEN}, headers={"Origin": origin}
            )
            csrf = csrf_of((await client.get("/console/discussion")).text)
            r = await client.post(
                "/console/discussion/turns",
                data={"model": "Claude-Sonnet-4", "message": "a long story please " * 10},
                headers={"X-CSRF-Token": csrf},
            )
            url = r.json()["events"]
            async with client.stream("GET", url) as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("event: delta"):
                        break  # the tab closes
            await asyncio.sleep(1.0)  # the grace period passes with nobody reading
            events = sse_events((await client.get(url)).text)  # replayed: the turn is over
            assert events[-1][0] == "cancelled"
            assert len([e for e in events if e[0] == "delta"]) < 10
    finally:
        simulator.clear_faults()
        server.should_exit = True
        await serving
        await close_console(inner)


async def test_turn_fields_are_checked_before_anything_starts(console: Any) -> None:
    client, _ = console
    csrf = await login(client)
    headers = {"X-CSRF-Token": csrf}
    cases = [
        ({"temperature": "nan"}, "temperature must be a finite number"),
        ({"temperature": "inf"}, "temperature must be a finite number"),
        ({"model": "m" * 5000}, "model is too long"),
        ({"model": "GPT-4o-mini\n[evil]"}, "line break"),
        ({"model": "GPT\u202e4o"}, "invisible character (U+202E)"),
    ]
    for extra, reason in cases:
        data = {"model": "GPT-4o-mini", "message": "hi", **extra}
        r = await client.post("/console/discussion/turns", data=data, headers=headers)
        assert r.status_code == 400, extra
        assert reason in r.json()["error"]["message"]


async def test_forms_over_the_limits_are_refused_with_a_reason(console: Any) -> None:
    """Starlette answered these in plain text, which the page could not show."""
    client, _ = console
    csrf = await login(client)
    headers = {"X-CSRF-Token": csrf}
    big = "x" * (C.CONSOLE_MESSAGE_MAX_BYTES + 10)
    files = {"attachments": ("a.txt", b"hi", "text/plain")}
    r = await client.post(
        "/console/discussion/turns",
        data={"model": "GPT-4o-mini", "message": big},
        files=files,
        headers=headers,
    )
    assert r.status_code == 413
    assert r.json()["error"] == {
        "kind": "too_large",
        "message": "the message is too large (at most 4 MB of text): attach long texts as files",
    }
    many = [("attachments", (f"f{i}.txt", b"hi", "text/plain")) for i in range(50)]
    r = await client.post(
        "/console/discussion/turns",
        data={"model": "GPT-4o-mini", "message": "x"},
        files=many,
        headers=headers,
    )
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "at most 8 attachments per message"
    # A long message below the limit is taken (Starlette's own limit was 1 MB).
    data = {"model": "GPT-4.1", "message": "y" * (1536 * 1024)}
    r = await client.post("/console/discussion/turns", data=data, headers=headers)
    assert r.status_code == 200, r.text
    cancel = f"/console/discussion/turns/{r.json()['turn_id']}/cancel"
    await client.post(cancel, headers=headers)  # its answer is not what this test is about


async def test_the_page_keeps_uploads_within_the_server_body_limit(
    poe_home: Path, simulator: Simulator, api_key: str
) -> None:
    """`serve` takes 8 MiB bodies while the page promised 20 MB files: the upload died in a
    plain-text 413. The page now knows the server's limit."""
    from poe_mcp.server.http import HttpOptions, build_http_app
    from poe_mcp.server.runtime import ServerRuntime

    settings = Settings.load().with_(base_url=simulator.base_url)
    runtime = ServerRuntime(settings, api_key=api_key, transport="http")
    app = build_http_app(runtime, HttpOptions(token=TOKEN))
    origin = "http://127.0.0.1:8000"
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=origin) as c:
            await c.post("/console/login", data={"token": TOKEN}, headers={"Origin": origin})
            page = (await c.get("/console/discussion")).text
    finally:
        await runtime.aclose()
    room = C.HTTP_MAX_BODY_BYTES - C.CONSOLE_FORM_SLACK_BYTES
    assert f'data-upload-max="{room}"' in page
    assert f'data-total-max="{room}"' in page


# --- settings and keys ------------------------------------------------------------------------


async def test_settings_that_would_switch_a_limit_off_or_break_the_file_are_refused(
    console: Any, poe_home: Path
) -> None:
    client, _ = console
    csrf = await login(client)
    config = poe_home.parent / "config" / "config.toml"
    cases = [
        ({"daily_usd": "nan"}, "Daily budget (USD) must be a finite number"),
        ({"session_usd": "inf"}, "Per-conversation budget (USD) must be a finite number"),
        ({"max_wait_s": "-inf"}, "must be a finite number"),
        ({"daily_tokens": "9" * 30}, "Daily budget (tokens) is too large"),
        ({"model": "GPT-4o\nprovider = 'openai'"}, "Default model contains a line break"),
        ({"tier_1": "]]\n[tools]\nroots = ['/']"}, "Tier 1 · orchestrator contains a line break"),
        ({"tier_2": "x\x00y"}, "contains a line break or an invisible character"),
        ({"model": "m" * 300}, "Default model is too long"),
        ({"base_url": "http://h/" + "a" * 3000}, "Base URL is too long"),
    ]
    for extra, reason in cases:
        form = {"csrf": csrf, "provider": "compatible", **extra}
        r = await client.post("/console/settings", data=form, headers={"Origin": ORIGIN})
        assert r.status_code == 422, extra
        assert reason in r.text.replace("&#39;", "'")
        assert not config.exists()  # nothing written
    # Quotes, brackets and backslashes are only characters: the file stays valid TOML.
    odd = 'My "model" [v2] \\ #1'
    form = {"csrf": csrf, "provider": "poe", "model": odd}
    r = await client.post("/console/settings", data=form, headers={"Origin": ORIGIN})
    assert r.status_code == 303
    assert tomllib.loads(config.read_text())["model"] == odd


async def test_keys_must_be_what_an_http_header_can_carry(console: Any, poe_home: Path) -> None:
    client, _ = console
    csrf = await login(client)
    credentials = poe_home.parent / "config" / "credentials.toml"
    for key in ("sk-\x01ctl", "sk-caf\u00e9-key", "sk-\u2028sep", "sk-\x7fdel"):
        form = {"csrf": csrf, "key_provider": "openai", "api_key": key}
        r = await client.post("/console/settings/key", data=form, headers={"Origin": ORIGIN})
        assert r.status_code == 422, repr(key)
        assert "printable ASCII" in r.text or "no spaces or line breaks" in r.text
        assert not credentials.exists()
    key = 'sk-"quoted"]\\back\'#hash'
    form = {"csrf": csrf, "key_provider": "openai", "api_key": key}
    r = await client.post("/console/settings/key", data=form, headers={"Origin": ORIGIN})
    assert r.status_code == 303
    assert tomllib.loads(credentials.read_text())["openai"]["api_key"] == key
    assert credentials.stat().st_mode & 0o777 == 0o600
    page = (await client.get("/console/settings")).text
    assert "quoted" not in page


async def test_credentials_in_a_base_url_are_never_shown_and_survive_a_save(
    console: Any, poe_home: Path, simulator: Simulator
) -> None:
    client, _ = console
    csrf = await login(client)
    config = poe_home.parent / "config" / "config.toml"
    url = simulator.base_url.replace("http://", "http://user:pw-s3cret-99@") + "?api_key=q-s3cret"
    form = {"csrf": csrf, "provider": "compatible", "base_url": url}
    r = await client.post("/console/settings", data=form, headers={"Origin": ORIGIN})
    assert r.status_code == 303
    page = (await client.get("/console/settings")).text
    assert "s3cret" not in page
    shown = re.search(r'id="f-base_url" name="base_url" value="([^"]*)"', page)
    assert shown is not None
    assert "***@" in shown.group(1)
    # Saving the form as the page shows it keeps the real URL.
    as_shown = shown.group(1).replace("&amp;", "&")
    form = {"csrf": csrf, "provider": "compatible", "base_url": as_shown}
    r = await client.post("/console/settings", data=form, headers={"Origin": ORIGIN})
    assert r.status_code == 303
    assert tomllib.loads(config.read_text())["base_url"] == url


# --- runs, dashboard, compare, discussion head ------------------------------------------------


async def test_resume_says_why_it_cannot_and_shows_only_when_it_can(
    console: Any, simulator: Simulator
) -> None:
    """Resume of a finished or blocked run failed in a background task: nothing on the page."""
    client, inner = console
    csrf = await login(client)
    form = {"csrf": csrf, "goal": "Do x. Do y [fail-always].", "concurrency": "2"}
    for tier in ("1", "2", "3", "4", "escalation"):
        form[f"tier_{tier}"] = "GPT-4o-mini"
    r = await client.post("/console/runs", data=form, headers={"Origin": ORIGIN})
    assert r.status_code == 303, r.text
    run_url = r.headers["location"]
    run_id = run_url.rsplit("/", 1)[-1]
    store = await inner.state.console.context.store()
    for _ in range(200):
        doc = await store.runs.get(run_id)
        if doc and doc["status"] not in ("planning", "running"):
            break
        await asyncio.sleep(0.05)
    assert doc is not None
    assert doc["status"] == "blocked"
    for _ in range(100):  # the run's task ends just after its last save
        live = inner.state.console.runs.get(run_id)
        if not live.running:
            break
        await asyncio.sleep(0.02)
    page = (await client.get(run_url)).text
    assert f"{run_id}/resume" not in page  # blocked tickets stay blocked: nothing to resume
    r = await client.post(f"{run_url}/resume", data={"csrf": csrf}, headers={"Origin": ORIGIN})
    assert r.status_code == 409
    assert 'id="run-error"' in r.text
    assert "nothing left to resume" in r.text
    # A run left "running" by a process that died is offered for resuming once it is stale.
    stale = {**doc, "id": "run-deadbeef0001", "status": "running"}
    stale["updated_at"] = time.time() - C.ORCH_RUN_LIVE_S - 5
    for state in stale["tickets"].values():
        state["status"] = "todo"
    await store.runs.save(stale)
    page = (await client.get("/console/runs/run-deadbeef0001")).text
    assert "run-deadbeef0001/resume" in page


async def test_one_long_model_name_does_not_break_the_dashboard(console: Any) -> None:
    from poe_mcp.store.base import UsageRecord

    client, inner = console
    await login(client)
    store = await inner.state.console.context.store()
    name = "m" * 10_000
    record = UsageRecord(
        ts=time.time(), provider="poe", backend="openai", model=name, outcome="ok", cost=0.01
    )
    await store.usage.record(record)
    page = (await client.get("/console/dashboard?view=real&by=model")).text
    label = re.search(r'<strong title="m+">([^<]*)</strong>', page)
    assert label is not None
    assert len(label.group(1)) == C.CONSOLE_LABEL_MAX_CHARS
    assert label.group(1).endswith("…")
    chart = re.search(r'data-chart="([^"]*)"', page)
    assert chart is not None
    names = json.loads(chart.group(1).replace("&#34;", '"'))["names"]
    assert all(len(n) <= C.CONSOLE_LABEL_MAX_CHARS for n in names)


async def test_compare_checks_names_and_keeps_the_system_prompt(console: Any) -> None:
    client, _ = console
    csrf = await login(client)
    form = {"csrf": csrf, "prompt": "2+2?", "models": "GPT-4o-mini", "system": "Be brief"}
    r = await client.post("/console/compare", data=form, headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert 'name="system" value="Be brief"' in r.text
    form["models"] = "GPT-4o-mini, bad\u200bname"
    r = await client.post("/console/compare", data=form, headers={"Origin": ORIGIN})
    assert r.status_code == 422
    assert "invisible character (U+200B)" in r.text


async def test_a_new_conversation_gets_its_controls_without_a_reload(console: Any) -> None:
    client, _ = console
    csrf = await login(client)
    sid = (await turn(client, csrf, message="name me"))[-1][1]["session_id"]
    head = (await client.get(f"/console/discussion/head?session={sid}")).text
    assert f"/discussion/sessions/{sid}/rename" in head
    assert f"/discussion/sessions/{sid}/export.md" in head
    assert "name me" in head  # named by its first question
    unknown = (await client.get("/console/discussion/head?session=nope")).text
    assert "rename" not in unknown
    assert "New conversation" in unknown


# --- a hostile OpenAI-compatible provider -----------------------------------------------------

HOSTILE = '<img src=x data-xss="1" onerror="alert(1)">"\'><b data-xss="2">'


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Model ids, answers and error messages carrying markup (and echoing the key back)."""

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        models = [HOSTILE, "ok-model", "err-model"]
        data = [{"id": m, "object": "model", "created": 0, "owned_by": HOSTILE} for m in models]
        self._json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        echoed = self.headers.get("Authorization", "")
        message = f"bad request {HOSTILE} you sent {echoed}"
        self._json(400, {"error": {"message": message, "type": "invalid_request_error"}})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_provider() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


async def test_a_hostile_provider_cannot_put_markup_or_the_key_on_a_page(
    poe_home: Path, hostile_provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-compatible-0123456789abcdefghij"
    monkeypatch.setenv("POE_MCP_COMPATIBLE_API_KEY", key)
    config = poe_home.parent / "config"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        f'provider = "compatible"\nbase_url = "{hostile_provider}"\n', encoding="utf-8"
    )
    inner = build_console_app(ConsoleContext(Settings.load()), TOKEN)
    transport = httpx.ASGITransport(app=standalone_app(inner, host="127.0.0.1"))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            csrf = await login(client)
            table = (await client.get("/console/settings/models")).text
            assert "3 models" in table
            assert "data-xss" not in table.replace("data-xss=&#34;", "")  # only escaped
            assert "<img" not in table
            assert "&lt;img src=x" in table
            ids = (await client.get("/console/settings/models?format=ids")).json()
            assert HOSTILE in ids  # data for the datalist, set as option.value (never HTML)
            events = await turn(client, csrf, model="err-model", message="hi")
            kind, data = events[-1]
            assert kind == "failed"
            assert "bad request" in data["message"]
            assert key not in data["message"]
            page = (await client.get("/console/dashboard?by=model&view=real")).text
            assert "<img src=x" not in page
            assert key not in page
    finally:
        await close_console(inner)
