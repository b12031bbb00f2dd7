"""Hidden members of issue 12's boundary kinds, replayed (files, commands, downloads).

Builds the victim world of ``tests/security/boundary.py`` (a key file, a session database and
an outside secret, each with a canary; links, hard links, FIFOs, ``.git`` spellings and hostile
repositories inside the roots), then tries every payload and prints, per kind: payloads tried,
clean errors (a refusal with its kind), runs that returned (allowed work, checked for canaries),
leaks (a canary in any answer) and crashes (an ``internal`` error or an unexpected exception).

    .venv/bin/python scripts/boundary_members.py
"""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import pytest
from mcp import Client
from mcp_types import ListRootsResult, Root
from tests.security.boundary import CANARIES, SteeredAPI, make_victim, server_factory
from tests.security.hidden import GIT, Redirector

from poe_mcp import PoeError, ToolExecutionError
from poe_mcp._netpolicy import DownloadPolicy
from poe_mcp.media import download_media
from poe_mcp.simulator import Simulator
from poe_mcp.tools import builtin_tools

stats: dict[str, Counter[str]] = defaultdict(Counter)
PROGRAMS = ["git", "ls", "cat", "head", "tail", "wc", "grep", "find", "sed", "sort", "diff",
            "tar", "jq", "cp", "od", "strings", "md5sum", "file", "du", "dd"]  # fmt: skip


def tally(kind: str, outcome: str, text: str) -> None:
    """Count one payload's outcome under ``kind``, and a leak if a canary shows."""
    stats[kind]["tried"] += 1
    stats[kind][outcome] += 1
    if any(c in text for c in CANARIES):
        stats[kind]["LEAK"] += 1
        print(f"LEAK {kind}: {text[:200]!r}")


def sh(args: list[str], cwd: Path, text: str | None = None) -> str:
    """Run a setup command (git) quietly; its standard output."""
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(args, cwd=cwd, env=env, input=text, capture_output=True, text=True)
    return done.stdout.strip()


