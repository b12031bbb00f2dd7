"""Console logins expire and the login throttle lifts, by the clock (moved here, not slept)."""

from __future__ import annotations

from poe_mcp import _constants as C
from poe_mcp.console._auth import Sessions

from ..conftest import FakeClock


def test_a_login_lasts_its_time_to_live_and_not_a_second_more(clock: FakeClock) -> None:
    sessions = Sessions("token-0123456789", ttl_s=3600, clock=clock)
    cookie, session = sessions.create()
    clock.advance(3599)
    assert sessions.get(cookie) is session
    clock.advance(1)
    assert sessions.get(cookie) is None
    assert sessions.get(cookie) is None  # forgotten, not revived


def test_logins_pause_after_many_wrong_tokens_and_resume_after_the_window(
    clock: FakeClock,
) -> None:
    sessions = Sessions("token-0123456789", clock=clock)
    for _ in range(C.CONSOLE_LOGIN_FAILURES_MAX):
        assert not sessions.throttled()
        sessions.failed()
    assert sessions.throttled()
    clock.advance(C.CONSOLE_LOGIN_WINDOW_S + 1)
    assert not sessions.throttled()
