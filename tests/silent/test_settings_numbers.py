"""A number that cannot work (nan, inf, past 64 bits) in any config.toml key is refused at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from poe_mcp.config import Settings
from poe_mcp.errors import ConfigError


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ("[budgets]\ndaily_usd = nan\n", "budgets.daily_usd: nan is not a usable number"),
        ("[budgets]\nsession_usd = inf\n", "budgets.session_usd: inf is not a usable number"),
        ("rpm = 100000000000000000000000\n", "rpm: the integer is out of range"),
        ("[rate_limit]\nmax_wait_s = -inf\n", "rate_limit.max_wait_s: -inf is not a usable"),
    ],
)
def test_impossible_numbers_are_config_errors(
    poe_home: Path, tmp_path: Path, toml: str, said: str
) -> None:
    config = tmp_path / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(toml)
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    assert said in caught.value.message