def world(tmp: Path, mp: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The victim of ``tests/security/boundary.py`` plus this run's traps."""
    v = make_victim(tmp, mp)
    w = v.work
    os.link(v.credentials, w / "hl_creds")
    (w / "lc").symlink_to(v.credentials)
    (w / "sub" / "lo").symlink_to(v.outside, target_is_directory=True)
    for name in (".GIT", ".git.", ".g\u200cit", "GIT~1"):
        (w / name).mkdir()
        (w / name / "config").write_text("[core]\n")
    (w / "names").write_text(f"{v.outside}/secret.txt\0")
    outside = v.outside / "repo"
    outside.mkdir()
    sh([*GIT, "init", "-q"], outside)
    (outside / "s.txt").write_text("OUTSIDE-CANARY-0a1b2c3d")
    sh([*GIT, "add", "-A"], outside)
    sh([*GIT, "commit", "-qm", "x"], outside)
    (w / "gitfile").mkdir()
    (w / "gitfile" / ".git").write_text(f"gitdir: {outside}/.git\n")
    return v


def path_payloads(v) -> list[str]:  # type: ignore[no-untyped-def]
    """Spellings of the key file, the environment and the database for attachments."""
    creds, pid = str(v.credentials), os.getpid()
    return [
        creds + "/", creds + ".", str(v.config) + "//credentials.toml", "//" + creds[1:],
        creds.replace("/", "\\"), creds.replace("credentials", "%63redentials"),
        creds.replace("/", "\uff0f"), creds.upper(), unicodedata.normalize("NFD", creds),
        "\ufeff" + creds, creds + "\u200b", f"/proc/{pid}/environ", f"/proc/{pid}/root{creds}",
        f"/proc/{pid}/cwd/{creds}", "/proc/thread-self/environ", "/proc/1/environ", "/dev/fd/3",
        "file://" + creds, str(v.db) + "-wal", str(v.db) + "-shm", str(v.db) + "-journal",
        str(v.work / "hl_creds"), "hl_creds", "lc", "~root" + creds, "$HOME/x",
        "${POE_MCP_CONFIG_DIR}/credentials.toml", str(v.work) + "/" + "a/" * 2100,
        str(v.work / "sub/lo/secret.txt"), str(v.work / "pipe"), str(v.work / "sock"),
        str(v.work / ".GIT" / "config"), "/etc/shadow", "/sys/class/net/lo/address",
        str(v.work / "sub") + "/../../home/config/credentials.toml", creds + "\x00.png",
    ]  # fmt: skip


async def attachments(v, sim: Simulator) -> None:  # type: ignore[no-untyped-def]
    """Every path payload through ``ask_with_attachment``, under several client roots."""
    async for make in server_factory(sim, v):
        for roots in (None, [f"file://{v.work}"], [f"file://evil.example{v.home}"], ["file:///"]):

            async def listed(ctx, roots=roots):  # type: ignore[no-untyped-def]
                return ListRootsResult(roots=[Root(uri=u) for u in roots or []])

            callback = listed if roots is not None else None
            async with Client(make(), list_roots_callback=callback) as client:
                for path in path_payloads(v):
                    try:
                        result = await client.call_tool(
                            "ask_with_attachment",
                            {"bot": "GPT-4.1", "prompt": "repeat", "attachment_paths": [path],
                             "use_openai_client": True},
                        )  # fmt: skip
                    except Exception as exc:  # noqa: BLE001 - counted as a crash
                        tally("attachments", "crash", repr(exc))
                        continue
                    text = result.content[0].text
                    internal = "[kind: internal]" in text
                    outcome = "crash" if internal else "clean" if result.is_error else "ran"
                    tally("attachments", outcome, text)
        return


async def file_tools(v) -> None:  # type: ignore[no-untyped-def]
    """The built-in file tools (and ``write_file``) against the traps."""
    made = {t.name: t for t in builtin_tools(v.roots, write=True)}
    paths = ["work/hl_creds", "work/lc", "work/pipe", "work/.GIT/config", "work/.git./config",
             "work/.g\u200cit/config", "work/GIT~1/config", "home/config/credentials.toml/",
             "work//..//home/config/credentials.toml", "work\\..\\home\\config\\credentials.toml",
             "home/data/poe-mcp.db-wal", "work/sub/lo/secret.txt", "work/%2e%2e/home",
             "/proc/self/environ", "~/x", "work/" + "a/" * 1000]  # fmt: skip
    calls = [("read_file", {"path": p}) for p in paths]
    calls += [("list_directory", {"path": p}) for p in ("work/.GIT", "home/config", "work/sub/lo")]
    calls += [("search_files", {"contains": c, "path": p})
              for c in ("CANARY", "api_key") for p in ("work", "home", ".")]  # fmt: skip
    calls += [("write_file", {"path": p, "content": "x"})
              for p in ("work/.GIT/config", "work/hl_creds", "work/lc", "work/pipe",
                        "home/config/config.toml", "work/sub/lo/x")]  # fmt: skip
    for tool, arguments in calls:
        await run("file tools", made[tool], arguments)


async def run(kind: str, tool, arguments: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    """One tool call, counted under ``kind``."""
    try:
        text = str(await tool.run(tool.validate(arguments)))
        outcome = "ran"
    except ToolExecutionError as exc:
        text, outcome = exc.message, "clean"
    except Exception as exc:  # noqa: BLE001 - counted as a crash
        text, outcome = repr(exc), "crash"
    tally(kind, outcome, text)


COMMANDS = [
    ("git", ["-C", "..", "-C", "..", "status"], "work/sub"),
    ("git", ["-C", "..", "diff", "--no-index", "../outside/secret.txt", "notes.txt"], "work/sub"),
    ("git", ["-c", "alias.x=!id", "x"], "work"),
    ("git", ["-calias.x=!id", "x"], "work"),
    ("git", ["--config-env=core.pager=HOME", "log"], "work"),
    ("git", ["--git-dir=/", "log"], "work"),
    ("git", ["log", "--output=../x"], "work"),
    ("git", ["log", "--outp=x"], "work"),
    ("git", ["diff", "--no-index", "/etc/passwd", "notes.txt"], "work"),
    ("git", ["archive", "--remote=/", "HEAD"], "work"),
    ("git", ["show", "HEAD:../x"], "work"),
    ("git", ["grep", "--open-files-in-pager=id", "x"], "work"),
    ("git", ["grep", "-Oid", "x"], "work"),
    ("git", ["log", "-p"], "work/gitfile"),
    ("git", ["status", "--ignore-submodules=none"], "work"),
    ("git", ["grep", "--recurse-submodules", "x"], "work"),
    ("git", ["fetch", "--upload-pack=id"], "work"),
    ("grep", ["-f", "/etc/passwd", "notes.txt"], "work"),
    ("grep", ["-flc", "notes.txt"], "work"),
    ("grep", ["-r", "api_key", "."], "work"),
    ("grep", ["--include=*", "-r", "x", ".."], "work"),
    ("sort", ["-o", "../x", "notes.txt"], "work"),
    ("sort", ["-olc", "notes.txt"], "work"),
    ("sort", ["--files0-from=names"], "work"),
    ("wc", ["--files0-from=/proc/self/environ"], "work"),
    ("wc", ["--files0-from=names"], "work"),
    ("du", ["--files0-from", "names"], "work"),
    ("tail", ["-f", "notes.txt"], "work"),
    ("cat", ["/dev/zero"], "work"),
    ("cat", ["pipe"], "work"),
    ("cat", ["hl_creds"], "work"),
    ("cat", [".GIT/config"], "work"),
    ("find", [".", "-newer", "/proc/self/environ"], "work"),
    ("find", [".", "-fprintf", "x", "%p"], "work"),
    ("find", ["-files0-from", "names"], "work"),
    ("find", [".", "-exec", "id", ";"], "work"),
    ("tar", ["-cf", "x.tar", "-T", "/etc/passwd"], "work"),
    ("tar", ["-cf", "x.tar", "-T", "names"], "work"),
    ("tar", ["cfT", "x.tar", "names"], "work"),
    ("tar", ["-cflc", "notes.txt"], "work"),
    ("tar", ["-cf", "x.tar", "-C", "..", "-C", "..", "outside"], "work/sub"),
    ("diff", ["--from-file=/etc/passwd", "notes.txt"], "work"),
    ("diff", ["-r", ".", "../outside"], "work"),
    ("md5sum", ["-c", "names"], "work"),
    ("strings", ["@names"], "work"),
    ("file", ["-f", "names"], "work"),
    ("jq", ["-n", "--rawfile", "a", "lc", "$a"], "work"),
    ("jq", ["-Lsub/lo", "-n", "1"], "work"),
    ("sed", ["-n", "1e id", "notes.txt"], "work"),
    ("sed", ["w ../x", "notes.txt"], "work"),
    ("head", ["-c", "9", "/proc/self/environ"], "work"),
    ("dd", ["if=lc"], "work"),
    ("od", ["-c", "sub/lo/secret.txt"], "work"),
    ("cp", ["lc", "x"], "work"),
    ("ls", ["-L", "sub/lo"], "work"),
    ("ls", ["../"], "work"),
    ("ls", ["~"], "work"),
    ("cat", ["a\x00b"], "work"),
]  # fmt: skip


async def commands(v) -> None:  # type: ignore[no-untyped-def]
    """Every command payload, with and without the kernel sandbox."""
    present = [p for p in PROGRAMS if shutil.which(p)]
    for kernel in (True, False):
        made = builtin_tools(v.roots, commands=present, command_timeout=1.0, kernel_sandbox=kernel)
        (tool,) = [t for t in made if t.name == "run_command"]
        for program, args, cwd in COMMANDS:
            if program in present:
                kind = "commands (landlock)" if kernel else "commands (filters only)"
                await run(kind, tool, {"program": program, "args": args, "cwd": cwd})


async def downloads(bystander: SteeredAPI, out: Path) -> None:
    """Internal addresses in every spelling, and redirects to them, under ``public``."""
    port = bystander.url.rsplit(":", 1)[1]
    hosts = ["127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1",
             "017700000001", "127.000.000.001", "0", "0.0.0.0", "localhost", "localhost.",
             "LOCALHOST", "[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
             "[0:0:0:0:0:ffff:7f00:1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::127.0.0.1]",
             "[fe80::1%25lo]", "[::ffff:0:127.0.0.1]", "\uff11\uff12\uff17.\uff10.\uff10.\uff11",
             "127\u30020\u30020\u30021", "127.0.0.1.", "ip6-localhost", "10.0.0.1",
             "169.254.169.254", "100.64.0.1", "192.168.0.1", "172.16.0.1", "224.0.0.1",
             "[fd00::1]", "[2001:db8::1]", "192.0.2.1", "198.18.0.1", "240.0.0.1", "[100::1]",
             "[2001::1]", "[5f00::1]"]  # fmt: skip
    urls = [f"http://{h}:{port}/files/x.png" for h in hosts]
    urls += [f"http://public@127.0.0.1:{port}/x.png", f"http://127.0.0.1:{port}#@example.com/x",
             f"http://example.com@127.0.0.1:{port}/x", f"http://127.0.0.1:{port}\\@example.com/x",
             f"HTTP://127.0.0.1:{port}/x", f"https://127.0.0.1:{port}/x", "file:///etc/passwd",
             "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/x", "dict://127.0.0.1:11211/",
             f"http:/127.0.0.1:{port}/x", f"//127.0.0.1:{port}/x"]  # fmt: skip
    with Redirector() as public:
        policy = DownloadPolicy.build("public", urls=[public.url])
        for code in (301, 302, 303, 307, 308):
            for target in (f"{bystander.url}/files/x.png", f"//127.0.0.1:{port}/x",
                           f"http://[::1]:{port}/x", "file:///etc/passwd"):  # fmt: skip
                urls.append(f"{public.url}/r/{code}?to={quote(target, safe='')}")
        before = sum(bystander.hits.values())
        for url in urls:
            try:
                await download_media(url, "image", out, policy=policy, max_retries=0, timeout=3)
                tally("downloads", "ran", url)
            except PoeError as exc:
                tally("downloads", "clean", str(exc))
            except Exception as exc:  # noqa: BLE001 - counted as a crash
                tally("downloads", "crash", repr(exc))
        reached = sum(bystander.hits.values()) - before
        stats["downloads"]["reached internal"] = reached


async def main() -> None:
    """Try everything and print the table."""
    mp = pytest.MonkeyPatch()
    v = world(Path(tempfile.mkdtemp(prefix="boundary-")), mp)
    bystander = SteeredAPI().start()
    try:
        with Simulator() as sim:
            await attachments(v, sim)
        await file_tools(v)
        await commands(v)
        await downloads(bystander, Path(tempfile.mkdtemp()))
    finally:
        bystander.stop()
        mp.undo()
    print(f"{'kind':26} {'tried':>5} {'clean':>6} {'ran':>5} {'leaks':>6} {'crash':>6}")
    for kind, c in stats.items():
        print(f"{kind:26} {c['tried']:5} {c['clean']:6} {c['ran']:5} {c['LEAK']:6} {c['crash']:6}")
    total = sum((c for c in stats.values()), Counter())
    print(f"{'total':26} {total['tried']:5} {total['clean']:6} {total['ran']:5} "
          f"{total['LEAK']:6} {total['crash']:6}")  # fmt: skip
    print(f"downloads that reached the internal service: {stats['downloads']['reached internal']}")


if __name__ == "__main__":
    asyncio.run(main())
