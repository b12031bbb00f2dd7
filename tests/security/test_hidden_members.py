"""Other members of the fault kinds of issue 12 (files, commands, special files, write_file,
downloads), found by attacking what landed for them: each test failed before its fix.

- files: hard links, bind mounts and other-cased names of poe-mcp's own files; a folder swapped
  for a link between the check and the open (reads, listings, searches, writes); ``.git`` in
  every spelling a file system may take for it; orchestration workers and client roots;
- commands: ``-C`` climbing out one allowed step at a time; option values glued to a short
  option that name a link; options that read file names from a file; repositories whose files
  live elsewhere; signature programs, path settings and submodules of a hostile repository;
  programs that run programs; a timed-out command whose output filled its pipe;
- downloads: more spellings of internal addresses, and redirects of every kind.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from mcp import Client
from mcp_types import ListRootsResult, Root

import redis
from poe_mcp import ConfigError, MediaError, ToolExecutionError
from poe_mcp import _landlock as landlock
from poe_mcp._netpolicy import DownloadPolicy
from poe_mcp._paths import denied_paths
from poe_mcp.config import Settings
from poe_mcp.media import download_media
from poe_mcp.server.app import build_server
from poe_mcp.server.runtime import ServerRuntime
from poe_mcp.simulator import Simulator
from poe_mcp.tools import builtin_tools
from tests.redis.redis_testlib import RedisServer

from .boundary import (
    HOSTILE_MODEL,
    KEY_CANARY,
    OUTSIDE_CANARY,
    SteeredAPI,
    Victim,
    assert_no_leak,
    call,
    error_of,
)
from .hidden import Redirector, flipping, git, outcome, repo, run, tools
from .test_attacker_http import client as http_client
from .test_attacker_http import server as attacker_server  # noqa: F401 - a fixture
from .test_attacker_http import texts

KERNEL = [True, False] if landlock.abi_version() > 0 else [False]
KERNEL_IDS = ["landlock", "filters-only"][: len(KERNEL)]


# --- files: other names of protected files --------------------------------------------------


async def test_hard_links_to_poe_mcps_files_are_refused_by_every_reader(
    victim: Victim, make_server: Callable[..., Any]
) -> None:
    os.link(victim.credentials, victim.work / "creds-copy.toml")
    os.link(victim.db, victim.work / "db-copy")
    made = tools(victim, ["cat", "grep", "head"], write=True)
    for path in ("work/creds-copy.toml", "work/db-copy"):
        ok, said = await outcome(made["read_file"], path=path)
        assert not ok
        assert "under another name" in said
    found = await run(made["search_files"], contains="CANARY", path="work")
    assert found == "no matches"
    ok, said = await outcome(made["write_file"], path="work/creds-copy.toml", content="x")
    assert not ok
    assert KEY_CANARY in victim.credentials.read_text()
    for args in (["creds-copy.toml"], ["-r", "api_key", "."], ["-c", "99", "db-copy"]):
        program = {"creds-copy.toml": "cat", "-r": "grep", "-c": "head"}[args[0]]
        ok, said = await outcome(made["run_command"], program=program, args=args, cwd="work")
        assert not ok, said
        assert "hard link" in said, said
        assert_no_leak(said)
    async with Client(make_server()) as client:
        for path in ("creds-copy.toml", str(victim.work / "db-copy")):
            result = await client.call_tool(
                "ask_with_attachment",
                {"bot": "GPT-4.1", "prompt": "x", "attachment_paths": [path]},
            )
            assert error_of(result)["metadata"]["kind"] == "invalid_request"
            assert_no_leak(result.content[0].text)


async def test_c1_control_characters_are_invalid_requests_too(
    victim: Victim, make_server: Callable[..., Any]
) -> None:
    """U+0080-U+009F are control characters as much as C0 (U+009B is a terminal's CSI)."""
    read_file = tools(victim)["read_file"]
    async with Client(make_server()) as client:
        for path in ("notes\x85.txt", "notes\x9b31m.txt", "\x80"):
            result = await client.call_tool(
                "ask_with_attachment",
                {"bot": "GPT-4.1", "prompt": "x", "attachment_paths": [path]},
            )
            err = error_of(result)
            assert err["metadata"]["kind"] == "invalid_request"
            assert "control character" in err["message"]
            ok, said = await outcome(read_file, path=f"work/{path}")
            assert not ok
            assert "control character" in said


async def test_the_redis_stores_dump_file_is_refused(
    victim: Victim, make_server: Callable[..., Any], redis_server: RedisServer
) -> None:
    """With sessions in Redis, its snapshot file holds them: refused like the SQLite store."""
    redis.Redis.from_url(redis_server.url(3)).set("poe-mcp-canary", KEY_CANARY)
    redis.Redis.from_url(redis_server.url(3)).save()
    dump = redis_server.workdir / "dump.rdb"
    assert KEY_CANARY.encode() in dump.read_bytes()
    roots = {**victim.roots, "redis": str(redis_server.workdir)}
    server = make_server(tools={"roots": roots}, store=redis_server.url(3))
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_with_attachment",
            {"bot": "GPT-4.1", "prompt": "x", "attachment_paths": [str(dump)]},
        )
    assert "protected location" in error_of(result)["message"]
    assert_no_leak(result.content[0].text)
    settings = Settings.load(store=redis_server.url(3), file={"tools": {"roots": roots}})
    made = builtin_tools(roots, denied=denied_paths(settings))
    read_file = {t.name: t for t in made}["read_file"]
    ok, said = await outcome(read_file, path="redis/dump.rdb")
    assert not ok
    assert "protected location" in said


