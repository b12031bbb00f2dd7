"""Bad input a new user gives the daily-driver CLI: one clear line each, nothing lost, no hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from poe_mcp.errors import InvalidRequestError, SessionNotFoundError
from poe_mcp.simulator import Simulator

from .conftest import Invoke

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))


def _config(text: str) -> None:
    path = Path(os.environ["POE_MCP_CONFIG_DIR"]) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _sent(simulator: Simulator, marker: str) -> list[dict[str, object]]:
    """The requests the simulator received whose body mentions ``marker``."""
    return [r for r in simulator.requests() if marker in json.dumps(r.get("body"))]


def _logs(invoke: Invoke, *args: str) -> list[dict[str, object]]:
    result = invoke("logs", *args, "--json", base_url=False)
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_logs_search_with_fts5_syntax_characters_never_fails(invoke: Invoke) -> None:
    assert invoke("chat", "-m", "GPT-4.1", "In what order do tides rise?").exit_code == 0
    for query in ('"', '""', '" "', "OR*", "NOT*", "AND*", "tides OR*", "NEAR(", "*", "-", "'"):
        result = invoke("logs", "-q", query, "--json", base_url=False)
        assert result.exit_code == 0, (query, result.output)
        json.loads(result.stdout)
    # operators stay words when quoted by the user's prefix, and prefixes still work
    assert len(_logs(invoke, "-q", "OR*")) == 1  # "order"
    assert len(_logs(invoke, "-q", "tid*")) == 1
    assert _logs(invoke, "-q", '"') == []  # nothing to look for: nothing matches


def test_logs_errors_name_the_right_option_and_filters_say_no_match(invoke: Invoke) -> None:
    until = invoke("logs", "--until", "2026-13-45", base_url=False)
    assert until.exit_code == 2
    assert "--until" in until.stderr
    older = invoke("logs", "clear", "--older-than", "soon", "--yes", base_url=False)
    assert older.exit_code == 2
    assert "--older-than" in older.stderr
    assert invoke("chat", "hello").exit_code == 0
    filtered = invoke("logs", "-m", "Nobody-Model", base_url=False)
    assert filtered.exit_code == 0
    assert "no logged prompts match" in filtered.stderr


def test_logs_export_to_an_unwritable_path_is_one_clear_line(
    invoke: Invoke, tmp_path: Path
) -> None:
    assert invoke("chat", "keep me").exit_code == 0
    result = invoke("logs", "export", "-o", str(tmp_path / "missing" / "x.md"), base_url=False)
    assert result.exit_code == 1
    assert "Could not open file" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(_logs(invoke)) == 1  # nothing lost


def test_blank_model_and_session_are_refused(invoke: Invoke) -> None:
    blank_model = invoke("chat", "-m", "", "hi")
    assert blank_model.exit_code == 2
    assert "give a model name" in blank_model.stderr
    blank_session = invoke("chat", "--session", " ", "hi")
    assert blank_session.exit_code == 2
    assert "give a session id" in blank_session.stderr
    set_blank = invoke("models", "--set-default", "  ")
    assert set_blank.exit_code == 2


def test_continue_keeps_the_model_of_the_conversation(invoke: Invoke) -> None:
    assert "Claude-Sonnet-4 received 1" in invoke("chat", "-m", "Claude-Sonnet-4", "hi").stdout
    assert "Claude-Sonnet-4 received 3" in invoke("chat", "-c", "and?").stdout
    assert "GPT-4.1 received 5" in invoke("chat", "-c", "-m", "GPT-4.1", "switch").stdout
    assert "GPT-4.1 received 7" in invoke("chat", "-c", "again").stdout  # the last one used
    session = json.loads(invoke("chat", "--json", "-m", "Grok-4", "new one").stdout)["session_id"]
    assert "Grok-4 received 3" in invoke("chat", "--session", session, "more").stdout


def test_unknown_session_fails_before_any_call(invoke: Invoke, simulator: Simulator) -> None:
    marker = uuid.uuid4().hex
    result = invoke("chat", "--session", "no-such-session", marker)
    assert result.exit_code == 1
    assert isinstance(result.exception, SessionNotFoundError)
    assert _sent(simulator, marker) == []


@pytest.mark.parametrize("command", [["chat", "-m", "GPT-4.1"], ["compare", "-m", "GPT-4.1"]])
def test_binary_standard_input_is_one_clear_line(
    command: list[str], simulator: Simulator, api_key: str
) -> None:
    env = {**os.environ, "POE_API_KEY": api_key, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    proc = subprocess.run(
        [POE_MCP, *command, "--base-url", simulator.base_url],
        input=b"\x00\xc2\xff\xfe binary", capture_output=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "standard input is not UTF-8 text" in err
    assert "Traceback" not in err


def test_undecodable_argument_text_is_refused_before_sending(
    simulator: Simulator, api_key: str
) -> None:
    env = {**os.environ, "POE_API_KEY": api_key, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    proc = subprocess.run(
        [POE_MCP.encode(), b"chat", b"-m", b"GPT-4.1", b"bad \xff byte",
         b"--base-url", simulator.base_url.encode()],
        capture_output=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.startswith("error (invalid_request): message 0 is not valid text")
    assert "Traceback" not in err


def test_set_default_takes_aliases_and_refuses_media_models(invoke: Invoke) -> None:
    alias = invoke("models", "--set-default", "claude", "--json")
    assert alias.exit_code == 0, alias.output
    assert json.loads(alias.stdout)["default_model"] == "Claude-Sonnet-4"
    image = invoke("models", "--set-default", "GPT-Image-1")
    assert image.exit_code == 1
    assert isinstance(image.exception, InvalidRequestError)
    assert "makes image, not text" in str(image.exception)
    config = (Path(os.environ["POE_MCP_CONFIG_DIR"]) / "config.toml").read_text()
    assert 'model = "Claude-Sonnet-4"' in config  # the refused one did not overwrite it


def test_a_fallback_answer_is_announced_even_when_piped(
    invoke: Invoke, simulator: Simulator
) -> None:
    simulator.add_fault("status", status=529, model="GPT-4.1", times=20, retry_after_ms=1)
    try:
        result = invoke("chat", "-m", "GPT-4.1", "--fallback", "Claude-Sonnet-4", "hello")
    finally:
        simulator.clear_faults()
    assert result.exit_code == 0, result.output
    assert "Claude-Sonnet-4 received" in result.stdout
    assert "answered by Claude-Sonnet-4 after falling back from GPT-4.1 (overloaded)" in (
        result.stderr
    )


def test_reasoning_notes_follow_the_summary_line(invoke: Invoke) -> None:
    result = invoke("chat", "-m", "GPT-5-mini", "--stats", "--reasoning", "high", "think")
    assert result.exit_code == 0, result.output
    assert "reasoning 'high' sent as" in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-1", '"90"'])
def test_bad_retention_days_are_refused(invoke: Invoke, value: str) -> None:
    _config(f"[logs]\nretention_days = {value}\n")
    result = invoke("chat", "hi")
    assert result.exit_code == 1
    assert "retention_days" in str(result.exception)


def test_media_into_an_unusable_folder_is_refused_before_the_paid_call(
    invoke: Invoke, simulator: Simulator, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    marker = uuid.uuid4().hex
    result = invoke("image", "-q", marker, "-o", str(blocker / "pics"))
    assert result.exit_code == 1
    assert isinstance(result.exception, InvalidRequestError)
    assert "cannot save media into" in str(result.exception)
    assert _sent(simulator, marker) == []


def test_a_key_in_a_media_prompt_reaches_neither_name_nor_sidecar(
    simulator: Simulator, tmp_path: Path
) -> None:
    key = f"sk-test-{uuid.uuid4().hex}"
    env = {**os.environ, "POE_API_KEY": key}
    out = subprocess.run(
        [POE_MCP, "image", f"my key is {key} ok", "-o", str(tmp_path), "-q",
         "--base-url", simulator.base_url],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert key not in path.name
    assert key not in path.with_name(path.name + ".json").read_text()


def test_a_bad_logs_variable_is_refused_before_sending(
    invoke: Invoke, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POE_MCP_LOGS", "cli,bogus")
    marker = uuid.uuid4().hex
    for command in (["chat", "-m", "GPT-4.1"], ["compare", "-m", "GPT-4.1"]):
        result = invoke(*command, marker)
        assert result.exit_code == 1
        assert "POE_MCP_LOGS" in str(result.exception)
    assert _sent(simulator, marker) == []


def test_piped_output_is_not_rewritten(invoke: Invoke) -> None:
    # only a terminal gets control characters shown as ^[...; a pipe gets the text as it is
    result = invoke("chat", "-m", "GPT-4.1", "title \x1b]0;t\x07 end")
    assert 'You said: "title \x1b]0;t\x07 end"' in result.stdout
    assert "^[" not in result.stdout
    logged = invoke("logs", "--full", "-n", "1", base_url=False).stdout
    assert "\x1b]0;t\x07" in logged
