"""``poe_mcp.client``: where :class:`AsyncPoeClient` has always been importable from.

The client lives in private modules (``_client.py``, ``_policy.py``); import it from here or,
preferably, from the package: ``from poe_mcp import AsyncPoeClient``.
"""

from __future__ import annotations

from ._client import AsyncPoeClient, ClientOptions

__all__ = ["AsyncPoeClient", "ClientOptions"]
