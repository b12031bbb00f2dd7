"""What ``run_command`` lets a model run: programs, arguments, environment.

The allow-list in ``[tools] commands`` names programs; this module decides, per program, what
their arguments may be. Four layers, each enough to stop what the others miss:

1. **Programs that exist to run other programs are refused at configuration**: shells,
   interpreters (``python``, ``perl``, ``node``...), wrappers that run their arguments
   (``env``, ``xargs``, ``timeout``, ``nice``, ``sudo``...), editors and pagers (``vim``,
   ``less``, ``man``), remote shells and network clients (``ssh``, ``curl``, ``nc``...), build and
   package runners (``make``, ``npm``, ``pip``, ``cargo``...), ``#!`` scripts run by any of those,
   and an ``awk`` without a sandbox mode (:mod:`poe_mcp._program_refusals`). Allow-listing one is
   a :class:`~poe_mcp.errors.ConfigError` naming the reason.
2. **Per-program argument filters** for programs that run others through options: ``git``
   (read-only subcommands only; ``-c``, ``--config-env``, ``--exec-path``, ``--git-dir``,
   ``--work-tree``, ``--output``, ``--ext-diff``, ``--textconv``, ``-O``, submodule options...
   refused; pager, hooks, fsmonitor, ssh and credential helpers, signature programs and the
   files a repository names outside itself forced off; submodules never entered), ``find``
   (``-exec``, ``-execdir``, ``-ok``, ``-okdir``, ``-delete``, ``-fprint*``, ``-fls``, ``-L``,
   ``-follow``, ``-files0-from``), ``tar`` (``--to-command``, ``--checkpoint-action``,
   ``-I``/``--use-compress-program``, ``--rsh-command``, ``-F``/``--info-script``, ``-P``,
   ``-h``, ``-T``/``--files-from``; ``--force-local`` added),
   ``rsync`` (``-e``/``--rsh``, ``--rsync-path``, remote ``host:path``), ``sed`` (always
   ``--sandbox``: no ``e``, ``r``, ``w``), ``gawk`` (always ``--sandbox``), ``sort``
   (``--compress-program``), ``split`` (``--filter``), ``zip`` (``-TT``/``--unzip-command``),
   ``rg`` (``--pre``), ``grep`` (``-R``), ``cp``/``ls``/``du`` (``-L``...); options that read
   the names of files to read from a file (``--files0-from``, ``file -f``, ``md5sum -c``...)
   and binutils' ``@file`` are refused: those names would go unchecked. Long options are
   matched with their abbreviations (``--to-c`` is ``--to-command`` to GNU getopt).
3. **Path-like arguments are confined**: every argument, every ``--opt=value`` value and every
   path glued to a short option (``-f/etc/x``, or ``-olink`` naming an entry of the working
   folder) is resolved against the working folder (``..`` and symbolic links included) and must
   stay inside the roots, out of protected places (see :mod:`poe_mcp._paths`) and out of
   ``.git`` folders (a repository's configuration can make git run programs); for ``git`` and
   ``tar``, against every folder an earlier ``-C`` can lead to as well. ``~`` is refused.
4. **A minimal environment**: nothing inherited; ``PATH`` = the system folders, ``HOME`` and
   ``TMPDIR`` = an empty temporary folder removed afterwards, ``PAGER``/``GIT_PAGER`` = ``cat``,
   ``EDITOR`` = ``false``, ``LANG`` = ``C.UTF-8``; for git also ``GIT_CONFIG_NOSYSTEM=1``,
   ``GIT_CONFIG_GLOBAL=/dev/null``, ``GIT_TERMINAL_PROMPT=0`` and ``GIT_CEILING_DIRECTORIES`` (a
   repository above a root is never found). Stdin is closed, the program has a timeout and its
   own process group, and its output is capped (``builtin_tools``).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import _constants as C
from ._program_refusals import refusal_reason
from .errors import ConfigError, ToolExecutionError

__all__ = [
    "ProgramPolicy",
    "command_env",
    "git_config_probe",
    "git_driver_overrides",
    "git_global_options",
    "path_candidates",
    "refusal_reason",
]


def path_candidates(arg: str) -> list[str]:
    """The parts of one argument that a program could take as a path.

    The argument itself unless it is an option; the value of ``--opt=value`` and of
    ``key=value`` (dd's ``of=``); and, for a short option with a glued value (``-f/etc/x``,
    ``-I../x``), each tail that starts like a path.
    """
    if arg in ("", "-", "--"):
        return []
    found: list[str] = []
    if not arg.startswith("-"):
        found.append(arg)
    if "=" in arg:
        found.append(arg.split("=", 1)[1])
    if arg.startswith("-") and not arg.startswith("--"):
        found += [arg[i:] for i in range(2, len(arg)) if arg[i] in "/.~"]
    return [f for f in found if f]


def _long_matches(arg: str, names: Sequence[str]) -> str | None:
    """The refused long option ``arg`` stands for (exact or abbreviated), if any."""
    if not arg.startswith("--") or arg == "--":
        return None
    key = arg[2:].split("=", 1)[0]
    if not key:
        return None
    for name in names:
        if name[2:].startswith(key):
            return name
    return None


def _short_letters(arg: str) -> str:
    """The option letters of a short-option cluster (``-xzf`` -> ``xzf``), else ``""``."""
    if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
        return arg[1:]
    return ""


@dataclass(frozen=True)
class _Rule:
    refused_long: tuple[str, ...] = ()
    refused_short: str = ""
    refused_words: frozenset[str] = frozenset()
    lead: tuple[str, ...] = ()  # arguments put first, before the caller's
    rewrite: Callable[[list[str]], list[str]] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    exec_dirs: tuple[str, ...] = ()  # folders the program may start helpers from (Landlock)
    # The program changes folder mid-command-line (git -C, tar -C): later paths are checked
    # from every folder the earlier arguments can lead to.
    chdir: bool = False
    response_files: bool = False  # "@file" reads more arguments from a file: refused


def _refuse(program: str, what: str) -> ToolExecutionError:
    return ToolExecutionError(f"{program}: {what} is not allowed in run_command")


# --- git -------------------------------------------------------------------------------------

_GIT_READ_ONLY = frozenset(
    {"status", "log", "show", "diff", "grep", "ls-files", "ls-tree", "rev-parse", "rev-list",
     "blame", "annotate", "shortlog", "describe", "cat-file", "branch", "tag", "remote",
     "reflog", "stash", "version", "count-objects", "merge-base", "name-rev", "for-each-ref",
     "show-ref", "show-branch", "check-ignore", "check-attr", "whatchanged", "diff-tree",
     "diff-files", "diff-index"}
)  # fmt: skip
_GIT_GLOBAL_FLAGS = frozenset(
    {"--no-pager", "-P", "--no-replace-objects", "--literal-pathspecs", "--glob-pathspecs",
     "--noglob-pathspecs", "--icase-pathspecs", "--no-optional-locks", "--version"}
)  # fmt: skip
_GIT_REFUSED_LONG = (
    "--output", "--open-files-in-pager", "--ext-diff", "--textconv", "--exec", "--upload-pack",
    "--receive-pack", "--filters", "--config", "--config-env", "--paginate", "--edit", "--run",
    "--tool", "--extcmd", "--git-dir", "--work-tree", "--exec-path", "--namespace", "--help",
    "--super-prefix", "--bare", "--output-directory", "--write", "--delete", "--move", "--copy",
    "--force", "--set-upstream-to", "--unset-upstream", "--edit-description", "--track",
    "--create-reflog", "--annotate", "--sign", "--local-user", "--message", "--file",
    "--recurse-submodules", "--submodule", "--ignore-submodules",
)  # fmt: skip
# Forced settings: no pager, hook, fsmonitor, ssh, credential helper, editor, or transport.
_GIT_SAFE_CONFIG = (
    "core.pager=cat", "core.fsmonitor=false", "core.hooksPath=/dev/null",
    "core.sshCommand=false", "core.editor=false", "sequence.editor=false",
    "credential.helper=", "protocol.allow=never", "gpg.program=false", "core.askPass=false",
    # Signature checks run a program the repository names (log.showSignature, tag -v, %G?).
    "gpg.openpgp.program=false", "gpg.x509.program=false", "gpg.ssh.program=false",
    "log.showSignature=false",
    # Files the repository names outside it, some quoted back in error messages (blame's
    # ignoreRevsFile cannot be reset by -c: blame gets --no-ignore-revs-file instead).
    "core.attributesFile=", "core.excludesFile=", "mailmap.file=", "mailmap.blob=",
    # A submodule is another repository with its own drivers: never entered.
    "submodule.recurse=false", "diff.submodule=short", "diff.ignoreSubmodules=all",
    "status.submoduleSummary=false",
)  # fmt: skip
_GIT_DIFFS = frozenset({"diff", "log", "show", "whatchanged"})
_GIT_SUBMODULE_AWARE = frozenset(
    {"status", "diff", "diff-files", "diff-index", "diff-tree", "log", "show", "whatchanged"}
)
_GIT_WRITE_SHORT = {"branch": "dDmMcCfut", "tag": "dasufmFe"}


def _git(args: list[str]) -> list[str]:
    """A git command line with its options checked and the safe settings added."""
    index = 0
    lead: list[str] = []
    while index < len(args) and args[index].startswith("-"):
        arg = args[index]
        if arg == "-C":
            if index + 1 >= len(args):
                raise _refuse("git", "-C without a folder")
            lead += [arg, args[index + 1]]
            index += 2
            continue
        if arg not in _GIT_GLOBAL_FLAGS:
            raise _refuse("git", f"the option {arg!r} (it can change which programs git runs)")
        lead.append(arg)
        index += 1
    if index >= len(args):
        if "--version" in lead:
            return ["--no-pager", *lead]
        raise _refuse("git", "git without a subcommand")
    sub, rest = args[index], args[index + 1 :]
    if sub not in _GIT_READ_ONLY:
        raise _refuse(
            "git",
            f"the subcommand {sub!r} (read-only subcommands only: "
            + ", ".join(sorted(_GIT_READ_ONLY))
            + ")",
        )
    _git_check(sub, rest)
    forced = [item for setting in _GIT_SAFE_CONFIG for item in ("-c", setting)]
    return ["--no-pager", *forced, *lead, sub, *_git_tail(sub), *rest]


def _git_check(sub: str, rest: list[str]) -> None:
    """Refuse what a read-only subcommand's arguments must not do."""
    for arg in rest:
        refused = _long_matches(arg, _GIT_REFUSED_LONG)
        if refused is not None:
            raise _refuse("git", f"the option {refused}")
        letters = _short_letters(arg)
        if sub == "grep" and "O" in letters:
            raise _refuse("git", "grep -O (it opens files in a pager program)")
        if letters and set(letters) & set(_GIT_WRITE_SHORT.get(sub, "")):
            raise _refuse("git", f"{sub} {arg} (read-only use only)")
    positional = [a for a in rest if not a.startswith("-")]
    if sub in ("branch", "tag") and positional and not {"-l", "--list"} & set(rest):
        raise _refuse("git", f"{sub} with a name (it creates one; list with --list)")
    if sub == "remote" and positional[:1] not in ([], ["get-url"]):
        raise _refuse("git", f"remote {positional[0]} (only 'remote', 'remote -v', 'get-url')")
    if sub == "stash" and positional[:1] not in (["list"], ["show"]):
        raise _refuse("git", "stash other than 'stash list' / 'stash show'")
    if sub == "reflog" and positional[:1] in (["expire"], ["delete"]):
        raise _refuse("git", f"reflog {positional[0]}")


