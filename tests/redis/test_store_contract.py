"""The store contract on Redis: the very scenarios SQLite and memory pass (tests/store)."""

from __future__ import annotations

from .redis_testlib import reuse_scenarios

reuse_scenarios(globals(), "store/test_sessions.py")
reuse_scenarios(globals(), "store/test_session_tools.py")
reuse_scenarios(globals(), "store/test_ledger.py")
reuse_scenarios(globals(), "store/test_logs.py")
