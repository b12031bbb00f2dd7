"""The interactive chat in a real terminal: tmux runs it, the test types and reads the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from poe_mcp.simulator import Simulator

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))
TMUX = shutil.which("tmux") or "tmux"  # `make test` installs it (scripts/ensure-tmux)


class Terminal:
    """One tmux server of its own (``-L``) running a command in an 100x40 window."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.socket = f"poe-test-{uuid.uuid4().hex[:10]}"
        line = " ".join(f"{k}={v}" for k, v in env.items())
        shell = f"env {line} {' '.join(command)}"
        self._tmux("new-session", "-d", "-s", "chat", "-x", "100", "-y", "40", shell)
        # keep the pane after the program ends, so a crash leaves its last screen to read
        self._tmux("set-option", "-t", "chat", "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        out = subprocess.run(
            [TMUX, "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return out.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", "chat")

    def type(self, text: str, enter: bool = True) -> None:
        self._tmux("send-keys", "-t", "chat", "-l", text)
        if enter:
            self._tmux("send-keys", "-t", "chat", "Enter")

    def key(self, name: str) -> None:
        self._tmux("send-keys", "-t", "chat", name)

    def wait_for(self, text: str, timeout: float = 10.0, after: int = 0) -> str:
        """Wait until ``text`` shows on the screen (at or past character ``after``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen[after:]:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def alive(self) -> bool:
        return self._tmux("display-message", "-p", "-t", "chat", "#{pane_dead}").strip() == "0"

    def close(self) -> None:
        self._tmux("kill-server")


@pytest.fixture
def terminal(simulator: Simulator, api_key: str, poe_home: Path) -> Iterator[Terminal]:
    env = {
        "POE_API_KEY": api_key,
        "POE_MCP_HOME": str(poe_home),
        "POE_MCP_CONFIG_DIR": os.environ["POE_MCP_CONFIG_DIR"],
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    term = Terminal([POE_MCP, "chat", "--base-url", simulator.base_url], env)
    try:
        yield term
    finally:
        term.close()
        simulator.clear_faults()


def test_two_turns_model_switch_attachment_cancel_and_cost(
    terminal: Terminal, simulator: Simulator, tmp_path: Path
) -> None:
    terminal.wait_for("/help for commands")

    terminal.type("What is MCP?")
    screen = terminal.wait_for('You said: "What is MCP?"')
    terminal.wait_for("GPT-5-mini · ")  # the summary line: model, tokens, cost, latency
    assert "tokens" in terminal.screen()

    terminal.type("/model GPT-4.1")
    terminal.wait_for("model: GPT-4.1")
    doc = tmp_path / "notes.pdf"
    doc.write_bytes(b"%PDF-1.4 a tiny document")
    terminal.type(f"/attach {doc}")
    terminal.wait_for("attached notes.pdf")
    mark = len(terminal.screen())
    terminal.type("Read the attachment")
    screen = terminal.wait_for("GPT-4.1 received 3 messages", after=mark - 200)
    assert "application/pdf" in screen

    # a slow answer, cancelled with Ctrl-C: the chat goes on and nothing was stored
    simulator.add_fault("delay", chunk_delay_s=0.4)
    mark = len(terminal.screen())
    terminal.type("Tell me a very long story")
    terminal.wait_for("Tell me a very", after=mark)
    terminal.key("C-c")
    terminal.wait_for("answer cancelled", after=mark)
    assert terminal.alive()

    mark = len(terminal.screen())
    terminal.type("Still there?")
    terminal.wait_for("GPT-4.1 received 5 messages", after=mark)

    terminal.type("/cost")
    screen = terminal.wait_for("this chat: 3 answers")
    assert "cost $" in screen

    terminal.type("/exit")
    deadline = time.monotonic() + 10
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not terminal.alive()
