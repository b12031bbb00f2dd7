"""Tags that travel with a call to the ledger without threading them through every signature.

An orchestration run marks the calls of each tier with ``with call_tags(tier=3, run_id=...)``;
the client reads :func:`current_tags` when it writes the ledger row. A context variable follows
the asyncio tasks started inside the block, so parallel workers keep their own tags.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, replace

__all__ = ["CallTags", "call_tags", "current_tags"]


@dataclass(frozen=True, slots=True)
class CallTags:
    """What the ledger row of a call records beside the call itself."""

    tier: int | None = None
    run_id: str | None = None


_TAGS: contextvars.ContextVar[CallTags] = contextvars.ContextVar("poe_mcp_call_tags")
_NONE = CallTags()


def current_tags() -> CallTags:
    """The tags of the calls made here (empty outside any :func:`call_tags` block)."""
    return _TAGS.get(_NONE)


@contextlib.contextmanager
def call_tags(*, tier: int | None = None, run_id: str | None = None) -> Iterator[CallTags]:
    """Tag every call made inside the block (and in tasks it starts); inner blocks add to it."""
    tags = current_tags()
    if tier is not None:
        tags = replace(tags, tier=tier)
    if run_id is not None:
        tags = replace(tags, run_id=run_id)
    token = _TAGS.set(tags)
    try:
        yield tags
    finally:
        _TAGS.reset(token)
