"""Colours and symbols on a terminal; plain text when redirected or when ``NO_COLOR`` is set.

``NO_COLOR`` (https://no-color.org): present and not empty turns every colour off. Symbols fall
back to ASCII when the stream cannot encode them. ``rich`` (the interactive chat) follows the same
variable by itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from typing import IO, Any

import click

__all__ = [
    "color_on",
    "dim",
    "fail",
    "for_terminal",
    "is_terminal",
    "no_echo",
    "notice",
    "ok",
    "symbol",
    "visible",
    "warn",
]

_SYMBOLS = {"ok": ("✓", "ok"), "fail": ("✗", "x"), "warn": ("⚠", "!"), "dot": ("·", "-")}


def is_terminal(stream: IO[Any] | None = None) -> bool:
    """Whether ``stream`` (default stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# C0 controls but tab and newline, DEL, and C1 controls (0x9b is a one-byte CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _caret(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"^{chr(code + 64)}" if code < 0x20 else "^?" if code == 0x7F else f"\\x{code:02x}"


def visible(text: str) -> str:
    """``text`` with control characters shown as ``^[`` and the like, never obeyed.

    Answers, stored prompts and providers' error messages are not ours: an escape sequence in
    them would recolour, retitle or rewrite the terminal, or set its clipboard (OSC 52).
    """
    return _CONTROL.sub(_caret, text.replace("\r\n", "\n"))


def for_terminal(text: str, stream: IO[Any] | None = None) -> str:
    """:func:`visible` when ``stream`` (default stdout) is a terminal; else ``text`` as it is."""
    return visible(text) if is_terminal(sys.stdout if stream is None else stream) else text


def color_on(stream: IO[Any] | None = None) -> bool:
    """Colours only on a terminal, and never with ``NO_COLOR`` set."""
    return not os.environ.get("NO_COLOR") and is_terminal(stream)


def symbol(name: str, stream: IO[Any] | None = None) -> str:
    """``✓ ✗ ⚠ ·`` where the stream can encode them, else ASCII."""
    fancy, plain = _SYMBOLS[name]
    encoding = getattr(sys.stderr if stream is None else stream, "encoding", None) or "ascii"
    try:
        fancy.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return plain
    return fancy


def _style(text: str, err: bool, **styles: Any) -> str:
    stream = sys.stderr if err else sys.stdout
    return click.style(text, **styles) if color_on(stream) else text


def ok(text: str, *, err: bool = False) -> str:
    return _style(text, err, fg="green")


def fail(text: str, *, err: bool = True) -> str:
    return _style(text, err, fg="red", bold=True)


def warn(text: str, *, err: bool = True) -> str:
    return _style(text, err, fg="yellow")


def dim(text: str, *, err: bool = True) -> str:
    return _style(text, err, dim=True)


def notice(message: str) -> None:
    """A warning line on stderr (``⚠ message``), yellow on a terminal."""
    click.echo(warn(f"{symbol('warn')} {message}"), err=True)


@contextlib.contextmanager
def no_echo() -> Iterator[None]:
    """While an answer is drawn, keys typed (and the ``^C`` of Ctrl-C) are not echoed.

    The terminal's echo would move the cursor under ``rich``'s live display, which then redraws
    the partial answer a second time. Typed-ahead text still reaches the next prompt. A no-op
    where standard input is not a terminal or ``termios`` is missing (Windows).
    """
    try:
        import termios
    except ImportError:
        yield
        return
    try:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (termios.error, OSError, ValueError, AttributeError):
        yield
        return
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | getattr(termios, "ECHOCTL", 0))
    try:
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    except termios.error:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, saved)
