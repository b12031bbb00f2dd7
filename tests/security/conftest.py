"""Fixtures for the security tests.

- ``hostile``: the upstream of :mod:`.hostile` (echoes the key, lone surrogates, odd usage);
- (``redis_server``, the real redis-server of the store checks, is the root conftest's);
- ``victim``, ``make_server``, ``steered``, ``bystander``: the hard-boundary world of
  :mod:`.boundary` (canary files and dirs, in-memory servers over them, a fake Poe that does what
  its caller says, and an "internal service" downloads must never reach).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from poe_mcp.simulator import Simulator

from .boundary import SteeredAPI, Victim, make_victim, server_factory
from .hostile import Hostile, running


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    yield from running()


@pytest.fixture
def victim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Victim:
    return make_victim(tmp_path, monkeypatch)


@pytest.fixture
async def make_server(simulator: Simulator, victim: Victim) -> AsyncIterator[Callable[..., Any]]:
    async for factory in server_factory(simulator, victim):
        yield factory


@pytest.fixture(scope="module")
def steered() -> Iterator[SteeredAPI]:
    server = SteeredAPI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bystander() -> Iterator[SteeredAPI]:
    server = SteeredAPI().start()
    yield server
    server.stop()
