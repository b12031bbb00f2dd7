"""Built-in tools the server can run for a model: files under configured roots, and commands.

Everything here is opt-in. File tools exist only for the folders named as roots, and
``run_command`` only when an allow-list of programs is given. In ``config.toml``::

    [tools]
    roots = ["~/projects/notes"]       # read_file, list_directory, search_files
    commands = ["git", "ls"]           # run_command, limited to these programs
    command_timeout_s = 30
    max_read_bytes = 1048576

Confinement rules (a refusal is an error result the model can read):

- paths are relative to the root (with several roots, the first component names the root
  by its folder name); absolute paths and ``~`` are refused;
- the real path (after ``..`` and symbolic links are resolved) must stay inside its root, so a
  link pointing out of the root is refused, and files are opened with ``O_NOFOLLOW``;
- answers never show host paths outside the root, reads are capped at ``max_read_bytes`` and
  listings and searches at the limits in ``_constants``.

``run_command`` never uses a shell: the program must be one of the allow-listed names and
arguments are passed as a list. It runs in the first root (or a folder under it), with stdin
closed, environment variables that look like secrets removed, a timeout that kills the whole
process group, and output capped. Allow-listing an interpreter (``python``, ``bash``) hands the
model everything that interpreter can do: list only programs you would let it run freely.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import re
import shutil
import signal
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from . import _constants as C
from ._logging import redact
from .errors import ConfigError, ToolExecutionError
from .tools import Tool, tool

__all__ = ["FileSandbox", "builtin_tools", "builtin_tools_from_config"]

_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
_BINARY_SNIFF_BYTES = 8192


class FileSandbox:
    """Maps the model's relative paths to real paths inside a fixed set of root folders.

    Args:
        roots: folders the tools may read; a mapping gives each root its label, a sequence
            labels each root by its folder name.
    """

    def __init__(
        self, roots: Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]]
    ):
        items = roots.items() if isinstance(roots, Mapping) else ((None, r) for r in roots)
        self.roots: dict[str, Path] = {}
        for label, raw in items:
            real = Path(os.path.realpath(Path(raw).expanduser()))
            if not real.is_dir():
                raise ConfigError(f"tool root {raw!s} is not a folder")
            name = label or real.name or "root"
            if name in self.roots:
                raise ConfigError(
                    f"two tool roots are labelled {name!r}: give them distinct labels"
                )
            self.roots[name] = real
        if not self.roots:
            raise ConfigError("a file sandbox needs at least one root folder")

    @property
    def single(self) -> bool:
        return len(self.roots) == 1

    def resolve(self, path: str) -> tuple[str, Path] | None:
        """The (label, real path) for a model-supplied path; None is the list of roots itself.

        Raises:
            ToolExecutionError: the path is absolute, names no root, or leaves its root.
        """
        text = (path or ".").strip() or "."
        if "\x00" in text:
            raise ToolExecutionError("path contains a NUL byte")
        if text.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", text):
            raise ToolExecutionError(
                f"absolute paths are not allowed ({path!r}); give a path relative to "
                + (
                    "the root folder"
                    if self.single
                    else "one of the roots: " + ", ".join(self.roots)
                )
            )
        parts = [p for p in PurePosixPath(text.replace("\\", "/")).parts if p != "."]
        if self.single:
            label = next(iter(self.roots))
        elif not parts:
            return None
        else:
            label = parts.pop(0)
            if label not in self.roots:
                raise ToolExecutionError(
                    f"{path!r} names no root; paths start with one of: {', '.join(self.roots)}"
                )
        root = self.roots[label]
        real = Path(os.path.realpath(root.joinpath(*parts)))
        if real != root and not real.is_relative_to(root):
            raise ToolExecutionError(
                f"{path!r} leads outside the allowed folder (through '..' or a symbolic link); "
                "access refused"
            )
        return label, real

    def display(self, label: str, real: Path) -> str:
        """The path as the model should see it (relative, never a host path)."""
        rel = real.relative_to(self.roots[label]).as_posix()
        if self.single:
            return rel
        return label if rel == "." else f"{label}/{rel}"

    def inside(self, label: str, real: Path) -> bool:
        root = self.roots[label]
        resolved = Path(os.path.realpath(real))
        return resolved == root or resolved.is_relative_to(root)


def _is_binary(head: bytes) -> bool:
    return b"\x00" in head[:_BINARY_SNIFF_BYTES]


def _read_capped(real: Path, cap: int) -> tuple[bytes, int]:
    """Read at most ``cap`` bytes of a regular file without following a final symlink."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise ToolExecutionError(f"cannot open file: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ToolExecutionError("not a regular file")
        return fh.read(cap), info.st_size


