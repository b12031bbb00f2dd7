"""The console attacked and misused in a real browser (headless Chromium, see conftest).

One ``poe-mcp serve --transport http --simulate`` with a small ``--max-body-bytes`` (the
console at ``/console``, as most people reach it) and one browser for the module. Hostile text
typed into every field stays text; a file larger than the server takes is refused in the page
with the server's limit; a new conversation gets its controls without a reload and shows a
generated image once; a stopped first question does not name the conversation.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By

from .conftest import TOKEN, _free_port, clean_env, wait_for

pytestmark = pytest.mark.timeout(60)

BODY_MAX = 300_000  # serve's --max-body-bytes for this module: a 400 KB file does not fit
XSS = '<img src=x data-xss="1" onerror="window.__xss=1">"\'><b data-xss="2">'


class Served:
    """``poe-mcp serve --transport http --simulate`` in a subprocess."""

    def __init__(self, root: Path) -> None:
        self.port = _free_port()
        env = clean_env(root / "data", root / "config")
        (root / "config").mkdir(parents=True)
        exe = str(Path(sys.executable).with_name("poe-mcp"))
        args = ["serve", "--transport", "http", "--simulate", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [exe, *args, "--token", TOKEN, "--max-body-bytes", str(BODY_MAX)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.simulator = ""
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            found = re.search(r"simulator running at (http://\S+)/v1", line)
            if found:
                self.simulator = found.group(1)
            if "web console at" in line:
                break
        else:
            raise RuntimeError("serve did not start")
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/console"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = Served(tmp_path_factory.mktemp("served"))
    yield server
    server.stop()


def _css(browser: Any, selector: str) -> list[Any]:
    return list(browser.find_elements(By.CSS_SELECTOR, selector))


def _injected(browser: Any) -> int:
    return int(
        browser.execute_script(
            "return document.querySelectorAll('[data-xss]').length + (window.__xss ? 100 : 0)"
        )
    )


def _send(browser: Any, text: str) -> None:
    box = browser.find_element(By.ID, "message")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "send").click()


def _answered(browser: Any, before: int) -> Any:
    def done() -> Any:
        answers = _css(browser, ".msg.assistant")
        if len(answers) <= before or "streaming" in (answers[-1].get_attribute("class") or ""):
            return None
        return answers[-1]

    return wait_for(done, timeout=15)


def _model(browser: Any, name: str) -> None:
    field = browser.find_element(By.ID, "model")
    field.clear()
    field.send_keys(name)


def test_login_to_the_console_of_serve(browser: Any, served: Served) -> None:
    browser.get(served.url + "/login")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait_for(lambda: "/console/discussion" in browser.current_url)


def test_hostile_text_in_every_field_stays_text(
    browser: Any, served: Served, tmp_path: Path, shots: Any
) -> None:
    browser.get(served.url + "/discussion")
    browser.find_element(By.ID, "system").send_keys("System " + XSS)
    hostile_file = tmp_path / '"><b data-xss="3">.txt'
    hostile_file.write_text("notes", encoding="utf-8")
    browser.find_element(By.ID, "file-input").send_keys(str(hostile_file))
    _model(browser, "GPT-4o-mini")
    _send(browser, "Hello " + XSS)
    _answered(browser, 0)
    assert _injected(browser) == 0
    rename = wait_for(lambda: _css(browser, "#rename-form input[name=title]"))[0]
    rename.send_keys("Name " + XSS)
    browser.find_element(By.CSS_SELECTOR, "#rename-form button").click()
    wait_for(lambda: "Name <img" in browser.find_element(By.ID, "conv-title").text)
    browser.refresh()  # the stored history, the names and the file name, rendered by the server
    wait_for(lambda: _css(browser, ".msg.assistant"))
    assert "Hello <img" in browser.find_element(By.ID, "messages").text
    assert _injected(browser) == 0
    shots(browser, "attack-xss-discussion")
    browser.get(served.url + "/runs")
    browser.find_element(By.ID, "goal").send_keys("Write a parser. " + XSS)
    browser.find_element(By.CSS_SELECTOR, "#run-form button[type=submit]").click()
    wait_for(lambda: "/console/runs/run-" in browser.current_url)
    wait_for(lambda: "Write a parser. <img" in browser.find_element(By.TAG_NAME, "body").text)
    assert _injected(browser) == 0
    browser.get(served.url + "/compare")
    browser.find_element(By.ID, "prompt").send_keys("Compare " + XSS)
    browser.find_element(By.CSS_SELECTOR, "#compare-form button").click()
    wait_for(lambda: _css(browser, ".compare-grid .card"))
    assert _injected(browser) == 0


def test_a_file_larger_than_the_server_takes_is_refused_in_the_page(
    browser: Any, served: Served, tmp_path: Path, shots: Any
) -> None:
    """serve's body limit was not the page's: the upload died in a plain-text 413."""
    browser.get(served.url + "/discussion")
    big = tmp_path / "scan.bin"
    big.write_bytes(b"\0" * 400_000)
    browser.find_element(By.ID, "file-input").send_keys(str(big))
    error = wait_for(lambda: browser.find_element(By.ID, "composer-error").text)
    assert "scan.bin is too large (max 0.2 MB per file on this server)" in error
    assert not _css(browser, "#attachments .file-chip")
    shots(browser, "attack-upload-refused")


def test_a_new_conversation_shows_its_controls_and_its_image_once(
    browser: Any, served: Served, shots: Any
) -> None:
    browser.get(served.url + "/discussion")
    assert not _css(browser, "#rename-form")
    _model(browser, "GPT-Image-1")
    _send(browser, "A red fox in the snow")
    answer = _answered(browser, 0)
    wait_for(lambda: _css(browser, "#rename-form"))  # without a reload
    assert len(answer.find_elements(By.CSS_SELECTOR, "img")) == 1
    assert "Export .md" in browser.find_element(By.CSS_SELECTOR, ".conv-head").text
    shots(browser, "attack-new-conversation-controls")


def test_a_stopped_first_question_does_not_name_the_conversation(
    browser: Any, served: Served
) -> None:
    fault = {"kind": "delay", "chunk_delay_s": 0.3, "model": "Claude-Sonnet-4", "times": 0}
    httpx.post(served.simulator + "/sim/faults", json=fault).raise_for_status()
    try:
        browser.get(served.url + "/discussion")
        _model(browser, "Claude-Sonnet-4")
        _send(browser, "A question I regret asking at once, with enough words for many chunks")
        wait_for(lambda: _css(browser, ".msg.assistant.streaming .text")[0].text)
        browser.find_element(By.ID, "stop").click()
        _answered(browser, 0)
    finally:
        httpx.delete(served.simulator + "/sim/faults")
    _model(browser, "GPT-4o-mini")
    _send(browser, "The question that counts")
    _answered(browser, 1)
    title = wait_for(lambda: _css(browser, "#rename-form"))  # the new conversation's head
    assert title
    assert browser.find_element(By.ID, "conv-title").text == "The question that counts"