def _git_tail(sub: str) -> list[str]:
    """Options put right after the subcommand: no external diff or text conversion, no
    repository-named ignore-revs file, no submodule entered."""
    tail = ["--no-ext-diff", "--no-textconv"] if sub in _GIT_DIFFS else []
    if sub in ("blame", "annotate", "grep"):
        tail = ["--no-textconv"]
    if sub in ("blame", "annotate"):
        tail.append("--no-ignore-revs-file")
    if sub in _GIT_SUBMODULE_AWARE:
        tail.append("--ignore-submodules=all")
    return tail


_GIT_DRIVER = re.compile(
    r"^(filter\..+\.(clean|smudge|process)|diff\..+\.(textconv|command)|merge\..+\.driver)$",
    re.IGNORECASE | re.DOTALL,
)


def git_global_options(argv: list[str]) -> list[str]:
    """The leading part of ``argv`` (a rewritten git command line) up to its subcommand: the
    program and its global options, for a probe that must see the repository as ``argv`` does."""
    index = 0
    while index < len(argv):
        if argv[index] in ("-c", "-C"):
            index += 2
        elif argv[index].startswith("-"):
            index += 1
        else:
            break
    return argv[:index]


def git_config_probe(argv: list[str]) -> list[str]:
    """Arguments listing the repository's config keys, with the same global options as
    ``argv`` (a rewritten git command line)."""
    return [*git_global_options(argv), "config", "--list", "--name-only", "-z"]


