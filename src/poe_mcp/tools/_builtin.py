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
  by its folder name); absolute paths and ``~`` are refused, and so are NUL bytes and control
  characters;
- the real path (after ``..`` and symbolic links are resolved) must stay inside its root, so a
  link pointing out of the root is refused, and files and folders are then opened one folder at
  a time without following any link (:mod:`poe_mcp._safe_fs`): a folder swapped for a link
  after the check is never followed;
- the places :mod:`poe_mcp._paths` protects (poe-mcp's config and data dirs, its store,
  ``/proc``, ``/sys``, ``/dev``) are refused even inside a root, also under another name (a
  hard link, a mount, another letter case: compared by identity), and searches never enter
  them; so are ``.git`` folders in any spelling; over MCP, a client that declares roots narrows
  the folders further;
- only regular files are read, never blocking: a FIFO, socket or device is refused before it is
  opened and skipped by searches;
- answers never show host paths outside the root, reads are capped at ``max_read_bytes`` and
  listings and searches at the limits in ``_constants``.

``run_command`` never uses a shell: the program must be one of the allow-listed names and
arguments are passed as a list; :mod:`poe_mcp._commands` refuses programs that run other
programs, filters the options of those that can, confines path-like arguments to the roots and
gives the program a minimal environment. It runs in the first root (or a folder under it), with
stdin closed, a timeout that kills the whole process group, and output capped; it needs roots.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from .. import _constants as C

# Re-exported: the command tool lives in its own module.
from .._command_tool import command_tool
from .._commands import path_candidates
from .._paths import (
    check_path_text,
    client_roots,
    denied_paths,
    inside,
    read_regular,
    real_path,
)
from .._safe_fs import Protected, alias_refusal, is_git_name, open_dir_nofollow
from ..errors import ConfigError, InvalidRequestError, ToolExecutionError
from . import Tool, tool

__all__ = ["FileSandbox", "builtin_tools", "builtin_tools_from_config"]


_BINARY_SNIFF_BYTES = 8192


