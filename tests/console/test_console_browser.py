"""The web console as a person uses it, in headless Chromium, against the simulator.

One browser and one ``poe-mcp console`` for the module; the tests run in order, as a session
would: log in, choose OpenAI (the simulator in OpenAI mode) and store a key, chat with a
streamed answer, send screenshots, let the model call a tool, read the dashboard, refuse a
cross-site POST, and find the settings again after a restart. The API key must appear in no
page, response or cookie along the way. Screenshots of every page are saved (see conftest).
"""

from __future__ import annotations

import http.server
import io
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from poe_mcp._money import format_usd
from poe_mcp.simulator import Simulator

from .conftest import TOKEN, ConsoleProcess, csrf_of, wait_for

KEY = f"sk-console-{uuid.uuid4().hex}"  # the OpenAI key stored through the settings page
PAGES: list[str] = []  # every page source the browser showed (checked for the key at the end)

pytestmark = pytest.mark.timeout(60)


def _css(browser: Any, selector: str) -> list[Any]:
    return list(browser.find_elements(By.CSS_SELECTOR, selector))


def _seen(browser: Any) -> None:
    PAGES.append(browser.page_source)


def _login(browser: Any, process: ConsoleProcess, token: str = TOKEN) -> None:
    browser.get(process.url + "/login")
    field = browser.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (91, 75, 224)).save(out, format="PNG")
    return out.getvalue()


def _send(browser: Any, text: str) -> None:
    box = browser.find_element(By.ID, "message")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "send").click()


def _answer_after(browser: Any, before: int) -> Any:
    def done() -> Any:
        answers = _css(browser, '.msg.assistant[data-done="1"]')
        failed = _css(browser, ".msg.assistant.failed")
        if failed:
            raise AssertionError(failed[-1].text)
        return answers[-1] if len(answers) > before else None

    return wait_for(done, timeout=15)


def test_login_refuses_a_wrong_token(
    browser: Any, console_process: ConsoleProcess, shots: Any
) -> None:
    browser.get(console_process.url + "/")
    wait_for(lambda: browser.current_url.endswith("/console/login"))
    assert browser.find_element(By.ID, "simulated-banner").is_displayed()  # no key yet
    shots(browser, "01-login")
    _login(browser, console_process, "not-the-token")
    wait_for(lambda: "not this server's token" in browser.find_element(By.ID, "login-error").text)
    assert browser.get_cookie("poe_mcp_console") is None
    _login(browser, console_process)
    wait_for(lambda: "/console/discussion" in browser.current_url)
    cookie = browser.get_cookie("poe_mcp_console")
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"
    _seen(browser)


def test_choose_openai_against_the_simulator_lists_gpt_4o(
    browser: Any, console_process: ConsoleProcess, openai_sim: Simulator, shots: Any
) -> None:
    browser.get(console_process.url + "/settings")
    Select(browser.find_element(By.ID, "key_provider")).select_by_value("openai")
    browser.find_element(By.ID, "api_key").send_keys(KEY)
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    wait_for(lambda: "Key saved" in browser.find_element(By.ID, "saved").text)
    credentials = console_process.config / "credentials.toml"
    assert credentials.stat().st_mode & 0o777 == 0o600
    openai_row = browser.find_element(By.CSS_SELECTOR, '#key-status li[data-provider="openai"]')
    assert "set" in openai_row.text
    assert str(credentials) in openai_row.text

    Select(browser.find_element(By.ID, "f-provider")).select_by_value("openai")
    base_url = browser.find_element(By.ID, "f-base_url")
    base_url.clear()
    base_url.send_keys(openai_sim.base_url)
    browser.find_element(By.ID, "save-settings").click()
    wait_for(lambda: "applied" in browser.find_element(By.ID, "saved").text)
    assert not _css(browser, "#simulated-banner")  # the key is used now: no built-in simulator

    def listed() -> set[str]:
        return {
            e.get_attribute("data-model") for e in _css(browser, "#models-table tr[data-model]")
        }

    wait_for(lambda: {"gpt-4o", "gpt-4o-mini"} <= listed())
    row = wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, '#models-table tr[data-model="gpt-4o"]').text
    )
    assert "image" in row  # input modalities
    assert "2.50" in row  # $ per million input tokens
    search = browser.find_element(By.ID, "model-search")
    search.send_keys("4o-mini")
    found = wait_for(lambda: (lambda names: names if "gpt-4o" not in names else None)(listed()))
    assert "gpt-4o-mini" in found
    search.clear()
    search.send_keys("gpt")
    wait_for(lambda: "gpt-4o" in listed())
    shots(browser, "03-settings", full=True)
    _seen(browser)


