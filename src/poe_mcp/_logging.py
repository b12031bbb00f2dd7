"""Logging through the standard ``logging`` module, with every known secret redacted.

Secrets (API keys, bearer tokens) are registered with :func:`register_secret` as soon as they are
read; a filter on our handler and on the root logger's handlers replaces them (and any
``Bearer <token>``) in every record. The scrubber itself lives in ``_redact``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._redact import redact, register_secret

__all__ = ["JsonFormatter", "RedactingFilter", "redact", "register_secret", "setup_logging"]


class RedactingFilter(logging.Filter):
    """Redacts the message, and the traceback and stack a record carries (an exception's text
    can hold a key as well: formatters print them after the message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatted once here; every formatter prints exc_text when it is set.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message`` and, for records
    logged with ``extra={"fields": {...}}`` (the server's per-call lines), those fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update(fields)
        if record.exc_text:
            data["exception"] = record.exc_text
        elif record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False, default=str))


def setup_logging(
    level: int = logging.WARNING, *, file: str | Path | None = None, fmt: str = "text"
) -> None:
    """Log to stderr (stdout belongs to the MCP stdio transport) with redaction.

    Args:
        level: the root level.
        file: append to this file instead of stderr (``serve --log-file``).
        fmt: ``text`` (one readable line) or ``json`` (one JSON object per line).
    """
    root = logging.getLogger()
    handler: logging.Handler
    if file is not None:
        path = Path(file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.handlers[:] = [handler]
    root.setLevel(max(logging.DEBUG, level))
    # The SDKs log request URLs and headers at debug level; our filter covers them too.
    for name in ("httpx", "httpx2", "openai", "mcp", "uvicorn"):
        logging.getLogger(name).setLevel(max(logging.DEBUG, level))
