"""Spending limits checked before a call is sent.

Limits are optional, per UTC day and per session, in USD and/or tokens. They come from the
``[budgets]`` table of ``config.toml`` and the environment (the environment wins)::

    [budgets]
    daily_usd = 5.0          # POE_MCP_BUDGET_DAILY_USD
    daily_tokens = 2000000   # POE_MCP_BUDGET_DAILY_TOKENS
    session_usd = 0.5        # POE_MCP_BUDGET_SESSION_USD
    session_tokens = 200000  # POE_MCP_BUDGET_SESSION_TOKENS

How the client uses it (once per request, before anything is sent)::

    limits = BudgetLimits.from_settings(settings)
    guard = BudgetGuard(store.usage, limits, catalog=catalog)  # catalog prices the estimate
    ...
    await guard.check(session_id=sid, model=model, estimated_input_tokens=n)  # QuotaError
    # ... send, then store.usage.record(...) as usual: the ledger is what the guard reads.

With no limit set, :meth:`BudgetGuard.check` returns at once without touching the ledger. Spent
amounts come from the usage ledger, so limits hold across processes sharing a store; two calls
checked at the same instant may both pass (the check is not a reservation). Calls whose price is
unknown add tokens but no dollars (they are never counted as 0; the error says how many).
"""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._money import format_usd
from ._redact import describe_value
from .errors import ConfigError, PoeError, QuotaError
from .types import Usage

if TYPE_CHECKING:
    from .catalog import Catalog
    from .config import Settings
    from .store.base import UsageLedger, UsageTotals

__all__ = ["BudgetGuard", "BudgetLimits", "start_of_utc_day"]

_FIELDS = ("daily_usd", "daily_tokens", "session_usd", "session_tokens")


def _env_name(name: str) -> str:
    return f"POE_MCP_BUDGET_{name.upper()}"


def start_of_utc_day(now: float | None = None) -> float:
    """Epoch seconds of the last 00:00 UTC: daily budgets and day breakdowns count UTC days."""
    t = time.gmtime(time.time() if now is None else now)
    return float(calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0)))


