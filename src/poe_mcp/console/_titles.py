"""Names people give their conversations in the console (``<data dir>/console/titles.json``).

The session store keeps messages, not names; a name is the console's presentation, so it lives
beside the store in a small JSON file (written atomically). A conversation without a name is
shown by its first question. Names of sessions that no longer exist are dropped when the list
is shown.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path

__all__ = ["Titles"]

_MAX_CHARS = 120


class Titles:
    """Session id -> name, persisted in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def all(self) -> dict[str, str]:
        with self._lock:
            return self._read()

    def get(self, session_id: str) -> str | None:
        return self.all().get(session_id)

    def set(self, session_id: str, title: str | None) -> None:
        """Name a session (an empty or None title removes the name)."""
        text = " ".join((title or "").split())[:_MAX_CHARS]
        with self._lock:
            data = self._read()
            if text:
                data[session_id] = text
            else:
                data.pop(session_id, None)
            self._write(data)

    def keep_only(self, live: Iterable[str]) -> None:
        alive = frozenset(live)
        with self._lock:
            data = self._read()
            kept = {k: v for k, v in data.items() if k in alive}
            if len(kept) != len(data):
                self._write(kept)


def default_title(text: str) -> str:
    """A name from a first question: its first line, shortened."""
    line = " ".join(text.strip().split("\n", 1)[0].split())
    return line if len(line) <= 60 else line[:57].rstrip() + "…"