BIND_PROBE = """
import asyncio, json, subprocess, sys
from poe_mcp.tools import builtin_tools
work, home, config, mount = sys.argv[1:5]
subprocess.run(["mount", "--bind", config, mount], check=True)
made = {t.name: t for t in builtin_tools({"work": work, "home": home}, commands=["cat"])}
calls = [("read_file", {"path": "work/cfg/credentials.toml"}),
         ("list_directory", {"path": "work/cfg"}),
         ("search_files", {"contains": "api_key", "path": "work"}),
         ("run_command", {"program": "cat", "args": ["cfg/credentials.toml"], "cwd": "work"})]
async def main():
    out = []
    for name, arguments in calls:
        try:
            out.append(str(await made[name].run(arguments)))
        except Exception as exc:
            out.append("refused: " + str(exc))
    print(json.dumps(out))
asyncio.run(main())
"""


def test_a_protected_folder_mounted_inside_a_root_is_refused(victim: Victim) -> None:
    """A bind mount (in a user namespace, so no privilege is needed) shows poe-mcp's config dir
    under another path; compared by identity, it is still refused. Where user namespaces are
    off, the same identity check is shown by a hard link."""
    mount = victim.work / "cfg"
    mount.mkdir()
    namespaces = shutil.which("unshare") and (
        subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False).returncode == 0
    )
    if not namespaces:
        os.link(victim.credentials, victim.work / "creds")
        with pytest.raises(ToolExecutionError, match="under another name"):
            asyncio.run(run(tools(victim)["read_file"], path="work/creds"))
        return
    command = ["unshare", "-rm", sys.executable, "-c", BIND_PROBE,
               str(victim.work), str(victim.home), str(victim.config), str(mount)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results[0].startswith("refused:"), results
    assert "another name" in results[0], results
    assert results[1].startswith("refused:"), results
    assert results[2] == "no matches", results
    assert results[3].startswith("refused:"), results
    assert_no_leak(done.stdout)


# --- files: a folder swapped for a link between the check and the open ------------------------


async def test_a_folder_swapped_for_a_link_is_never_followed_by_the_readers(
    victim: Victim,
) -> None:
    flip = victim.work / "flip"
    flip.mkdir()
    (flip / "credentials.toml").write_text("harmless\n")
    made = tools(victim)
    counts = {"read": 0, "listed": 0, "searched": 0}
    with flipping(flip, victim.config):
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            ok, said = await outcome(made["read_file"], path="work/flip/credentials.toml")
            assert_no_leak(said)
            counts["read"] += ok
            ok, said = await outcome(made["list_directory"], path="work/flip")
            assert "config.toml" not in said
            counts["listed"] += ok
            ok, said = await outcome(made["search_files"], contains="api_key", path="work")
            assert_no_leak(said)
            counts["searched"] += ok
    # The race was on: the real folder was read often, the protected one never.
    assert min(counts.values()) > 10, counts


async def test_write_file_never_writes_through_a_folder_swapped_for_a_link(
    victim: Victim,
) -> None:
    flip = victim.work / "flip"
    flip.mkdir()
    write = tools(victim, write=True)["write_file"]
    written = 0
    with flipping(flip, victim.config):
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            ok, _ = await outcome(write, path="work/flip/config.toml", content="[tools]\n")
            written += ok
            ok, _ = await outcome(write, path=f"work/flip/new{written}/x.txt", content="x")
    assert written > 10
    # Nothing was created in the config dir: no file, no temporary, no folder.
    assert sorted(p.name for p in victim.config.iterdir()) == ["credentials.toml"]
    real = flip.with_name("flip.link") if flip.is_symlink() else flip  # where it ended up
    assert (real / "config.toml").read_text() == "[tools]\n"


GIT_SPELLINGS = [".GIT", ".Git", ".git.", ".git ", ".g\u200cit", ".gi\ufefft", "GIT~1"]


async def test_every_spelling_of_dot_git_is_refused(
    victim: Victim, make_server: Callable[..., Any]
) -> None:
    """On macOS and Windows these all are the repository's .git folder."""
    made = tools(victim, ["cat"], write=True)
    for name in GIT_SPELLINGS:
        (victim.work / name).mkdir()
        (victim.work / name / "config").write_text("[core]\n")
        for tool, arguments in (
            ("read_file", {"path": f"work/{name}/config"}),
            ("write_file", {"path": f"work/{name}/config", "content": "[core]\n\tfsmonitor=x\n"}),
            ("list_directory", {"path": f"work/{name}"}),
            ("run_command", {"program": "cat", "args": [f"{name}/config"], "cwd": "work"}),
        ):
            ok, said = await outcome(made[tool], **arguments)
            assert not ok, (name, tool, said)
            assert ".git folder" in said, (name, tool, said)
    found = await run(made["search_files"], pattern="config", path="work")
    assert found == "no matches"
    async with Client(make_server()) as client:
        for name in GIT_SPELLINGS[:3]:
            result = await client.call_tool(
                "ask_with_attachment",
                {"bot": "GPT-4.1", "prompt": "x", "attachment_paths": [f"{name}/config"]},
            )
            assert ".git folder" in error_of(result)["message"]


async def test_orchestration_workers_stay_inside_the_client_roots(
    simulator: Simulator, victim: Victim
) -> None:
    (victim.home / "private.txt").write_text(OUTSIDE_CANARY)
    settings = Settings.load(
        store="memory://", base_url=simulator.base_url, file={"tools": {"roots": victim.roots}}
    )
    runtime = ServerRuntime(settings, api_key="sk-hidden", simulated=True, tools=["orchestrate"])

    async def roots(ctx: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=f"file://{victim.work}")])

    tiers = {"1": "Claude-Opus-4.1", "2": "Claude-Sonnet-4", "3": "GPT-4.1", "4": "GPT-4o-mini",
             "escalation": "Claude-Opus-4.1"}  # fmt: skip
    try:
        async with Client(build_server(runtime), list_roots_callback=roots) as client:
            result = await client.call_tool(
                "orchestrate",
                {"goal": "Use read_file path=home/private.txt and report it.", "tiers": tiers},
            )
    finally:
        await runtime.aclose()
    outputs = json.dumps(result.structured_content)
    assert "read_file" in outputs  # the workers did try
    assert "outside the roots your MCP client" in outputs
    assert_no_leak(outputs)


