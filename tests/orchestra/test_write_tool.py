"""``write_file``: the one tool that changes files, confined like the reading tools."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from poe_mcp import AsyncPoeClient
from poe_mcp.errors import ConfigError, ToolExecutionError
from poe_mcp.orchestra import Orchestrator
from poe_mcp.tools import builtin_tools, builtin_tools_from_config

from .conftest import TIERS


def _write(root: Path, denied: tuple[Path, ...] = ()) -> object:
    tools = {t.name: t for t in builtin_tools([root], write=True, denied=list(denied))}
    assert tools["write_file"].mutating
    assert not tools["read_file"].mutating
    return tools["write_file"]


def test_write_file_creates_and_replaces_files_inside_the_root(tmp_path: Path) -> None:
    tool = _write(tmp_path)
    run = tool.run  # type: ignore[attr-defined]
    assert asyncio.run(run({"path": "notes/a.txt", "content": "one"})) == (
        "wrote 3 bytes to notes/a.txt"
    )
    asyncio.run(run({"path": "notes/a.txt", "content": "two"}))
    assert (tmp_path / "notes" / "a.txt").read_text() == "two"
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["a.txt"]  # no temp file left


def test_write_file_refuses_every_way_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    (root / "out").symlink_to(secret)
    os.mkfifo(root / "pipe")
    (root / "link.txt").symlink_to(root / "target.txt")
    protected = root / "config"
    protected.mkdir()
    tool = _write(root, denied=(protected,))
    for path in (
        "../escape.txt",
        "/etc/passwd",
        "out/x.txt",
        "pipe",
        "config/credentials.toml",
        "a\x00b",
        "~/x",
    ):
        with pytest.raises(ToolExecutionError):
            asyncio.run(tool.run({"path": path, "content": "x"}))  # type: ignore[attr-defined]
    assert list(secret.iterdir()) == []
    assert not (root / "target.txt").exists()


def test_write_needs_roots_and_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs roots"):
        builtin_tools_from_config({"write": True})
    with pytest.raises(ConfigError, match="true or false"):
        builtin_tools_from_config({"roots": [str(tmp_path)], "write": "yes"})
    names = [t.name for t in builtin_tools_from_config({"roots": [str(tmp_path)]})]
    assert "write_file" not in names


@pytest.mark.asyncio(loop_scope="session")
async def test_a_worker_writes_a_file_when_writing_is_enabled(
    client: AsyncPoeClient, tmp_path: Path
) -> None:
    tools = builtin_tools([tmp_path], write=True)
    orch = Orchestrator(client, tiers=TIERS, tools=tools)
    state = await orch.run("Call write_file path=out.txt content=hello.")
    assert state.status == "completed"
    assert (tmp_path / "out.txt").read_text() == "hello"
    assert state.tickets["T1.1"].tool_calls == 1
