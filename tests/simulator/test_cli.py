"""`poe-mcp simulator`: documented options, and a real process serving the openai SDK."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from click.testing import CliRunner
from openai import OpenAI

from poe_mcp.cli import cli


def test_help_documents_every_option() -> None:
    result = CliRunner().invoke(cli, ["simulator", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--rpm", "--latency-ms", "--media-delay-s", "--points"):
        assert option in result.output
    assert "base_url" in result.output or "OPENAI_BASE_URL" in result.output


def test_runs_and_serves_the_openai_sdk(poe_home: object) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "poe_mcp", "simulator", "--port", "0", "--latency-ms", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        rest = [proc.stdout.readline() for _ in range(4)]
        assert any("base_url=" in r for r in rest)
        with OpenAI(api_key="cli-key", base_url=match.group(1) + "/v1", max_retries=0) as c:
            resp = c.chat.completions.create(
                model="GPT-4.1", messages=[{"role": "user", "content": "over the wire"}]
            )
        assert 'You said: "over the wire"' in (resp.choices[0].message.content or "")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