class FileSandbox:
    """Maps the model's relative paths to real paths inside a fixed set of root folders.

    Args:
        roots: folders the tools may read; a mapping gives each root its label, a sequence
            labels each root by its folder name.
        denied: places refused even inside a root (default :func:`poe_mcp._paths.denied_paths`).
    """

    def __init__(
        self,
        roots: Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]],
        *,
        denied: Sequence[Path] | None = None,
    ):
        self.denied = tuple(denied) if denied is not None else denied_paths()
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
        """Whether there is one root (paths then start inside it, with no root name)."""
        return len(self.roots) == 1

    def resolve(self, path: str) -> tuple[str, Path] | None:
        """The (label, real path) for a model-supplied path; None is the list of roots itself.

        Raises:
            ToolExecutionError: the path is absolute, names no root, or leaves its root.
        """
        text = (path or ".").strip() or "."
        try:
            check_path_text(text)
        except InvalidRequestError as exc:
            raise ToolExecutionError(exc.message) from None
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
        try:
            real = real_path(root.joinpath(*parts))
        except InvalidRequestError as exc:
            raise ToolExecutionError(f"{path!r}: {exc.message}") from None
        if real != root and not real.is_relative_to(root):
            raise ToolExecutionError(
                f"{path!r} leads outside the allowed folder (through '..' or a symbolic link); "
                "access refused"
            )
        reason = self.refusal(real)
        if reason is not None:
            raise ToolExecutionError(f"{path!r} {reason}; access refused")
        return label, real

    def refusal(self, real: Path, *, git_ok: bool = False, by_identity: bool = True) -> str | None:
        """Why the real path ``real`` may not be used, or None (roots, protected places, and
        the MCP client's roots when it declared some).

        ``.git`` folders are refused in every spelling a file system may take for one
        (:func:`poe_mcp._safe_fs.is_git_name`) unless ``git_ok``; a protected place under
        another name (a hard link, a mount, another letter case) is refused by identity
        unless ``by_identity`` is False (a caller that compares identities itself).
        """
        root = next((r for r in self.roots.values() if inside(real, [r])), None)
        if root is None:
            return "leads outside the allowed folder"
        if inside(real, self.denied):
            return (
                "is in a protected location (poe-mcp's own configuration or data, /proc, /sys "
                "or /dev)"
            )
        if not git_ok and any(is_git_name(part) for part in real.relative_to(root).parts):
            return "is inside a .git folder (a repository's own files are not open to tools)"
        declared = client_roots.get()
        if declared is not None and not inside(real, declared):
            return "is outside the roots your MCP client declared"
        return alias_refusal(real, root, self.protected()) if by_identity else None

    def protected(self) -> Protected:
        """The protected places by identity, as they are now (see :mod:`poe_mcp._safe_fs`)."""
        return Protected.of(self.denied)

    def guard(self) -> Callable[[os.stat_result], str | None]:
        """A check of an opened file: None, or why it may not be read (a protected file under
        another name)."""
        protected = self.protected()

        def check(opened: os.stat_result) -> str | None:
            if protected.matches(opened):
                return "poe-mcp's own configuration or data under another name"
            return None

        return check

    def walkable(
        self, folder: Path, info: os.stat_result | None = None, protected: Protected | None = None
    ) -> bool:
        """Whether a search may enter ``folder`` (a real path under a root; ``info`` its
        ``lstat``, compared with ``protected`` by identity)."""
        if inside(folder, self.denied) or any(is_git_name(p) for p in folder.parts[-1:]):
            return False
        if info is not None and protected is not None and protected.matches(info):
            return False
        declared = client_roots.get()
        if declared is None:
            return True
        return inside(folder, declared) or any(root.is_relative_to(folder) for root in declared)

    def check_argument(
        self, arg: str, cwd: Path, listings: dict[Path, frozenset[str]] | None = None
    ) -> None:
        """Refuse a command argument that could name a path outside the allowed places.

        Besides :func:`poe_mcp._commands.path_candidates`, a value glued to a short option is
        checked wherever it starts with the name of an entry of ``cwd`` (``-olink``,
        ``-fsub/x``): a link there can lead anywhere. ``listings`` caches folder listings
        across the arguments of one command.

        Raises:
            ToolExecutionError: naming the argument and why.
        """
        if "\x00" in arg:
            raise ToolExecutionError("a command argument contains a NUL byte")
        for candidate in [*path_candidates(arg), *_glued_entries(arg, cwd, listings)]:
            if candidate.startswith("~"):
                raise ToolExecutionError(
                    f"argument {arg!r}: '~' is not expanded; give a path relative to the root"
                )
            try:
                real = real_path(cwd / candidate)
            except InvalidRequestError as exc:
                raise ToolExecutionError(f"argument {arg!r}: {exc.message}") from None
            reason = self.refusal(real) or self.holds_protected(real) or _special(real)
            if reason is not None:
                raise ToolExecutionError(f"argument {arg!r} {reason}; access refused")

    def holds_protected(self, real: Path) -> str | None:
        """Why a command may not work on the folder ``real``: it contains a protected place
        (a recursive program there would read poe-mcp's own files), else None."""
        for place in self.denied:
            if place != real and place.is_relative_to(real) and inside(place, self.roots.values()):
                return (
                    "contains poe-mcp's own configuration or data (they are inside this root); "
                    "work in a folder that does not contain them"
                )
        return None

    def display(self, label: str, real: Path) -> str:
        """The path as the model should see it (relative, never a host path)."""
        rel = real.relative_to(self.roots[label]).as_posix()
        if self.single:
            return rel
        return label if rel == "." else f"{label}/{rel}"

    def inside(self, label: str, real: Path) -> bool:
        """Whether ``real`` (a link, say) resolves to a place inside the root ``label``."""
        root = self.roots[label]
        try:
            resolved = real_path(real)
        except InvalidRequestError:
            return False
        return resolved == root or resolved.is_relative_to(root)


def _glued_entries(arg: str, cwd: Path, listings: dict[Path, frozenset[str]] | None) -> list[str]:
    """Tails of a short-option cluster (``-olink``) whose first component names an entry of
    ``cwd`` (tails starting with ``/``, ``.`` or ``~`` are path candidates already)."""
    if not arg.startswith("-") or arg.startswith("--") or len(arg) < 3:
        return []
    cache = listings if listings is not None else {}
    names = cache.get(cwd)
    if names is None:
        try:
            with os.scandir(cwd) as entries:
                names = frozenset(entry.name for entry in entries)
        except OSError:
            names = frozenset()
        cache[cwd] = names
    found = []
    for start in range(2, len(arg)):
        if arg[start] in "/.~":
            continue
        end = arg.find("/", start)
        if (arg[start:] if end < 0 else arg[start:end]) in names:
            found.append(arg[start:])
    return found