def _number(value: Any, where: str, *, integer: bool) -> float | int | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number: float | int = int(value) if integer else float(value)
    except (TypeError, ValueError):
        kind = "a whole number of tokens" if integer else "an amount in USD"
        raise ConfigError(f"{where} must be {kind}, got {describe_value(value)}") from None
    if not math.isfinite(number):
        # nan compares false with everything: the limit would silently never apply.
        raise ConfigError(f"{where} must be a finite amount, got {describe_value(value)}")
    if number < 0:
        raise ConfigError(f"{where} cannot be negative, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """Optional limits; None means no limit. USD amounts, token counts (input + output)."""

    daily_usd: float | None = None
    daily_tokens: int | None = None
    session_usd: float | None = None
    session_tokens: int | None = None
    config_file: str | None = None  # where [budgets] lives, named in errors

    @property
    def active(self) -> bool:
        """Whether any limit is set."""
        return any(getattr(self, name) is not None for name in _FIELDS)

    @classmethod
    def from_mapping(
        cls,
        table: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        *,
        config_file: str | None = None,
    ) -> BudgetLimits:
        """Limits from a ``[budgets]`` table, overridden by ``POE_MCP_BUDGET_*`` in ``env``.

        Raises:
            ConfigError: an unknown key, or a value that is not a non-negative number.
        """
        unknown = sorted(set(table) - set(_FIELDS))
        if unknown:
            from ._suggest import did_you_mean

            hints = "".join(did_you_mean(name, _FIELDS) for name in unknown)
            raise ConfigError(
                f"unknown key(s) under [budgets]: {', '.join(unknown)}.{hints} "
                f"Known: {', '.join(_FIELDS)}"
            )
        env = env or {}
        values: dict[str, Any] = {}
        for name in _FIELDS:
            integer = name.endswith("tokens")
            raw_env = env.get(_env_name(name))
            if raw_env not in (None, ""):
                values[name] = _number(raw_env, _env_name(name), integer=integer)
            else:
                values[name] = _number(table.get(name), f"[budgets] {name}", integer=integer)
        return cls(**values, config_file=config_file)

    @classmethod
    def from_settings(cls, settings: Settings) -> BudgetLimits:
        """Limits from ``settings`` (``settings.budgets``: ``[budgets]`` and the environment)."""
        return settings.budgets


class BudgetGuard:
    """Refuses a call before it is sent when it would go over a limit.

    Args:
        ledger: the usage ledger (``store.usage``): what has been spent.
        limits: the limits to enforce.
        catalog: prices the estimated input of the call for USD limits (optional).
    """

    def __init__(
        self, ledger: UsageLedger, limits: BudgetLimits, *, catalog: Catalog | None = None
    ) -> None:
        self.ledger = ledger
        self.limits = limits
        self.catalog = catalog

    async def check(
        self,
        *,
        session_id: str | None,
        model: str,
        estimated_input_tokens: int = 0,
        estimated_cost: float | None = None,
        simulated: bool = False,
    ) -> None:
        """Pass quietly, or raise QuotaError naming the limit, what is used and how to raise it.

        Args:
            session_id: the conversation the call belongs to (session limits need one).
            model: the model about to be called (prices the estimate through the catalog).
            estimated_input_tokens: tokens the request will send, as far as known.
            estimated_cost: USD the call is expected to cost; priced from the catalog if None.
            simulated: the call goes to the built-in simulator: only simulated calls count
                against it, and a simulated call never spends a real budget.

        Raises:
            QuotaError: a limit is reached, or this call's estimate would cross it.
        """
        limits = self.limits
        if not limits.active:
            return
        tokens = max(estimated_input_tokens, 0)
        cost = estimated_cost
        if cost is None and (limits.daily_usd is not None or limits.session_usd is not None):
            cost = await self._estimate(model, tokens)
        if limits.daily_usd is not None or limits.daily_tokens is not None:
            totals = await self.ledger.totals(since=start_of_utc_day(), simulated=simulated)
            self._enforce("daily", totals, tokens, cost or 0.0, session_id)
        if session_id and (limits.session_usd is not None or limits.session_tokens is not None):
            totals = await self.ledger.totals(session_id=session_id, simulated=simulated)
            self._enforce("session", totals, tokens, cost or 0.0, session_id)

    async def _estimate(self, model: str, tokens: int) -> float | None:
        if self.catalog is None or not tokens:
            return None
        try:
            return await self.catalog.cost(model, Usage(input_tokens=tokens))
        except PoeError:
            return None  # an estimate must never be the reason a call fails

    def _enforce(
        self,
        scope: str,
        totals: UsageTotals,
        tokens: int,
        cost: float,
        session_id: str | None,
    ) -> None:
        checks: tuple[tuple[str, float | None, float, float], ...] = (
            ("tokens", getattr(self.limits, f"{scope}_tokens"),
             totals.input_tokens + totals.output_tokens, tokens),
            ("usd", getattr(self.limits, f"{scope}_usd"), totals.cost, cost),
        )  # fmt: skip
        for unit, limit, used, more in checks:
            if limit is not None and (used >= limit or used + more > limit):
                raise self._refusal(scope, unit, limit, used, more, totals, session_id)

    def _refusal(
        self,
        scope: str,
        unit: str,
        limit: float,
        used: float,
        more: float,
        totals: UsageTotals,
        session_id: str | None,
    ) -> QuotaError:
        def show(v: float) -> str:
            return f"{int(v):,} tokens" if unit == "tokens" else format_usd(v)

        name = f"{scope}_{unit}"
        where = "today (UTC)" if scope == "daily" else f"in session {session_id}"
        amount = f"{int(used):,}" if unit == "tokens" else show(used)
        message = f"{scope.capitalize()} budget reached: {amount} of {show(limit)} used {where}"
        if used < limit and more:
            message += f", and this call needs about {show(more)} more"
        message += "."
        if unit == "usd" and totals.unknown_cost_calls:
            message += f" ({totals.unknown_cost_calls} calls of unknown price are not included.)"
        config = self.limits.config_file or "config.toml"
        message += (
            f" To raise it, set {_env_name(name)}=<new limit> or {name} = <new limit> under "
            f"[budgets] in {config}"
        )
        message += ", or wait until 00:00 UTC." if scope == "daily" else ", or start a new session."
        return QuotaError(
            message,
            metadata={"limit": name, "limit_value": limit, "used": used, "estimate": more},
        )
