"""The web console in a real browser: Debian's headless Chromium driven by Selenium.

``scripts/ensure-chromium`` (run by ``make test``) installs ``chromium`` and ``chromium-driver``.
One browser and one ``poe-mcp console`` process per test module (both slow to start); the
console runs as a user would start it, with its own data and config dirs and no key.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

TOKEN = "console-test-token-0123456789abcdefghij"
ORIGIN = "http://127.0.0.1:8080"  # the in-process console's origin (the ``console`` fixture)
SHOTS = Path("/work/notes/console-shots")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(home: Path, config: Path) -> dict[str, str]:
    """The environment without any poe-mcp/OpenAI setting of the user, with isolated dirs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POE_", "OPENAI_")) and k != "PYTEST_CURRENT_TEST"
    }
    env.update(POE_MCP_HOME=str(home), POE_MCP_CONFIG_DIR=str(config), NO_COLOR="1")
    return env


class ConsoleProcess:
    """``poe-mcp console`` in a subprocess; restartable with the same dirs."""

    def __init__(self, root: Path) -> None:
        self.home = root / "data"
        self.config = root / "config"
        self.config.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.stderr: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/console"

    def start(self) -> ConsoleProcess:
        exe = str(Path(sys.executable).with_name("poe-mcp"))
        self.stderr = []
        self.proc = subprocess.Popen(
            [exe, "console", "--port", str(self.port), "--token", TOKEN],
            env=clean_env(self.home, self.config),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "poe-mcp console: http://" not in line:
            self.stop()
            raise RuntimeError(f"console did not start: {line!r} {''.join(self.stderr)}")
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        assert self.proc is not None
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


@pytest.fixture(scope="module")
def console_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleProcess]:
    root = tmp_path_factory.mktemp("console")
    process = ConsoleProcess(root)
    # A folder the agent's file tools may read (tool-calling turns).
    notes = root / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("buy milk\n", encoding="utf-8")
    (process.config / "config.toml").write_text(f'[tools]\nroots = ["{notes}"]\n', encoding="utf-8")
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail("chromium and chromedriver are needed: run scripts/ensure-chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1440,900",
        "--force-device-scale-factor=1",
        "--disable-extensions",
        "--no-first-run",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Save a screenshot under the test's tmp folder and a copy in /work/notes/console-shots."""
    folder = tmp_path_factory.mktemp("shots")

    def take(driver: Any, name: str, *, full: bool = False) -> Path:
        path = folder / f"{name}.png"
        if full:  # the whole page, not only the window (Chrome's DevTools protocol)
            driver.execute_script("window.scrollTo(0, 0)")
            size = driver.execute_script(
                "return [document.documentElement.scrollWidth,"
                " document.documentElement.scrollHeight]"
            )
            shot = driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "captureBeyondViewport": True,
                    "fromSurface": True,
                    "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
                },
            )
            path.write_bytes(base64.b64decode(shot["data"]))
        else:
            driver.save_screenshot(str(path))
        if SHOTS.parent.is_dir():  # the notes folder of this workplace, when there is one
            try:
                SHOTS.mkdir(exist_ok=True)
                shutil.copy(path, SHOTS / path.name)
            except OSError:
                pass  # the copy is for people; the test's own folder is what counts
        return path

    return take


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # the page may be between states
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting; last value: {last!r}")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]*)"', html)
    assert match is not None
    return match.group(1)


def sse_events(body: str) -> list[tuple[str, Any]]:
    """``(event, data)`` of each event of a server-sent event stream."""
    found = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name = re.search(r"^event: (.+)$", block, re.M)
        data = re.search(r"^data: (.+)$", block, re.M)
        if name and data:
            found.append((name.group(1), json.loads(data.group(1))))
    return found


@pytest.fixture
async def console(
    poe_home: Path, simulator: Any, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Any, Any]]:
    """The console app in process (httpx's ASGI transport) against the shared simulator:
    ``(client, inner app)``; log in with :func:`login`."""
    import httpx

    from poe_mcp.config import Settings
    from poe_mcp.console import ConsoleContext, build_console_app, close_console, standalone_app

    monkeypatch.setenv("POE_API_KEY", api_key)
    monkeypatch.setenv("POE_BASE_URL", simulator.base_url)
    inner = build_console_app(ConsoleContext(Settings.load()), TOKEN)
    transport = httpx.ASGITransport(app=standalone_app(inner, host="127.0.0.1"))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        yield client, inner
    await close_console(inner)


async def login(client: Any) -> str:
    """Log ``client`` in with the token; the page's CSRF token."""
    r = await client.post("/console/login", data={"token": TOKEN}, headers={"Origin": ORIGIN})
    assert r.status_code == 303
    return csrf_of((await client.get("/console/discussion")).text)


async def turn(client: Any, csrf: str, **data: str) -> list[tuple[str, Any]]:
    """Start a discussion turn (``model`` GPT-4o-mini unless given) and read all its events."""
    r = await client.post(
        "/console/discussion/turns",
        data={"model": "GPT-4o-mini", **data},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    return sse_events((await client.get(r.json()["events"])).text)