_EMPTY_ENV = "POE_MCP_EMPTY"  # an empty variable: --config-env=KEY=POE_MCP_EMPTY sets KEY to ""


def git_driver_overrides(listing: str) -> list[str]:
    """``--config-env=KEY=POE_MCP_EMPTY`` for every filter, diff and merge driver command in a
    config key listing (``git config --list --name-only -z``): an empty command switches the
    driver off. ``--config-env`` splits at the last ``=``, so a driver named ``a=b`` is caught
    too (``-c`` would split at the first)."""
    overrides: list[str] = []
    for key in dict.fromkeys(k.strip() for k in listing.split("\0")):
        if key and _GIT_DRIVER.match(key):
            overrides.append(f"--config-env={key}={_EMPTY_ENV}")
    return overrides


# --- tar and rsync ---------------------------------------------------------------------------

_TAR_REFUSED_LONG = (
    "--to-command", "--checkpoint-action", "--use-compress-program", "--rsh-command",
    "--info-script", "--new-volume-script", "--rmt-command", "--absolute-names",
    "--dereference", "--index-file", "--files-from",
)  # fmt: skip
_TAR_REFUSED_SHORT = "IFPhT"  # -T reads the names to archive from a file: they go unchecked


def _tar(args: list[str]) -> list[str]:
    if args and not args[0].startswith("-"):
        # Old style: the first argument is a cluster of option letters (tar xzf a.tgz).
        if set(args[0]) & set(_TAR_REFUSED_SHORT):
            raise _refuse("tar", f"the options in {args[0]!r} (-I, -F, -P, -h and -T)")
        return [args[0], "--force-local", *args[1:]]
    return ["--force-local", *args]


