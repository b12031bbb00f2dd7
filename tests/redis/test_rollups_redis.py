"""Hourly ledger rollups on Redis: the scenarios memory and SQLite pass (tests/store)."""

from __future__ import annotations

from .redis_testlib import reuse_scenarios

reuse_scenarios(globals(), "store/test_rollups.py")
del globals()["test_migration_rolls_up_rows_written_before_it"]  # SQLite only
