"""Programs ``run_command`` can never allow: they exist to run other programs or code.

Shells, interpreters, wrappers that run their arguments, editors and pagers, network clients,
build and package runners, and ``#!`` scripts run by any of those (``egrep``, ``zgrep`` and
``gunzip`` are ``sh`` scripts on many systems). Allow-listing one is a
:class:`~poe_mcp.errors.ConfigError` naming the reason (:mod:`poe_mcp._commands`). The list
names what is known; the kernel sandbox (:mod:`poe_mcp._landlock`) stops a program outside it
from starting any other.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ._paths import read_regular
from .errors import PoeError

__all__ = ["refusal_reason"]

# name -> why it cannot be allow-listed
_RUNNERS = {
    "env": "runs the program named in its arguments",
    "xargs": "runs the program named in its arguments",
    "nohup": "runs the program named in its arguments",
    "timeout": "runs the program named in its arguments",
    "nice": "runs the program named in its arguments",
    "ionice": "runs the program named in its arguments",
    "chrt": "runs the program named in its arguments",
    "taskset": "runs the program named in its arguments",
    "prlimit": "runs the program named in its arguments",
    "setsid": "runs the program named in its arguments",
    "stdbuf": "runs the program named in its arguments",
    "unbuffer": "runs the program named in its arguments",
    "chroot": "runs the program named in its arguments",
    "unshare": "runs the program named in its arguments",
    "nsenter": "runs the program named in its arguments",
    "flock": "runs the program named in its arguments",
    "watch": "runs the program named in its arguments",
    "time": "runs the program named in its arguments",
    "script": "runs the program named in its arguments",
    "parallel": "runs the program named in its arguments",
    "expect": "runs the program named in its arguments",
    "sudo": "runs programs as another user",
    "su": "runs programs as another user",
    "doas": "runs programs as another user",
    "runuser": "runs programs as another user",
    "pkexec": "runs programs as another user",
    "strace": "runs the program named in its arguments",
    "ltrace": "runs the program named in its arguments",
    "gdb": "runs and controls programs",
    "lldb": "runs and controls programs",
    "valgrind": "runs the program named in its arguments",
    "firejail": "runs the program named in its arguments",
    "bwrap": "runs the program named in its arguments",
    "systemd-run": "runs the program named in its arguments",
    "at": "schedules commands",
    "batch": "schedules commands",
    "crontab": "schedules commands",
    "xdg-open": "opens files with other programs",
    "busybox": "is every program at once (a shell included)",
    "toybox": "is every program at once",
    "tmux": "runs a shell",
    "screen": "runs a shell",
    "patch": "applies ed scripts, and ed runs shell commands",
}
_INTERPRETER = "is an interpreter: it runs any code it is given"
_EDITOR = "is an editor or pager that can run shell commands"
_NETWORK = "reaches other machines and runs or fetches what they say"
_BUILDER = "runs the commands written in project files (recipes, scripts, hooks)"
_NAMED = {
    **_RUNNERS,
    **dict.fromkeys(
        ("sh", "bash", "rbash", "dash", "zsh", "ksh", "mksh", "pdksh", "yash", "ash", "csh",
         "tcsh", "fish", "nu", "xonsh", "elvish"),
        "is a shell: it runs any command it is given",
    ),
    **dict.fromkeys(
        ("irb", "node", "nodejs", "deno", "bun", "jshell", "java", "groovy", "scala", "kotlin",
         "julia", "R", "Rscript", "osascript", "pwsh", "powershell", "tclsh", "wish", "luajit",
         "guile", "racket", "sbcl", "clisp", "ghci", "runghc", "swipl", "erl", "elixir", "iex",
         "octave", "matlab", "mawk", "nawk", "original-awk", "bc", "dc", "m4", "gpp",
         "sqlite3", "sqlite", "duckdb", "psql", "mysql", "mariadb", "redis-cli", "mongo",
         "mongosh", "gs", "ghostscript", "tex", "latex", "pdflatex", "xelatex", "lualatex",
         "luatex", "pandoc", "hg", "nmap"),
        _INTERPRETER,
    ),
    **dict.fromkeys(
        ("vi", "vim", "nvim", "view", "vimdiff", "rvim", "ex", "ed", "red", "emacs", "nano",
         "pico", "joe", "mcedit", "micro", "less", "more", "most", "pg", "man", "info"),
        _EDITOR,
    ),
    **dict.fromkeys(
        ("ssh", "scp", "sftp", "rsh", "rlogin", "telnet", "nc", "ncat", "netcat", "socat",
         "curl", "wget", "aria2c", "ftp", "lftp", "ssh-agent", "mosh", "openssl", "gpg", "gpg2",
         "dig", "host", "nslookup", "ping", "ping6", "traceroute", "tracepath", "mtr", "lynx",
         "w3m", "links", "elinks", "svn", "ffmpeg", "ffprobe", "ffplay", "convert", "magick",
         "mogrify", "composite", "montage", "identify", "tcpdump", "aws", "gcloud", "az"),
        _NETWORK,
    ),
    **dict.fromkeys(
        ("make", "gmake", "cmake", "ninja", "meson", "scons", "npm", "npx", "yarn", "pnpm",
         "pip", "pip3", "pipx", "uv", "uvx", "poetry", "pdm", "hatch", "tox", "nox", "pytest",
         "cargo", "go", "mvn", "gradle", "ant", "rake", "bundle", "gem", "composer", "docker",
         "podman", "kubectl", "gcc", "cc", "c++", "g++", "clang", "clang++", "ld", "tsc",
         "just", "task", "invoke", "fab", "ansible", "terraform"),
        _BUILDER,
    ),
}  # fmt: skip
_PATTERNS = (
    (re.compile(r"^(python|pypy|perl|ruby|php|lua|tclsh|wish|node)[0-9.]*(-config)?$"),
     _INTERPRETER),
    (re.compile(r"^(pip|python|gcc|g\+\+|clang|clang\+\+)[0-9.-]+.*$"), _BUILDER),
    (re.compile(r"^(vim|nvim|emacs)[0-9.-]*.*$"), _EDITOR),
)  # fmt: skip


def refusal_reason(name: str, exe: str) -> str | None:
    """Why ``name`` (found at ``exe``) may not be allow-listed, or None.

    A ``#!`` script counts as the program that runs it: ``egrep``, ``zgrep`` or ``gunzip`` are
    ``sh`` scripts on many systems, and a shell given the caller's arguments is a shell.
    """
    for candidate in {Path(name).name, Path(exe).name, Path(os.path.realpath(exe)).name}:
        if candidate in _NAMED:
            return _NAMED[candidate]
        for pattern, reason in _PATTERNS:
            if pattern.match(candidate):
                return reason
    runner = _script_runner(exe)
    why = refusal_reason(runner, runner) if runner is not None else None
    return f"is a script run by {runner}, which {why}" if why is not None else None


def _script_runner(exe: str) -> str | None:
    """The program a ``#!`` script names (through ``env``), else None."""
    try:
        head, _ = read_regular(os.path.realpath(exe), 256)  # never blocks on a FIFO
    except (OSError, PoeError):
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if words and Path(words[0]).name == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return words[0] if words else None