_REMOTE = re.compile(r"^(rsync://|[^/]*::?)")


def _rsync(args: list[str]) -> list[str]:
    for arg in args:
        if not arg.startswith("-") and _REMOTE.match(arg):
            raise _refuse("rsync", f"the remote location {arg!r} (local copies only)")
    return args


_RULES: dict[str, _Rule] = {
    "git": _Rule(
        rewrite=_git,
        extra_env={
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_PROTOCOL_FROM_USER": "0",
            _EMPTY_ENV: "",
        },
        exec_dirs=("/usr/lib/git-core", "/usr/libexec/git-core"),
        chdir=True,
    ),
    "find": _Rule(
        refused_words=frozenset(
            {
                "-exec",
                "-execdir",
                "-ok",
                "-okdir",
                "-delete",
                "-fprint",
                "-fprint0",
                "-fprintf",
                "-fls",
                "-L",
                "-follow",
                "-files0-from",
            }
        )
    ),
    "tar": _Rule(
        refused_long=_TAR_REFUSED_LONG, refused_short=_TAR_REFUSED_SHORT, rewrite=_tar, chdir=True
    ),
    "rsync": _Rule(
        refused_long=(
            "--rsh",
            "--rsync-path",
            "--daemon",
            "--config",
            "--remote-option",
            "--copy-links",
            "--copy-unsafe-links",
            "--copy-dirlinks",
            "--keep-dirlinks",
            "--write-devices",
            "--copy-devices",
            "--files-from",
        ),
        refused_short="eMLkK",
        rewrite=_rsync,
    ),
    "sed": _Rule(lead=("--sandbox",)),
    "gawk": _Rule(lead=("--sandbox",), refused_long=("--load",), refused_short="l"),
    # --files0-from reads the names of the files to read from a file: they go unchecked.
    "sort": _Rule(refused_long=("--compress-program", "--files0-from")),
    "wc": _Rule(refused_long=("--files0-from",)),
    "file": _Rule(refused_long=("--files-from",), refused_short="f"),
    "split": _Rule(refused_long=("--filter",)),
    "sdiff": _Rule(refused_long=("--diff-program",)),
    "diff3": _Rule(refused_long=("--diff-program",)),
    # zip follows links unless -y (store them as links).
    "zip": _Rule(lead=("-y",), refused_words=frozenset({"-TT"}), refused_long=("--unzip-command",)),
    # A symbolic link's target is relative to the link's folder, not the working folder.
    "ln": _Rule(refused_long=("--symbolic", "--relative"), refused_short="sr"),
    "rg": _Rule(refused_long=("--pre", "--follow"), refused_short="L"),
    "grep": _Rule(refused_long=("--dereference-recursive",), refused_short="R"),
    "cp": _Rule(refused_long=("--dereference",), refused_short="LH"),
    "ls": _Rule(refused_long=("--dereference", "--dereference-command-line"), refused_short="LH"),
    "du": _Rule(refused_long=("--dereference", "--files0-from"), refused_short="LD"),
    "tree": _Rule(refused_short="l"),
    "chmod": _Rule(refused_short="L"),
    "chown": _Rule(refused_short="L"),
}
# A checksum list names files to read (--check): they go unchecked.
_CHECKSUMS = ("md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum",
              "cksum", "sum", "shasum")  # fmt: skip
