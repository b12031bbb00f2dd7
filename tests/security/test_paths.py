"""Files: attachments and the file tools read only inside the roots, never poe-mcp's own files,
never a special file, never blocking (issue 12, items 1 and 3).

Through the MCP tools (the SDK's in-memory client, both protocol eras, with and without client
roots), the built-in tools as the agent runs them, and the library.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import ListRootsResult, Root

from poe_mcp import ToolExecutionError
from poe_mcp._messages import attachment_part, build_messages
from poe_mcp.errors import InvalidRequestError
from poe_mcp.tools import builtin_tools

from .boundary import (
    DB_CANARY,
    KEY_CANARY,
    Victim,
    assert_no_leak,
    error_of,
)

MODES = ["auto", "legacy"]


def hostile_paths(v: Victim) -> list[str]:
    """Every way to name the key file, the process environment or the session database."""
    return [
        str(v.credentials),
        str(v.db),
        "/proc/self/environ",
        "/proc/self/cmdline",
        "/proc/self/root" + str(v.credentials),
        "/proc/self/cwd/../../" + str(v.credentials).lstrip("/"),
        str(v.work / ".." / "home" / "config" / "credentials.toml"),
        str(v.work / "link_creds"),
        str(v.work / "link_env"),
        str(v.work / "link_db"),
        str(v.work / "link_config" / "credentials.toml"),
        str(v.work / "link_outside" / "secret.txt"),
        str(v.outside / "secret.txt"),
        "//" + str(v.credentials).lstrip("/"),
        str(v.config) + "/./credentials.toml",
        str(v.data) + "/poe-mcp.db-wal",
        "../home/config/credentials.toml",
        "link_creds",
        "~/../../" + str(v.credentials).lstrip("/"),
        "/etc/passwd",
        "/dev/zero",
        "/dev/stdin",
        "/dev/fd/0",
        "/sys/kernel/mm/transparent_hugepage/enabled",
        str(v.fifo),
        str(v.work / "sock"),
        str(v.work / "sub"),
    ]


BAD_TEXT = [
    "notes.txt\x00.png",
    "\x00",
    "notes\n.txt",
    "notes\r.txt",
    "notes\x1b[31m.txt",
    "notes\x7f.txt",
    "a" * 5000,
    "",
]


@pytest.mark.parametrize("mode", MODES)
async def test_attachments_outside_the_roots_are_refused_cleanly(
    make_server: Callable[..., Any], victim: Victim, mode: str
) -> None:
    server = make_server()
    payloads = hostile_paths(victim) + BAD_TEXT
    outcomes: list[str] = []
    async with Client(server, mode=mode) as client:
        for path in payloads:
            started = time.monotonic()
            result = await client.call_tool(
                "ask_with_attachment",
                {"bot": "GPT-4.1", "prompt": "what is in it?", "attachment_paths": [path],
                 "use_openai_client": True},
            )  # fmt: skip
            assert time.monotonic() - started < 2, path  # a FIFO never blocks
            err = error_of(result)
            outcomes.append(err["metadata"]["kind"])
            assert err["metadata"]["kind"] == "invalid_request", (path, err)
            assert "internal" not in err["message"]
            assert_no_leak(result.content[0].text)
        sessions = await client.call_tool("list_sessions", {})
    assert outcomes == ["invalid_request"] * len(payloads)
    # Nothing was read, so nothing reached the model or the session store.
    assert '"sessions": []' in sessions.content[0].text or not sessions.structured_content.get(
        "sessions"
    )


async def test_refusals_tell_nothing_about_existence(
    make_server: Callable[..., Any], victim: Victim
) -> None:
    server = make_server()
    async with Client(server) as client:
        messages = []
        for path in (victim.credentials, victim.config / "no-such-file.toml"):
            result = await client.call_tool(
                "ask_with_attachment",
                {"bot": "GPT-4.1", "prompt": "x", "attachment_paths": [str(path)]},
            )
            messages.append(error_of(result)["message"].replace(path.name, "NAME"))
    assert messages[0] == messages[1]
    assert "protected location" in messages[0]


async def test_nul_and_control_characters_are_invalid_requests(
    make_server: Callable[..., Any],
) -> None:
    server = make_server()
    async with Client(server) as client:
        nul = await client.call_tool(
            "ask_with_attachment",
            {"bot": "GPT-4.1", "prompt": "x", "attachment_paths": ["/tmp/a\x00b"]},
        )
        escape = await client.call_tool(
            "ask_with_attachment",
            {"bot": "GPT-4.1", "prompt": "x", "attachment_paths": ["/tmp/a\x1b]0;x\x07"]},
        )
    assert "contains a NUL byte" in error_of(nul)["message"]
    assert "contains a control character" in error_of(escape)["message"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_file_inside_a_root_is_attached(
    make_server: Callable[..., Any], victim: Victim, mode: str
) -> None:
    server = make_server()
    async with Client(server, mode=mode) as client:
        by_path = await client.call_tool(
            "ask_with_attachment",
            {"bot": "Claude-Sonnet-4", "prompt": "read it",
             "attachment_paths": [str(victim.work / "notes.txt")]},
        )  # fmt: skip
        relative = await client.call_tool(
            "ask_with_attachment",
            {"bot": "Claude-Sonnet-4", "prompt": "read it", "attachment_paths": ["sub/deep.txt"]},
        )
    assert not by_path.is_error, by_path.content[0].text
    assert "text/plain" in by_path.structured_content["text"]
    assert not relative.is_error, relative.content[0].text  # relative to the first root


async def test_without_roots_attachments_say_how_to_allow_them(
    make_server: Callable[..., Any], victim: Victim
) -> None:
    server = make_server(tools={})
    async with Client(server) as client:
        result = await client.call_tool(
            "ask_with_attachment",
            {"bot": "GPT-4.1", "prompt": "x", "attachment_paths": [str(victim.work / "notes.txt")]},
        )
    err = error_of(result)
    assert err["metadata"]["kind"] == "invalid_request"
    assert "[tools] roots" in err["message"]


def roots_callback(*paths: Path) -> Any:
    async def answer(context: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=p.as_uri(), name=p.name) for p in paths])

    return answer


@pytest.mark.parametrize("mode", MODES)
async def test_client_roots_narrow_attachments_never_widen_them(
    make_server: Callable[..., Any], victim: Victim, mode: str
) -> None:
    server = make_server()
    deep = str(victim.work / "sub" / "deep.txt")
    notes = str(victim.work / "notes.txt")
    narrow = roots_callback(victim.work / "sub")
    async with Client(server, mode=mode, list_roots_callback=narrow) as client:
        inside = await client.call_tool(
            "ask_with_attachment",
            {"bot": "Claude-Sonnet-4", "prompt": "x", "attachment_paths": [deep]},
        )
        outside_client = await client.call_tool(
            "ask_with_attachment",
            {"bot": "Claude-Sonnet-4", "prompt": "x", "attachment_paths": [notes]},
        )
    wide = roots_callback(Path("/"), victim.config)
    async with Client(server, mode=mode, list_roots_callback=wide) as client:
        widened = await client.call_tool(
            "ask_with_attachment",
            {"bot": "Claude-Sonnet-4", "prompt": "x",
             "attachment_paths": [str(victim.outside / "secret.txt")]},
        )  # fmt: skip
        key = await client.call_tool(
            "ask_with_attachment",
            {
                "bot": "Claude-Sonnet-4",
                "prompt": "x",
                "attachment_paths": [str(victim.credentials)],
            },
        )
    assert not inside.is_error, inside.content[0].text
    assert "roots your MCP client declared" in error_of(outside_client)["message"]
    assert "outside the folders" in error_of(widened)["message"]
    assert "protected location" in error_of(key)["message"]
    assert_no_leak(widened.content[0].text, key.content[0].text)


async def test_client_roots_confine_the_agents_file_tools(
    make_server: Callable[..., Any], victim: Victim
) -> None:
    server = make_server()
    async with Client(server, list_roots_callback=roots_callback(victim.work / "sub")) as client:
        result = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": "Claude-Sonnet-4", "prompt": "read_file path=work/notes.txt"},
        )
        allowed = await client.call_tool(
            "ask_poe_with_tools",
            {"bot": "Claude-Sonnet-4", "prompt": "read_file path=work/sub/deep.txt"},
        )
    (trace,) = result.structured_content["trace"]
    assert "roots your MCP client declared" in trace["error"]
    assert allowed.structured_content["trace"][0]["result"] == "deep text\n"


# --- the built-in file tools -----------------------------------------------------------------


def tools_for(victim: Victim) -> dict[str, Any]:
    return {t.name: t for t in builtin_tools(victim.roots)}


async def run(tool: Any, **arguments: Any) -> str:
    return str(await tool.run(tool.validate(arguments)))


FILE_TOOL_PAYLOADS = [
    "home/config/credentials.toml",
    "home/data/poe-mcp.db",
    "home/config",
    "home/data",
    "work/link_creds",
    "work/link_env",
    "work/link_db",
    "work/link_config",
    "work/link_outside/secret.txt",
    "work/../home/config/credentials.toml",
    "home/config/../config/./credentials.toml",
    "/proc/self/environ",
    str(Path("/") / "etc" / "passwd"),
    "~/x",
    "work/pipe",
    "work/sock",
    "work/notes.txt\x00",
    "work/\x1b[2J",
]


async def test_file_tools_refuse_every_hostile_path(victim: Victim) -> None:
    tools = tools_for(victim)
    outcomes: dict[str, int] = {}
    for name in ("read_file", "list_directory"):
        for path in FILE_TOOL_PAYLOADS:
            if name == "list_directory" and path.endswith(("pipe", "sock", ".toml", ".db")):
                continue
            with pytest.raises(ToolExecutionError) as caught:
                await run(tools[name], path=path)
            assert_no_leak(caught.value.message)
            outcomes[name] = outcomes.get(name, 0) + 1
    assert outcomes["read_file"] == len(FILE_TOOL_PAYLOADS)


async def test_search_never_enters_protected_places(victim: Victim) -> None:
    tools = tools_for(victim)
    everything = await run(tools["search_files"], contains="a")
    key = await run(tools["search_files"], contains="api_key", path="home")
    canary = await run(tools["search_files"], contains="CANARY")
    names = await run(tools["search_files"], pattern="*")
    assert_no_leak(everything, key, canary, names)
    assert key == "no matches"
    assert "credentials.toml" not in names
    assert "poe-mcp.db" not in names
    assert "work/notes.txt" in names
    assert "pipe" not in names  # only regular files
    assert "sock" not in names
    listing = await run(tools["list_directory"], path="work")
    assert "pipe (named pipe: not readable)" in listing
    assert "sock (socket: not readable)" in listing


async def test_forty_fifos_cannot_exhaust_the_tool_threads(victim: Victim) -> None:
    fifos = victim.work / "fifos"
    fifos.mkdir()
    for index in range(40):
        os.mkfifo(fifos / f"f{index}.txt")
    tools = tools_for(victim)
    started = time.monotonic()
    reads = await asyncio.gather(
        *(run(tools["read_file"], path=f"work/fifos/f{i}.txt") for i in range(40)),
        return_exceptions=True,
    )
    searches = await asyncio.gather(
        *(run(tools["search_files"], contains="x", path="work/fifos") for _ in range(40))
    )
    blocked_s = time.monotonic() - started
    assert all(isinstance(r, ToolExecutionError) and "named pipe" in r.message for r in reads)
    assert set(searches) == {"no matches"}
    assert blocked_s < 5
    started = time.monotonic()
    assert await run(tools["read_file"], path="work/notes.txt") == "hello notes\n"
    assert time.monotonic() - started < 0.5


async def test_fifo_attachment_through_mcp_answers_fast(
    make_server: Callable[..., Any], victim: Victim
) -> None:
    server = make_server()
    async with Client(server) as client:
        started = time.monotonic()
        results = await asyncio.gather(
            *(
                client.call_tool(
                    "ask_with_attachment",
                    {"bot": "GPT-4.1", "prompt": "x", "attachment_paths": ["pipe"]},
                )
                for _ in range(40)
            )
        )
        fine = await client.call_tool(
            "ask_with_attachment",
            {"bot": "Claude-Sonnet-4", "prompt": "x", "attachment_paths": ["notes.txt"]},
        )
    assert time.monotonic() - started < 5
    assert all("named pipe" in error_of(r)["message"] for r in results)
    assert not fine.is_error


# --- the library and the command line (the local user's own files) ----------------------------


def test_library_attachments_read_what_the_user_can_read_but_never_block(victim: Victim) -> None:
    part = attachment_part(victim.outside / "secret.txt")  # the local user's choice: allowed
    assert part["type"] == "file"
    started = time.monotonic()
    for special in (victim.fifo, victim.work / "sock", Path("/dev/zero"), victim.work):
        with pytest.raises(InvalidRequestError, match="not a regular file"):
            attachment_part(special)
    assert time.monotonic() - started < 1
    with pytest.raises(InvalidRequestError, match="NUL byte"):
        build_messages("x", attachments=["notes\x00.txt"])


async def test_the_session_store_never_holds_a_refused_file(
    make_server: Callable[..., Any], victim: Victim, tmp_path: Path
) -> None:
    db = tmp_path / "sessions.db"
    server = make_server(store=f"sqlite:///{db}")
    async with Client(server) as client:
        first = await client.call_tool(
            "ask_with_attachment",
            {"bot": "Claude-Sonnet-4", "prompt": "keep this", "attachment_paths": ["notes.txt"]},
        )
        sid = first.structured_content["session_id"]
        for path in hostile_paths(victim):
            refused = await client.call_tool(
                "ask_with_attachment",
                {"bot": "Claude-Sonnet-4", "prompt": "and this?", "session_id": sid,
                 "attachment_paths": [path]},
            )  # fmt: skip
            assert refused.is_error
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("sessions.db*"))
    assert b"hello notes" in stored or b"aGVsbG8gbm90ZXMK" in stored  # the allowed file is kept
    for canary in (KEY_CANARY, DB_CANARY):
        assert canary.encode() not in stored
        assert base64.b64encode(canary.encode())[:16] not in stored
    with sqlite3.connect(victim.db) as conn:
        assert conn.execute("SELECT v FROM canary").fetchall() == [(DB_CANARY,)]
