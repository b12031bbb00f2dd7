"""Opening a checked path without being fooled between the check and the open.

The path policy (:mod:`poe_mcp._paths`) decides on a *real* path: ``..`` and every symbolic
link resolved. Two things can still make that decision wrong when the file is opened:

- **a swap** (time of check to time of use): a folder on the way is replaced by a link to
  somewhere else after the check. :func:`open_nofollow` walks the real path one folder at a
  time from ``/`` and refuses to follow any link on the way (``O_NOFOLLOW`` at every step,
  ``openat`` relative to the folder just opened), so it opens what was checked or fails;
- **another name for a protected file**: a hard link, a bind mount, or a different letter case
  on a case-insensitive disk (macOS, Windows) names poe-mcp's own files under a path the
  policy does not recognise. :class:`Protected` knows the protected places by identity
  (device and inode) and :func:`alias_refusal` compares a path and its folders with them.

``.git`` folders have other names too on such disks (``.GIT``, ``.git.``, characters HFS+
ignores): :func:`is_git_name` recognises them all.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import _constants as C

__all__ = [
    "Protected",
    "alias_refusal",
    "is_git_name",
    "open_at",
    "open_dir_nofollow",
    "open_nofollow",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# O_PATH needs only search permission on a folder, like ordinary path lookup (Linux).
_STEP = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_STEP |= getattr(os, "O_PATH", 0)
WALKS = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd and bool(_NOFOLLOW)
"""Whether this platform can open paths one folder at a time (every POSIX system)."""

# Code points HFS+ ignores in names (git's own list, CVE-2014-9390): ".g\u200cit" is ".git".
_IGNORABLE = frozenset(
    "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"
)


def is_git_name(name: str) -> bool:
    """Whether a path component is ``.git`` to some file system: any letter case, characters
    HFS+ ignores, trailing dots or spaces (Windows), or the short name ``GIT~1``."""
    folded = "".join(c for c in name if c not in _IGNORABLE).casefold().rstrip(". ")
    return folded in (".git", "git~1")


def _walk_to_parent(real: Path) -> tuple[int, str]:
    """An ``O_PATH`` descriptor of ``real``'s folder, reached without following any link, and
    the last component's name. The caller closes the descriptor."""
    parts = real.parts
    fd = os.open(parts[0], _STEP)
    try:
        for name in parts[1:-1]:
            step = os.open(name, _STEP, dir_fd=fd)
            os.close(fd)
            fd = step
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1] if len(parts) > 1 else "."


def open_nofollow(real: Path, flags: int) -> tuple[int, os.stat_result]:
    """Open the real path ``real`` without following a link anywhere on the way.

    Returns the descriptor and the ``lstat`` of the last component taken just before it was
    opened (so the caller can check the type before opening a FIFO, and compare after).

    Raises:
        OSError: as ``os.open`` would; a folder on the way that became a link is ``ENOTDIR``
            or ``ELOOP``.
    """
    if not WALKS or not real.is_absolute():
        before = os.lstat(real)
        if not _openable(before, real):
            return -1, before
        return os.open(real, flags | _NOFOLLOW | _CLOEXEC), before
    parent, name = _walk_to_parent(real)
    try:
        return open_at(parent, name, flags)
    finally:
        os.close(parent)


def open_at(dir_fd: int, name: str, flags: int) -> tuple[int, os.stat_result]:
    """Open ``name`` in the folder ``dir_fd`` without following a link: ``(-1, lstat)`` for a
    special file (never opened), else ``(descriptor, lstat)``.

    Raises:
        OSError: as ``os.open`` would, or ``name`` is a link.
    """
    before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not _openable(before, Path(name)):
        return -1, before
    return os.open(name, flags | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd), before


def _openable(info: os.stat_result, real: Path) -> bool:
    """Regular files and folders are opened; special files never (the caller refuses them);
    a link where the checked file was is an error."""
    if stat.S_ISLNK(info.st_mode):
        raise OSError(40, "a symbolic link appeared where the checked file was", str(real))
    return stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)