_RULES.update(dict.fromkeys(_CHECKSUMS, _Rule(refused_long=("--check",), refused_short="c")))
# Binutils and 7-Zip read more arguments from "@file" (unchecked paths among them).
_RESPONSE_FILES = ("strings", "nm", "objdump", "readelf", "ar", "size", "objcopy", "strip",
                   "addr2line", "c++filt", "ranlib", "elfedit", "7z", "7za", "7zr")  # fmt: skip
_RULES.update(dict.fromkeys(_RESPONSE_FILES, _Rule(response_files=True)))
# Other names of the same programs.
_ALIASES = {"awk": "gawk", "gtar": "tar", "bsdtar": "tar", "egrep": "grep", "fgrep": "grep"}


def _rule_name(name: str, exe: str) -> str:
    for candidate in (Path(os.path.realpath(exe)).name, Path(exe).name, Path(name).name):
        canonical = _ALIASES.get(candidate, candidate)
        if canonical in _RULES:
            return canonical
    return Path(name).name


def _probe(exe: str, args: list[str]) -> bool:
    """Whether ``exe args`` exits 0 on empty input (checks a sandbox option exists)."""
    try:
        done = subprocess.run(
            [exe, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=C.COMMAND_PROBE_TIMEOUT_S,
            check=False,
            env={"PATH": C.COMMAND_PATH, "LANG": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


class ProgramPolicy:
    """The rules for one allow-listed program.

    Args:
        name: the name in the allow-list.
        exe: where it was found.

    Raises:
        ConfigError: the program runs other programs by design, or lacks the sandbox option
            its rule needs (a ``sed`` without ``--sandbox``, an ``awk`` that is not gawk).
    """

    def __init__(self, name: str, exe: str) -> None:
        self.name = name
        self.exe = exe
        self.rule_name = _rule_name(name, exe)
        reason = refusal_reason(name, exe)
        real_name = Path(os.path.realpath(exe)).name
        if reason is None and self.rule_name == "gawk" and not real_name.startswith("gawk"):
            reason = "is an awk without a sandbox mode (gawk has one: install gawk)"
        if reason is not None:
            raise ConfigError(
                f"run_command cannot allow {name!r}: it {reason}. Allow only programs that do "
                "not run other programs (see 'run_command' in the README)."
            )
        self.rule = _RULES.get(self.rule_name, _Rule())
        if "--sandbox" in self.rule.lead and not _probe(exe, ["--sandbox", "--version"]):
            raise ConfigError(
                f"run_command cannot allow {name!r}: this {self.rule_name} has no --sandbox "
                "option, so its scripts could run commands and write files (GNU sed 4.3+ and "
                "gawk have it)"
            )

    def arguments(self, args: Sequence[str]) -> list[str]:
        """The argument list to run, after the program's filter.

        Raises:
            ToolExecutionError: an argument the rule refuses.
        """
        rule = self.rule
        program = Path(self.name).name
        for arg in args:
            if arg in rule.refused_words:
                raise _refuse(program, f"the option {arg!r}")
            if rule.response_files and arg.startswith("@"):
                raise _refuse(program, f"{arg!r} (it reads more arguments from a file)")
            refused = _long_matches(arg, rule.refused_long)
            if refused is not None:
                raise _refuse(program, f"the option {refused}")
            letters = _short_letters(arg)
            if letters and rule.refused_short:
                # Only the letters before a glued value count (-fI... is -f with value I...).
                bad = set(letters) & set(rule.refused_short)
                if bad:
                    raise _refuse(program, f"-{''.join(sorted(bad))} (in {arg!r})")
        out = list(args)
        if rule.rewrite is not None:
            out = rule.rewrite(out)
        return [*rule.lead, *out]

    def env(self, home: Path, roots: Sequence[Path]) -> dict[str, str]:
        """The whole environment of one run (see :func:`command_env`)."""
        env = command_env(home, self.exe)
        env.update(self.rule.extra_env)
        if self.rule_name == "git":
            # Never find a repository above a root (git would read files outside it).
            ceilings = {str(root.parent) for root in roots if root.parent != root}
            env["GIT_CEILING_DIRECTORIES"] = ":".join(sorted(ceilings))
        return env


def command_env(home: Path, exe: str) -> dict[str, str]:
    """A minimal environment: nothing inherited, no pager or editor, a throwaway HOME."""
    folder = str(Path(exe).parent)
    path = C.COMMAND_PATH if folder in C.COMMAND_PATH.split(":") else f"{folder}:{C.COMMAND_PATH}"
    return {
        "PATH": path,
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
        "MANPAGER": "cat",
        "EDITOR": "false",
        "VISUAL": "false",
    }
