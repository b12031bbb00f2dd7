"""``poe-mcp chat`` with a prompt: default model, -c, --session, summary line, notices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from poe_mcp.simulator import Simulator

from .conftest import Invoke


def _config(text: str) -> None:
    path = Path(os.environ["POE_MCP_CONFIG_DIR"]) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_built_in_default_model_is_gpt_5_mini_and_shown_in_help(invoke: Invoke) -> None:
    result = invoke("chat", "hello")
    assert result.exit_code == 0, result.output
    assert "GPT-5-mini received 1 messages" in result.stdout
    help_text = invoke("chat", "--help", base_url=False).stdout
    assert "GPT-5-mini" in help_text
    assert "-m, --model" in help_text
    assert "--max-tokens" in help_text


def test_the_configured_default_model_and_set_default(invoke: Invoke) -> None:
    _config("# mine\nrpm = 400\n\n[budgets]\ndaily_usd = 100.0\n")
    assert "GPT-5-mini received" in invoke("chat", "one").stdout
    result = invoke("models", "--set-default", "claude-sonnet-4")  # case-insensitive, canonical
    assert result.exit_code == 0, result.output
    assert "default model: Claude-Sonnet-4" in result.stdout
    config = (Path(os.environ["POE_MCP_CONFIG_DIR"]) / "config.toml").read_text()
    assert config.startswith("# mine\nrpm = 400")  # the user's file is kept
    assert 'model = "Claude-Sonnet-4"' in config
    assert "[budgets]" in config
    assert "Claude-Sonnet-4 received 1 messages" in invoke("chat", "two").stdout
    assert "GPT-4.1 received" in invoke("chat", "-m", "GPT-4.1", "three").stdout  # -m wins


def test_set_default_refuses_an_unknown_model(invoke: Invoke) -> None:
    result = invoke("models", "--set-default", "Claude-Sonet-4")
    assert result.exit_code == 1
    assert "Did you mean: Claude-Sonnet-4" in str(result.exception)
    assert not (Path(os.environ["POE_MCP_CONFIG_DIR"]) / "config.toml").exists()


def test_continue_picks_up_the_most_recent_conversation(invoke: Invoke) -> None:
    assert "received 1 messages" in invoke("chat", "first").stdout
    second = invoke("chat", "-c", "second")
    assert "received 3 messages" in second.stdout
    third = invoke("chat", "--continue", "-m", "GPT-4.1", "third")  # another model, same talk
    assert "GPT-4.1 received 5 messages" in third.stdout
    fresh = invoke("chat", "unrelated")  # without -c: a new conversation
    assert "received 1 messages" in fresh.stdout
    assert "received 3 messages" in invoke("chat", "-c", "follow-up").stdout


def test_continue_without_history_and_unknown_sessions_are_errors(invoke: Invoke) -> None:
    result = invoke("chat", "-c", "hello")
    assert result.exit_code == 2
    assert "no earlier conversation to continue" in result.stderr
    unknown = invoke("chat", "--session", "not-a-session", "hello")
    assert unknown.exit_code == 1
    assert "does not exist or has expired" in str(unknown.exception)
    assert invoke("chat", "-c", "--session", "x", "hi").exit_code == 2


def test_summary_line_and_truncation_notice(invoke: Invoke) -> None:
    result = invoke("chat", "-m", "GPT-4.1", "--stats", "tell me everything", "--max-tokens", "3")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any("cut at the token limit (--max-tokens 3)" in line for line in lines)
    (summary,) = [line for line in lines if line.startswith("GPT-4.1 ")]
    assert "in / 3 out tokens" in summary
    assert "$0.0000" in summary
    assert summary.endswith(" s")
    quiet = invoke("chat", "-m", "GPT-4.1", "--no-stats", "hi")
    assert quiet.stderr == ""


def test_json_carries_the_session_and_piped_output_is_plain(invoke: Invoke) -> None:
    result = invoke("chat", "-m", "GPT-4.1", "--json", "as json")
    data = json.loads(result.stdout)
    assert data["model"] == "GPT-4.1"
    assert data["session_id"]
    plain = invoke("chat", "-m", "GPT-4.1", "plain please")
    assert "\x1b[" not in plain.stdout
    assert plain.stdout.startswith('You said: "plain please"')


def test_legacy_positional_model_still_works_when_unambiguous(invoke: Invoke) -> None:
    assert "Grok-4 received" in invoke("chat", "Grok-4", "hi").stdout
    assert invoke("chat", "two words", "hi").exit_code == 2  # not a model name
    assert invoke("chat", "-m", "GPT-4.1", "Grok-4", "hi").exit_code == 2


def test_retry_notice_while_waiting(invoke: Invoke, simulator: Simulator) -> None:
    simulator.add_fault("status", status=503, model="GPT-4.1")
    try:
        result = invoke("chat", "-m", "GPT-4.1", "--no-stream", "hi")
    finally:
        simulator.clear_faults()
    assert result.exit_code == 0
    assert "retry" in result.stderr.lower()


def test_errors_stay_one_line_without_colour_when_piped(simulator: Simulator, api_key: str) -> None:
    env = {**os.environ, "POE_API_KEY": api_key}
    proc = subprocess.run(
        [sys.executable, "-m", "poe_mcp", "chat", "-m", "No-Such-Model", "hi",
         "--base-url", simulator.base_url],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("error (not_found):")
    assert "\x1b[" not in proc.stderr
