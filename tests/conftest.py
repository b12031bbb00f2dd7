"""Fixtures shared by every test folder: running simulators (``make_simulator``, ``simulator``,
``openai_sim``: reset before every test), a fresh key, isolated user dirs,
a real Redis (``redis_url``: an empty database per test), a clock tests move (``clock``).

Test folders add their own ``conftest.py`` for anything narrower.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from poe_mcp.config import ENV_VARS
from poe_mcp.simulator import Simulator

if TYPE_CHECKING:
    from tests.redis.redis_testlib import RedisServer

_USER_PREFIXES = ("POE_", "OPENAI_")


class Simulators:
    """Running simulators on ephemeral loopback ports: one per distinct set of options."""

    def __init__(self) -> None:
        self._running: dict[tuple[tuple[str, Any], ...], Simulator] = {}

    def __call__(self, **options: Any) -> Simulator:
        """The running ``Simulator(**options)``, started on first use."""
        key = tuple(sorted(options.items()))
        if key not in self._running:
            self._running[key] = Simulator(**options).start()
        return self._running[key]

    def reset(self) -> None:
        """Forget faults, requests, balances, rate windows and files of every simulator."""
        for sim in self._running.values():
            sim.reset()

    def stop(self) -> None:
        for sim in self._running.values():
            sim.stop()


@pytest.fixture(scope="session")
def make_simulator() -> Iterator[Simulators]:
    """``make_simulator(**options)``: a running ``Simulator(**options)``, e.g.
    ``make_simulator(media_delay_s=1.2)``, started once per distinct options for the whole
    session (per xdist worker) and reset before every test (``_fresh_simulators``)."""
    simulators = Simulators()
    yield simulators
    simulators.stop()


@pytest.fixture(autouse=True)
def _fresh_simulators(make_simulator: Simulators) -> None:
    """Every test meets the session's simulators as new: no queued faults, an empty request log,
    fresh balances, rate windows and files."""
    make_simulator.reset()


@pytest.fixture(scope="session")
def simulator(make_simulator: Simulators) -> Simulator:
    """The simulator playing Poe (``make_simulator()``), reset before every test."""
    return make_simulator()


@pytest.fixture(scope="session")
def openai_sim(make_simulator: Simulators) -> Simulator:
    """The simulator playing OpenAI's API: plain model list, dated ids, OpenAI's errors."""
    return make_simulator(provider="openai")


class FakeClock:
    """A clock that moves only when told (``clock.advance(s)``), from the real time at its start:
    give it to ``open_store(url, clock=clock)`` and expire sessions without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A :class:`FakeClock` for this test."""
    return FakeClock()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real ``redis-server`` on a free loopback port for the whole session (per xdist worker);
    ``scripts/ensure-redis`` (run by ``make test``) installs it. Tests use ``redis_url``."""
    from tests.redis.redis_testlib import RedisServer  # imports redis: only where used

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A Redis URL whose database is empty at the start of the test."""
    redis_server.flush()
    return redis_server.url(0)


@pytest.fixture
def api_key() -> str:
    """A key no other test uses: its own balance, points history and rate window."""
    return f"test-{uuid.uuid4().hex}"


def _clear_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every variable ``ENV_VARS`` lists and every ``POE_*`` / ``OPENAI_*`` one."""
    for name in {*ENV_VARS, *(n for n in os.environ if n.startswith(_USER_PREFIXES))}:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The whole session (every test, every fixture): none of the user's configuration from
    the environment (no key, no base URL, no store...), and data and config dirs of its own,
    never the user's. Fixtures and tests set what they need on top (``poe_home`` per test)."""
    user = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as mp:
        _clear_user_settings(mp)
        mp.setenv("POE_MCP_HOME", str(user / "data"))
        mp.setenv("POE_MCP_CONFIG_DIR", str(user / "config"))
        yield


@pytest.fixture
def poe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """POE_MCP_HOME and POE_MCP_CONFIG_DIR in ``tmp_path`` (returns the data dir), and none of
    the user's configuration from the environment (no key, no base URL, no store...)."""
    home = tmp_path / "data"
    _clear_user_settings(monkeypatch)
    monkeypatch.setenv("POE_MCP_HOME", str(home))
    monkeypatch.setenv("POE_MCP_CONFIG_DIR", str(tmp_path / "config"))
    return home