def file_tools(sandbox: FileSandbox, *, max_read_bytes: int = C.FILE_READ_CAP) -> list[Tool]:
    """``read_file``, ``list_directory`` and ``search_files`` confined to ``sandbox``."""
    where = (
        "relative to the root folder"
        if sandbox.single
        else "starting with a root name (" + ", ".join(sandbox.roots) + ")"
    )

    def read_file(path: str) -> str:
        """Read a text file.

        Args:
            path: the file, {where}.
        """
        found = sandbox.resolve(path)
        if found is None:
            raise ToolExecutionError("give a file path, not the list of roots")
        _label, real = found
        if real.is_dir():
            raise ToolExecutionError(f"{path!r} is a folder: use list_directory")
        data, size = _read_capped(real, max_read_bytes)
        if _is_binary(data):
            return f"[binary file, {size} bytes: not shown]"
        text = data.decode("utf-8", errors="replace")
        if size > len(data):
            text += f"\n[truncated: the file has {size} bytes; the first {len(data)} are shown]"
        return text

    def list_directory(path: str = ".") -> str:
        """List a folder: one entry per line, folders ending with '/', files with their size.

        Args:
            path: the folder, {where}; default the top.
        """
        found = sandbox.resolve(path)
        if found is None:
            return "\n".join(f"{label}/" for label in sandbox.roots)
        label, real = found
        if not real.is_dir():
            raise ToolExecutionError(f"{path!r} is not a folder")
        lines: list[str] = []
        try:
            entries = sorted(os.scandir(real), key=lambda e: e.name)
        except OSError as exc:
            raise ToolExecutionError(f"cannot list folder: {exc.strerror}") from exc
        for entry in entries[: C.LIST_DIRECTORY_CAP]:
            if entry.is_symlink():
                inside = sandbox.inside(label, Path(entry.path))
                lines.append(f"{entry.name} (link{'' if inside else ' out of the root: refused'})")
            elif entry.is_dir(follow_symlinks=False):
                lines.append(f"{entry.name}/")
            else:
                lines.append(f"{entry.name} ({entry.stat(follow_symlinks=False).st_size} bytes)")
        if len(entries) > C.LIST_DIRECTORY_CAP:
            lines.append(f"[{len(entries) - C.LIST_DIRECTORY_CAP} more entries not shown]")
        return "\n".join(lines) if lines else "(empty folder)"

    def search_files(pattern: str = "*", contains: str | None = None, path: str = ".") -> str:
        """Find files by name, and optionally the lines containing a text.

        Args:
            pattern: a file-name glob such as '*.py'.
            contains: text to look for inside the files (case-insensitive); omit to list names.
            path: the folder to search, {where}; default the top.
        """
        found = sandbox.resolve(path)
        scopes = [(lbl, root) for lbl, root in sandbox.roots.items()] if found is None else [found]
        needle = contains.lower() if contains else None
        results: list[str] = []
        examined = 0
        for label, top in scopes:
            # followlinks=False: a linked folder could lead out of the root.
            for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
                dirnames.sort()
                for name in sorted(filenames):
                    if len(results) >= C.SEARCH_MAX_MATCHES or examined >= C.SEARCH_MAX_FILES:
                        results.append("[limit reached: narrow the search]")
                        return "\n".join(results)
                    if not fnmatch.fnmatch(name, pattern):
                        continue
                    full = Path(dirpath) / name
                    if full.is_symlink():
                        continue
                    examined += 1
                    shown = sandbox.display(label, full)
                    if needle is None:
                        results.append(shown)
                        continue
                    results.extend(_grep(full, needle, shown, max_read_bytes))
        return "\n".join(results[: C.SEARCH_MAX_MATCHES]) if results else "no matches"

    made = []
    for func in (read_file, list_directory, search_files):
        func.__doc__ = (func.__doc__ or "").replace("{where}", where)
        made.append(tool(func))
    return made


def _grep(full: Path, needle: str, shown: str, cap: int) -> list[str]:
    try:
        data, _ = _read_capped(full, cap)
    except ToolExecutionError:
        return []
    if _is_binary(data):
        return []
    hits = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if needle in line.lower():
            hits.append(f"{shown}:{number}: {line.strip()[: C.SEARCH_LINE_CHARS]}")
            if len(hits) >= C.SEARCH_MAX_MATCHES:
                break
    return hits


