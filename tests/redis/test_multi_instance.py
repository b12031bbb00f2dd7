"""Several `poe-mcp serve --transport http` processes sharing one Redis, as behind a load balancer.

Every server is a real subprocess on its own ephemeral port, talked to with the MCP SDK client
over streamable HTTP, in front of one in-process simulator.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from poe_mcp.simulator import Simulator
from poe_mcp.store import open_store

from .redis_testlib import RedisServer

pytestmark = pytest.mark.timeout(60)  # two server processes and a Redis per test

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))
TOKEN = "redis-test-token-0123456789"


class Instance:
    """One `poe-mcp serve --transport http` process."""

    def __init__(self, home: Path, redis_url: str, base_url: str, api_key: str, *args: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.log = home / "stderr.log"
        env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
        env.update(
            POE_API_KEY=api_key,
            POE_MCP_HOME=str(home / "data"),
            POE_MCP_CONFIG_DIR=str(home / "config"),
        )
        with self.log.open("w") as log:  # a file, not a pipe: a chatty server never blocks
            self.proc = subprocess.Popen(
                [POE_MCP, "serve", "--transport", "http", "--port", "0", "--token", TOKEN,
                 "--store", redis_url, "--base-url", base_url, *args],
                env=env, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        self.url = ""

    def wait_ready(self) -> Instance:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = re.search(r"MCP over HTTP at (\S+)", self.log.read_text())
            if match:
                self.url = match.group(1)
                self.base = self.url.rsplit("/", 1)[0]
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError(f"server did not start: {self.log.read_text()}")

    def client(self) -> Client:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        return Client(streamable_http_client(self.url, http_client=http), mode="legacy")

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with httpx2.AsyncClient() as http:
            response = await http.get(f"{self.base}/health")
        return response.status_code, response.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(n: int, tmp: Path, redis_url: str, base_url: str, key: str, *args: str) -> list[Instance]:
    tag = uuid.uuid4().hex[:6]
    made = [Instance(tmp / f"{tag}-{i}", redis_url, base_url, key, *args) for i in range(n)]
    return [i.wait_ready() for i in made]  # started together, so they boot in parallel


def error_kind(result: Any) -> str:
    assert result.is_error
    text = result.content[0].text
    return str(json.loads(text[text.index("{") :])["error"]["metadata"]["kind"])


async def ask(instance: Instance, prompt: str, session_id: str | None = None) -> Any:
    args: dict[str, Any] = {"bot": "GPT-4.1", "prompt": prompt}
    if session_id:
        args["session_id"] = session_id
    async with instance.client() as client:
        return await client.call_tool("ask_poe_v2", args)


@pytest.fixture(scope="module")
def redis_for_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """This module's own Redis: one test restarts it under the servers."""
    server = RedisServer(tmp_path_factory.mktemp("redis-servers")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Simulator]:
    with Simulator(latency_ms=30) as sim:  # answers take a moment: traffic is really in flight
        yield sim


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, redis_for_servers: RedisServer, upstream: Simulator
) -> Iterator[list[Instance]]:
    """Instances A and B over one Redis and one simulator."""
    instances = start(
        2, tmp_path_factory.mktemp("pair"), redis_for_servers.url(1), upstream.base_url,
        f"test-{uuid.uuid4().hex}",
    )  # fmt: skip
    yield instances
    for i in instances:
        i.stop()


async def test_turn_on_a_then_turn_on_b_sees_the_history(pair: list[Instance]) -> None:
    a, b = pair
    first = await ask(a, "remember the word kumquat")
    sid = first.structured_content["session_id"]
    second = await ask(b, "what was the word?", sid)
    assert not second.is_error
    assert "received 3 messages" in second.structured_content["text"]
    async with a.client() as client:
        listed = await client.call_tool("list_sessions", {})
    assert sid in json.dumps(listed.structured_content)
    for instance in pair:
        status, body = await instance.health()
        assert status == 200
        assert body["store"]["ok"] is True
        assert body["store"]["backend"] == "redis"
        assert "url" not in body["store"]  # /health needs no token: it names no address


