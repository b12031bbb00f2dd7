"""``write_file``: the one built-in tool that changes files, off unless ``[tools] write = true``.

It writes inside the same roots, with the same path policy, as the reading tools: relative paths
only, no way out through ``..`` or a symbolic link, never into poe-mcp's own files. A write goes
to a temporary file in the target's folder first and then replaces the target, so a reader never
sees half a file and a failed write leaves the old one. Existing special files (FIFOs, devices,
sockets) and links are refused rather than written through; the folder is opened without
following any link and the write is made relative to it, so a folder swapped for a link after
the check cannot redirect it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from . import _constants as C
from ._safe_fs import open_dir_nofollow
from .errors import ToolExecutionError
from .tools import Tool

if TYPE_CHECKING:
    from .tools._builtin import FileSandbox

__all__ = ["write_tool"]

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)


def write_tool(sandbox: FileSandbox) -> Tool:
    """``write_file`` confined to ``sandbox``, marked ``mutating`` (step mode asks first)."""

    def write_file(path: str, content: str) -> str:
        """Create or replace a text file (UTF-8), creating missing folders.

        Args:
            path: the file, relative to a root.
            content: the whole new text of the file.
        """
        data = content.encode("utf-8")
        if len(data) > C.FILE_WRITE_CAP:
            raise ToolExecutionError(
                f"content is {len(data)} bytes; write_file takes at most {C.FILE_WRITE_CAP}"
            )
        found = sandbox.resolve(path)
        if found is None:
            raise ToolExecutionError("give a file path, not the list of roots")
        _label, real = found
        # The folder is opened (and missing folders made) without following a link anywhere,
        # and everything after is relative to it: a folder swapped for a link since the check
        # cannot redirect the write (into poe-mcp's own files, say).
        parent = _open_folder(sandbox, real.parent, path)
        try:
            _write_at(parent, real.name, data, path)
        finally:
            os.close(parent)
        return f"wrote {len(data)} bytes to {path}"

    made = Tool.from_function(write_file)
    made.mutating = True
    return made


def _write_at(parent: int, name: str, data: bytes, shown: str) -> None:
    """Write ``data`` to ``name`` in the folder ``parent`` through a temporary file."""
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise ToolExecutionError(f"{shown!r} exists and is not a regular file; not written")
    tmp = f".poe-mcp-{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        handle = os.open(tmp, flags | getattr(os, "O_CLOEXEC", 0), 0o644, dir_fd=parent)
        with os.fdopen(handle, "wb") as fh:
            fh.write(data)
        os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=parent)
        raise ToolExecutionError(f"cannot write {shown!r}: {exc.strerror}") from None


def _open_folder(sandbox: FileSandbox, folder: Path, shown: str) -> int:
    """A descriptor of ``folder`` (inside a root, checked), creating missing folders one at a
    time relative to the one above, never through a link."""
    reason = sandbox.refusal(folder)
    if reason is not None:
        raise ToolExecutionError(f"{shown!r} {reason}; access refused")
    missing: list[str] = []
    current = folder
    try:
        while True:
            try:
                fd = open_dir_nofollow(current)
                break
            except FileNotFoundError:
                if current.parent == current:
                    raise
                missing.append(current.name)
                current = current.parent
        for name in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, dir_fd=fd)
            try:
                step = os.open(name, _DIR_FLAGS, dir_fd=fd)
            finally:
                os.close(fd)
            fd = step
    except OSError as exc:
        raise ToolExecutionError(f"cannot write {shown!r}: {exc.strerror}") from None
    return fd
