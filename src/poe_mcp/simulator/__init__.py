"""The built-in Poe simulator: a local, deterministic, fault-injectable copy of Poe's API.

Use it from tests and demos::

    from poe_mcp.simulator import Simulator

    with Simulator() as sim:
        client = OpenAI(api_key="any-key", base_url=sim.base_url, max_retries=0)

Conventions: any non-empty key works except keys starting with ``invalid`` (401) and ``broke``
(0 points, 402); replies quote the last user message and state how many messages arrived.
"""

from __future__ import annotations

from ._simulator import Simulator
from .faults import FAULT_KINDS, Fault

__all__ = ["FAULT_KINDS", "Fault", "Simulator"]