async def test_sigkill_mid_traffic_loses_no_completed_turn(
    tmp_path: Path, redis_for_servers: RedisServer, upstream: Simulator, pair: list[Instance]
) -> None:
    (victim,) = start(
        1, tmp_path, redis_for_servers.url(1), upstream.base_url, f"test-{uuid.uuid4().hex}"
    )
    completed: dict[str, list[str]] = {}
    killed = asyncio.Event()

    async def conversation(n: int) -> None:
        sid: str | None = None
        for i in range(1000):
            prompt = f"c{n}-turn{i}"
            try:
                result = await ask(victim, prompt, sid)
            except Exception:  # the server died under us
                assert killed.is_set()
                return
            if result.is_error:
                assert killed.is_set()
                return
            sid = result.structured_content["session_id"]
            completed.setdefault(sid, []).append(prompt)

    async def killer() -> None:
        while sum(map(len, completed.values())) < 12:
            await asyncio.sleep(0.01)
        killed.set()
        victim.proc.send_signal(signal.SIGKILL)

    await asyncio.wait_for(asyncio.gather(killer(), *(conversation(n) for n in range(4))), 40)
    assert victim.proc.wait(timeout=5) == -signal.SIGKILL

    stored: dict[str, int] = {}
    store = open_store(redis_for_servers.url(1))
    try:
        for sid, prompts in completed.items():
            session = await store.sessions.get(sid)
            assert session is not None
            users = [m["content"] for m in session.messages if m["role"] == "user"]
            assert users[: len(prompts)] == prompts  # every completed turn, in order
            assert len(users) - len(prompts) <= 1  # at most the turn cut short by the kill
            roles = [m["role"] for m in session.messages]
            assert roles == ["user", "assistant"] * len(users)  # never half a turn
            stored[sid] = len(session.messages)
    finally:
        await store.aclose()
    # The survivors carry on with those conversations.
    sid = next(iter(completed))
    result = await ask(pair[0], "still there?", sid)
    assert f"received {stored[sid] + 1} messages" in result.structured_content["text"]


async def test_redis_restart_mid_traffic_recovers(
    redis_for_servers: RedisServer, pair: list[Instance]
) -> None:
    a, b = pair
    outcomes: list[str] = []
    stop = asyncio.Event()

    async def traffic(instance: Instance) -> None:
        sid: str | None = None
        while not stop.is_set():
            result = await ask(instance, "ping", sid)
            if result.is_error:
                outcomes.append(error_kind(result))
                sid = None  # the conversation was in the Redis that went away
            else:
                outcomes.append("ok")
                sid = result.structured_content["session_id"]

    runners = [asyncio.ensure_future(traffic(i)) for i in (a, b, a, b)]
    try:
        while outcomes.count("ok") < 4:
            await asyncio.sleep(0.01)
        redis_for_servers.stop()
        while "store" not in outcomes:
            await asyncio.sleep(0.01)
        status, body = await a.health()
        assert status == 503
        assert body["status"] == "degraded"
        assert body["store"]["ok"] is False
        redis_for_servers.start()
        seen = len(outcomes)
        while outcomes[seen:].count("ok") < 8:
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*runners), 20)
    assert set(outcomes) <= {"ok", "store"}  # a clear store error while down, nothing else
    assert a.proc.poll() is None
    assert b.proc.poll() is None
    for instance in pair:
        status, body = await instance.health()
        assert status == 200
        assert body["store"]["ok"] is True


@pytest.fixture
async def limited(
    tmp_path: Path, redis_for_servers: RedisServer
) -> AsyncIterator[tuple[Simulator, list[Instance]]]:
    """Two instances whose shared limit equals the simulator's: 6 per minute, all at once."""
    rpm = 6
    key = f"test-{uuid.uuid4().hex}"  # one Poe key shared by both, as in a real deployment
    with Simulator(rpm=rpm) as sim:
        instances = []
        for n in range(2):
            home = tmp_path / f"i{n}"
            (home / "config").mkdir(parents=True)
            (home / "config" / "config.toml").write_text(f"[rate_limit]\nburst = {rpm}\n")
            instances.append(
                Instance(home, redis_for_servers.url(1), sim.base_url, key, "--rpm", str(rpm))
            )  # fmt: skip
        yield sim, [i.wait_ready() for i in instances]
        for i in instances:
            i.stop()


async def test_burst_through_both_instances_draws_no_429(
    limited: tuple[Simulator, list[Instance]],
) -> None:
    sim, (a, b) = limited
    started = time.monotonic()
    results = await asyncio.gather(*(ask(a if i % 2 else b, f"burst {i}") for i in range(10)))
    elapsed = time.monotonic() - started
    answered = [r for r in results if not r.is_error]
    refused = [r for r in results if r.is_error]
    log = sim.state.requests()
    statuses = [r["status"] for r in log if r["path"].endswith("/completions")]
    listings = [r for r in log if r["path"].endswith("/models")]
    assert 429 not in statuses
    # The key's whole minute and not one more: every request through the client takes a slot
    # of the shared limit, the model list each instance fetches for prices included.
    assert len(answered) == len(statuses)
    assert len(statuses) + len(listings) == 6
    assert len(answered) >= 4
    assert [error_kind(r) for r in refused] == ["rate_limit"] * len(refused)
    # refused by the limit the two instances share, at once (no instance waited for a slot)
    assert all("shared through Redis" in r.content[0].text for r in refused), (
        "the servers did not use the Redis limiter: ServerRuntime.client() must pass "
        "its store (the client takes store.rate_limiter(...))"
    )
    assert elapsed < 10
    async with b.client() as client:
        info = await client.call_tool("get_server_info", {})
    assert info.structured_content["rate_limit"]["client"]["kind"] == "redis"
