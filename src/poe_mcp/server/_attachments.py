"""Files named by an MCP caller, read as attachments only where the path policy allows.

``ask_with_attachment`` (and any later tool that attaches files by path) goes through
:func:`attachment_parts`: every path is checked against ``[tools] roots``, the client's declared
roots and the always-protected places (:mod:`poe_mcp._paths`) before anything is opened, so a
refused file is never read, sent, or stored in the session; the reads themselves are
non-blocking, never follow a link swapped in after the check, refuse protected files under
another name (a hard link, a mount), and run in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .. import _constants as C
from .._paths import PathPolicy, using_client_roots
from ..errors import InvalidRequestError
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
    policy = PathPolicy.from_settings(settings)
    with using_client_roots(declared_roots(client_roots)):
        allowed = [policy.resolve(path, "attachment") for path in paths]
    return await anyio.to_thread.run_sync(lambda: [_part(policy, real) for real in allowed])


def _part(policy: PathPolicy, real: Path) -> dict[str, Any]:
    """One allowed file as a content part, read through the policy: a folder on the way swapped
    for a link since the check, or a protected file under another name, is refused unread."""
    # Imported on first use: it pulls in the backends, which start-up does not need.
    from .._messages import _check_size, attachment_part

    limit = C.MAX_ATTACHMENT_BYTES
    try:
        data, size = policy.read(real, limit + 1)
    except FileNotFoundError:
        raise InvalidRequestError(f"attachment not found: {real}") from None
    except IsADirectoryError:
        raise InvalidRequestError(f"attachment is not a regular file: {real} is a folder") from None
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"attachment {real} refused: {exc.message}") from None
    except OSError as exc:
        raise InvalidRequestError(f"cannot read attachment {real}: {exc.strerror}") from None
    _check_size(size, real.name, limit)
    return attachment_part(data, filename=real.name, max_bytes=limit)
