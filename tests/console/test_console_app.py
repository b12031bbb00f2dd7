"""The console's HTTP surface without a browser: auth, CSRF, conversations, settings, mounting.

In process (httpx's ASGI transport) against the shared simulator; the browser flows are in
test_console_browser.py.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from poe_mcp import AsyncPoeClient, Conversation
from poe_mcp.config import Settings
from poe_mcp.simulator import Simulator

from .conftest import ORIGIN, TOKEN, login, turn


async def _turn(client: Any, csrf: str, **data: str) -> list[tuple[str, Any]]:
    return await turn(client, csrf, **{"model": "Claude-Sonnet-4", **data})


async def test_pages_need_a_login_and_a_wrong_token_is_refused(console: Any) -> None:
    client, _ = console
    r = await client.get("/console/dashboard")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login"
    r = await client.post("/console/login", data={"token": "nope"}, headers={"Origin": ORIGIN})
    assert r.status_code == 401
    assert "poe_mcp_console" not in r.headers.get("set-cookie", "")
    await login(client)
    cookie = client.cookies.get("poe_mcp_console")
    assert cookie
    r = await client.get("/console/dashboard")
    assert r.status_code == 200
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


async def test_state_changes_need_the_csrf_token_and_the_same_origin(console: Any) -> None:
    client, _ = console
    csrf = await login(client)
    url = "/console/discussion/sessions/some-id/rename"
    assert (await client.post(url, data={"title": "x"})).status_code == 403
    r = await client.post(url, data={"title": "x"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = await client.post(
        url, data={"title": "x"}, headers={"X-CSRF-Token": csrf, "Origin": "http://localhost:9"}
    )
    assert r.status_code == 403
    assert "cross-site" in r.text
    r = await client.post(url, data={"title": "x", "csrf": csrf}, headers={"Origin": ORIGIN})
    assert r.status_code == 200


async def test_a_program_may_use_the_bearer_token_instead(console: Any) -> None:
    client, _ = console
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.get("/console/settings", headers=bearer)).status_code == 200
    r = await client.post(
        "/console/discussion/sessions/s1/rename", data={"title": "t"}, headers=bearer
    )
    assert r.status_code == 200
    wrong = {"Authorization": "Bearer wrong"}
    assert (await client.get("/console/settings", headers=wrong)).status_code == 401


async def test_logins_pause_after_repeated_wrong_tokens(console: Any) -> None:
    client, _ = console
    for _ in range(10):
        r = await client.post("/console/login", data={"token": "x"}, headers={"Origin": ORIGIN})
        assert r.status_code == 401
    r = await client.post("/console/login", data={"token": TOKEN}, headers={"Origin": ORIGIN})
    assert r.status_code == 429
    assert "wait a minute" in r.text


async def test_logout_ends_the_session(console: Any) -> None:
    client, _ = console
    csrf = await login(client)
    cookie = client.cookies.get("poe_mcp_console")
    r = await client.post("/console/logout", data={"csrf": csrf}, headers={"Origin": ORIGIN})
    assert r.status_code == 303
    client.cookies.set("poe_mcp_console", cookie or "", path="/console")  # a copy kept by a thief
    assert (await client.get("/console/discussion")).status_code == 303


async def test_a_conversation_is_kept_exported_renamed_reset_and_deleted(console: Any) -> None:
    client, _ = console
    csrf = await login(client)
    events = await _turn(client, csrf, message="Write a haiku about the sea", system="Be a poet")
    names = [name for name, _ in events]
    assert names[0] == "delta"
    assert names[-1] == "done"
    done = events[-1][1]
    assert done["cost_text"].startswith("$")
    sid = done["session_id"]
    second = await _turn(client, csrf, message="Now in French", session_id=sid)
    assert "received 4 messages (system prompt: yes)" in second[-1][1]["text"]

    page = (await client.get(f"/console/discussion?session={sid}")).text
    assert "Write a haiku about the sea" in page
    assert "Write a haiku about the sea" in (await client.get("/console/discussion/sessions")).text
    md = await client.get(f"/console/discussion/sessions/{sid}/export.md")
    assert md.headers["content-type"].startswith("text/markdown")
    assert "## You\n\nNow in French" in md.text
    exported = (await client.get(f"/console/discussion/sessions/{sid}/export.json")).json()
    assert [m["role"] for m in exported["messages"]] == [
        "system", "user", "assistant", "user", "assistant"
    ]  # fmt: skip

    headers = {"X-CSRF-Token": csrf}
    r = await client.post(
        f"/console/discussion/sessions/{sid}/rename", data={"title": "Sea poems"}, headers=headers
    )
    assert "Sea poems" in r.text
    r = await client.post(f"/console/discussion/sessions/{sid}/reset", headers=headers)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/discussion?title=Sea+poems"
    assert (await client.get(f"/console/discussion/sessions/{sid}/export.md")).status_code == 404

    again = await _turn(client, csrf, message="Fresh start", title="Sea poems")
    new_sid = again[-1][1]["session_id"]
    assert new_sid != sid
    assert "Sea poems" in (await client.get("/console/discussion/sessions")).text
    r = await client.post(f"/console/discussion/sessions/{new_sid}/delete", headers=headers)
    assert r.status_code == 303
    assert "Sea poems" not in (await client.get("/console/discussion/sessions")).text


async def test_an_agent_turn_is_stored_with_its_calls_and_continues_over_the_library(
    console: Any, poe_home: Path
) -> None:
    client, inner = console
    csrf = await login(client)
    notes = poe_home.parent / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("buy milk\n", encoding="utf-8")
    config = poe_home.parent / "config"
    config.mkdir(exist_ok=True)
    (config / "config.toml").write_text(f'[tools]\nroots = ["{notes}"]\n', encoding="utf-8")
    await inner.state.console.context.reload()  # what saving the settings page does
    events = await _turn(
        client, csrf, message='Use list_directory path="." to see my notes', tools="1"
    )
    (call,) = [data for name, data in events if name == "tool_call"]
    (result,) = [data for name, data in events if name == "tool_result"]
    assert (call["name"], result["id"], result["error"]) == ("list_directory", call["id"], None)
    assert "todo.txt" in result["result"]
    assert "delta" in [name for name, _ in events]
    assert events[-1][0] == "done"
    sid = events[-1][1]["session_id"]
    listed = (await client.get("/console/discussion/sessions")).text
    assert "Use list_directory path=" in listed  # named after its first question

    async with AsyncPoeClient() as library:  # the same default store, through the library
        conversation = Conversation(sid)
        history = await conversation.history(library)
        assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
        assert history[1]["tool_calls"][0]["id"] == call["id"]
        assert history[2]["tool_call_id"] == call["id"]
        assert "todo.txt" in history[2]["content"]
        answer = await conversation.ask(library, "GPT-4.1", "Thanks")
    assert "received 5 messages" in answer.text
    again = await _turn(client, csrf, message="And once more", session_id=sid, tools="1")
    assert again[-1][0] == "done"
    assert "received 7 messages" in again[-1][1]["text"]


async def test_a_reconnecting_browser_resumes_after_the_last_event_it_saw(console: Any) -> None:
    client, _ = console
    csrf = await login(client)
    r = await client.post(
        "/console/discussion/turns",
        data={"model": "Claude-Sonnet-4", "message": "a question long enough for chunks " * 3},
        headers={"X-CSRF-Token": csrf},
    )
    url = r.json()["events"]
    whole = (await client.get(url)).text.replace("\r\n", "\n")
    ids = [int(i) for i in re.findall(r"^id: (\d+)$", whole, re.M)]
    assert ids == list(range(len(ids)))
    assert len(ids) > 3
    resumed = (await client.get(url, headers={"Last-Event-ID": "2"})).text.replace("\r\n", "\n")
    assert [int(i) for i in re.findall(r"^id: (\d+)$", resumed, re.M)] == ids[3:]


async def test_bad_turns_are_refused_with_a_reason(console: Any) -> None:
    client, _ = console
    csrf = await login(client)
    headers = {"X-CSRF-Token": csrf}
    cases = [
        ({"message": "hi", "model": ""}, "choose a model"),
        ({"message": "   ", "model": "Claude-Sonnet-4"}, "write a message"),
        ({"message": "hi", "model": "Claude-Sonnet-4", "temperature": "9"}, "between 0 and 2"),
        ({"message": "hi", "model": "Claude-Sonnet-4", "max_tokens": "many"}, "must be a number"),
    ]
    for data, reason in cases:
        r = await client.post("/console/discussion/turns", data=data, headers=headers)
        assert r.status_code == 400
        assert reason in r.json()["error"]["message"]
    events = await _turn(client, csrf, message="hi", model="No-Such-Model-xyz")
    assert events[-1][0] == "failed"
    assert events[-1][1]["kind"] == "not_found"


async def test_stop_cancels_the_answer_and_stores_nothing(
    console: Any, simulator: Simulator
) -> None:
    client, inner = console
    csrf = await login(client)
    simulator.add_fault("delay", chunk_delay_s=0.3, model="Claude-Sonnet-4")
    try:
        r = await client.post(
            "/console/discussion/turns",
            data={"model": "Claude-Sonnet-4", "message": "a long question " * 10},
            headers={"X-CSRF-Token": csrf},
        )
        turn = r.json()
        events = asyncio.create_task(client.get(turn["events"]))
        await asyncio.sleep(0.5)
        r = await client.post(
            f"/console/discussion/turns/{turn['turn_id']}/cancel", headers={"X-CSRF-Token": csrf}
        )
        assert r.json() == {"cancelled": True}
        body = (await asyncio.wait_for(events, 10)).text
    finally:
        simulator.clear_faults()
    assert "event: cancelled" in body
    assert "event: done" not in body
    store = await inner.state.console.context.store()
    assert await store.sessions.list() == []


async def test_settings_are_validated_and_environment_settings_are_read_only(
    console: Any, monkeypatch: pytest.MonkeyPatch, poe_home: Path
) -> None:
    client, inner = console
    csrf = await login(client)
    config = poe_home.parent / "config" / "config.toml"
    monkeypatch.setenv("POE_MCP_MODEL", "Env-Model")
    page = (await client.get("/console/settings")).text
    assert "Set by POE_MCP_MODEL in the environment" in page
    form = {"csrf": csrf, "provider": "compatible", "base_url": "", "daily_usd": "-2"}
    r = await client.post("/console/settings", data=form, headers={"Origin": ORIGIN})
    assert r.status_code == 422
    assert "daily_usd cannot be negative" in r.text
    assert not config.exists()
    form = {"csrf": csrf, "provider": "compatible", "base_url": ""}
    r = await client.post("/console/settings", data=form, headers={"Origin": ORIGIN})
    assert r.status_code == 422
    assert "needs a base URL" in r.text
    assert not config.exists()  # put back as it was
    form = {"csrf": csrf, "provider": "poe", "model": "ignored", "daily_usd": "3", "tier_1": "X"}
    r = await client.post("/console/settings", data=form, headers={"Origin": ORIGIN})
    assert r.status_code == 303
    text = config.read_text(encoding="utf-8")
    assert "daily_usd = 3.0" in text
    assert 'provider = "poe"' in text
    assert "model" not in text.split("[", 1)[0]  # the environment decides the model
    assert inner.state.console.context.configured.section("tiers") == {"1": "X"}


async def test_stored_key_is_private_and_never_shown(console: Any, poe_home: Path) -> None:
    client, _ = console
    csrf = await login(client)
    secret = "sk-private-0123456789abcdef"
    r = await client.post(
        "/console/settings/key",
        data={"csrf": csrf, "key_provider": "openai", "api_key": secret},
        headers={"Origin": ORIGIN},
    )
    assert r.status_code == 303
    path = poe_home.parent / "config" / "credentials.toml"
    assert path.stat().st_mode & 0o777 == 0o600
    assert secret in path.read_text(encoding="utf-8")
    page = (await client.get("/console/settings")).text
    assert secret not in page
    assert str(path) in page


async def test_serve_over_http_mounts_the_console_beside_mcp(
    poe_home: Path, simulator: Simulator, api_key: str
) -> None:
    from poe_mcp.server.http import HttpOptions, build_http_app
    from poe_mcp.server.runtime import ServerRuntime

    settings = Settings.load().with_(base_url=simulator.base_url)
    runtime = ServerRuntime(settings, api_key=api_key, transport="http")
    app = build_http_app(runtime, HttpOptions(token=TOKEN))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
            assert (await c.get("/console/login")).status_code == 200
            r = await c.post(
                "/console/login", data={"token": TOKEN}, headers={"Origin": "http://127.0.0.1:8000"}
            )
            assert r.status_code == 303
            assert (await c.get("/console/settings")).status_code == 200
            r = await c.get("/console/login", headers={"Host": "evil.example"})
            assert r.status_code == 421  # the server's Host guard covers /console too
            r = await c.post("/mcp", json={})
            assert r.status_code == 401  # /mcp still wants the bearer token itself
    finally:
        await runtime.aclose()


def test_console_command_help_names_every_option() -> None:
    from poe_mcp.cli import cli

    result = CliRunner().invoke(cli, ["console", "--help"])
    assert result.exit_code == 0
    options = "--open --host --port --simulate --token --no-auth --new-token --api-key --store"
    for option in [*options.split(), "--allowed-host", "--allowed-origin"]:
        assert option in result.output