def test_answer_streams_before_it_ends(
    browser: Any, console_process: ConsoleProcess, openai_sim: Simulator, shots: Any
) -> None:
    openai_sim.add_fault("delay", chunk_delay_s=0.12, model="gpt-4o")
    browser.get(console_process.url + "/discussion")
    model = browser.find_element(By.ID, "model")
    model.clear()
    model.send_keys("gpt-4o")
    question = "Explain in a few words how a streamed answer reaches this page, please."
    _send(browser, question)

    def partial() -> str | None:
        streaming = _css(browser, ".msg.assistant.streaming .text")
        text = streaming[0].text if streaming else ""
        return text or None

    seen = wait_for(partial, timeout=10)
    answer = _answer_after(browser, 0)
    final = answer.find_element(By.CSS_SELECTOR, ".text").text
    assert question in final
    assert len(seen) < len(final)
    assert final.startswith(seen.strip()[:10])
    meta = answer.find_element(By.CSS_SELECTOR, ".meta").text
    assert "gpt-4o" in meta
    assert "$" in answer.find_element(By.CSS_SELECTOR, ".meta .cost").text
    # the new conversation is in the list and in the address bar
    wait_for(lambda: "session=" in browser.current_url)
    wait_for(lambda: _css(browser, "#session-list li.active"))
    _seen(browser)


