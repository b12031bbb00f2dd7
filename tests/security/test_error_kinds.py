"""The same fault gets the same error kind on both backends, and the README says truly which
kinds are retried.

Every simulator fault, streamed and not, through the REST backend and the bot protocol: the
kinds must be equal. A stream cut before its first chunk was ``incomplete_stream`` on REST and
``network`` on the bot protocol; a bot error without a type that forbids retries was
``invalid_request`` there and ``upstream`` on REST.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from poe_mcp._retry import retry_delay
from poe_mcp.client import AsyncPoeClient
from poe_mcp.errors import (
    IncompleteStreamError,
    NetworkError,
    PoeError,
    RequestTimeoutError,
    UpstreamError,
    error_from_response,
)
from poe_mcp.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "hello there, a text long enough to be streamed in several chunks " * 3

FAULTS: list[dict[str, Any]] = [
    *({"kind": "status", "status": s} for s in (400, 401, 402, 403, 404, 408, 413, 429)),
    *({"kind": "status", "status": s} for s in (500, 502, 503, 504, 529)),
    {"kind": "drop"},
    {"kind": "cut", "after_chunks": 0},
    {"kind": "cut", "after_chunks": 2},
    {"kind": "malformed"},
    {"kind": "stream_error", "after_chunks": 0},
    {"kind": "stream_error", "after_chunks": 2},
    {"kind": "stream_error", "after_chunks": 0, "allow_retry": False},
    {"kind": "delay", "delay_s": 2},
]


async def _kind(sim: Simulator, fault: dict[str, Any], backend: str, streamed: bool) -> str:
    sim.clear_faults()
    sim.add_fault(**fault)
    client = AsyncPoeClient(
        f"zq-k-{uuid.uuid4().hex}",
        base_url=sim.base_url,
        backend=backend,
        store=False,
        catalog=False,
        rpm=0,
        max_retries=0,
        timeout=0.5,
    )
    try:
        async with client:
            if streamed:
                async for _ in client.stream("GPT-4.1", PROMPT):
                    pass
            else:
                await client.chat("GPT-4.1", PROMPT)
    except PoeError as exc:
        return exc.kind
    finally:
        sim.clear_faults()
    return "ok"


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: "-".join(str(v) for v in f.values()))
async def test_same_fault_same_kind_on_both_backends(
    simulator: Simulator, fault: dict[str, Any], streamed: bool
) -> None:
    rest = await _kind(simulator, fault, "openai", streamed)
    bot = await _kind(simulator, fault, "legacy", streamed)
    assert rest != "ok"
    assert rest == bot, f"{fault}: REST says {rest}, the bot protocol says {bot}"


async def test_a_stream_cut_before_its_first_chunk_is_incomplete_on_both(
    simulator: Simulator,
) -> None:
    fault = {"kind": "cut", "after_chunks": 0}
    assert await _kind(simulator, fault, "openai", True) == "incomplete_stream"
    assert await _kind(simulator, fault, "legacy", True) == "incomplete_stream"


# --- the README's error table is what the retry policy does ---------------------------------


def _table() -> dict[str, str]:
    """kind -> the README's "retried" cell (rows naming two kinds give both)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Errors") : text.index("## Security")]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            for kind in re.findall(r"`([a-z_]+)`", cells[0]):
                rows[kind] = cells[3]
    return rows


def _retried(error: PoeError) -> bool:
    return retry_delay(error, 0, 4, rand=lambda: 0.0) is not None


SAMPLES: dict[str, list[PoeError]] = {
    "auth": [error_from_response(401)],
    "balance": [error_from_response(402)],
    "rate_limit": [error_from_response(429)],
    "network": [NetworkError("connection refused")],
    "timeout": [
        error_from_response(408),
        error_from_response(504),
        RequestTimeoutError("no answer in time", status=None),
    ],
    "invalid_request": [error_from_response(400)],
    "not_found": [error_from_response(404)],
    "moderation": [error_from_response(403)],
    "too_large": [error_from_response(413)],
    "upstream": [error_from_response(s) for s in (500, 502, 503)],
    "overloaded": [error_from_response(529)],
}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_readme_retried_column_matches_the_policy(kind: str) -> None:
    cell = _table()[kind]
    says_yes = cell.lower().startswith("yes")
    for error in SAMPLES[kind]:
        assert error.kind == kind
        assert _retried(error) is says_yes, f"{kind} {error.status}: README says {cell!r}"


def test_readme_exceptions_to_retries_hold() -> None:
    table = _table()
    # "upstream ... except an answer that breaks the protocol ... or allow_retry false"
    assert "except" in table["upstream"]
    assert not _retried(UpstreamError("bad JSON", retryable=False))
    # incomplete_stream: only before the first chunk (the client retries it as network then)
    assert table["incomplete_stream"].startswith("only before the first chunk")
    assert not _retried(IncompleteStreamError("cut"))
    assert _retried(NetworkError("cut before the first chunk"))
