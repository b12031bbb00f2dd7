"""What only the SQLite store promises: a file that survives restarts, migrations recorded once,
and appends that stay atomic across processes."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from poe_mcp.errors import ConfigError, StoreError
from poe_mcp.store import open_store
from poe_mcp.store._migrations import MIGRATIONS
from poe_mcp.store.base import UsageRecord
from poe_mcp.store.memory import MemoryStore
from poe_mcp.store.sqlite import SqliteStore

from ..conftest import FakeClock


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


async def test_creates_parent_dirs_and_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "poe.db"
    store = open_store(url_of(db))
    await store.sessions.append("s", [{"role": "user", "content": "remember me"}], ttl_s=600)
    await store.usage.record(
        UsageRecord(ts=time.time(), provider="poe", backend="openai", model="m", outcome="ok")
    )
    await store.aclose()
    assert db.exists()

    again = open_store(url_of(db))
    try:
        got = await again.sessions.get("s")
        assert got is not None
        assert got.messages == [{"role": "user", "content": "remember me"}]
        assert (await again.usage.totals()).calls == 1  # queued rows were flushed on close
    finally:
        await again.aclose()


async def test_migrations_are_applied_once_and_recorded(tmp_path: Path) -> None:
    db = tmp_path / "poe.db"
    for _ in range(3):
        store = open_store(url_of(db))
        health = await store.health()
        await store.aclose()
        assert health["ok"] is True
        assert health["schema_version"] == MIGRATIONS[-1].version
        assert health["url"] == url_of(db)
        assert health["backend"] == "sqlite"
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT version, name, applied_at FROM _migrations ORDER BY version"
    ).fetchall()
    conn.close()
    assert [(v, n) for v, n, _ in rows] == [(m.version, m.name) for m in MIGRATIONS]
    assert all(m.why for m in MIGRATIONS)


async def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "poe.db"
    await open_store(url_of(db)).aclose()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO _migrations VALUES (999, 'future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this poe-mcp knows"):
        open_store(url_of(db))


async def test_wal_mode_and_expired_rows_purged(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "poe.db"
    store = open_store(url_of(db), clock=clock)
    await store.sessions.append("gone", [{"role": "user", "content": "x"}] * 3, ttl_s=60)
    clock.advance(60)
    assert await store.sessions.list() == []
    await store.aclose()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    conn.close()


async def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the directory"):
        open_store(url_of(blocker / "sub" / "poe.db"))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the SQLite store"):
        open_store(url_of(garbage))


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = open_store(url_of(tmp_path / "poe.db"))
    await store.aclose()
    await store.aclose()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        await store.sessions.get("s")
    health = await store.health()
    assert health["ok"] is False
    assert "closed" in health["error"]


def test_store_urls() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    with pytest.raises(ConfigError, match="unknown store URL"):
        open_store("postgres://db")
    with pytest.raises(ConfigError, match="unknown store URL"):
        open_store("/just/a/path.db")
    with pytest.raises(ConfigError, match="bad SQLite store URL"):
        open_store("sqlite://relative.db")


async def test_relative_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///rel/poe.db")
    assert isinstance(store, SqliteStore)
    await store.aclose()
    assert (tmp_path / "rel" / "poe.db").exists()


_WORKER = textwrap.dedent(
    """
    import asyncio, sys, time
    from poe_mcp.store import open_store
    from poe_mcp.store.base import UsageRecord

    async def main(url, tag, n):
        store = open_store(url)
        async def turn(i):
            await store.sessions.append(
                "shared",
                [{"role": "user", "content": f"{tag}-q{i}"},
                 {"role": "assistant", "content": f"{tag}-a{i}"}],
                ttl_s=600,
            )
            await store.usage.record(UsageRecord(
                ts=time.time(), provider="poe", backend="openai", model=tag, outcome="ok",
                session_id="shared", input_tokens=1, output_tokens=1, cost=0.001))
        await asyncio.gather(*(turn(i) for i in range(n)))
        await store.aclose()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


async def test_two_processes_appending_to_one_session_lose_nothing(tmp_path: Path) -> None:
    url = url_of(tmp_path / "shared.db")
    await open_store(url).aclose()  # schema first, so both workers race only on appends
    n = 40
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, url, tag, str(n)]) for tag in ("A", "B")
    ]
    for p in procs:
        assert await asyncio.to_thread(p.wait, 30) == 0

    store = open_store(url)
    try:
        got = await store.sessions.get("shared")
        assert got is not None
        contents = [m["content"] for m in got.messages]
        assert len(contents) == 4 * n
        pairs = set(zip(contents[::2], contents[1::2], strict=True))
        expected = {(f"{t}-q{i}", f"{t}-a{i}") for t in "AB" for i in range(n)}
        assert pairs == expected  # every turn once, question and answer adjacent
        totals = await store.usage.totals(session_id="shared")
        assert totals.calls == 2 * n
        assert {g.key: g.totals.calls for g in await store.usage.breakdown("model")} == {
            "A": n,
            "B": n,
        }
    finally:
        await store.aclose()