# --- commands ------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", KERNEL, ids=KERNEL_IDS)
async def test_folder_changing_options_cannot_climb_out_one_step_at_a_time(
    victim: Victim, kernel: bool
) -> None:
    (victim.work / "sub" / "inner").mkdir()
    run_command = tools(victim, ["tar", "git"], kernel_sandbox=kernel)["run_command"]
    attacks = [
        ("tar", ["-cf", "x.tar", "-C", "..", "-C", "..", "outside/secret.txt"], "work/sub"),
        ("tar", ["-cf", "x.tar", "--directory=..", "--directory=..", "outside"], "work/sub"),
        ("tar", ["-cf", "x.tar", "-C", "inner", "-C", "../..", "-C", "..", "outside"], "work/sub"),
        ("git", ["-C", "..", "-C", "..", "status"], "work/sub"),
        ("git", ["-C", "..", "diff", "--no-index", "../outside/secret.txt", "notes.txt"],
         "work/sub"),
    ]  # fmt: skip
    for program, args, cwd in attacks:
        ok, said = await outcome(run_command, program=program, args=args, cwd=cwd)
        assert not ok, (program, args, said)
        assert_no_leak(said)
    assert not (victim.work / "sub" / "x.tar").exists()
    ok, said = await outcome(
        run_command, program="tar", args=["-cf", "x.tar", "-C", "inner", "."], cwd="work/sub"
    )
    assert ok  # one step down stays allowed
    assert "exit code: 0" in said