def command_tool(
    commands: Sequence[str],
    *,
    sandbox: FileSandbox | None = None,
    timeout: float = C.COMMAND_TIMEOUT_S,
    output_cap: int = C.COMMAND_OUTPUT_CAP,
) -> Tool:
    """``run_command`` limited to the allow-listed ``commands`` (names on PATH or absolute paths).

    Raises:
        ConfigError: the allow-list is empty or names a program that cannot be found.
    """
    allowed: dict[str, str] = {}
    for name in commands:
        found = shutil.which(name)
        if found is None:
            raise ConfigError(f"run_command: allow-listed program {name!r} was not found on PATH")
        allowed[name] = found
    if not allowed:
        raise ConfigError("run_command needs at least one allow-listed program")
    names = ", ".join(allowed)

    async def run_command(program: str, args: list[str] | None = None, cwd: str = ".") -> str:
        """Run an allowed program (no shell) and return its exit code and output.

        Args:
            program: one of: {names}.
            args: the arguments, one list item each (no shell quoting or pipes).
            cwd: the working folder, relative to the root folder.
        """
        exe = allowed.get(program)
        if exe is None:
            raise ToolExecutionError(f"program {program!r} is not allowed; allowed: {names}")
        workdir: Path | None = None
        if sandbox is not None:
            found = sandbox.resolve(cwd)
            if found is None or not found[1].is_dir():
                raise ToolExecutionError(f"cwd {cwd!r} is not a folder")
            workdir = found[1]
        return await _run(exe, list(args or []), workdir, timeout, output_cap)

    run_command.__doc__ = (run_command.__doc__ or "").replace("{names}", names)
    made = Tool.from_function(run_command, timeout=timeout + C.COMMAND_GRACE_S)
    made.parameters["properties"]["program"]["enum"] = list(allowed)  # models pick from a list best
    return made


async def _run(exe: str, args: list[str], cwd: Path | None, limit_s: float, cap: int) -> str:
    env = {k: v for k, v in os.environ.items() if not _SECRET_ENV.search(k)}
    proc = await asyncio.create_subprocess_exec(
        exe,
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, so a timeout kills its children too
    )
    out = _Capped(cap)
    err = _Capped(cap)
    assert proc.stdout is not None
    assert proc.stderr is not None
    timed_out = False
    try:
        await asyncio.wait_for(
            asyncio.gather(out.drain(proc.stdout), err.drain(proc.stderr), proc.wait()), limit_s
        )
    except TimeoutError:
        timed_out = True
    finally:
        # Also reached when the agent cancels the call: never leave the program running.
        if proc.returncode is None:
            _kill_group(proc.pid)
            await proc.wait()
    if timed_out:
        raise ToolExecutionError(
            f"{Path(exe).name} timed out after {limit_s:g} s and was killed.\n"
            + _render(None, out, err)
        )
    return _render(proc.returncode, out, err)


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


def builtin_tools(
    roots: Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]] = (),
    *,
    commands: Sequence[str] | None = None,
    command_timeout: float = C.COMMAND_TIMEOUT_S,
    output_cap: int = C.COMMAND_OUTPUT_CAP,
    max_read_bytes: int = C.FILE_READ_CAP,
) -> list[Tool]:
    """The built-in tools for the given roots and command allow-list (both opt-in).

    Args:
        roots: folders the file tools may read; none means no file tools.
        commands: programs ``run_command`` may start; None (the default) means no
            ``run_command`` tool at all.
        command_timeout: seconds a command may run before its process group is killed.
        output_cap: bytes of stdout and of stderr kept per command.
        max_read_bytes: bytes read_file returns and search_files examines per file.
    """
    sandbox = FileSandbox(roots) if roots else None
    made = file_tools(sandbox, max_read_bytes=max_read_bytes) if sandbox else []
    if commands is not None:
        made.append(
            command_tool(commands, sandbox=sandbox, timeout=command_timeout, output_cap=output_cap)
        )
    return made


def builtin_tools_from_config(section: Mapping[str, Any]) -> list[Tool]:
    """The built-in tools described by the ``[tools]`` table of ``config.toml`` (see above).

    Raises:
        ConfigError: a value has the wrong type or a root/program does not exist.
    """
    roots = section.get("roots", [])
    commands = section.get("commands")
    if not isinstance(roots, list | dict):
        raise ConfigError("[tools] roots must be a list of folders (or a table label = folder)")
    if commands is not None and not (
        isinstance(commands, list) and all(isinstance(c, str) for c in commands)
    ):
        raise ConfigError("[tools] commands must be a list of program names")
    try:
        return builtin_tools(
            roots,
            commands=commands,
            command_timeout=float(section.get("command_timeout_s", C.COMMAND_TIMEOUT_S)),
            output_cap=int(section.get("output_cap_bytes", C.COMMAND_OUTPUT_CAP)),
            max_read_bytes=int(section.get("max_read_bytes", C.FILE_READ_CAP)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[tools] has a value of the wrong type: {exc}") from exc
