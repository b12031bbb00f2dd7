"""``poe-mcp chat --schema FILE|JSON`` and ``--json-object`` against the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from poe_mcp.cli import cli, main
from poe_mcp.simulator import Simulator

from .conftest import KEY, WEATHER, model_calls


def _chat(sim: Simulator, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["chat", *args, "--base-url", sim.base_url], env={"POE_API_KEY": KEY}
    )
    return result.exit_code, result.stdout, result.stderr


def test_schema_file_gives_validated_json(simulator: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "weather.schema.json"
    path.write_text(json.dumps(WEATHER), encoding="utf-8")
    code, out, err = _chat(
        simulator, "-m", "GPT-4.1", "Weather in Lisbon?", "--schema", str(path), "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    jsonschema.validate(data["parsed"], WEATHER)
    (call,) = model_calls(simulator)
    assert call["path"] == "/v1/responses"
    assert call["body"]["text"]["format"]["name"] == "weather"  # named after the file


def test_inline_schema_prints_the_json_answer(simulator: Simulator) -> None:
    code, out, err = _chat(
        simulator,
        "-m",
        "Gemini-2.5-Pro",
        "Weather?",
        "--schema",
        json.dumps(WEATHER),
        "--no-stream",
    )
    assert code == 0, err
    jsonschema.validate(json.loads(out), WEATHER)
    (call,) = model_calls(simulator)
    assert "JSON Schema `response`" in call["body"]["messages"][0]["content"]


def test_json_object(simulator: Simulator) -> None:
    code, out, err = _chat(simulator, "-m", "Llama-3.1-405B", "hello", "--json-object", "--json")
    assert code == 0, err
    assert json.loads(out)["parsed"]["you_said"] == "hello"


def _main_error(
    sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> str:
    """Run the ``poe-mcp`` entry point (which turns errors into one line and exit 1)."""
    monkeypatch.setenv("POE_API_KEY", KEY)
    with pytest.raises(SystemExit) as exited:
        main(["chat", *args, "--no-stream", "--base-url", sim.base_url])
    assert exited.value.code == 1
    return capsys.readouterr().err


def test_still_invalid_answer_exits_with_the_error(
    simulator: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.add_fault("invalid_json", times=0)
    err = _main_error(
        simulator, capsys, monkeypatch, "-m", "GPT-4.1", "Weather?", "--schema", json.dumps(WEATHER)
    )
    assert err.startswith("error (invalid_response): the answer is not valid JSON")
    assert len(model_calls(simulator)) == 2


def test_bad_schema_options_are_refused(
    simulator: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = _chat(simulator, "hi", "--schema", str(tmp_path / "missing.json"))
    assert code == 2
    assert "--schema" in err
    code, _, err = _chat(simulator, "hi", "--schema", "{not json")
    assert code == 2
    assert "not valid JSON" in err
    code, _, err = _chat(simulator, "hi", "--schema", "{}", "--json-object")
    assert code == 2
    assert "not both" in err
    err = _main_error(simulator, capsys, monkeypatch, "hi", "--schema", '{"type": "nonsense"}')
    assert err.startswith("error (invalid_request): response_format schema is not a valid JSON")
    assert model_calls(simulator) == []


def test_help_names_the_options() -> None:
    out = CliRunner().invoke(cli, ["chat", "--help"]).stdout
    assert "--schema FILE|JSON" in out
    assert "--json-object" in out
