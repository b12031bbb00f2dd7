"""Which files poe-mcp reads on a caller's behalf: one path policy for attachments and file tools.

An MCP caller (a token holder over HTTP, or a model steered by whatever it read) names paths in
``ask_with_attachment`` and, through the model, in the built-in ``read_file``,
``list_directory``, ``search_files`` and ``run_command``. All of them go through this module:

- the path text is checked first: a NUL byte or another control character is an
  ``invalid_request`` error, never an internal one;
- the real path (``..`` and every symbolic link resolved) must lie inside a configured root
  (``[tools] roots`` in ``config.toml``) and, when the MCP client declares roots
  (``roots/list``), inside one of those too: client roots narrow the configured ones, they never
  widen them;
- some places are refused whatever the roots say: poe-mcp's own config dir (``credentials.toml``)
  and data dir (the session store, the usage ledger), a SQLite store kept elsewhere, ``/proc``,
  ``/sys`` and ``/dev``, also under another name (a hard link, a mount, another letter case:
  compared by identity), and ``.git`` folders in any spelling;
- only regular files are opened, and never in a way that can block: the type is checked with
  ``lstat`` first, the open uses ``O_NONBLOCK | O_NOFOLLOW``, and ``fstat`` on the open file must
  agree, so a FIFO, socket or device in a root cannot hang a worker thread.

The command line and the Python library are the local user choosing their own files: they use
:func:`read_regular` (no blocking, regular files only) but no roots.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from . import _constants as C
from ._safe_fs import Protected, alias_refusal, is_git_name, open_at, open_nofollow
from .config import config_dir, data_dir
from .errors import ConfigError, InvalidRequestError

if TYPE_CHECKING:
    from .config import Settings

__all__ = [
    "SYSTEM_DENIED",
    "PathPolicy",
    "check_path_text",
    "client_roots",
    "denied_paths",
    "inside",
    "read_regular",
    "real_path",
    "roots_from_uris",
    "using_client_roots",
]

SYSTEM_DENIED = ("/proc", "/sys", "/dev")  # kernel and device views: never files to send anywhere

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1 (Unicode category Cc)
_STORE_SUFFIXES = ("", "-wal", "-shm", "-journal")

client_roots: ContextVar[tuple[Path, ...] | None] = ContextVar("poe_mcp_client_roots", default=None)
"""The roots the MCP client declared for the call in progress (None: it declared none)."""


def check_path_text(path: Any, what: str = "path") -> str:
    """``path`` as text, if it is a usable path string.

    Raises:
        InvalidRequestError: not a string, empty, too long, or holding a NUL byte or another
            control character (names the position, never echoes the character).
    """
    if not isinstance(path, str):
        raise InvalidRequestError(f"{what} must be a string, got {type(path).__name__}")
    if not path.strip():
        raise InvalidRequestError(f"{what} is empty: give a file path")
    if len(path) > C.PATH_MAX_CHARS:
        raise InvalidRequestError(
            f"{what} is {len(path)} characters long; the limit is {C.PATH_MAX_CHARS}"
        )
    bad = _CONTROL.search(path)
    if bad is not None:
        name = "a NUL byte" if bad.group() == "\x00" else "a control character"
        raise InvalidRequestError(
            f"{what} contains {name} (at position {bad.start()}): file names with control "
            "characters are not accepted"
        )
    return path


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def real_path(path: str | os.PathLike[str]) -> Path:
    """``os.path.realpath`` of a caller's path, ``~`` expanded.

    Raises:
        InvalidRequestError: the path changed while it was being resolved (a link swapped for
            a folder mid-way makes ``realpath`` itself fail).
    """
    try:
        return _real(path)
    except OSError:
        raise InvalidRequestError(
            "the path changed while it was being resolved (a link was swapped); not used"
        ) from None


def inside(real: Path, roots: Iterable[Path]) -> bool:
    """Whether ``real`` is one of ``roots`` or below one of them (all real paths)."""
    return any(real == root or real.is_relative_to(root) for root in roots)


def denied_paths(settings: Settings | None = None) -> tuple[Path, ...]:
    """The places no caller may read: poe-mcp's config and data dirs, its store, /proc, /sys, /dev.

    Both the directories of ``settings`` and those of the environment are listed (they differ
    only when a caller built settings by hand).
    """
    places: list[str | os.PathLike[str]] = [*SYSTEM_DENIED, config_dir(), data_dir()]
    if settings is not None:
        places += [settings.config_dir, settings.home]
        store = settings.store_url
        if store.startswith("sqlite:///"):
            db = store[len("sqlite:///") :]
            places += [db + suffix for suffix in _STORE_SUFFIXES]
        elif store.startswith(("redis://", "rediss://", "unix://")):
            places += redis_files(store)
    seen: dict[Path, None] = {}
    for place in places:
        seen.setdefault(_real(place), None)
    return tuple(seen)


_REDIS_FILES: dict[str, tuple[str, ...]] = {}


def redis_files(url: str) -> tuple[str, ...]:
    """The Redis server's snapshot and append-only files (they hold the stored sessions), as the
    server reports them (``CONFIG GET dir``, ``dbfilename``, ``appendfilename``,
    ``appenddirname``); asked once per URL. Nothing when the server cannot be asked (down,
    ``CONFIG`` renamed or not permitted, no ``redis`` package): a remote server's files are not
    on this machine anyway."""
    if url in _REDIS_FILES:
        return _REDIS_FILES[url]
    found: list[str] = []
    try:
        import redis

        wait = C.REDIS_CONFIG_TIMEOUT_S
        client = redis.Redis.from_url(
            url, socket_timeout=wait, socket_connect_timeout=wait, decode_responses=True
        )
        try:
            config: dict[str, str] = {}
            for key in ("dir", "dbfilename", "appendfilename", "appenddirname"):
                config.update({str(k): str(v) for k, v in client.config_get(key).items()})
        finally:
            client.close()
    except ImportError:
        config = {}
    except (redis.ConnectionError, redis.TimeoutError):
        return ()  # down for now: asked again next time
    except Exception:  # noqa: BLE001 - CONFIG refused or renamed: the server cannot tell
        config = {}
    folder = config.get("dir")
    if folder:
        names = (config.get(k) for k in ("dbfilename", "appendfilename", "appenddirname"))
        found = [os.path.join(folder, name) for name in names if name]
    _REDIS_FILES[url] = tuple(found)
    return _REDIS_FILES[url]


def roots_from_uris(uris: Iterable[str]) -> tuple[Path, ...]:
    """Real paths of the ``file://`` roots an MCP client declared (other schemes are ignored)."""
    found: list[Path] = []
    for uri in uris:
        parts = urlsplit(str(uri))
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            continue
        path = unquote(parts.path)
        if not path or _CONTROL.search(path):
            continue
        found.append(_real(path))
    return tuple(found)


