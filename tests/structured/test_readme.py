"""The README's "Structured output" examples run as written, against the simulator."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from mcp import Client

from poe_mcp.cli import cli
from poe_mcp.config import Settings
from poe_mcp.server.app import build_server
from poe_mcp.server.registry import available_tools
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator

from .conftest import KEY

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Structured output") :]
    section = re.split(r"\n##+ ", section[1:], maxsplit=1)[0]  # up to the next heading
    return re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)


@pytest.fixture
def env(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"POE_API_KEY": KEY, "POE_BASE_URL": simulator.base_url}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_python_example(env: dict[str, str]) -> None:
    (code,) = _blocks("python")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # the README snippet
    assert out.getvalue().splitlines() == ["city 0.0", 'clear {"sky": "clear"}']


async def test_mcp_example(simulator: Simulator, env: dict[str, str]) -> None:
    (transcript,) = _blocks("text")
    call, answer, parsed = transcript.strip().splitlines()
    arguments = json.loads(call.removeprefix("→ ask_poe_v2 "))
    runtime = ServerRuntime(
        Settings.load(store="memory://"), api_key=KEY, simulated=True, tools=available_tools()
    )
    try:
        async with Client(build_server(runtime)) as client:
            result = await client.call_tool("ask_poe_v2", arguments)
    finally:
        await runtime.aclose()
    assert not result.is_error, result.content[0].text
    assert result.content[0].text.startswith(answer.removeprefix("← "))
    expected = json.loads(parsed.strip().removeprefix("structuredContent.parsed: "))
    assert result.structured_content["parsed"] == expected


def test_shell_example(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (script,) = _blocks("sh")
    monkeypatch.chdir(tmp_path)
    outputs = []
    for line in script.strip().splitlines():
        if not line.startswith("poe-mcp "):
            subprocess.run(["bash", "-c", line], check=True, cwd=tmp_path)
            continue
        args = shlex.split(line, comments=True)[1:]
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 0, (line, result.output, result.exception)
        outputs.append(result.stdout)
    assert json.loads(outputs[0]) == {"city": "city", "celsius": 0.0}
    assert json.loads(outputs[1]) == {"sky": "clear"}
    assert json.loads(outputs[2])["parsed"]["you_said"] == "Describe MCP"