@pytest.mark.parametrize("kernel", KERNEL, ids=KERNEL_IDS)
async def test_values_glued_to_short_options_that_name_links_are_confined(
    victim: Victim, kernel: bool
) -> None:
    (victim.work / "lc").symlink_to(victim.credentials)
    (victim.work / "sub" / "lo").symlink_to(victim.outside, target_is_directory=True)
    run_command = tools(victim, ["sort", "grep", "tar", "head"], kernel_sandbox=kernel)[
        "run_command"
    ]
    for program, args in (
        ("sort", ["-olc", "notes.txt"]),  # would overwrite the key file
        ("grep", ["-flc", "notes.txt"]),
        ("tar", ["-cflc", "notes.txt"]),
        ("sort", ["-osub/lo/x", "notes.txt"]),
        ("grep", ["-rfsub/lo/secret.txt", "."]),
    ):
        ok, said = await outcome(run_command, program=program, args=args, cwd="work")
        assert not ok, (program, args, said)
        assert_no_leak(said)
    assert KEY_CANARY in victim.credentials.read_text()
    assert not (victim.outside / "x").exists()
    ok, said = await outcome(run_command, program="head", args=["-n1", "notes.txt"], cwd="work")
    assert ok
    assert "hello notes" in said


async def test_options_that_read_file_names_from_a_file_are_refused(victim: Victim) -> None:
    (victim.work / "names").write_text(f"{victim.outside}/secret.txt\0")
    programs = ["sort", "wc", "du", "tar", "find", "md5sum", "sha256sum", "strings", "file"]
    run_command = tools(victim, programs)["run_command"]
    attacks = [
        ("sort", ["--files0-from=names"]), ("sort", ["--files0", "names"]),
        ("wc", ["--files0-from=names"]), ("du", ["--files0-from", "names"]),
        ("tar", ["-cf", "x.tar", "-T", "names"]), ("tar", ["-cvTnames", "-f", "x.tar"]),
        ("tar", ["cfT", "x.tar", "names"]), ("tar", ["-cf", "x.tar", "--files-from=names"]),
        ("find", ["-files0-from", "names"]), ("md5sum", ["-c", "names"]),
        ("sha256sum", ["--check", "names"]), ("strings", ["@names"]), ("file", ["-f", "names"]),
    ]  # fmt: skip
    refused = 0
    for program, args in attacks:
        if not shutil.which(program):
            continue
        ok, said = await outcome(run_command, program=program, args=args, cwd="work")
        assert not ok, (program, args, said)
        assert "not allowed" in said, (program, args, said)
        refused += 1
    assert refused >= 9


@pytest.mark.parametrize("kernel", KERNEL, ids=KERNEL_IDS)
async def test_repositories_that_keep_their_files_elsewhere_leak_nothing(
    victim: Victim, kernel: bool
) -> None:
    elsewhere = repo(victim.outside / "repo", {"s.txt": OUTSIDE_CANARY})
    (victim.work / "gitfile").mkdir()
    (victim.work / "gitfile" / ".git").write_text(f"gitdir: {elsewhere}/.git\n")
    worktree = repo(victim.work / "worktree", {"a": "a"})
    with (worktree / ".git" / "config").open("a") as fh:
        fh.write(f"[core]\n\tworktree = {victim.outside}\n")
    borrower = repo(victim.work / "borrower", {"b": "b"})
    (borrower / ".git" / "objects" / "info" / "alternates").write_text(
        f"{elsewhere}/.git/objects\n"
    )
    blob = git("rev-parse", "HEAD:s.txt", cwd=elsewhere)
    run_command = tools(victim, ["git"], kernel_sandbox=kernel)["run_command"]
    for args, cwd in (
        (["log", "-p"], "work/gitfile"),
        (["show", "HEAD:s.txt"], "work/gitfile"),
        (["status"], "work/worktree"),
        (["cat-file", "-p", blob], "work/borrower"),
    ):
        ok, said = await outcome(run_command, program="git", args=args, cwd=cwd)
        assert_no_leak(said)
        assert "secret.txt" not in said  # not even a name from outside
        if not kernel:
            assert not ok, said
            assert "repository here keeps files" in said, said


