"""Logging through the standard ``logging`` module, with every known secret redacted.

Secrets (API keys, bearer tokens) are registered with :func:`register_secret` as soon as they are
read; a filter on our handler and on the root logger's handlers replaces them in every record.
"""

from __future__ import annotations

import logging
import sys
import threading

__all__ = ["RedactingFilter", "redact", "register_secret", "setup_logging"]

_secrets: set[str] = set()
_lock = threading.Lock()
_MIN_SECRET_LEN = 6  # shorter strings would redact ordinary words


def register_secret(value: str | None) -> None:
    """Remember a secret so that it never reaches a log line or an error text."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` with ``[redacted]``."""
    if not _secrets:
        return text
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


def setup_logging(level: int = logging.WARNING) -> None:
    """Log to stderr (stdout belongs to the MCP stdio transport) with redaction."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.handlers[:] = [handler]
    root.setLevel(max(logging.DEBUG, level))
    # The SDKs log request URLs and headers at debug level; our filter covers them too.
    for name in ("httpx", "httpx2", "openai", "mcp", "uvicorn"):
        logging.getLogger(name).setLevel(max(logging.DEBUG, level))
