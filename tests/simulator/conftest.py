"""Fixtures of the simulator tests: SDK clients bound to the session simulator.

Creating an SDK client costs ~0.1 s, so one of each lives for the session and every test gets a
cheap copy (``with_options``) carrying its own key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
import pytest_asyncio
from openai import AsyncOpenAI, OpenAI

from poe_mcp.simulator import Simulator


@pytest.fixture(scope="session")
def _sync_client(simulator: Simulator) -> Iterator[OpenAI]:
    with OpenAI(api_key="unused", base_url=simulator.base_url, max_retries=0, timeout=10) as c:
        yield c


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _async_client(simulator: Simulator) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(
        api_key="unused", base_url=simulator.base_url, max_retries=0, timeout=10
    ) as c:
        yield c


@pytest.fixture
def client(_sync_client: OpenAI, api_key: str) -> OpenAI:
    """The official sync client on the simulator, with this test's own key, no SDK retries."""
    return _sync_client.with_options(api_key=api_key)


@pytest.fixture
def aclient(_async_client: AsyncOpenAI, api_key: str) -> AsyncOpenAI:
    """The official async client on the simulator, with this test's own key, no SDK retries."""
    return _async_client.with_options(api_key=api_key)


@pytest.fixture(scope="session")
def http(simulator: Simulator) -> Iterator[httpx2.Client]:
    """A raw HTTP client on the simulator's root URL, for what the SDK hides."""
    with httpx2.Client(base_url=simulator.url, timeout=10) as c:
        yield c