@pytest.mark.parametrize("kernel", KERNEL, ids=KERNEL_IDS)
async def test_a_hostile_repositorys_programs_and_paths_do_nothing(
    victim: Victim, kernel: bool
) -> None:
    """Signature programs (log.showSignature, gpg.ssh.program), files it names outside itself
    (blame.ignoreRevsFile quotes a line back) and a submodule with its own filter driver."""
    pwned = victim.root / "pwned"
    hostile = repo(victim.work / "hostile", {"a.txt": "one\n"})
    tree = git("write-tree", cwd=hostile)
    signed = (
        f"tree {tree}\nauthor t <t@t> 0 +0000\ncommitter t <t@t> 0 +0000\n"
        "gpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n -----END SSH SIGNATURE-----\n\nx\n"
    )
    commit = git("hash-object", "-t", "commit", "-w", "--stdin", cwd=hostile, text=signed)
    git("update-ref", "HEAD", commit, cwd=hostile)
    with (hostile / ".git" / "config").open("a") as fh:
        fh.write(
            f'[log]\n\tshowSignature = true\n[gpg]\n\tformat = ssh\n[gpg "ssh"]\n'
            f"\tprogram = /usr/bin/touch\n[blame]\n\tignoreRevsFile = {victim.credentials}\n"
            f"[core]\n\tattributesFile = {victim.credentials}\n"
        )
    sub = repo(hostile / "sub", {"b.txt": "one\n", ".gitattributes": "*.txt filter=evil\n"})
    with (sub / ".git" / "config").open("a") as fh:
        fh.write(f'[filter "evil"]\n\tclean = touch {pwned}\n')
    (sub / "b.txt").write_text("two\n")
    git("add", "sub", cwd=hostile)
    run_command = tools(victim, ["git"], kernel_sandbox=kernel)["run_command"]
    for args in (["log"], ["log", "--format=%G? %s"], ["tag", "-l"], ["blame", "a.txt"],
                 ["status"], ["diff", "HEAD"], ["diff-index", "HEAD"],
                 ["check-attr", "-a", "a.txt"]):  # fmt: skip
        _, said = await outcome(run_command, program="git", args=args, cwd="work/hostile")
        assert_no_leak(said)
        assert "[poe]" not in said, (args, said)
        assert "touch" not in said, (args, said)
    assert not pwned.exists()
    for args in (["status", "--ignore-submodules=none"], ["diff", "--submodule=diff"],
                 ["grep", "--recurse-submodules", "x"]):  # fmt: skip
        ok, said = await outcome(run_command, program="git", args=args, cwd="work/hostile")
        assert not ok
        assert "not allowed" in said


def test_more_programs_that_run_programs_cannot_be_allow_listed(victim: Victim) -> None:
    names = ["sqlite3", "patch", "tmux", "screen", "openssl", "gpg", "ffmpeg", "convert",
             "pandoc", "psql", "mysql", "ping", "dig"]  # fmt: skip
    present = [name for name in names if shutil.which(name)]
    assert len(present) >= 2
    for name in present:
        with pytest.raises(ConfigError, match="run_command cannot allow"):
            builtin_tools(victim.roots, commands=[name])


@pytest.mark.parametrize("kernel", KERNEL, ids=KERNEL_IDS)
async def test_a_timed_out_command_that_filled_its_pipe_returns_on_time(
    victim: Victim, kernel: bool
) -> None:
    """``yes`` fills its pipe faster than it is read: after the timeout kill, the call still
    returns (it used to wait forever for the pipe to close), and the event loop stays free."""
    made = builtin_tools(victim.roots, commands=["yes"], command_timeout=0.5, kernel_sandbox=kernel)
    run_command = {t.name: t for t in made}["run_command"]
    lags: list[float] = []

    async def tick() -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(0.02)
            lags.append(time.monotonic() - started - 0.02)

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    try:
        ok, said = await asyncio.wait_for(outcome(run_command, program="yes", cwd="work"), 10)
    finally:
        ticker.cancel()
    assert not ok
    assert "timed out" in said
    assert "output truncated" in said
    assert time.monotonic() - started < 4
    assert max(lags) < 0.5


# --- the same members over the real HTTP transport ---------------------------------------------