@contextlib.contextmanager
def using_client_roots(roots: tuple[Path, ...] | None) -> Iterator[None]:
    """Confine every policy check in this block (and the worker threads it starts) to ``roots``."""
    token = client_roots.set(roots)
    try:
        yield
    finally:
        client_roots.reset(token)


@dataclass(frozen=True, slots=True)
class PathPolicy:
    """Configured roots plus the always-refused places.

    Attributes:
        roots: real paths of the folders callers may read (empty: none).
        denied: real paths refused even inside a root.
    """

    roots: tuple[Path, ...]
    denied: tuple[Path, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> PathPolicy:
        """``[tools] roots`` of ``config.toml`` and :func:`denied_paths`.

        Raises:
            ConfigError: ``roots`` is not a list (or table) of existing folders.
        """
        raw = settings.tools.roots or []
        return cls(configured_roots(raw), denied_paths(settings))

    def refusal(self, real: Path) -> str | None:
        """Why ``real`` may not be read, or None (roots, protected places, client roots)."""
        if inside(real, self.denied):
            return (
                "is in a protected location (poe-mcp's own configuration or data, /proc, /sys "
                "or /dev)"
            )
        if not inside(real, self.roots):
            return "is outside the folders poe-mcp may read ([tools] roots in config.toml)"
        root = next(r for r in self.roots if inside(real, [r]))
        if any(is_git_name(part) for part in real.relative_to(root).parts):
            return "is inside a .git folder (a repository's own files are not sent anywhere)"
        declared = client_roots.get()
        if declared is not None and not inside(real, declared):
            return "is outside the roots your MCP client declared"
        return alias_refusal(real, root, Protected.of(self.denied))

    def read(self, real: Path, cap: int) -> tuple[bytes, int]:
        """Read a path :meth:`resolve` allowed, refusing what changed since (a folder swapped
        for a link, a protected file under another name): see :func:`read_regular`."""
        protected = Protected.of(self.denied)

        def guard(opened: os.stat_result) -> str | None:
            if protected.matches(opened):
                return "the file is poe-mcp's own configuration or data under another name"
            return None

        return read_regular(real, cap, guard=guard)

    def resolve(self, path: str, what: str = "path") -> Path:
        """The real path of a caller's ``path`` if policy allows reading it.

        Absolute paths and ``~`` are taken as they are; a relative path is relative to the first
        root. Nothing is opened or stat-ed before the policy says yes, so a refusal tells
        nothing about whether the file exists.

        Raises:
            InvalidRequestError: bad path text, no roots configured, or a refused place.
        """
        text = check_path_text(path, what)
        if not self.roots:
            raise InvalidRequestError(
                f"{what} {path!r} refused: poe-mcp reads files for MCP callers only inside "
                "configured folders, and none are configured. Add the folder to [tools] roots "
                'in config.toml, e.g. roots = ["~/Documents/shared-with-models"].'
            )
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            candidate = self.roots[0] / candidate
        real = real_path(candidate)
        reason = self.refusal(real)
        if reason is not None:
            raise InvalidRequestError(f"{what} {path!r} {reason}; access refused")
        return real


def configured_roots(raw: Any) -> tuple[Path, ...]:
    """Real paths of ``[tools] roots`` (a list of folders, or a table label = folder).

    Raises:
        ConfigError: the wrong type, or a root that is not an existing folder.
    """
    if isinstance(raw, Mapping):
        items: Sequence[Any] = list(raw.values())
    elif isinstance(raw, list | tuple):
        items = raw
    else:
        raise ConfigError("[tools] roots must be a list of folders (or a table label = folder)")
    roots: list[Path] = []
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise ConfigError(f"[tools] roots holds {item!r}, which is not a folder path")
        real = _real(item)
        if not real.is_dir():
            raise ConfigError(f"tool root {item!s} is not a folder")
        roots.append(real)
    return tuple(roots)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def read_regular(
    path: str | os.PathLike[str],
    cap: int,
    *,
    guard: Callable[[os.stat_result], str | None] | None = None,
    dir_fd: int | None = None,
) -> tuple[bytes, int]:
    """Read at most ``cap`` bytes of a regular file; return them and the file's size.

    Never blocks on a special file: the type is checked before opening, the open is
    non-blocking, and the opened file must be the regular file that was checked. An absolute
    path is opened one folder at a time without following any link
    (:func:`poe_mcp._safe_fs.open_nofollow`), so a folder swapped for a link after a policy
    check cannot redirect the read. ``guard`` sees the opened file's ``fstat`` and may refuse
    it (a protected file under another name). With ``dir_fd``, ``path`` is a name in that
    folder (already reached safely, e.g. by ``os.fwalk``).

    Raises:
        FileNotFoundError: nothing at ``path``.
        IsADirectoryError: ``path`` is a folder.
        OSError: unreadable (``strerror`` says why), or a folder on the way became a link.
        InvalidRequestError: a FIFO, socket, device or other non-regular file, or refused by
            ``guard``.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
    if dir_fd is None:
        fd, info = open_nofollow(Path(path), flags)
    else:
        fd, info = open_at(dir_fd, os.fspath(path), flags)
    if stat.S_ISDIR(info.st_mode):
        if fd >= 0:
            os.close(fd)
        raise IsADirectoryError(21, "is a folder", str(path))
    if fd < 0 or not stat.S_ISREG(info.st_mode):
        if fd >= 0:
            os.close(fd)
        raise InvalidRequestError(f"{_kind(info.st_mode)}, not a regular file: not read")
    with os.fdopen(fd, "rb") as fh:
        opened = os.fstat(fh.fileno())
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
            info.st_dev,
            info.st_ino,
        ):
            raise InvalidRequestError("the file changed while it was being opened: not read")
        reason = guard(opened) if guard is not None else None
        if reason is not None:
            raise InvalidRequestError(reason)
        return fh.read(cap), opened.st_size
