"""``run_command``: an allow-listed program run for a model, confined by ``_commands``.

The program never runs through a shell. Its arguments pass the program's filter and the path
confinement of the :class:`~poe_mcp.tools.FileSandbox`; it runs in a folder under a
root, with a minimal environment, stdin closed, a timeout that kills its whole process group,
output capped and redacted, and, where the kernel has Landlock, inside a kernel sandbox
(:mod:`poe_mcp._landlock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import _constants as C
from . import _landlock
from ._commands import ProgramPolicy, git_config_probe, git_driver_overrides, path_candidates
from ._git_place import borrowed_stores, location_probe, reported_places
from ._logging import redact
from ._paths import client_roots, inside, real_path
from .errors import ConfigError, InvalidRequestError, ToolExecutionError
from .tools import Tool

if TYPE_CHECKING:
    from .tools._builtin import FileSandbox

__all__ = ["command_tool"]

log = logging.getLogger("poe_mcp.tools")


def command_tool(
    commands: Sequence[str],
    *,
    sandbox: FileSandbox | None = None,
    timeout: float = C.COMMAND_TIMEOUT_S,
    output_cap: int = C.COMMAND_OUTPUT_CAP,
    kernel_sandbox: bool = True,
) -> Tool:
    """``run_command`` limited to the allow-listed ``commands`` (names on PATH or absolute paths).

    Each program gets the rules of :mod:`poe_mcp._commands`; path-like arguments must stay in
    the sandbox's roots. With ``kernel_sandbox`` (the default) and a Linux kernel with
    Landlock, the process is also confined by the kernel (:mod:`poe_mcp._landlock`).

    Raises:
        ConfigError: the allow-list is empty, names a program that cannot be found or that
            runs other programs, or there are no roots to run in.
    """
    if sandbox is None:
        raise ConfigError(
            "run_command needs [tools] roots: commands run inside them, and their path "
            "arguments must stay there"
        )
    allowed: dict[str, ProgramPolicy] = {}
    for name in commands:
        found = shutil.which(name)
        if found is None:
            raise ConfigError(f"run_command: allow-listed program {name!r} was not found on PATH")
        allowed[name] = ProgramPolicy(name, found)
    if not allowed:
        raise ConfigError("run_command needs at least one allow-listed program")
    names = ", ".join(allowed)
    roots = list(sandbox.roots.values())
    landlock = kernel_sandbox and _landlock.abi_version() > 0
    if kernel_sandbox and not landlock:
        log.warning(
            "run_command: this kernel has no Landlock; commands are confined by their "
            "argument filters only"
        )

    async def run_command(program: str, args: list[str] | None = None, cwd: str = ".") -> str:
        """Run an allowed program (no shell) and return its exit code and output.

        Args:
            program: one of: {names}.
            args: the arguments, one list item each (no shell quoting or pipes).
            cwd: the working folder, relative to the root folder.
        """
        policy = allowed.get(program)
        if policy is None:
            raise ToolExecutionError(f"program {program!r} is not allowed; allowed: {names}")
        given = [str(a) for a in (args or [])]
        if len(given) > C.COMMAND_MAX_ARGS:
            raise ToolExecutionError(f"{len(given)} arguments; at most {C.COMMAND_MAX_ARGS}")
        if any(len(a) > C.COMMAND_ARG_MAX_CHARS for a in given):
            raise ToolExecutionError(
                f"an argument is longer than {C.COMMAND_ARG_MAX_CHARS} characters"
            )
        # File system checks in a worker thread (the client's roots travel with the context).
        workdir = await asyncio.to_thread(_checked, sandbox, policy, cwd, given)
        argv = policy.arguments(given)
        with tempfile.TemporaryDirectory(prefix="poe-mcp-cmd-", ignore_cleanup_errors=True) as tmp:
            env = policy.env(Path(tmp), roots)

            def launch(arguments: list[str]) -> tuple[str, list[str]]:
                if not landlock:
                    return policy.exe, arguments
                spec = _landlock.spec_for(
                    policy.exe,
                    writable=[*_writable(roots), tmp],
                    exec_dirs=policy.rule.exec_dirs,
                    denied=[str(d) for d in sandbox.denied],
                )
                script = [_landlock.__file__, json.dumps(spec), policy.exe]
                return sys.executable, ["-I", "-S", *script, *arguments]

            if policy.rule_name == "git" and not landlock:
                # Without the kernel sandbox nothing else stops git from reading a repository,
                # work tree or object store kept outside the roots (a .git file, core.worktree,
                # alternates): ask git where they are first.
                where = await _output(
                    *launch(location_probe(argv)), workdir, env, timeout, any_exit=True
                )
                await asyncio.to_thread(_check_git_places, sandbox, where)
            if policy.rule_name == "git":
                # The repository's own filter and diff drivers would run on status and diff:
                # each one it configures is switched off by name (git has no switch for all).
                listing = await _output(*launch(git_config_probe(argv)), workdir, env, timeout)
                argv = [argv[0], *git_driver_overrides(listing), *argv[1:]]
            exe, full = launch(argv)
            return await _run(exe, full, workdir, env, timeout, output_cap, label=program)

    run_command.__doc__ = (run_command.__doc__ or "").replace("{names}", names)
    made = Tool.from_function(run_command, timeout=timeout + C.COMMAND_GRACE_S)
    made.mutating = True  # a command can change files: step mode asks before each call
    made.parameters["properties"]["program"]["enum"] = list(allowed)  # models pick from a list best
    return made


def _checked(sandbox: FileSandbox, policy: ProgramPolicy, cwd: str, given: list[str]) -> Path:
    """The working folder, once it and every argument pass the path checks.

    For a program that changes folder mid-command-line (``git -C``, ``tar -C``), every
    argument is checked from every folder the arguments before it can lead to: ``-C .. -C ..``
    cannot climb out of a root one allowed step at a time.

    Raises:
        ToolExecutionError: naming what is refused and why.
    """
    found = sandbox.resolve(cwd)
    if found is None or not found[1].is_dir():
        raise ToolExecutionError(f"cwd {cwd!r} is not a folder")
    workdir = found[1]
    protected = sandbox.holds_protected(workdir)
    if protected is not None:
        raise ToolExecutionError(f"cwd {cwd!r} {protected}; access refused")
    linked = sandbox.protected().secrets_linked()
    if linked:
        raise ToolExecutionError(
            "a file of poe-mcp's own configuration or data has another name (a hard link) "
            "somewhere, which a command could read through; run_command is refused until it is "
            "removed (copy the file and replace it with the copy)"
        )
    folders = [workdir]
    listings: dict[Path, frozenset[str]] = {}
    for arg in given:
        for folder in folders:
            sandbox.check_argument(arg, folder, listings)
        if not policy.rule.chdir:
            continue
        for candidate in path_candidates(arg):
            for folder in list(folders):
                real = _real(folder / candidate)
                if real not in folders and real.is_dir():
                    folders.append(real)
        if len(folders) > C.COMMAND_CHDIR_MAX:
            raise ToolExecutionError(
                f"{policy.name}: the arguments name more than {C.COMMAND_CHDIR_MAX} folders"
            )
    return workdir


def _check_git_places(sandbox: FileSandbox, output: str) -> None:
    """Refuse a repository whose git dir, work tree or borrowed object stores lie outside the
    roots or in a protected place (``output``: the location probe's). Each place is checked
    before anything in it is read."""

    def check(place: Path) -> None:
        reason = sandbox.refusal(_real(place), git_ok=True)
        if reason is not None:
            raise ToolExecutionError(
                "git: the repository here keeps files (its .git folder, work tree or borrowed "
                f"objects) in a place that {reason.removeprefix('is ')}; not run"
            )

    places = reported_places(output)
    for place in places:
        check(place)
    if len(places) > 1:
        try:
            borrowed_stores(_real(places[1]), check)
        except InvalidRequestError as exc:  # a store's path changed while being resolved
            raise ToolExecutionError(f"git: {exc.message}") from None


def _real(path: Path) -> Path:
    try:
        return real_path(path)
    except InvalidRequestError as exc:
        raise ToolExecutionError(exc.message) from None


def _writable(roots: list[Path]) -> list[str]:
    """The roots a command may write in: the configured ones, narrowed by the client's."""
    declared = client_roots.get()
    if declared is None:
        return [str(r) for r in roots]
    kept = [r for r in roots if inside(r, declared)] + [d for d in declared if inside(d, roots)]
    return [str(r) for r in dict.fromkeys(kept)]


async def _output(
    exe: str,
    args: list[str],
    cwd: Path,
    env: dict[str, str],
    limit_s: float,
    *,
    any_exit: bool = False,
) -> str:
    """The standard output of a helper run (capped; empty on timeout, and on failure unless
    ``any_exit``)."""
    out = _Capped(C.COMMAND_OUTPUT_CAP)
    code = await _collect(exe, args, cwd, env, limit_s, out, None)
    ok = code == 0 or (any_exit and code is not None)
    return out.data.decode("utf-8", errors="replace") if ok else ""


async def _run(
    exe: str,
    args: list[str],
    cwd: Path,
    env: dict[str, str],
    limit_s: float,
    cap: int,
    *,
    label: str,
) -> str:
    out = _Capped(cap)
    err = _Capped(cap)
    code = await _collect(exe, args, cwd, env, limit_s, out, err)
    if code is None:
        raise ToolExecutionError(
            f"{label} timed out after {limit_s:g} s and was killed.\n" + _render(None, out, err)
        )
    return _render(code, out, err)


async def _collect(
    exe: str,
    args: list[str],
    cwd: Path,
    env: dict[str, str],
    limit_s: float,
    out: _Capped,
    err: _Capped | None,
) -> int | None:
    """Run ``exe`` with no input, its standard output kept in ``out`` and its standard error
    in ``err`` (dropped without one); its exit code, or None when it ran past ``limit_s`` and
    was killed."""
    proc = await asyncio.create_subprocess_exec(
        exe,
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL if err is None else asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, so a timeout kills its children too
    )
    pipes = [(out, proc.stdout), (err, proc.stderr)]

    def drains() -> list[Awaitable[None]]:
        return [kept.drain(pipe) for kept, pipe in pipes if kept is not None and pipe is not None]

    try:
        await asyncio.wait_for(asyncio.gather(*drains(), proc.wait()), limit_s)
    except TimeoutError:
        return None
    finally:
        # Also reached when the agent cancels the call: never leave the program running.
        if proc.returncode is None:
            await _reap(proc, *drains())
    return proc.returncode


async def _reap(proc: asyncio.subprocess.Process, *drains: Awaitable[None]) -> None:
    """Kill the process group and collect the process.

    Its pipes are drained meanwhile: ``wait()`` returns only once they are closed, and a pipe
    left full (the reader was cancelled with the timeout) would never be, leaving the call
    hanging after the kill. A process that escaped the group and holds a pipe open is given
    up on after ``COMMAND_REAP_S``.
    """
    _kill_group(proc.pid)
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.gather(*drains, proc.wait()), C.COMMAND_REAP_S)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class _Capped:
    """Keeps the first ``cap`` bytes of a stream and counts the rest (draining keeps the child
    from blocking on a full pipe)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.total = 0

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.total += len(chunk)
            room = self.cap - len(self.data)
            if room > 0:
                self.data += chunk[:room]

    def text(self) -> str:
        body = redact(self.data.decode("utf-8", errors="replace"))
        if self.total > len(self.data):
            body += f"\n[output truncated: {self.total} bytes, the first {len(self.data)} shown]"
        return body


def _render(code: int | None, out: _Capped, err: _Capped) -> str:
    parts = [] if code is None else [f"exit code: {code}"]
    parts.append("stdout:\n" + (out.text() or "(empty)"))
    if err.total:
        parts.append("stderr:\n" + err.text())
    return "\n".join(parts)
