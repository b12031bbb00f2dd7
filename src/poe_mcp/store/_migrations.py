"""The SQLite schema as ordered, recorded migrations.

Each migration runs once, in order, inside the same ``BEGIN IMMEDIATE`` transaction that records
it in ``_migrations``, so two processes opening a new database at the same moment cannot both
apply it. Never edit a released migration: append a new one, and say why in ``why``.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from ..errors import StoreError
from . import _rollup

__all__ = ["MIGRATIONS", "Migration", "apply_migrations", "schema_version"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    why: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "sessions",
        "Conversations. Messages are rows of their own, numbered per session, so an append is a "
        "few INSERTs under one write lock instead of rewriting a JSON blob: concurrent appends "
        "from tasks or processes cannot overwrite each other. expires_at is stored (updated_at "
        "+ the ttl of the last append) because the ttl is a per-call setting.",
        (
            """CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                model TEXT,
                backend TEXT,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                turns INTEGER NOT NULL DEFAULT 0
            )""",
            """CREATE TABLE messages (
                session_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                message TEXT NOT NULL,
                PRIMARY KEY (session_id, seq)
            ) WITHOUT ROWID""",
            "CREATE INDEX sessions_expires ON sessions (expires_at)",
        ),
    ),
    Migration(
        2,
        "usage",
        "The usage ledger: one row per call from any entry point. cost is NULL when the price is "
        "unknown, so sums never count an unknown price as 0. prompt stays NULL unless the user "
        "turned prompt logging on.",
        (
            """CREATE TABLE usage (
                id INTEGER PRIMARY KEY,
                ts REAL NOT NULL,
                provider TEXT NOT NULL,
                backend TEXT NOT NULL,
                model TEXT NOT NULL,
                outcome TEXT NOT NULL,
                session_id TEXT,
                input_tokens INTEGER NOT NULL DEFAULT 0,
                output_tokens INTEGER NOT NULL DEFAULT 0,
                estimated INTEGER NOT NULL DEFAULT 0,
                cost REAL,
                latency_s REAL NOT NULL DEFAULT 0,
                error_kind TEXT,
                request_id TEXT,
                entry_point TEXT NOT NULL DEFAULT 'library',
                prompt TEXT
            )""",
        ),
    ),
    Migration(
        3,
        "usage_indexes",
        "Budgets query today's and this session's totals before every call; without these the "
        "check scans the whole ledger and slows down as history grows.",
        (
            "CREATE INDEX usage_ts ON usage (ts)",
            "CREATE INDEX usage_session_ts ON usage (session_id, ts)",
        ),
    ),
    Migration(
        4,
        "orchestration",
        "Tiered orchestration: each ledger row says which tier of which run made the call, so "
        "cost per tier adds up to the run's total; runs are stored as JSON documents so a run "
        "killed mid-way resumes without redoing completed tickets.",
        (
            "ALTER TABLE usage ADD COLUMN tier INTEGER",
            "ALTER TABLE usage ADD COLUMN run_id TEXT",
            "CREATE INDEX usage_run ON usage (run_id) WHERE run_id IS NOT NULL",
            """CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                doc TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        5,
        "usage_token_details",
        "Reasoning models bill thinking as output and providers bill cached input at a lower "
        "price: the ledger keeps both counts (parts of output_tokens / input_tokens, 0 when "
        "the provider does not report them) so `usage` can show where tokens and money went.",
        (
            "ALTER TABLE usage ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE usage ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE usage ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0",
        ),
    ),
    Migration(
        6,
        "logs",
        "Prompt and answer logs for `poe-mcp logs` (on by default for the CLI, off for MCP). "
        "Kept apart from the usage ledger, which must stay small and fast on every call; the "
        "FTS5 index is an external-content table kept in step by triggers, so the text is "
        "stored once and searched without a scan.",
        (
            """CREATE TABLE logs (
                id INTEGER PRIMARY KEY,
                ts REAL NOT NULL,
                model TEXT NOT NULL,
                prompt TEXT NOT NULL,
                response TEXT NOT NULL,
                entry_point TEXT NOT NULL,
                provider TEXT NOT NULL,
                session_id TEXT,
                system TEXT,
                attachments TEXT,
                input_tokens INTEGER NOT NULL DEFAULT 0,
                output_tokens INTEGER NOT NULL DEFAULT 0,
                cost REAL,
                latency_s REAL NOT NULL DEFAULT 0,
                finish_reason TEXT,
                request_id TEXT
            )""",
            "CREATE INDEX logs_ts ON logs (ts)",
            "CREATE INDEX logs_session_ts ON logs (session_id, ts)",
            "CREATE VIRTUAL TABLE logs_fts USING fts5("
            "prompt, response, content='logs', content_rowid='id')",
            "CREATE TRIGGER logs_after_insert AFTER INSERT ON logs BEGIN "
            "INSERT INTO logs_fts (rowid, prompt, response) "
            "VALUES (new.id, new.prompt, new.response); END",
            "CREATE TRIGGER logs_after_delete AFTER DELETE ON logs BEGIN "
            "INSERT INTO logs_fts (logs_fts, rowid, prompt, response) "
            "VALUES ('delete', old.id, old.prompt, old.response); END",
        ),
    ),
    Migration(
        7,
        "usage_simulated",
        "Calls the built-in simulator answered (reached by URL, the README's offline setup) "
        "were counted against real budgets and mixed into real usage. Each row now says "
        "whether it was simulated, so budgets and `usage` count real calls unless asked; "
        "rows written before this migration were real or unknown, and count as real.",
        ("ALTER TABLE usage ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0",),
    ),
    Migration(
        8,
        "usage_hourly",
        "Dashboards and `usage` summed the raw ledger, which grows by hundreds of thousands of "
        "rows a day (~220 ms for totals, ~550 ms for a breakdown at 1M rows). Rollups per UTC "
        "hour, dimension (model, provider, tier, entry point, error kind) and simulated flag, "
        "with a latency histogram, are written in the same transaction as each batch of ledger "
        "rows, so a query reads only the hours it shows. Existing rows are rolled up here, once.",
        (_rollup.create_table_sql(), *_rollup.backfill_sql()),
    ),
    Migration(
        9,
        "session_tools",
        "ask_poe_with_tools kept the caller's tool definitions in the server's memory, so a "
        "continuation sent to another process (or after a restart) had lost them. They are "
        "stored with the session (JSON, NULL when none), like its messages.",
        ("ALTER TABLE sessions ADD COLUMN tools TEXT",),
    ),
)


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM _migrations").fetchone()
    return int(row[0])


def apply_migrations(conn: sqlite3.Connection, *, path: str) -> int:
    """Bring the database up to date; returns the schema version.

    Raises:
        StoreError: the database was written by a newer poe-mcp (its schema is unknown here).
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    latest = MIGRATIONS[-1].version
    if schema_version(conn) == latest:  # the common case: no write lock needed
        return latest
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)  # re-read under the lock: another process may have won
        if current > latest:
            raise StoreError(
                f"{path} has schema version {current}, newer than this poe-mcp knows ({latest}); "
                "upgrade poe-mcp or point POE_MCP_STORE at another database"
            )
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return latest
