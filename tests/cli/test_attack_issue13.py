"""Settings a newcomer gets wrong, seen from the command line (issue 13's attack): every bad
value is a clear FAIL line in ``poe-mcp doctor`` and a one-line error elsewhere, never a
traceback, never the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from poe_mcp.cli import cli, main
from poe_mcp.simulator import Simulator

ACCENTED_KEY = "sk-poe-clé-0123456789abcdef"


def _run(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env)


def _main(
    args: list[str],
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    """The ``poe-mcp`` script itself (``main``: what renders errors), in this process."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _clean(out: Result, *secrets: str) -> str:
    text = out.output
    assert "Traceback" not in text
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    for secret in secrets:
        assert secret not in text
    return text


def test_a_key_no_header_can_carry_fails_doctor_and_chat_in_one_line(
    simulator: Simulator,
    poe_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: ``UnicodeEncodeError: 'ascii' codec can't encode character`` tracebacks from
    both commands (the key went as far as the HTTP layer)."""
    env = {"POE_API_KEY": ACCENTED_KEY, "POE_BASE_URL": simulator.base_url}
    doctor = _run(["doctor"], env)
    text = _clean(doctor, ACCENTED_KEY)
    assert doctor.exit_code == 1
    assert "[FAIL] api_key: the API key (POE_API_KEY) cannot be sent: it holds a non-ASCII" in text
    assert "[SKIP] api: skipped: the API key cannot be sent" in text
    code, text = _main(["chat", "hello"], env, monkeypatch, capsys)
    assert code == 1
    assert text.startswith("error (config): the API key (POE_API_KEY) cannot be sent"), text
    assert "Traceback" not in text
    assert ACCENTED_KEY not in text
    assert simulator.requests() == []


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("POE_MCP_LOGS", "maybe", "[FAIL] logs: POE_MCP_LOGS: unknown entry point(s) maybe"),
        ("POE_MCP_TRANSPORT", "carrier-pigeon", "[FAIL] transport: POE_MCP_TRANSPORT must be"),
        ("POE_MCP_TOKEN", "two\nlines", "[FAIL] token: POE_MCP_TOKEN cannot be sent"),
        ("POE_MCP_TOKEN", "jeton-privé", "[FAIL] token: POE_MCP_TOKEN cannot be sent"),
    ],
)
def test_doctor_fails_the_variables_it_used_to_pass(
    simulator: Simulator, api_key: str, name: str, value: str, line: str
) -> None:
    """Before: doctor said every setting was fine (exit 0) while ``chat`` refused
    POE_MCP_LOGS, ``serve`` refused POE_MCP_TRANSPORT, and no client could send the token."""
    env = {"POE_API_KEY": api_key, "POE_BASE_URL": simulator.base_url, name: value}
    out = _run(["doctor"], env)
    text = _clean(out, api_key)
    assert out.exit_code == 1
    assert line in text
    assert "[ok  ] key_valid" in text  # the rest still ran


def test_doctor_says_why_the_store_is_unhealthy(api_key: str, simulator: Simulator) -> None:
    """Before: ``[FAIL] store: redis://127.0.0.1:1/0`` and nothing else."""
    env = {
        "POE_API_KEY": api_key,
        "POE_BASE_URL": simulator.base_url,
        "POE_MCP_STORE": "redis://:hunter2pass@127.0.0.1:1/0",
    }
    out = _run(["doctor"], env)
    text = _clean(out, "hunter2pass")
    store_line = next(line for line in text.splitlines() if line.startswith("[FAIL] store:"))
    assert "unavailable while checking health" in store_line
    assert "Connect" in store_line or "connect" in store_line


def test_serve_refuses_a_token_no_client_could_send(
    api_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the server started with it and printed a ``claude mcp add`` line broken in two;
    every client was then refused."""
    env = {"POE_API_KEY": api_key, "POE_MCP_TOKEN": "two\nlines"}
    code, text = _main(["serve", "--transport", "http", "--port", "0"], env, monkeypatch, capsys)
    assert code == 1
    assert text.startswith("error (config): the bearer token (POE_MCP_TOKEN, --token or"), text
    assert "cannot be sent by any client" in text
    assert "two\nlines" not in text


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("ask", "chat"), ("chta", "chat"), ("server", "serve"), ("sesions", "sessions")],
)
def test_an_unknown_command_names_the_one_meant(typed: str, meant: str) -> None:
    result = CliRunner().invoke(cli, [typed, "hello"])
    assert result.exit_code == 2
    assert f"No such command '{typed}'. Did you mean '{meant}'?" in result.output
