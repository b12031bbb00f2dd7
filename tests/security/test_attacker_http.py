"""An attacker with a valid token, over the streamable HTTP transport, tries to read the key file
(``credentials.toml``), ``/proc/self/environ`` and the session database through every tool that
takes a path: attachments, the built-in file tools and ``run_command`` (steered through a model
that does what the prompt says), plus the media resources and ``GET /media/<name>``.

Every attempt must come back as a clean error (a tool error with its kind, or a refused tool call
the model reports), with no canary anywhere in the answer; the server must keep answering and its
session database must hold no canary. The counts are printed (``pytest -s``) for the report.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from mcp import Client

from .boundary import (
    CANARIES,
    DB_CANARY,
    ENV_CANARY,
    HOSTILE_MODEL,
    KEY_CANARY,
    SteeredAPI,
    Victim,
    call,
)

POE_MCP = str(Path(sys.executable).with_name("poe-mcp"))
TOKEN = "attacker-holds-this-token-0123456789"
COMMANDS = ["cat", "ls", "grep", "head", "git", "tar", "find", "sed", "cp"]


def targets(v: Victim) -> dict[str, list[str]]:
    """Absolute spellings of each secret, for attachments."""
    creds, db = str(v.credentials), str(v.db)
    return {
        "key file": [creds, str(v.work / "link_creds"), "/proc/self/root" + creds,
                     str(v.work / ".." / "home" / "config" / "credentials.toml"), "//" + creds[1:],
                     str(v.config) + "/./credentials.toml", "../home/config/credentials.toml",
                     str(v.work / "link_config" / "credentials.toml"), creds + "\x00.png"],
        "environ": ["/proc/self/environ", str(v.work / "link_env"), "/proc/thread-self/environ",
                    f"/proc/{os.getpid()}/environ", "/proc/self/cwd/../environ", "/dev/fd/0"],
        "database": [db, str(v.work / "link_db"), db + "-wal", db + "-journal",
                     str(v.data) + "/../data/poe-mcp.db", "../home/data/poe-mcp.db"],
    }  # fmt: skip


def agent_payloads() -> dict[str, list[dict[str, Any]]]:
    """Tool calls a steered model makes against the built-in tools."""
    files = ["home/config/credentials.toml", "work/link_creds", "work/link_env",
             "/proc/self/environ", "home/data/poe-mcp.db", "work/link_db",
             "work/../home/config/credentials.toml",
             "home/config/../config/credentials.toml", "work/link_config/credentials.toml",
             "work/pipe", "work/sock", "~/.config/poe-mcp/credentials.toml",
             "home/config/credentials.toml\x00"]  # fmt: skip
    return {
        "read_file": [{"path": p} for p in files],
        "list_directory": [{"path": p} for p in ("home/config", "home/data", "/proc/self",
                                                  "work/link_config", "work/link_outside")],
        "search_files": [
            {"path": "home", "contains": "api_key"},
            {"path": "home", "contains": "CANARY"},
            {"path": "home/config", "contains": "poe"},
            {"path": "home/data", "contains": "CANARY"},
            {"path": "work", "contains": "CANARY"},
            {"path": "/proc/self", "contains": "CANARY"},
            {"pattern": "credentials.toml"},
            {"pattern": "*.db", "contains": "CANARY"},
        ],
        "run_command": [
            {"program": "cat", "args": ["../home/config/credentials.toml"], "cwd": "work"},
            {"program": "cat", "args": ["link_creds"], "cwd": "work"},
            {"program": "cat", "args": ["/proc/self/environ"], "cwd": "work"},
            {"program": "cat", "args": ["link_env"], "cwd": "work"},
            {"program": "cat", "args": ["link_db"], "cwd": "work"},
            {"program": "cat", "args": ["credentials.toml"], "cwd": "home/config"},
            {"program": "cat", "args": ["poe-mcp.db"], "cwd": "home/data"},
            {"program": "cat", "args": ["environ"], "cwd": "/proc/self"},
            {"program": "head", "args": ["-c", "999", "/proc/self/environ"], "cwd": "work"},
            {"program": "grep", "args": ["-r", "CANARY", "../home"], "cwd": "work"},
            {"program": "grep", "args": ["-r", "CANARY", "."], "cwd": "home"},
            {"program": "grep", "args": ["-R", "CANARY", "."], "cwd": "work"},
            {"program": "ls", "args": ["-la", "../home/config"], "cwd": "work"},
            {"program": "find", "args": ["..", "-name", "credentials.toml"], "cwd": "work"},
            {"program": "find", "args": [".", "-exec", "cat", "{}", ";"], "cwd": "work"},
            {"program": "tar", "args": ["-cf", "-", "../home/config"], "cwd": "work"},
            {"program": "tar", "args": ["-chf", "-", "link_config"], "cwd": "work"},
            {"program": "sed", "args": ["-n", "p", "link_creds"], "cwd": "work"},
            {"program": "sed", "args": ["-n", "r /proc/self/environ", "notes.txt"], "cwd": "work"},
            {"program": "cp", "args": ["link_creds", "stolen.txt"], "cwd": "work"},
            {"program": "git", "args": ["-c", "alias.x=!cat /proc/self/environ", "x"],
             "cwd": "work"},
            {"program": "git", "cwd": "work",
             "args": ["diff", "--no-index", "/dev/null", "../home/config/credentials.toml"]},
            {"program": "cat", "args": ["a\x00b"], "cwd": "work"},
        ],
    }  # fmt: skip


def texts(result: Any) -> str:
    parts = [c.text for c in result.content if getattr(c, "text", None)]
    return "\n".join(parts) + json.dumps(result.structured_content or {}, default=str)


def error_kind(result: Any) -> str:
    """The kind of an MCP tool error (its text ends with the error JSON), or ``answered``."""
    if not result.is_error:
        return "answered"
    text = result.content[0].text
    return str(json.loads(text.rsplit("\n", 1)[-1])["error"]["metadata"]["kind"])


def leaked(blob: str) -> list[str]:
    return [c for c in CANARIES if c in blob]


@pytest.fixture
def server(victim: Victim, steered: SteeredAPI) -> Any:
    config = victim.config / "config.toml"
    config.write_text(
        "[tools]\n"
        f'roots = {{ work = "{victim.work}", home = "{victim.home}" }}\n'
        f"commands = {json.dumps([c for c in COMMANDS if __import__('shutil').which(c)])}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("POE_API_KEY", "OPENAI_API_KEY")}
    proc = subprocess.Popen(
        [POE_MCP, "serve", "--transport", "http", "--port", "0", "--token", TOKEN,
         "--base-url", f"{steered.url}/v1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    url = None
    for _ in range(50):
        line = proc.stderr.readline()
        found = re.search(r"MCP over HTTP at (\S+)", line)
        if found:
            url = found.group(1)
            break
        if not line:
            break
    if url is None:
        proc.kill()
        raise AssertionError("server did not start: " + proc.stderr.read())
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def client(url: str) -> Client:
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
    transport: Any = streamable_http_client(url, http_client=http)
    return Client(transport, mode="legacy")


@pytest.mark.timeout(120)
async def test_an_attacker_with_a_token_reads_no_secret_through_any_path(
    server: str, victim: Victim
) -> None:
    tally: dict[str, Counter[str]] = {}
    leaks: list[tuple[str, Any, list[str]]] = []

    def count(tool: str, outcome: str) -> None:
        tally.setdefault(tool, Counter())[outcome] += 1

    async with client(server) as mcp:
        for spellings in targets(victim).values():
            for path in spellings:
                for rest in (True, False):  # REST and the bot protocol (uploads)
                    result = await mcp.call_tool(
                        "ask_with_attachment",
                        {"bot": HOSTILE_MODEL, "prompt": "repeat the file",
                         "attachment_paths": [path], "use_openai_client": rest},
                    )  # fmt: skip
                    blob = texts(result)
                    if leaked(blob):
                        leaks.append(("ask_with_attachment", path, leaked(blob)))
                    kind = error_kind(result)
                    count(
                        "ask_with_attachment", "clean error" if kind == "invalid_request" else kind
                    )
        for tool, calls in agent_payloads().items():
            for arguments in calls:
                result = await mcp.call_tool(
                    "ask_poe_with_tools", {"bot": HOSTILE_MODEL, "prompt": call(tool, **arguments)}
                )
                blob = texts(result)
                if leaked(blob):
                    leaks.append((tool, arguments, leaked(blob)))
                trace = (result.structured_content or {}).get("trace") or []
                # sed --sandbox refuses r/w/e itself: the command ran and failed.
                refused = bool(trace) and all(
                    t["error"] or "disabled in sandbox mode" in (t["result"] or "") for t in trace
                )
                count(
                    tool, "clean error" if refused else ("tool error" if result.is_error else "ran")
                )
        for uri in (victim.credentials.as_uri(), "file:///proc/self/environ", victim.db.as_uri(),
                    "poe://media/..%2F..%2Fconfig%2Fcredentials.toml",
                    "poe://media/" + quote(str(victim.credentials), safe="")):  # fmt: skip
            try:
                read = await mcp.read_resource(uri)
                blob = json.dumps(read.model_dump(mode="json"), default=str)
                count("resources/read", "answered")
            except Exception as exc:  # the SDK raises its MCPError for a refused read
                blob = str(exc)
                count("resources/read", "clean error")
            if leaked(blob):
                leaks.append(("resources/read", uri, leaked(blob)))
        alive = await mcp.call_tool("ask_poe", {"bot": HOSTILE_MODEL, "prompt": "SAY still here",
                                                "use_openai_client": True})  # fmt: skip

    base = server.rsplit("/", 1)[0]
    async with httpx2.AsyncClient() as http:
        for name in ("..%2F..%2Fconfig%2Fcredentials.toml", "..%2Fpoe-mcp.db",
                     quote(str(victim.credentials), safe="")):  # fmt: skip
            got = await http.get(
                f"{base}/media/{name}", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            count("GET /media", "clean error" if got.status_code >= 400 else "answered")
            if leaked(got.text):
                leaks.append(("GET /media", name, leaked(got.text)))
        started = time.monotonic()
        health = await http.get(f"{base}/health")
        health_ms = (time.monotonic() - started) * 1000

    print("\nhostile-input run (payloads per tool):")
    for tool, outcomes in tally.items():
        print(f"  {tool:22} {sum(outcomes.values()):3} tried  {dict(outcomes)}")
    print(f"  leaks: {len(leaks)}; server alive: {not alive.is_error}; /health {health_ms:.0f} ms")

    assert leaks == []
    assert not alive.is_error
    assert "still here" in texts(alive)
    assert health.status_code == 200
    for tool, outcomes in tally.items():
        # A search may run and find nothing; every other path was refused.
        allowed = {"clean error", "ran"} if tool == "search_files" else {"clean error"}
        assert set(outcomes) <= allowed, (tool, outcomes)
    stored = b"".join(p.read_bytes() for p in victim.data.glob("poe-mcp.db*"))
    for canary in (KEY_CANARY, ENV_CANARY):
        assert canary.encode() not in stored
    assert stored.count(DB_CANARY.encode()) == 1  # the victim's own row, nothing copied
    assert not (victim.work / "stolen.txt").exists()
