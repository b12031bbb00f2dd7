"""Files named by an MCP caller, read as attachments only where the path policy allows.

``ask_with_attachment`` (and any later tool that attaches files by path) goes through
:func:`attachment_parts`: every path is checked against ``[tools] roots``, the client's declared
roots and the always-protected places (:mod:`poe_mcp._paths`) before anything is opened, so a
refused file is never read, sent, or stored in the session; the reads themselves are
non-blocking and run in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from .._paths import PathPolicy, using_client_roots
from ._roots import declared_roots

if TYPE_CHECKING:
    from mcp_types import ListRootsResult

    from ..config import Settings

__all__ = ["attachment_parts"]


async def attachment_parts(
    settings: Settings, paths: Sequence[str], client_roots: ListRootsResult | None
) -> list[dict[str, Any]]:
    """Message content parts for ``paths``, each allowed by the path policy.

    Raises:
        InvalidRequestError: a path with control characters, outside the roots, in a protected
            place, missing, or not a regular file (checked for every path before any is read).
        TooLargeError: a file over the attachment size limit.
        ConfigError: ``[tools] roots`` is unusable.
    """
    # Imported on first use: it pulls in the backends, which start-up does not need.
    from .._messages import attachment_part

    policy = PathPolicy.from_settings(settings)
    with using_client_roots(declared_roots(client_roots)):
        allowed = [policy.resolve(path, "attachment") for path in paths]
    return await anyio.to_thread.run_sync(lambda: [attachment_part(real) for real in allowed])
