"""Helpers for the hidden-member tests (:mod:`.test_hidden_members`): the tools over the
victim's roots, a folder that flips between a real folder and a link, git repositories whose
files live elsewhere, and a loopback server that redirects with any status code.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from poe_mcp import ToolExecutionError
from poe_mcp.tools import builtin_tools

from .boundary import PNG, Victim

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]


def tools(victim: Victim, programs: list[str] | None = None, **options: Any) -> dict[str, Any]:
    """The built-in tools over the victim's roots (``work`` and ``home``)."""
    wanted = [p for p in programs if shutil.which(p)] if programs is not None else None
    made = builtin_tools(victim.roots, commands=wanted, **options)
    return {tool.name: tool for tool in made}


async def run(tool: Any, **arguments: Any) -> str:
    return str(await tool.run(tool.validate(arguments)))


async def outcome(tool: Any, **arguments: Any) -> tuple[bool, str]:
    """(True, result) or (False, the refusal): a tool call that may be refused."""
    try:
        return True, await run(tool, **arguments)
    except ToolExecutionError as exc:
        return False, exc.message


def git(*args: str, cwd: Path, text: str | None = None) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        [*GIT, *args], cwd=cwd, env=env, input=text, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def repo(folder: Path, files: dict[str, str]) -> Path:
    """A repository with one commit of ``files``."""
    folder.mkdir(parents=True)
    git("init", "-q", cwd=folder)
    for name, body in files.items():
        (folder / name).write_text(body)
    git("add", "-A", cwd=folder)
    git("commit", "-qm", "first", cwd=folder)
    return folder


@contextmanager
def flipping(folder: Path, target: Path) -> Iterator[None]:
    """Swap ``folder`` between the real folder it is and a link to ``target``, as fast as
    possible, while the block runs (a time-of-check to time-of-use attacker)."""
    link = folder.with_name(folder.name + ".link")
    link.symlink_to(target, target_is_directory=True)
    stop = threading.Event()
    exchange = _exchanger()

    def flip() -> None:
        while not stop.is_set():
            exchange(folder, link)  # atomic: the name never goes missing

    thread = threading.Thread(target=flip, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _exchanger() -> Callable[[Path, Path], None]:
    """Swap two names atomically (``renameat2(RENAME_EXCHANGE)``, Linux), else by three
    renames (the name is briefly missing)."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    at_fdcwd, rename_exchange = -100, 2

    def exchange(a: Path, b: Path) -> None:
        if (
            renameat2 is not None
            and renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
        ):
            return
        spare = a.with_name(a.name + ".spare")
        with contextlib.suppress(OSError):
            os.rename(a, spare)
            os.rename(b, a)
            os.rename(spare, b)

    return exchange


class Redirector:
    """A loopback server: ``/r/<code>?to=URL`` answers with that redirect, anything else a PNG."""

    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                parts = urlsplit(self.path)
                if parts.path.startswith("/r/"):
                    self.send_response(int(parts.path[3:]))
                    self.send_header("Location", parse_qs(parts.query)["to"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            def log_message(self, *args: Any) -> None:
                pass

        self.hits = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Redirector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
