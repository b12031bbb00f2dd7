"""``poe-mcp compare`` (and consensus), and ``chat --fallback`` / ``--reasoning``, via CliRunner."""

from __future__ import annotations

import io
import json
from typing import Any

from click.testing import CliRunner, Result

from poe_mcp.cli import cli
from poe_mcp.cli.compare import render_columns, render_rich
from poe_mcp.errors import AuthError, InvalidRequestError, OverloadedError
from poe_mcp.multi import Comparison, ModelAnswer
from poe_mcp.simulator import Simulator
from poe_mcp.types import ChatResult, Usage

from .conftest import chat_bodies, fail_model

FOUR = ["Claude-Sonnet-4", "GPT-4.1", "Grok-4", "Gemini-2.5-Pro"]


def _run(sim: Simulator, key: str, *args: str) -> Result:
    return CliRunner().invoke(
        cli, [*args, "--base-url", sim.base_url], env={"POE_API_KEY": key, "COLUMNS": "200"}
    )


def _models(*names: str) -> list[str]:
    return [arg for name in names for arg in ("-m", name)]


def test_compare_four_models_side_by_side_one_fails(simulator: Simulator, api_key: str) -> None:
    fail_model(simulator, "Grok-4", 529)
    result = _run(simulator, api_key, "compare", *_models(*FOUR), "Tea or coffee?")
    assert result.exit_code == 0, result.output
    out = result.stdout
    header = out.splitlines()[0]
    for model in FOUR:  # one column per model, side by side
        assert model in header
    assert "FAILED (overloaded)" in out
    assert out.count('You said: "Tea or coffee?"') == 3
    assert "4 models in" in out
    assert "1 failed" in out


def test_compare_json(simulator: Simulator, api_key: str) -> None:
    fail_model(simulator, "Grok-4", 500)
    result = _run(
        simulator, api_key, "compare", *_models("GPT-4.1", "Grok-4"), "hi", "--json", "-s", "Brief."
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [a["model"] for a in data["answers"]] == ["GPT-4.1", "Grok-4"]
    assert data["answers"][0]["ok"] is True
    assert data["answers"][1]["error"]["metadata"]["kind"] == "upstream"
    assert data["failed"] == ["Grok-4"]
    assert all(b["messages"][0]["content"] == "Brief." for b in chat_bodies(simulator))


def test_compare_exits_1_when_no_model_answered(simulator: Simulator, api_key: str) -> None:
    fail_model(simulator, "GPT-4.1", 403)
    result = _run(simulator, api_key, "compare", *_models("GPT-4.1"), "hi")
    assert result.exit_code == 1
    assert "FAILED (moderation)" in result.stdout


def test_consensus_from_the_command_line(simulator: Simulator, api_key: str) -> None:
    result = _run(
        simulator,
        api_key,
        "compare",
        *_models("Claude-Sonnet-4", "GPT-4.1", "Gemini-2.5-Pro"),
        "--stance",
        "for",
        "--stance",
        "against",
        "--stance",
        "against",
        "--synthesizer",
        "Claude-Opus-4.1",
        "Adopt Kubernetes?",
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Claude-Sonnet-4 [for]" in out
    assert "Verdict by Claude-Opus-4.1" in out
    assert "Agreement: GPT-4.1 and Gemini-2.5-Pro say no." in out
    assert "Total with the synthesis: $" in out
    data = json.loads(
        _run(
            simulator,
            api_key,
            "compare",
            *_models("GPT-4.1", "Grok-4"),
            "--consensus",
            "x",
            "--json",
        ).stdout
    )
    assert [s["step"] for s in data["steps"]] == ["answer", "answer", "synthesis"]
    assert data["synthesizer"] == "GPT-4.1"


def test_compare_usage_errors(simulator: Simulator, api_key: str) -> None:
    too_many = _run(simulator, api_key, "compare", "-m", "GPT-4.1", "--stance", "for", "--stance",
                    "against", "x")  # fmt: skip
    assert too_many.exit_code == 2
    bad_effort = _run(simulator, api_key, "compare", "-m", "GPT-4.1", "--reasoning", "lots", "x")
    assert bad_effort.exit_code == 2
    assert "--reasoning" in bad_effort.output
    assert chat_bodies(simulator) == []


def test_narrow_terminals_get_one_block_per_model() -> None:
    answers = [
        ModelAnswer("A", ChatResult("alpha " * 30, "A", usage=Usage(3, 4), cost=0.001)),
        ModelAnswer("B", ChatResult("beta", "B", usage=Usage(3, 4), cost=None)),
    ]
    table = Comparison(answers, 0.5)
    wide = render_columns(table, 160)
    assert wide.splitlines()[0].startswith("A")
    assert " | B" in wide.splitlines()[0]
    assert all(len(line) <= 160 for line in wide.splitlines())
    narrow = render_columns(table, 40)
    assert "== A (3 in / 4 out · $0.0010 · 0.00s)" in narrow
    assert "== B (3 in / 4 out · unknown · 0.00s)" in narrow


def test_terminals_get_a_rich_table() -> None:
    from rich.console import Console

    answers = [
        ModelAnswer("Model-A", ChatResult("first answer", "Model-A", usage=Usage(1, 2), cost=0.5)),
        ModelAnswer("Model-B", error=OverloadedError("busy")),
    ]
    out = io.StringIO()
    render_rich(Comparison(answers, 0.1), Console(file=out, width=100, color_system=None))
    drawn = out.getvalue()
    assert "Model-A" in drawn
    assert "Model-B" in drawn
    assert "FAILED (overloaded)" in drawn
    assert "first answer" in drawn
    assert "$0.50" in drawn


def _chat(sim: Simulator, key: str, *args: str) -> Result:
    return _run(sim, key, "chat", *args, "--no-stream", "--no-stats")


def test_chat_fallback_skips_an_overloaded_model(simulator: Simulator, api_key: str) -> None:
    fail_model(simulator, "Claude-Opus-4.1", 529)
    result = _chat(
        simulator,
        api_key,
        "-m",
        "Claude-Opus-4.1",
        "--fallback",
        "Claude-Sonnet-4",
        "--json",
        "hello",
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["model"] == "Claude-Sonnet-4"
    assert [a["outcome"] for a in data["attempts"]] == ["skipped", "ok"]


def test_chat_fallback_stops_on_an_auth_error(simulator: Simulator) -> None:
    result = _chat(simulator, "invalid-key", "-m", "Claude-Opus-4.1", "--fallback", "GPT-4.1", "hi")
    assert result.exit_code == 1
    assert isinstance(result.exception, AuthError)  # `poe-mcp` prints it as "error (auth): ..."
    assert [b["model"] for b in chat_bodies(simulator)] == ["Claude-Opus-4.1"]


def test_chat_reasoning_effort(simulator: Simulator, api_key: str) -> None:
    result = _chat(simulator, api_key, "-m", "Grok-4", "--reasoning", "5000", "think")
    assert result.exit_code == 0, result.output
    assert "Parameters: reasoning_effort=medium" in result.stdout
    refused = _chat(simulator, api_key, "-m", "GPT-4.1", "--reasoning", "high", "think")
    assert refused.exit_code == 1
    assert isinstance(refused.exception, InvalidRequestError)
    assert "GPT-4.1 cannot reason" in str(refused.exception)