def _is_binary(head: bytes) -> bool:
    return b"\x00" in head[:_BINARY_SNIFF_BYTES]


def _read_capped(
    real: Path, cap: int, shown: str, guard: Callable[[os.stat_result], str | None]
) -> tuple[bytes, int]:
    """Read at most ``cap`` bytes of a regular file: never a FIFO, device or socket, never
    blocking, never through a link (not even one swapped in after the check), never a
    protected file under another name (:func:`poe_mcp._paths.read_regular`)."""
    try:
        return read_regular(real, cap, guard=guard)
    except FileNotFoundError:
        raise ToolExecutionError(f"{shown!r} does not exist") from None
    except IsADirectoryError:
        raise ToolExecutionError(f"{shown!r} is a folder: use list_directory") from None
    except InvalidRequestError as exc:
        raise ToolExecutionError(f"{shown!r} is {exc.message}") from None
    except OSError as exc:
        raise ToolExecutionError(f"cannot open {shown!r}: {exc.strerror}") from None


def _special(real: Path) -> str | None:
    """Why a command may not be given ``real``: a FIFO, socket or device (opening one can block
    the command until it times out), else None."""
    try:
        mode = os.stat(real).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "is a named pipe, socket or device (only regular files and folders)"


def _entry_note(entry: os.DirEntry[str]) -> str:
    info = entry.stat(follow_symlinks=False)
    if stat.S_ISREG(info.st_mode):
        return f"{info.st_size} bytes"
    if stat.S_ISFIFO(info.st_mode):
        return "named pipe: not readable"
    if stat.S_ISSOCK(info.st_mode):
        return "socket: not readable"
    return "device or special file: not readable"


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
        data, size = _read_capped(real, max_read_bytes, path, sandbox.guard())
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
        return _listing(sandbox, *found, path)

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
        examined = [0]
        for label, top in scopes:
            if not _search(sandbox, label, top, pattern, needle, max_read_bytes, results, examined):
                results.append("[limit reached: narrow the search]")
                return "\n".join(results)
        return "\n".join(results[: C.SEARCH_MAX_MATCHES]) if results else "no matches"

    made = []
    for func in (read_file, list_directory, search_files):
        func.__doc__ = (func.__doc__ or "").replace("{where}", where)
        made.append(tool(func))
    return made


def _listing(sandbox: FileSandbox, label: str, real: Path, shown: str) -> str:
    """The entries of the folder ``real``, one per line (see ``list_directory``)."""
    try:
        # Opened without following a link anywhere: a folder swapped for a link since the
        # check cannot show another folder's names.
        folder = open_dir_nofollow(real)
    except NotADirectoryError:
        raise ToolExecutionError(f"{shown!r} is not a folder") from None
    except OSError as exc:
        raise ToolExecutionError(f"cannot list folder: {exc.strerror}") from None
    lines: list[str] = []
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for entry in entries[: C.LIST_DIRECTORY_CAP]:
            if entry.is_symlink():
                inside = sandbox.inside(label, real / entry.name)
                lines.append(f"{entry.name} (link{'' if inside else ' out of the root: refused'})")
            elif entry.is_dir(follow_symlinks=False):
                lines.append(f"{entry.name}/")
            else:
                lines.append(f"{entry.name} ({_entry_note(entry)})")
    except OSError as exc:
        raise ToolExecutionError(f"cannot list folder: {exc.strerror}") from None
    finally:
        os.close(folder)
    if len(entries) > C.LIST_DIRECTORY_CAP:
        lines.append(f"[{len(entries) - C.LIST_DIRECTORY_CAP} more entries not shown]")
    return "\n".join(lines) if lines else "(empty folder)"