async def test_ledger_rows_visible_to_another_store_after_flush(tmp_path: Path) -> None:
    url = url_of(tmp_path / "poe.db")
    writer = open_store(url)
    reader = open_store(url)
    try:
        for i in range(100):
            await writer.usage.record(
                UsageRecord(
                    ts=time.time(), provider="poe", backend="openai", model="m", outcome="ok",
                    input_tokens=i,
                )
            )  # fmt: skip
        assert isinstance(writer, SqliteStore)
        await writer.flush()
        totals = await reader.usage.totals()
        assert totals.calls == 100
        assert totals.input_tokens == sum(range(100))
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_a_query_right_after_a_record_sees_it(tmp_path: Path) -> None:
    store = open_store(url_of(tmp_path / "poe.db"))
    try:
        await store.usage.record(
            UsageRecord(ts=time.time(), provider="poe", backend="openai", model="m", outcome="ok")
        )
        assert (await store.usage.totals()).calls == 1
        assert len(await store.usage.recent()) == 1
        assert [g.key for g in await store.usage.breakdown("model")] == ["m"]
    finally:
        await store.aclose()


async def test_ledger_rows_reach_the_file_without_a_flush_or_a_read(tmp_path: Path) -> None:
    """A chat turn's row is queued while its session is written: both reach the file on their
    own, so another process sees them without anyone calling flush()."""
    url = url_of(tmp_path / "poe.db")
    writer = open_store(url)
    try:
        await writer.usage.record(
            UsageRecord(ts=time.time(), provider="poe", backend="openai", model="m", outcome="ok",
                        session_id="s", input_tokens=7)
        )  # fmt: skip
        await writer.sessions.extend("s", [{"role": "user", "content": "hi"}], ttl_s=60)
        for _ in range(200):  # the row's own write is queued on the loop's next turn
            with sqlite3.connect(tmp_path / "poe.db") as conn:
                rows = conn.execute("SELECT session_id, input_tokens FROM usage").fetchall()
            if rows:
                break
            await asyncio.sleep(0.01)
        assert rows == [("s", 7)]
        with sqlite3.connect(tmp_path / "poe.db") as conn:
            assert conn.execute("SELECT COUNT(*) FROM messages").fetchone() == (1,)
    finally:
        await writer.aclose()


async def test_a_record_after_close_is_a_store_error(tmp_path: Path) -> None:
    store = open_store(url_of(tmp_path / "poe.db"))
    await store.aclose()
    with pytest.raises(StoreError, match="closed"):
        await store.usage.record(
            UsageRecord(ts=time.time(), provider="poe", backend="openai", model="m", outcome="ok")
        )


def test_rows_queued_when_a_script_ends_without_closing_are_written(tmp_path: Path) -> None:
    """A script that records usage and ends without aclose() (or flush()) loses no row."""
    db = tmp_path / "poe.db"
    script = textwrap.dedent(
        f"""
        import asyncio, time
        from poe_mcp.store import open_store
        from poe_mcp.store.base import UsageRecord

        async def main():
            store = open_store({url_of(db)!r})
            for i in range(3):
                await store.usage.record(UsageRecord(ts=time.time(), provider="poe",
                    backend="openai", model="m", outcome="ok", input_tokens=i))

        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*), SUM(input_tokens) FROM usage").fetchone() == (3, 3)
        # ...and the hourly rollups with them, as always.
        assert conn.execute("SELECT MAX(calls) FROM usage_hourly").fetchone() == (3,)


async def test_a_turn_written_while_another_process_holds_the_file_waits_and_is_kept(
    tmp_path: Path,
) -> None:
    """A session write never fails for a lock another writer holds a moment: it waits its turn
    (the busy timeout), in order with the turns before it."""
    db = tmp_path / "poe.db"
    store = open_store(url_of(db))
    try:
        await store.sessions.append("s", [{"role": "user", "content": "1"}], ttl_s=60)
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's write lock
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, other.execute, "COMMIT")
        await store.sessions.extend("s", [{"role": "assistant", "content": "2"}], ttl_s=60)
        await store.sessions.extend("s", [{"role": "user", "content": "3"}], ttl_s=60)
        other.close()
        session = await store.sessions.get("s")
        assert session is not None
        assert [m["content"] for m in session.messages] == ["1", "2", "3"]
    finally:
        await store.aclose()
