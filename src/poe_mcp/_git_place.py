"""Where a git command would read: its repository, work tree and borrowed object stores.

A folder inside a root can hold a repository whose files live elsewhere: a ``.git`` *file*
(``gitdir: /elsewhere``, as a linked work tree has), ``core.worktree`` in its configuration,
or ``objects/info/alternates`` borrowing another repository's objects. ``git show`` there
would print files from outside the roots. Before a git command runs without the kernel sandbox
(which stops such reads by itself), :func:`location_probe` asks git where those places are and
:func:`borrowed_stores` follows the alternates; ``run_command`` refuses the command when one of
them lies outside the roots or in a protected place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import _constants as C
from ._commands import git_global_options
from ._paths import read_regular, real_path
from .errors import PoeError

__all__ = ["borrowed_stores", "location_probe", "reported_places"]


def location_probe(argv: list[str]) -> list[str]:
    """Arguments asking git (with the global options of ``argv``, a rewritten git command
    line) for its git dir, common dir and work tree, as absolute paths."""
    return [
        *git_global_options(argv),
        "rev-parse",
        "--path-format=absolute",
        "--git-dir",
        "--git-common-dir",
        "--show-toplevel",
    ]


def reported_places(output: str) -> list[Path]:
    """The absolute paths in the probe's output (a bare repository has no work tree line)."""
    return [Path(line) for line in output.splitlines() if line.startswith("/")]


def borrowed_stores(common_dir: Path, check: Callable[[Path], None]) -> list[Path]:
    """The object stores ``common_dir`` borrows (``objects/info/alternates``), transitively, as
    git would follow them (relative entries are relative to the borrowing store). Each one is
    passed to ``check`` (which raises to refuse it) before its own alternates are read, so
    nothing outside the allowed places is opened."""
    found: list[Path] = []
    pending = [(common_dir / "objects", 0)]
    while pending:
        store, depth = pending.pop()
        if depth >= C.GIT_ALTERNATES_DEPTH:
            continue
        try:
            data, _ = read_regular(store / "info" / "alternates", C.FILE_READ_CAP)
        except (OSError, PoeError):
            continue  # none, or not a regular file (a FIFO is never opened)
        text = data.decode("utf-8", errors="replace")
        for line in text.splitlines():
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            if entry.startswith('"'):
                entry = entry.strip('"')  # a quoted path: git unquotes C-style escapes
            target = real_path(store / entry)
            if target not in found:
                check(target)
                found.append(target)
                pending.append((target, depth + 1))
    return found
