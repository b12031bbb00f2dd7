"""Built-in file and command tools: confined to their roots, opt-in, capped."""

from __future__ import annotations

from pathlib import Path

import pytest

from poe_mcp import Agent, AsyncPoeClient, ConfigError, Tool, ToolExecutionError
from poe_mcp.tools import builtin_tools, builtin_tools_from_config

from .conftest import TOOL_MODEL


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ (allowed) next to outside/ (a secret); links from root pointing out and in."""
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "notes.txt").write_text("alpha line\nBeta line\n")
    (root / "docs" / "guide.md").write_text("# Guide\nsee alpha\n")
    (root / "blob.bin").write_bytes(b"\x00\x01\x02" * 10)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET alpha")
    (root / "escape_dir").symlink_to(outside, target_is_directory=True)
    (root / "escape_file.txt").symlink_to(outside / "secret.txt")
    (root / "inner_link.md").symlink_to(root / "docs" / "guide.md")
    return root


def by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {t.name: t for t in tools}


async def call(t: Tool, **arguments: object) -> str:
    result = await t.run(t.validate(arguments))
    assert isinstance(result, str)
    return result


@pytest.mark.parametrize(
    "path",
    [
        "../outside/secret.txt",
        "docs/../../outside/secret.txt",
        "escape_file.txt",
        "escape_dir/secret.txt",
    ],
)
async def test_paths_leaving_the_root_are_refused(tree: Path, path: str) -> None:
    read_file = by_name(builtin_tools([tree]))["read_file"]
    with pytest.raises(ToolExecutionError, match="outside the allowed folder"):
        await call(read_file, path=path)


@pytest.mark.parametrize("path", ["/etc/passwd", "~/secret.txt", "C:/Windows/win.ini"])
async def test_absolute_paths_are_refused(tree: Path, path: str) -> None:
    tools = by_name(builtin_tools([tree]))
    with pytest.raises(ToolExecutionError, match="absolute paths are not allowed"):
        await call(tools["read_file"], path=path)
    with pytest.raises(ToolExecutionError, match="absolute paths are not allowed"):
        await call(tools["list_directory"], path=path)


async def test_escaping_directories_are_not_listed_or_searched(tree: Path) -> None:
    tools = by_name(builtin_tools([tree]))
    with pytest.raises(ToolExecutionError, match="outside the allowed folder"):
        await call(tools["list_directory"], path="escape_dir")
    listing = await call(tools["list_directory"])
    assert "escape_dir (link out of the root: refused)" in listing
    assert "docs/" in listing
    assert "notes.txt (21 bytes)" in listing
    found = await call(tools["search_files"], contains="alpha")
    assert "notes.txt:1: alpha line" in found
    assert "docs/guide.md:2: see alpha" in found
    assert "SECRET" not in found  # the linked-out file was never opened
    assert str(tree) not in found  # no host paths
    assert await call(tools["search_files"], pattern="*.md") == "docs/guide.md"


async def test_reads_inside_the_root_work_and_are_capped(tree: Path) -> None:
    tools = by_name(builtin_tools([tree], max_read_bytes=8))
    assert await call(tools["read_file"], path="inner_link.md") == (
        "# Guide\n\n[truncated: the file has 18 bytes; the first 8 are shown]"
    )
    assert await call(tools["read_file"], path="./docs/../blob.bin") == (
        "[binary file, 30 bytes: not shown]"
    )


async def test_several_roots_are_addressed_by_name(tree: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("from other")
    tools = by_name(builtin_tools({"main": tree, "extra": other}))
    assert await call(tools["list_directory"]) == "main/\nextra/"
    assert await call(tools["read_file"], path="extra/x.txt") == "from other"
    with pytest.raises(ToolExecutionError, match="names no root"):
        await call(tools["read_file"], path="nowhere/x.txt")


def test_run_command_is_off_unless_programs_are_allow_listed(tree: Path) -> None:
    assert sorted(by_name(builtin_tools([tree]))) == ["list_directory", "read_file", "search_files"]
    assert builtin_tools_from_config({}) == []
    with pytest.raises(ConfigError, match="not found on PATH"):
        builtin_tools([tree], commands=["surely-not-a-program-xyz"])


async def test_run_command_allows_only_listed_programs_and_no_shell(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVICE_API_KEY", "hunter2-value")
    tools = builtin_tools_from_config(
        {"roots": [str(tree)], "commands": ["echo", "printenv", "ls"]}
    )
    run = by_name(tools)["run_command"]
    assert run.to_openai()["function"]["parameters"]["properties"]["program"]["enum"] == [
        "echo",
        "printenv",
        "ls",
    ]

    with pytest.raises(ToolExecutionError, match="'cat' is not allowed"):
        await call(run, program="cat", args=["notes.txt"])
    with pytest.raises(ToolExecutionError, match="not allowed"):
        await call(run, program="/bin/cat", args=["notes.txt"])

    # Shell syntax is just text: nothing is expanded, chained or redirected.
    out = await call(run, program="echo", args=["$HOME; cat notes.txt > x", "`id`"])
    assert out == "exit code: 0\nstdout:\n$HOME; cat notes.txt > x `id`\n"
    assert not (tree / "x").exists()

    assert "notes.txt" in await call(run, program="ls", cwd="docs/..")
    with pytest.raises(ToolExecutionError, match="outside the allowed folder"):
        await call(run, program="ls", cwd="../outside")

    env = await call(run, program="printenv")
    assert "hunter2-value" not in env  # nothing is inherited: a minimal environment
    assert "MY_SERVICE_API_KEY" not in env


async def test_run_command_timeout_and_output_cap(tree: Path) -> None:
    tools = builtin_tools([tree], commands=["sleep", "seq"], command_timeout=0.5, output_cap=100)
    run = by_name(tools)["run_command"]
    with pytest.raises(ToolExecutionError, match=r"timed out after 0\.5 s and was killed"):
        await call(run, program="sleep", args=["30"])

    out = await call(run, program="seq", args=["1000", "1999"])
    assert out.startswith("exit code: 0\nstdout:\n1000\n1001\n")
    assert "[output truncated: 5000 bytes, the first 100 shown]" in out


async def test_a_model_reads_files_through_the_agent(tree: Path, client: AsyncPoeClient) -> None:
    agent = Agent(client, TOOL_MODEL, tools=builtin_tools([tree]))
    ok = await agent.run("read_file path=notes.txt")
    assert 'read_file -> "alpha line\nBeta line\n"' in ok.text

    refused = await agent.run("read_file path=../outside/secret.txt")
    assert "SECRET" not in refused.text
    assert "outside the allowed folder" in refused.text
    assert refused.trace[0].error is not None


def test_roots_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        builtin_tools([tmp_path / "missing"])
    with pytest.raises(ConfigError, match="roots must be a list"):
        builtin_tools_from_config({"roots": "just-a-string"})