def _search(
    sandbox: FileSandbox,
    label: str,
    top: Path,
    pattern: str,
    needle: str | None,
    cap: int,
    results: list[str],
    examined: list[int],
) -> bool:
    """Search one folder into ``results``; False when a limit was reached.

    ``os.fwalk`` from a descriptor opened without following links: every folder is entered
    by descriptor, never through a link (not even one swapped in mid-search), so the walk
    stays inside the real folder it started in. Links, FIFOs, sockets and devices are skipped;
    files and folders that are protected places under another name too.
    """
    try:
        top_fd = open_dir_nofollow(top)
    except OSError:
        return True
    protected = sandbox.protected()
    guard = sandbox.guard()
    try:
        walk = os.fwalk(".", dir_fd=top_fd, follow_symlinks=False)
        for dirpath, dirnames, filenames, dir_fd in walk:
            here = top / dirpath
            kept = []
            for name in sorted(dirnames):
                try:
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except OSError:
                    continue
                if sandbox.walkable(here / name, info, protected):
                    kept.append(name)
            dirnames[:] = kept
            for name in sorted(filenames):
                if len(results) >= C.SEARCH_MAX_MATCHES or examined[0] >= C.SEARCH_MAX_FILES:
                    return False
                if not fnmatch.fnmatch(name, pattern):
                    continue
                full = here / name
                try:
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISREG(info.st_mode) or protected.matches(info):
                    continue
                if sandbox.refusal(full, by_identity=False) is not None:
                    continue
                examined[0] += 1
                shown = sandbox.display(label, full)
                if needle is None:
                    results.append(shown)
                else:
                    results.extend(_grep(name, dir_fd, needle, shown, cap, guard))
    finally:
        os.close(top_fd)
    return True


def _grep(
    name: str,
    dir_fd: int,
    needle: str,
    shown: str,
    cap: int,
    guard: Callable[[os.stat_result], str | None],
) -> list[str]:
    try:
        data, _ = read_regular(name, cap, guard=guard, dir_fd=dir_fd)
    except (OSError, InvalidRequestError):
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


def builtin_tools(
    roots: Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]] = (),
    *,
    commands: Sequence[str] | None = None,
    command_timeout: float = C.COMMAND_TIMEOUT_S,
    output_cap: int = C.COMMAND_OUTPUT_CAP,
    max_read_bytes: int = C.FILE_READ_CAP,
    denied: Sequence[Path] | None = None,
    kernel_sandbox: bool = True,
    write: bool = False,
) -> list[Tool]:
    """The built-in tools for the given roots and command allow-list (both opt-in).

    Args:
        roots: folders the file tools may read; none means no file tools.
        commands: programs ``run_command`` may start; None (the default) means no
            ``run_command`` tool at all.
        command_timeout: seconds a command may run before its process group is killed.
        output_cap: bytes of stdout and of stderr kept per command.
        max_read_bytes: bytes read_file returns and search_files examines per file.
        denied: places refused even inside a root (default
            :func:`poe_mcp._paths.denied_paths`).
        kernel_sandbox: also confine commands with Landlock where the kernel has it.
        write: add ``write_file`` (needs roots), the one tool that changes files.

    Raises:
        ConfigError: ``write`` without roots, or a bad root or program.
    """
    sandbox = FileSandbox(roots, denied=denied) if roots else None
    made = file_tools(sandbox, max_read_bytes=max_read_bytes) if sandbox else []
    if write:
        if sandbox is None:
            raise ConfigError("[tools] write = true needs roots: the folders it may write in")
        from .._write_tool import write_tool

        made.append(write_tool(sandbox))
    if commands is not None:
        made.append(
            command_tool(
                commands,
                sandbox=sandbox,
                timeout=command_timeout,
                output_cap=output_cap,
                kernel_sandbox=kernel_sandbox,
            )
        )
    return made


def builtin_tools_from_config(
    section: Mapping[str, Any], *, denied: Sequence[Path] | None = None
) -> list[Tool]:
    """The built-in tools described by the ``[tools]`` table of ``config.toml`` (see above).

    Args:
        section: the ``[tools]`` table.
        denied: places refused even inside a root (the server passes its store and dirs).

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
    kernel_sandbox = section.get("sandbox_commands", True)
    if not isinstance(kernel_sandbox, bool):
        raise ConfigError("[tools] sandbox_commands must be true or false")
    write = section.get("write", False)
    if not isinstance(write, bool):
        raise ConfigError("[tools] write must be true or false")
    try:
        return builtin_tools(
            roots,
            commands=commands,
            command_timeout=float(section.get("command_timeout_s", C.COMMAND_TIMEOUT_S)),
            output_cap=int(section.get("output_cap_bytes", C.COMMAND_OUTPUT_CAP)),
            max_read_bytes=int(section.get("max_read_bytes", C.FILE_READ_CAP)),
            denied=denied,
            kernel_sandbox=kernel_sandbox,
            write=write,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[tools] has a value of the wrong type: {exc}") from exc
