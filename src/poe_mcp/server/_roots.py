"""The roots an MCP client declares (``roots/list``): they narrow what the server reads for it.

A tool that reads files the caller names takes a parameter annotated :data:`ClientRoots`. When
the client declared the ``roots`` capability, the SDK asks it for its roots before the tool runs
(mid-call on the ``initialize`` era, as an input request on the stateless one) and injects the
answer; otherwise the parameter is None. The parameter is not part of the tool's input schema.

Client roots only ever narrow the configured ``[tools] roots`` (:mod:`poe_mcp._paths`): a
client cannot widen what the server reads by declaring ``file:///``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context, ListRoots, Resolve
from mcp_types import ListRootsResult

from .._paths import roots_from_uris

__all__ = ["ClientRoots", "declared_roots"]


def _ask_for_roots(ctx: Context) -> Any:
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.roots is None:
        return None  # the client has no roots to declare: the configured roots alone apply
    return ListRoots()


ClientRoots = Annotated[ListRootsResult | None, Resolve(_ask_for_roots)]
"""A tool parameter filled with the client's ``roots/list`` answer (None: no roots capability)."""


def declared_roots(result: ListRootsResult | None) -> tuple[Path, ...] | None:
    """The client's ``file://`` roots as real paths; None when it declared none at all."""
    if result is None:
        return None
    return roots_from_uris(str(root.uri) for root in result.roots)