def open_dir_nofollow(real: Path) -> int:
    """A readable descriptor of the folder ``real`` (for ``os.scandir``), reached without
    following any link.

    Raises:
        OSError: not a folder, or a folder on the way became a link.
    """
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    fd, info = open_nofollow(real, flags)
    if fd < 0:
        raise NotADirectoryError(20, "not a folder", str(real))
    if not stat.S_ISDIR(info.st_mode):
        os.close(fd)
        raise NotADirectoryError(20, "not a folder", str(real))
    return fd


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


@dataclass
class Protected:
    """The protected places (:func:`poe_mcp._paths.denied_paths`) known by identity.

    Attributes:
        places: ``(device, inode)`` of every protected place that exists.
        denied: the protected places themselves (real paths).
    """

    places: frozenset[tuple[int, int]]
    denied: tuple[Path, ...]
    _linked: dict[tuple[int, int], Path] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, denied: Iterable[Path]) -> Protected:
        """Identities of ``denied`` as they are now (missing places are skipped)."""
        kept = tuple(denied)
        found: set[tuple[int, int]] = set()
        for place in kept:
            try:
                found.add(_identity(os.stat(place)))
            except OSError:
                continue
        return cls(frozenset(found), kept)

    def linked(self) -> dict[tuple[int, int], Path]:
        """The regular files inside protected folders (and protected files) that have more
        than one name, by identity: the only ones a hard link elsewhere can point at."""
        if self._linked is None:
            self._linked = _multi_linked(self.denied)
        return self._linked

    def secrets_linked(self) -> list[Path]:
        """The protected files with another name somewhere, saved media aside (a generated
        picture linked into a photo folder is no secret): a command working on a whole folder
        could read them through that name."""
        from ._media_files import EXT_TYPES

        return sorted(p for p in self.linked().values() if p.suffix[1:].lower() not in EXT_TYPES)

    def matches(self, info: os.stat_result) -> bool:
        """Whether the file or folder ``info`` describes is a protected place or a hard link
        to a file in one."""
        key = _identity(info)
        if key in self.places:
            return True
        return stat.S_ISREG(info.st_mode) and info.st_nlink > 1 and key in self.linked()


def _multi_linked(denied: tuple[Path, ...]) -> dict[tuple[int, int], Path]:
    found: dict[tuple[int, int], Path] = {}
    budget = C.PROTECTED_SCAN_MAX_ENTRIES
    # Breadth first: the key file and the store sit at the top of their folders, saved media
    # below; the budget is spent on the top levels first.
    queue = deque((place, 0) for place in denied if str(place) not in ("/proc", "/sys", "/dev"))
    while queue and budget > 0:
        place, depth = queue.popleft()
        try:
            info = os.lstat(place)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            if info.st_nlink > 1:
                found[_identity(info)] = place
            continue
        if not stat.S_ISDIR(info.st_mode) or depth >= C.PROTECTED_SCAN_DEPTH:
            continue
        try:
            with os.scandir(place) as entries:
                for entry in entries:
                    budget -= 1
                    if budget <= 0:
                        break
                    queue.append((Path(entry.path), depth + 1))
        except OSError:
            continue
    return found


def alias_refusal(real: Path, stop: Path, protected: Protected) -> str | None:
    """Why ``real`` (a real path at or below the folder ``stop``) is a protected place under
    another name, else None.

    ``real`` and each folder from it up to ``stop`` are compared by identity with the protected
    places (a bind mount, a differently cased name); ``real`` itself also with the files of
    protected folders that have several names (a hard link). Only ``real``, its folders and
    ``stop`` are looked at: nothing above ``stop`` is stat-ed. Missing parts are skipped.
    """
    if not protected.places:
        return None
    current = real
    first = True
    while True:
        try:
            info = os.stat(current) if not first else os.lstat(current)
        except OSError:
            info = None
        if info is not None and (
            _identity(info) in protected.places or (first and protected.matches(info))
        ):
            return (
                "is poe-mcp's own configuration or data under another name (a hard link, a "
                "mount or a differently cased name)"
            )
        first = False
        if current == stop or current.parent == current:
            return None
        current = current.parent
