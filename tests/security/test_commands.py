"""``run_command``: programs that run programs are refused, options that do are filtered, paths
stay inside the roots, and the kernel sandbox holds even if a filter misses (issue 12, item 2).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from poe_mcp import ConfigError, ToolExecutionError
from poe_mcp import _landlock as landlock
from poe_mcp.tools import builtin_tools

from .boundary import ENV_CANARY, Victim, assert_no_leak

LANDLOCK = landlock.abi_version() > 0
ALLOWED = ["git", "ls", "cat", "find", "tar", "sed", "grep", "printenv", "head", "sort", "cp"]


@pytest.fixture
def repo(victim: Victim) -> Path:
    """A git repository in the work root whose own config tries every program-running hook."""
    repo = victim.work / "repo"
    repo.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(victim.root), "GIT_CONFIG_NOSYSTEM": "1"}
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=repo, env=env, check=True)
    (repo / "a.txt").write_text("one\n")
    (repo / ".gitattributes").write_text("*.txt diff=evil filter=evil\n")
    subprocess.run([*git, "add", "-A"], cwd=repo, env=env, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=repo, env=env, check=True)
    (repo / "a.txt").write_text("two\n")
    pwned = victim.root / "pwned"
    hook = f"touch {pwned}"
    with (repo / ".git" / "config").open("a") as fh:  # a hostile repository, as cloned
        fh.write(
            f"[core]\n\tpager = {hook}\n\tfsmonitor = {hook}\n\tsshCommand = {hook}\n"
            f'[diff]\n\texternal = {hook}\n[diff "evil"]\n\ttextconv = {hook}\n'
            f'[filter "evil"]\n\tclean = {hook}\n\tsmudge = {hook}\n'
            f"[alias]\n\tst = !{hook}\n[pager]\n\tlog = {hook}\n"
        )
    return repo


def command(victim: Victim, programs: list[str] | None = None, *, kernel: bool = True) -> Any:
    wanted = [p for p in (programs or ALLOWED) if shutil.which(p)]
    made = builtin_tools(victim.roots, commands=wanted, kernel_sandbox=kernel)
    (tool,) = [t for t in made if t.name == "run_command"]
    return tool


async def run(tool: Any, program: str, *args: str, cwd: str = "work") -> str:
    return str(await tool.run(tool.validate({"program": program, "args": list(args), "cwd": cwd})))


RUNNERS = ["sh", "bash", "dash", "env", "xargs", "python3", "perl", "nohup", "timeout", "nice",
           "less", "more", "man", "vi", "ssh", "curl", "wget", "make", "awk", "busybox",
           "setsid", "stdbuf", "watch", sys.executable]  # fmt: skip


def test_programs_that_run_programs_cannot_be_allow_listed(victim: Victim) -> None:
    present = [p for p in RUNNERS if shutil.which(p)]
    assert len(present) >= 8  # the machine has enough of them for this test to mean something
    for program in present:
        with pytest.raises(ConfigError, match="run_command cannot allow"):
            builtin_tools(victim.roots, commands=[program])


def test_run_command_needs_roots() -> None:
    with pytest.raises(ConfigError, match="needs \\[tools\\] roots"):
        builtin_tools([], commands=["ls"])


GIT_ATTACKS = [
    ["-c", "alias.x=!touch ../../pwned", "x"],
    ["-c", "core.pager=touch ../../pwned", "log"],
    ["--config-env=core.pager=HOME", "log"],
    ["--exec-path=/tmp", "status"],
    ["--git-dir=/etc", "status"],
    ["--work-tree=..", "status"],
    ["-C", "/tmp", "status"],
    ["-C", "../../../outside", "status"],
    ["-p", "log"],
    ["--paginate", "log"],
    ["st"],
    ["config", "alias.y", "!touch ../../pwned"],
    ["commit", "-am", "x"],
    ["checkout", "."],
    ["fetch", "origin"],
    ["clone", "ext::sh -c touch% /tmp/pwned", "x"],
    ["submodule", "update"],
    ["help", "log"],
    ["log", "--help"],
    ["log", "--output=../../out"],
    ["log", "--outp=../../out"],
    ["diff", "--ext-diff"],
    ["show", "--textconv", "HEAD"],
    ["grep", "-Otouch", "one"],
    ["grep", "--open-files-in-pager=touch", "one"],
    ["branch", "evil"],
    ["branch", "-D", "main"],
    ["tag", "-d", "x"],
    ["remote", "add", "x", "ext::sh"],
    ["stash", "push"],
    ["reflog", "expire", "--all"],
    ["cat-file", "--filters", "HEAD:a.txt"],
]


@pytest.mark.parametrize("kernel", [True, False], ids=["landlock", "filters-only"])
async def test_git_options_that_run_programs_are_refused(
    victim: Victim, repo: Path, kernel: bool
) -> None:
    run_command = command(victim, kernel=kernel)
    for attack in GIT_ATTACKS:
        with pytest.raises(ToolExecutionError):
            await run(run_command, "git", *attack, cwd="work/repo")
    assert not (victim.root / "pwned").exists()
    assert not (victim.root / "out").exists()


@pytest.mark.parametrize("kernel", [True, False], ids=["landlock", "filters-only"])
async def test_read_only_git_works_and_ignores_the_repositorys_hooks(
    victim: Victim, repo: Path, kernel: bool
) -> None:
    run_command = command(victim, kernel=kernel)
    outputs = [
        await run(run_command, "git", *args, cwd="work/repo")
        for args in (["status"], ["log", "--oneline"], ["diff"], ["show", "HEAD"],
                     ["blame", "a.txt"], ["grep", "two"], ["branch", "--list"], ["remote", "-v"],
                     ["ls-files"], ["rev-parse", "HEAD"])
    ]  # fmt: skip
    assert "first" in outputs[1]
    assert "+two" in outputs[2]  # the repository's diff.external and textconv did not run
    assert "a.txt" in outputs[8]
    assert all(o.startswith("exit code: 0") for o in outputs), outputs
    assert not any("external filter" in o or "cannot exec" in o for o in outputs)  # none ran
    assert not (victim.root / "pwned").exists()


async def test_git_never_finds_a_repository_above_a_root(victim: Victim) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(victim.root)}
    subprocess.run(["git", "init", "-q", str(victim.root)], env=env, check=True)
    out = await run(command(victim), "git", "status", cwd="work/sub")
    assert "not a git repository" in out


FIND_ATTACKS = [
    [".", "-exec", "touch", "../pwned", ";"],
    [".", "-execdir", "touch", "pwned", "+"],
    [".", "-ok", "id", ";"],
    [".", "-okdir", "id", ";"],
    [".", "-delete"],
    [".", "-fprint", "out"],
    [".", "-fprintf", "out", "%p"],
    [".", "-fls", "out"],
    ["-L", "."],
    [".", "-follow"],
    ["/"],
    ["..", "-name", "*.toml"],
    ["link_config"],
]
TAR_ATTACKS = [
    ["-cf", "x.tar", "notes.txt", "--to-command=touch ../pwned"],
    ["-xf", "x.tar", "--to-c=touch ../pwned"],
    ["-cf", "x.tar", "--checkpoint=1", "--checkpoint-action=exec=touch ../pwned", "notes.txt"],
    ["-I", "touch ../pwned", "-cf", "x.tar", "notes.txt"],
    ["-cIf", "touch", "x.tar", "notes.txt"],
    ["--use-compress-program=touch ../pwned", "-cf", "x.tar", "notes.txt"],
    ["--use=touch", "-cf", "x.tar", "notes.txt"],
    ["cIf", "touch", "x.tar", "notes.txt"],
    ["--rsh-command=/bin/sh", "-cf", "host:x.tar", "notes.txt"],
    ["-F", "touch ../pwned", "-cf", "x.tar", "notes.txt"],
    ["-cPf", "x.tar", "/etc/passwd"],
    ["-chf", "x.tar", "link_config"],
    ["-cf", "x.tar", "../home/config"],
]
SED_ATTACKS = [
    ["-n", "1e touch ../pwned", "notes.txt"],
    ["s/hello/x/e", "notes.txt"],
    ["w ../pwned", "notes.txt"],
    ["-n", "r /proc/self/environ", "notes.txt"],
    ["-i", "s/x/y/", "../home/config/credentials.toml"],
    ["-n", "p", "/proc/self/environ"],
]
PATH_ATTACKS = {
    "ls": [["../"], ["/"], ["/etc"], ["link_outside"], ["-L", "link_outside"],
           ["--dereference", "."], ["-d/etc"], ["~"], ["../home/config"], ["link_config/"]],
    "cat": [["/proc/self/environ"], ["link_env"], ["link_creds"], ["link_db"],
            ["../home/config/credentials.toml"], ["../outside/secret.txt"], ["--", "/etc/passwd"],
            ["sub/../../home/data/poe-mcp.db"], ["pipe"], ["/dev/zero"], ["sock"]],
    "grep": [["-r", "CANARY", ".."], ["-R", "CANARY", "."], ["--dereference-recursive", "x", "."],
             ["-f/proc/self/environ", "notes.txt"], ["-r", "api_key", "../home"]],
    "head": [["-c", "100", "/proc/self/environ"],
             ["--bytes=10", "../home/config/credentials.toml"]],
    "sort": [["--compress-program=touch", "notes.txt"], ["-o", "../pwned", "notes.txt"]],
    "cp": [["../home/config/credentials.toml", "stolen"], ["-L", "link_creds", "x"],
           ["notes.txt", "../pwned"], ["-r", "link_config", "copy"]],
}  # fmt: skip


@pytest.mark.parametrize("kernel", [True, False], ids=["landlock", "filters-only"])
async def test_path_and_option_attacks_are_refused(victim: Victim, kernel: bool) -> None:
    run_command = command(victim, kernel=kernel)
    attacks = {"find": FIND_ATTACKS, "tar": TAR_ATTACKS, "sed": SED_ATTACKS, **PATH_ATTACKS}
    counts: dict[str, int] = {}
    for program, cases in attacks.items():
        for args in cases:
            try:
                out = await run(run_command, program, *args)
            except ToolExecutionError as exc:
                assert_no_leak(exc.message)
                counts[program] = counts.get(program, 0) + 1
                continue
            # sed's own sandbox refuses e/w/r at parse time: it ran, and failed.
            assert program == "sed", (program, args, out)
            assert "disabled in sandbox mode" in out
            assert_no_leak(out)
    assert not (victim.root / "pwned").exists()
    assert not (victim.work / "stolen").exists()
    assert counts["find"] == len(FIND_ATTACKS)
    assert counts["tar"] == len(TAR_ATTACKS)
    assert counts["cat"] == len(PATH_ATTACKS["cat"])


async def test_a_root_holding_poe_mcps_files_cannot_be_worked_on_whole(victim: Victim) -> None:
    run_command = command(victim)
    with pytest.raises(ToolExecutionError, match="contains poe-mcp's own configuration"):
        await run(run_command, "grep", "-r", "api_key", cwd="home")
    with pytest.raises(ToolExecutionError, match="contains poe-mcp's own configuration"):
        await run(run_command, "grep", "-r", "api_key", "../home", cwd="work")
    out = await run(run_command, "ls", cwd="work")
    assert "notes.txt" in out


async def test_the_environment_is_minimal(victim: Victim, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POE_API_KEY", "poe-key-in-the-server-env")
    monkeypatch.setenv("GIT_DIR", "/etc")
    monkeypatch.setenv("LD_PRELOAD", "/tmp/evil.so")
    out = await run(command(victim), "printenv")
    names = {line.split("=", 1)[0] for line in out.split("stdout:\n", 1)[1].splitlines() if line}
    assert_no_leak(out)
    assert "poe-key-in-the-server-env" not in out
    assert ENV_CANARY not in out
    assert not {"GIT_DIR", "LD_PRELOAD", "POE_API_KEY", "POE_MCP_TEST_CANARY"} & names
    assert "HOME=" + os.environ.get("HOME", "/root") not in out  # a throwaway home
    assert "PAGER=cat" in out


async def test_hostile_argument_shapes_are_clean_errors(victim: Victim) -> None:
    run_command = command(victim)
    for args, message in (
        (["a\x00b"], "NUL byte"),
        (["x"] * 300, "at most"),
        (["x" * 5000], "longer than"),
    ):
        with pytest.raises(ToolExecutionError, match=message):
            await run(run_command, "ls", *args)
    with pytest.raises(ToolExecutionError, match="not allowed"):
        await run(run_command, "/bin/sh", "-c", "id")
    for cwd in ("/tmp", "../outside", "work/link_outside", "home/config", "work/\x00"):
        with pytest.raises(ToolExecutionError):
            await run(run_command, "ls", cwd=cwd)


def test_the_kernel_sandbox_holds_when_a_filter_would_miss(
    victim: Victim, caplog: pytest.LogCaptureFixture
) -> None:
    """The launcher alone, with arguments no filter saw: outside reads and other programs fail.

    On a kernel without Landlock the filters are all there is, and the server says so.
    """
    if not LANDLOCK:
        with caplog.at_level("WARNING"):
            command(victim)
        assert "no Landlock" in caplog.text
        return
    home = tempfile.mkdtemp()
    results = {}
    for name, exe, args in (
        ("environ", "/usr/bin/cat", ["/proc/self/environ"]),
        ("outside", "/usr/bin/cat", [str(victim.outside / "secret.txt")]),
        ("key", "/usr/bin/cat", [str(victim.credentials)]),
        ("inside", "/usr/bin/cat", [str(victim.work / "notes.txt")]),
        ("shell", "/usr/bin/find", [str(victim.work), "-maxdepth", "0", "-exec", "/bin/sh",
                                    "-c", f"touch {victim.work}/pwned", ";"]),
        ("tcp", "/usr/bin/git", ["ls-remote", "http://127.0.0.1:9/x"]),
    ):  # fmt: skip
        spec = landlock.spec_for(
            exe, writable=[str(victim.work), str(victim.home), home],
            denied=[str(victim.config), str(victim.data)],
            exec_dirs=("/usr/lib/git-core",),
        )  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-I", "-S", landlock.__file__, json.dumps(spec), exe, *args],
            capture_output=True, text=True, timeout=20, env={"PATH": "/usr/bin:/bin", "HOME": home},
        )  # fmt: skip
        results[name] = done
    assert results["inside"].stdout == "hello notes\n"
    for name in ("environ", "outside", "key"):
        assert results[name].returncode != 0
        assert "Permission denied" in results[name].stderr
        assert_no_leak(results[name].stdout)
    assert "Permission denied" in results["shell"].stderr
    assert not (victim.work / "pwned").exists()
    assert results["tcp"].returncode != 0