def test_pasted_and_uploaded_screenshots_are_described(
    browser: Any, console_process: ConsoleProcess, tmp_path: Path, shots: Any
) -> None:
    upload = tmp_path / "window.png"
    upload.write_bytes(_png(64, 48))
    browser.find_element(By.ID, "file-input").send_keys(str(upload))
    # A screenshot pasted from the clipboard: a paste event carrying an image file.
    browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const canvas = document.createElement('canvas');
        canvas.width = 32; canvas.height = 24;
        canvas.getContext('2d').fillRect(0, 0, 32, 24);
        canvas.toBlob((blob) => {
          const data = new DataTransfer();
          data.items.add(new File([blob], 'clip.png', {type: 'image/png'}));
          const event = new ClipboardEvent('paste', {clipboardData: data, bubbles: true});
          document.getElementById('message').dispatchEvent(event);
          done();
        }, 'image/png');
        """
    )
    wait_for(lambda: len(_css(browser, "#attachments .file-chip")) == 2)
    before = len(_css(browser, '.msg.assistant[data-done="1"]'))
    _send(browser, "What do these two screenshots show?")
    answer = _answer_after(browser, before)
    text = answer.find_element(By.CSS_SELECTOR, ".text").text
    assert "64x48 px" in text
    assert "32x24 px" in text
    sent = _css(browser, ".msg.user .files img")
    assert len(sent) >= 2
    shots(browser, "04-discussion-screenshots")
    _seen(browser)


def test_a_tool_calling_turn_shows_its_calls(
    browser: Any, console_process: ConsoleProcess, shots: Any
) -> None:
    browser.find_element(By.ID, "tools").click()
    before = len(_css(browser, '.msg.assistant[data-done="1"]'))
    _send(browser, 'Use list_directory path="." to see what is in my notes.')
    answer = _answer_after(browser, before)
    names = [e.text for e in answer.find_elements(By.CSS_SELECTOR, ".tool .tool-name")]
    assert names == ["list_directory"]
    result = answer.find_element(By.CSS_SELECTOR, ".tool pre.result").text
    assert "todo.txt" in result
    assert "done" in answer.find_element(By.CSS_SELECTOR, ".tool .status").text.lower()
    shots(browser, "02-discussion")
    # after a reload the stored history still shows the call and its result
    browser.refresh()
    stored = wait_for(lambda: _css(browser, ".msg .tool .tool-name"))
    assert stored[-1].text == "list_directory"
    assert "todo.txt" in _css(browser, ".msg .tool pre.result")[-1].text
    _seen(browser)


def test_dashboard_shows_what_the_calls_cost(
    browser: Any, console_process: ConsoleProcess, shots: Any
) -> None:
    browser.get(console_process.url + "/dashboard")
    total = wait_for(lambda: browser.find_element(By.ID, "total-cost").text)
    db = console_process.home / "poe-mcp.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        cost, calls, sim = conn.execute(
            "SELECT TOTAL(cost), COUNT(*), MAX(simulated) FROM usage WHERE entry_point = 'console'"
        ).fetchone()
    assert calls >= 4  # streamed, screenshots, and the two requests of the tool turn
    assert sim == 1  # the simulator says so; the page shows simulated calls apart
    assert total == format_usd(cost)
    assert browser.find_element(By.ID, "total-calls").text == str(calls)
    rows = {e.get_attribute("data-key") for e in _css(browser, "#groups-table tr[data-key]")}
    assert any(r.startswith("gpt-4o") for r in rows)
    assert _css(browser, "#chart-cost .uplot")  # the chart was drawn
    shots(browser, "05-dashboard", full=True)
    browser.find_element(By.ID, "theme-toggle").click()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("data-theme") == "dark"
    shots(browser, "09-dashboard-dark", full=True)
    browser.find_element(By.ID, "theme-toggle").click()
    browser.get(console_process.url + "/dashboard?range=7d&by=entry_point&view=simulated")
    rows = {e.get_attribute("data-key") for e in _css(browser, "#groups-table tr[data-key]")}
    assert "console" in rows
    _seen(browser)


def test_a_run_started_from_a_goal_shows_its_ticket_dag(
    browser: Any, console_process: ConsoleProcess, shots: Any
) -> None:
    browser.get(console_process.url + "/runs")
    browser.find_element(By.ID, "goal").send_keys("Write a parser. Add a CLI. Document both.")
    for tier in ("1", "2", "3", "4", "escalation"):
        field = browser.find_element(By.ID, f"tier_{tier}")
        field.clear()
        field.send_keys("gpt-4o-mini")
    browser.find_element(By.CSS_SELECTOR, "#run-form button[type=submit]").click()
    wait_for(lambda: "/console/runs/run-" in browser.current_url or _css(browser, "#run-error"))
    errors = _css(browser, "#run-error")
    assert not errors, errors[0].text
    status = wait_for(
        lambda: (lambda s: s if s in ("completed", "blocked", "failed") else None)(
            browser.find_element(By.ID, "run-status").text.lower()
        ),
        timeout=20,
    )
    assert status == "completed"
    tickets = _css(browser, "#dag g[data-ticket]")
    assert len(tickets) >= 3
    assert all("completed" in (t.get_attribute("class") or "") for t in tickets)
    tiers = browser.find_element(By.ID, "tier-table").text
    assert "Orchestrator" in tiers
    assert "$" in tiers
    shots(browser, "07-run", full=True)
    browser.get(console_process.url + "/runs")
    assert "completed" in browser.find_element(By.ID, "runs-table").text.lower()
    shots(browser, "06-runs", full=True)
    _seen(browser)


def test_compare_asks_two_models_at_once(
    browser: Any, console_process: ConsoleProcess, shots: Any
) -> None:
    browser.get(console_process.url + "/compare")
    models = browser.find_element(By.ID, "models")
    models.clear()
    models.send_keys("gpt-4o, gpt-4o-mini")
    browser.find_element(By.ID, "prompt").send_keys("Name one prime number.")
    browser.find_element(By.CSS_SELECTOR, "#compare-form button").click()
    cards = wait_for(lambda: _css(browser, ".compare-grid .card"))
    assert [c.find_element(By.CSS_SELECTOR, "h2").text for c in cards] == ["gpt-4o", "gpt-4o-mini"]
    assert all("Name one prime number." in c.text for c in cards)
    shots(browser, "08-compare", full=True)
    _seen(browser)


class _Attacker(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        page = (
            f'<form id="f" method="post" action="{self.target}/settings">'
            '<input name="model" value="evil-model"><input name="csrf" value="guess"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_cross_site_post_is_refused(browser: Any, console_process: ConsoleProcess) -> None:
    config = console_process.config / "config.toml"
    before = config.read_text(encoding="utf-8")
    _Attacker.target = console_process.url
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    server.daemon_threads = True  # a browser's idle preconnection must not hold shutdown()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # localhost is another site than 127.0.0.1: the cookie stays home, Origin gives it away
        browser.get(f"http://localhost:{server.server_address[1]}/")
        wait_for(lambda: "refused" in browser.page_source)
    finally:
        server.shutdown()
        server.server_close()
    assert config.read_text(encoding="utf-8") == before
    # and from the console's own origin, with the session cookie but no CSRF token
    cookie = browser.get_cookie("poe_mcp_console")
    assert cookie is not None
    with httpx.Client(cookies={"poe_mcp_console": cookie["value"]}) as client:
        r = client.post(console_process.url + "/settings", data={"model": "evil-model"})
        assert r.status_code == 403
        r = client.post(
            console_process.url + "/settings",
            data={"model": "evil-model"},
            headers={"Origin": "http://evil.example"},
        )
        assert r.status_code == 403
    assert config.read_text(encoding="utf-8") == before


def test_settings_are_validated_and_persist_across_a_restart(
    browser: Any, console_process: ConsoleProcess, shots: Any
) -> None:
    browser.get(console_process.url + "/settings")
    rpm = browser.find_element(By.ID, "f-rpm")
    rpm.clear()
    rpm.send_keys("fast")
    browser.find_element(By.ID, "save-settings").click()
    wait_for(
        lambda: (
            "Requests per minute must be a whole number"
            in browser.find_element(By.ID, "errors").text
        )
    )
    assert "fast" not in (console_process.config / "config.toml").read_text(encoding="utf-8")

    browser.get(console_process.url + "/settings")
    for field, value in (
        ("f-rpm", ""),
        ("f-model", "gpt-4o-mini"),
        ("f-daily_usd", "5"),
        ("f-tier_3", "openai:gpt-4o-mini"),
    ):
        element = browser.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    browser.find_element(By.ID, "save-settings").click()
    wait_for(lambda: browser.find_element(By.ID, "saved"))

    console_process.stop()
    console_process.start()
    _login(browser, console_process)
    wait_for(lambda: "/console/discussion" in browser.current_url)
    assert browser.find_element(By.ID, "model").get_attribute("value") == "gpt-4o-mini"
    browser.get(console_process.url + "/settings")
    assert browser.find_element(By.ID, "f-model").get_attribute("value") == "gpt-4o-mini"
    assert browser.find_element(By.ID, "f-daily_usd").get_attribute("value") == "5.0"
    assert browser.find_element(By.ID, "f-tier_3").get_attribute("value") == "openai:gpt-4o-mini"
    selected = Select(browser.find_element(By.ID, "f-provider")).first_selected_option
    assert selected.get_attribute("value") == "openai"
    browser.get(console_process.url + "/dashboard")
    budget = wait_for(lambda: _css(browser, ".budget"))[0].text
    assert "$5.00" in budget
    _seen(browser)


def test_the_key_appears_in_no_page_response_or_cookie(
    browser: Any, console_process: ConsoleProcess
) -> None:
    assert all(KEY not in page for page in PAGES)
    assert len(PAGES) >= 6
    for cookie in browser.get_cookies():
        assert KEY not in cookie["value"]
    cookie = browser.get_cookie("poe_mcp_console")
    assert cookie is not None
    base = console_process.url
    with httpx.Client(cookies={"poe_mcp_console": cookie["value"]}, timeout=20) as client:
        html = client.get(base + "/discussion").text
        session = (
            html.split('data-session="', 1)[1].split('"', 1)[0] if 'data-session="' in html else ""
        )
        csrf = csrf_of(html)
        turn = client.post(
            base + "/discussion/turns",
            data={"message": "what is my API key?", "model": "gpt-4o"},
            headers={"X-CSRF-Token": csrf},
        ).json()
        events = client.get(console_process.url.rsplit("/console", 1)[0] + turn["events"]).text
        assert "event: done" in events
        urls = [
            "/login",
            "/discussion",
            "/discussion/sessions",
            "/settings",
            "/settings/models",
            "/settings/models?format=ids",
            "/dashboard",
            "/runs",
            "/compare",
            "/static/console.js",
        ]
        sessions = client.get(base + "/discussion/sessions").text
        for sid in {s.split('"', 1)[0] for s in sessions.split('data-session="')[1:]} | {session}:
            if sid:
                urls += [
                    f"/discussion?session={sid}",
                    f"/discussion/sessions/{sid}/export.md",
                    f"/discussion/sessions/{sid}/export.json",
                ]
        for url in urls:
            response = client.get(base + url)
            assert response.status_code in (200, 303), url
            assert KEY not in response.text, url
            assert KEY not in str(response.headers), url
        assert KEY not in events
    assert KEY not in "".join(console_process.stderr)
