"""A kernel sandbox for ``run_command`` on Linux (Landlock, kernel 5.13+), when the kernel has it.

Argument filters (:mod:`poe_mcp._commands`) decide what a program is asked to do; Landlock
decides what the process can do whatever it was asked, so an option the filters did not know
still cannot reach outside. The command is started through this file run as a script
(``python -I -S _landlock.py SPEC PROGRAM ARGS...``): it restricts itself, then ``execv`` s the
program, which inherits the restriction along with every process it starts. The rules:

- read, write, create and delete inside the roots and the command's temporary HOME;
- read the system's program and library folders (``/usr``, ``/lib``, ``/bin``...) and a few
  files in ``/etc`` that programs need to start (loader cache, locale, users and groups);
- execute only the allow-listed program itself, the dynamic loader, and helper folders its rule
  names (git's ``git-core``): no shell, no other program, whatever the arguments say;
- ``/dev/null`` and ``/dev/urandom``; nothing else of ``/dev``, ``/proc`` or ``/sys``;
- no TCP connections or listening sockets (ABI 4+), no signals or abstract UNIX sockets to
  processes outside the sandbox (ABI 6+).

This file imports nothing from poe_mcp: as a script it runs in a bare ``python -I -S``.
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import sys
from typing import Any

__all__ = ["abi_version", "spec_for"]

_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446  # the same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
MAKE_SYM, REFER, TRUNCATE, IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # rights a file rule takes
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1

READ = READ_FILE | READ_DIR
READ_WRITE = (
    READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SYM | TRUNCATE
)

_SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
_ETC_READ = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/mime.types", "/etc/magic",
    "/etc/magic.mime", "/etc/locale.alias", "/etc/terminfo",
)  # fmt: skip
_CARVE_MAX_ENTRIES = 4096  # entries granted one by one around protected places, at most
_LOADERS = ("/lib64/ld-*.so*", "/lib/ld-*.so*", "/lib/*-linux-gnu*/ld-*.so*", "/usr/lib/*/ld-*.so*")


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is missing or turned off."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        value = int(_libc().syscall(_SYS_CREATE, None, 0, _CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(value, 0)


def _interpreter(exe: str) -> list[str]:
    """The interpreter of a ``#!`` script (it is executed too), else nothing."""
    try:
        with open(exe, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return []
    if not head.startswith(b"#!"):
        return []
    words = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    return [os.path.realpath(words[0])] if words else []


def _carve(folder: str, denied: list[str], budget: list[int]) -> list[list[Any]]:
    """Rules granting ``folder`` except the ``denied`` places below it.

    Landlock only allows, so a folder holding a protected place is granted piece by piece:
    listing the folder itself, and full rights on each entry that is not (and does not hold) a
    protected place. Links are skipped (a rule on a link would grant its target).
    """
    inner = [d for d in denied if d != folder and d.startswith(folder.rstrip("/") + "/")]
    if any(folder == d or folder.startswith(d.rstrip("/") + "/") for d in denied):
        return []  # a protected place, or a folder inside one (a client root there, say)
    if not inner:
        return [[folder, READ_WRITE]]
    rules: list[list[Any]] = [[folder, READ_DIR]]
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return rules
    for entry in entries:
        budget[0] -= 1
        if budget[0] < 0:
            break
        if entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            rules += _carve(entry.path, inner, budget)
        elif entry.path not in inner:
            rules.append([entry.path, READ_WRITE])
    return rules


def spec_for(
    exe: str,
    *,
    writable: list[str],
    exec_dirs: tuple[str, ...] = (),
    denied: list[str] | tuple[str, ...] = (),
) -> dict[str, list[list[Any]]]:
    """The rules for one command: ``{"rules": [[path, rights], ...]}`` (only existing paths).

    ``writable`` folders are granted whole except the ``denied`` places inside them.
    """
    real_exe = os.path.realpath(exe)
    rules: list[list[Any]] = []
    budget = [_CARVE_MAX_ENTRIES]
    for path in writable:
        rules += _carve(os.path.realpath(path), [os.path.realpath(d) for d in denied], budget)
    rules += [[path, READ] for path in (*_SYSTEM_READ, *_ETC_READ)]
    rules.append([os.path.dirname(real_exe), READ])
    executables = [real_exe, *_interpreter(real_exe)]
    for pattern in _LOADERS:
        executables += [os.path.realpath(p) for p in glob.glob(pattern)]
    rules += [[path, EXECUTE | READ_FILE] for path in dict.fromkeys(executables)]
    rules += [[path, EXECUTE | READ] for path in exec_dirs]
    rules += [["/dev/null", READ_FILE | WRITE_FILE], ["/dev/urandom", READ_FILE]]
    return {"rules": [rule for rule in rules if os.path.exists(rule[0])]}


def _restrict(spec: dict[str, list[list[Any]]]) -> None:
    libc = _libc()
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available")
    handled = (1 << 13) - 1  # EXECUTE .. MAKE_SYM: ABI 1
    if abi >= 2:
        handled |= REFER
    if abi >= 3:
        handled |= TRUNCATE
    if abi >= 5:
        handled |= IOCTL_DEV
    fields = [handled]
    if abi >= 4:
        fields.append(_NET_BIND_TCP | _NET_CONNECT_TCP)  # no rule: no TCP at all
    if abi >= 6:
        fields.append(_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL)
    attr = (ctypes.c_uint64 * len(fields))(*fields)
    fd = int(libc.syscall(_SYS_CREATE, ctypes.byref(attr), ctypes.sizeof(attr), 0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))

    for path, rights in spec["rules"]:
        try:
            target = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            allowed = int(rights) & handled
            if not os.path.isdir(path):
                allowed &= _FILE_RIGHTS
            rule = PathBeneath(allowed, target)
            if int(libc.syscall(_SYS_ADD_RULE, fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)):
                raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
        finally:
            os.close(target)
    if int(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if int(libc.syscall(_SYS_RESTRICT, fd, 0)):
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    os.close(fd)


def _main(argv: list[str]) -> None:
    spec, program, args = json.loads(argv[1]), argv[2], argv[3:]
    try:
        _restrict(spec)
    except OSError as exc:
        # Fail closed: never run the program unconfined when confinement was asked for.
        sys.stderr.write(f"poe-mcp: could not confine the command ({exc}); not run\n")
        sys.exit(126)
    os.execv(program, [program, *args])  # noqa: S606 - the confined program, no shell


if __name__ == "__main__":
    _main(sys.argv)
