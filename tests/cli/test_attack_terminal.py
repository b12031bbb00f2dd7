"""The interactive chat under attack, in a real terminal (tmux): odd input, Ctrl-C, lost files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from poe_mcp.simulator import Simulator

from .test_interactive import POE_MCP, Terminal


def _env(api_key: str, poe_home: Path) -> dict[str, str]:
    return {
        "POE_API_KEY": api_key,
        "POE_MCP_HOME": str(poe_home),
        "POE_MCP_CONFIG_DIR": os.environ["POE_MCP_CONFIG_DIR"],
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }


def _mark(term: Terminal) -> int:
    """Where new output will start: the end of what is on screen (blank rows left out)."""
    return len(term.screen().rstrip())


@pytest.fixture
def chat(simulator: Simulator, api_key: str, poe_home: Path) -> Iterator[Terminal]:
    term = Terminal(
        [POE_MCP, "chat", "-m", "GPT-4.1", "--base-url", simulator.base_url],
        _env(api_key, poe_home),
    )
    try:
        term.wait_for("/help for commands")
        yield term
    finally:
        term.close()
        simulator.clear_faults()


def test_a_cancelled_answer_is_shown_once(
    simulator: Simulator, api_key: str, poe_home: Path
) -> None:
    # from an interactive shell, as a person runs it: bash leaves ^C echo (echoctl) on
    term = Terminal(["bash", "--norc"], _env(api_key, poe_home))
    try:
        term.type(f"{POE_MCP} chat -m GPT-4.1 --base-url {simulator.base_url}")
        term.wait_for("/help for commands")
        simulator.add_fault("delay", chunk_delay_s=0.3)
        mark = _mark(term)
        term.type("Tell me a long story")
        term.wait_for("GPT-4.1 rec", after=mark)  # cut mid-line, where the echo lands
        term.key("C-c")
        screen = term.wait_for("answer cancelled", after=mark)
        # the ^C echo moved the cursor under the live display: the partial text came twice
        assert screen[mark:].count('You said: "Tell me a long') == 1
        cancelled = screen.index("answer cancelled", mark)
        term.wait_for("GPT-4.1 ›", after=cancelled)  # the prompt is back
        term.type("/exit")
        left = term.wait_for("bash-", after=cancelled).index("bash-", cancelled)
        term.type("echo typed-$((40 + 2))")  # echo is back once the chat is over
        term.wait_for("typed-42", after=left)
        assert "echo typed-$((40 + 2))" in term.screen()[left:]
    finally:
        term.close()
        simulator.clear_faults()


def test_a_failed_answer_leaves_no_spinner(chat: Terminal, simulator: Simulator) -> None:
    mark = _mark(chat)
    chat.type("/model No-Such-Model-Here")  # refused: the catalog does not know it
    chat.wait_for("unknown model", after=mark)
    simulator.add_fault("status", status=400, model="GPT-4.1")
    mark = _mark(chat)
    chat.type("This one fails")
    screen = chat.wait_for("error (invalid_request)", after=mark)
    assert "is thinking" not in screen[mark:]  # the spinner's last frame is wiped


def test_slash_texts_vanished_attachments_and_aliases(chat: Terminal, tmp_path: Path) -> None:
    mark = _mark(chat)
    chat.type("//usr/bin holds what?")  # a message that starts with "/"
    chat.wait_for('You said: "/usr/bin holds what?"', after=mark)

    doomed = tmp_path / "doomed.txt"
    doomed.write_text("soon gone")
    chat.type(f"/attach {doomed}")
    chat.wait_for("attached doomed.txt")
    doomed.unlink()
    mark = _mark(chat)
    chat.type("Read it")
    chat.wait_for("attachment not found", after=mark)
    chat.wait_for("/attach off drops them", after=mark)
    chat.type("/attach off")
    chat.wait_for("dropped 1 attachment(s)", after=mark)
    mark = _mark(chat)
    chat.type("Still stuck?")  # the chat is not stuck on the vanished file
    chat.wait_for("GPT-4.1 received 3 messages", after=mark)

    chat.type("/model claude")  # aliases work here as with -m
    chat.wait_for("model: Claude-Sonnet-4")


def test_an_unknown_session_fails_before_the_chat_opens(
    simulator: Simulator, api_key: str, poe_home: Path
) -> None:
    term = Terminal(
        [POE_MCP, "chat", "--session", "no-such-session", "--base-url", simulator.base_url],
        _env(api_key, poe_home),
    )
    try:
        screen = term.wait_for("does not exist or has expired")
        assert "/help for commands" not in screen  # no chat whose every turn would fail
        assert "error (not_found)" in screen
    finally:
        term.close()


def test_a_key_pasted_into_the_chat_stays_out_of_the_history_file(
    chat: Terminal, api_key: str, poe_home: Path
) -> None:
    mark = _mark(chat)
    chat.type(f"is {api_key} my key?")
    chat.wait_for("GPT-4.1 received 1 messages", after=mark)
    chat.type("/exit")
    history = poe_home / "chat-history.txt"
    text = history.read_text()
    assert "my key?" in text
    assert api_key not in text


def test_escape_sequences_in_answers_are_shown_not_obeyed(
    simulator: Simulator, api_key: str, poe_home: Path
) -> None:
    # the simulator quotes the prompt: an answer that carries escape sequences (an OSC title,
    # a colour) must reach the screen as text, not as orders to the terminal
    term = Terminal(["bash", "--norc"], _env(api_key, poe_home))
    try:
        base = simulator.base_url
        term.type(
            f"{POE_MCP} chat -m GPT-4.1 --base-url {base} "
            "\"$(printf 'a \\033]0;pwned\\007 \\033[31mRED')\""
        )
        term.wait_for("GPT-4.1 received 1 messages")
        mark = _mark(term)
        term.type(f"{POE_MCP} logs --full -n 1; {POE_MCP} compare -m GPT-4.1 -m Grok-4 "
                  f"\"$(printf 'b \\033[31mRED')\" --base-url {base}")  # fmt: skip
        screen = term.wait_for("2 models in", after=mark)
        assert "^[]0;pwned^G" in screen  # the chat answer, then the stored log
        assert screen[mark:].count("^[[31mRED") >= 3  # logs --full, then both compare columns
    finally:
        term.close()


def test_ctrl_c_during_a_one_shot_answer(
    simulator: Simulator, api_key: str, poe_home: Path
) -> None:
    term = Terminal(["bash", "--norc"], _env(api_key, poe_home))
    try:
        simulator.add_fault("delay", chunk_delay_s=0.3)
        term.type(
            f"{POE_MCP} chat -m GPT-4.1 --base-url {simulator.base_url} 'Long tale'; echo rc=$?"
        )
        term.wait_for("GPT-4.1 rec")
        term.key("C-c")
        screen = term.wait_for("rc=130")
        assert screen.count('You said: "Long tale" GPT-4.1 rec') == 1  # drawn once
        assert "Traceback" not in screen
        term.type(f"{POE_MCP} logs --json")
        term.wait_for("[]")  # nothing stored or logged
    finally:
        term.close()
        simulator.clear_faults()
