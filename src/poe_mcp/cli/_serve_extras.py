"""What ``poe-mcp serve`` adds for people: a bearer token that survives restarts, a line to
paste into a client, and where and how the server logs.

The token of a loopback HTTP server started without one is kept in ``<data dir>/http-token``
(mode 0600), so a client configured once keeps working after ``make run`` is restarted;
``--new-token`` replaces it.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import click

from .. import _constants as C
from .._logging import register_secret, setup_logging

__all__ = ["TOKEN_FILE", "announce", "client_lines", "configure_logging", "stored_token"]

TOKEN_FILE = "http-token"  # noqa: S105 - a file name, not a secret


def stored_token(home: Path, *, new: bool = False) -> tuple[str, bool]:
    """The loopback server's token and whether it was made now (kept in ``home``, mode 0600)."""
    path = home / TOKEN_FILE
    if not new:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError:
            token = ""
        if len(token) >= C.HTTP_TOKEN_MIN_CHARS:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)  # only the owner may read a token
            register_secret(token)
            return token, False
    token = secrets.token_urlsafe(C.HTTP_TOKEN_BYTES)
    register_secret(token)
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(TOKEN_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    os.replace(tmp, path)
    return token, True


def client_lines(url: str | None, token: str | None, *, path: Path | None, made: bool) -> list[str]:
    """The lines ``serve`` prints: where the token lives and a ready-to-paste client command
    (when the URL is known before binding, i.e. not ``--port 0``)."""
    lines: list[str] = []
    if token is not None and path is not None:
        from .._redact import mask_secrets

        state = "new" if made else "kept"
        where = mask_secrets(str(path))  # a key pasted into POE_MCP_HOME is not echoed
        lines.append(f"bearer token ({state}, in {where}; --new-token makes another): {token}")
    if url is not None:
        header = f' --header "Authorization: Bearer {token}"' if token else ""
        lines.append("add it to Claude Code:")
        lines.append(f"  claude mcp add --transport http poe {url}{header}")
    return lines


def announce(*lines: str) -> None:
    """Lines for people, on stderr (stdout belongs to the stdio transport), each after
    ``poe-mcp:`` but an indented one (a command to paste)."""
    for line in lines:
        click.echo(f"poe-mcp: {line}" if not line.startswith("  ") else line, err=True)


def configure_logging(*, transport: str, log_file: str | None, log_format: str) -> None:
    """Re-point logging for the server: a file and/or JSON lines; per-call lines over HTTP."""
    if log_file is not None or log_format != "text":
        setup_logging(logging.getLogger().level, file=log_file, fmt=log_format)
    if transport == "http":
        logging.getLogger("poe_mcp.calls").setLevel(logging.INFO)