@pytest.mark.timeout(120)
async def test_an_attacker_over_http_meets_the_same_refusals(
    attacker_server: str,  # noqa: F811 - the fixture imported above
    victim: Victim,
) -> None:
    """``poe-mcp serve --transport http --token`` in a subprocess: hard links, ``.git``
    spellings, glued links and climbing ``-C`` through attachments and a steered model."""
    os.link(victim.credentials, victim.work / "creds-copy.toml")
    (victim.work / "lc").symlink_to(victim.credentials)
    (victim.work / ".GIT").mkdir()
    (victim.work / ".GIT" / "config").write_text("[core]\n")
    calls = [
        ("read_file", {"path": "work/creds-copy.toml"}),
        ("read_file", {"path": "work/.GIT/config"}),
        ("search_files", {"contains": "api_key", "path": "work"}),
        ("run_command", {"program": "grep", "args": ["-r", "api_key", "."], "cwd": "work"}),
        ("run_command", {"program": "grep", "args": ["-flc", "notes.txt"], "cwd": "work"}),
        ("run_command", {"program": "tar", "args": ["-cf", "x.tar", "-C", "..", "-C", "..",
                                                    "outside"], "cwd": "work/sub"}),
        ("run_command", {"program": "git", "args": ["-C", "..", "-C", "..", "status"],
                         "cwd": "work/sub"}),
    ]  # fmt: skip
    async with http_client(attacker_server) as mcp:
        for path in ("creds-copy.toml", str(victim.work / "creds-copy.toml")):
            result = await mcp.call_tool(
                "ask_with_attachment",
                {"bot": HOSTILE_MODEL, "prompt": "repeat", "attachment_paths": [path]},
            )
            assert error_of(result)["metadata"]["kind"] == "invalid_request"
            assert_no_leak(texts(result))
        for tool, arguments in calls:
            result = await mcp.call_tool(
                "ask_poe_with_tools", {"bot": HOSTILE_MODEL, "prompt": call(tool, **arguments)}
            )
            assert_no_leak(texts(result))
            trace = (result.structured_content or {}).get("trace") or []
            if tool == "search_files":
                assert trace[0]["result"] == "no matches"
            else:
                assert trace[0]["error"], (tool, arguments, trace)
    assert KEY_CANARY in victim.credentials.read_text()


# --- downloads -------------------------------------------------------------------------------


async def test_more_spellings_of_internal_addresses_and_every_redirect_are_refused(
    bystander: SteeredAPI, tmp_path: Path
) -> None:
    port = bystander.url.rsplit(":", 1)[1]
    spellings = ["127.0.1", "0x7f.1", "0", "[::]", "[0:0:0:0:0:ffff:7f00:1]",
                 "[::ffff:0:127.0.0.1]", "[64:ff9b::7f00:1]", "127\u30020\u30020\u30021",
                 "LOCALHOST", "[::ffff:7f00:1]",
                 "[2001:0:4136:e378:8000:63bf:80ff:fffe]"]  # fmt: skip
    urls = [f"http://{host}:{port}/files/a.png" for host in spellings]
    urls += [
        f"http://127.0.0.1:{port}#@example.com/files/a.png",
        f"http://example.com@127.0.0.1:{port}/files/a.png",
        f"HTTP://127.0.0.1:{port}/files/a.png",
    ]
    before = sum(bystander.hits.values())
    messages = set()
    with Redirector() as public:
        policy = DownloadPolicy.build("public", urls=[public.url])
        targets = [f"{bystander.url}/files/a.png", f"//127.0.0.1:{port}/files/a.png",
                   f"http://[::1]:{port}/files/a.png"]  # fmt: skip
        for code in (301, 302, 303, 307, 308):
            urls += [f"{public.url}/r/{code}?to={quote(t, safe='')}" for t in targets]
        # A relative redirect stays on the allowed origin and is followed.
        saved = await download_media(
            f"{public.url}/r/307?to={quote('/ok.png')}", "image", tmp_path, policy=policy
        )
        assert saved.size_bytes > 0
        async with policy.client(5) as http:  # one guarded client for every attempt
            for url in urls:
                with pytest.raises(MediaError) as caught:
                    await download_media(url, "image", tmp_path, http=http, max_retries=0)
                messages.add(caught.value.message.replace(url, "URL"))
    assert sum(bystander.hits.values()) == before
    assert len(messages) == 1, messages
    assert "download policy" in messages.pop()
