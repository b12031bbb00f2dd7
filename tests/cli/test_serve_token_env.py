"""A token given by the user (POE_MCP_TOKEN) still makes a paste line that authenticates."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_serve import Server


def test_a_token_from_the_environment_is_in_the_paste_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POE_MCP_TOKEN", "tok-" + "x" * 40)
    server = Server(tmp_path)
    server.stop()
    paste = [x.strip() for x in server.lines if x.strip().startswith("claude mcp add")]
    assert paste == [
        f"claude mcp add --transport http poe http://127.0.0.1:{server.port}/mcp "
        f'--header "Authorization: Bearer tok-{"x" * 40}"'
    ]
    assert not (tmp_path / "http-token").exists()  # the user's token is not stored
