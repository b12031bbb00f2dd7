"""Docs that run: every Python and shell snippet of the README, executed against the simulator.

Each ``python`` block runs in a fresh interpreter and each ``sh``/``bash`` block in ``bash -e``
(so a snippet must be complete: its own imports, no state from the block before), with a test
key, ``POE_BASE_URL`` / ``OPENAI_BASE_URL`` pointing at the simulator, and the data, config and
home dirs in a temporary folder that holds the files snippets name (``photo.png``, ``diff.txt``).
``toml`` examples of ``config.toml`` must pass the config schema; ``json`` examples must parse.

A block that cannot run here (it installs software, starts a server that never returns, or
needs one started by a previous block) is preceded by ``<!-- not-run: reason -->``; the list is
kept short by :func:`test_the_not_run_list_is_short_and_explained`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from poe_mcp._config_schema import check_config_file
from poe_mcp.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = str(Path(sys.executable).parent)
MAX_NOT_RUN = 9
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
_MARK = re.compile(r"^<!--\s*not-run:\s*(.*?)\s*-->\s*$")
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    not_run: str | None  # the reason, when marked


def readme_blocks() -> list[Block]:
    blocks: list[Block] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, lang = i, match.group(1)
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mark = _MARK.match(lines[k]) if k >= 0 else None
        blocks.append(
            Block(start + 1, lang, "\n".join(lines[start + 1 : j]), mark.group(1) if mark else None)
        )
        i = j + 1
    return blocks


BLOCKS = readme_blocks()


def _select(*langs: str) -> list[pytest.param]:  # type: ignore[valid-type]
    return [
        pytest.param(b, id=f"README.md:{b.line}")
        for b in BLOCKS
        if b.lang in langs and b.not_run is None
    ]


@pytest.fixture
def workdir(tmp_path: Path, simulator: Simulator, api_key: str) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "photo.png").write_bytes(PNG)
    (folder / "diff.txt").write_text("-old line\n+new line\n")
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path / "home"),
        "POE_MCP_HOME": str(tmp_path / "data"),
        "POE_MCP_CONFIG_DIR": str(tmp_path / "config"),
        "POE_API_KEY": api_key,
        "POE_BASE_URL": simulator.base_url,
        "OPENAI_API_KEY": api_key,
        "OPENAI_BASE_URL": simulator.base_url,
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
    }
    return folder, env


def _explain(out: subprocess.CompletedProcess[str], block: Block) -> str:
    return f"README.md:{block.line} failed ({out.returncode}):\n{block.code}\n---\n{out.stderr}"


@pytest.mark.parametrize("block", _select("python"))
@pytest.mark.timeout(60)  # README snippets start real processes
def test_python_snippet_runs(block: Block, workdir: tuple[Path, dict[str, str]]) -> None:
    folder, env = workdir
    out = subprocess.run(
        [sys.executable, "-c", block.code],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 0, _explain(out, block)


@pytest.mark.parametrize("block", _select("sh", "bash", "shell"))
@pytest.mark.timeout(60)  # README snippets start real processes
def test_shell_snippet_runs(block: Block, workdir: tuple[Path, dict[str, str]]) -> None:
    folder, env = workdir
    out = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code],
        cwd=folder, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 0, _explain(out, block)


@pytest.mark.parametrize("block", _select("toml"))
def test_toml_examples_are_valid_settings(block: Block) -> None:
    data = tomllib.loads(block.code)
    if set(data) <= {"poe", "openai", "compatible"}:  # credentials.toml: one key per provider
        assert all(isinstance(t, dict) and set(t) == {"api_key"} for t in data.values())
        return
    # a config.toml example (or a part of one): every key must be one the schema knows
    check_config_file(data, Path("README.md"))


@pytest.mark.parametrize("block", _select("json"))
def test_json_examples_parse(block: Block) -> None:
    json.loads(block.code)


def test_the_not_run_list_is_short_and_explained() -> None:
    marked = [b for b in BLOCKS if b.not_run is not None]
    assert len(marked) <= MAX_NOT_RUN, [f"README.md:{b.line}" for b in marked]
    assert all(len(b.not_run or "") >= 10 for b in marked)
    runnable = {"python", "sh", "bash", "shell"}
    assert sum(1 for b in BLOCKS if b.lang in runnable and b.not_run is None) >= 8
    assert all(b.lang for b in BLOCKS), "every fenced block names its language"
