"""Checks a run makes before it spends anything: can every tier's model be called?

A tier whose provider has no key, or whose model the provider does not list, would otherwise
surface mid-run, after tiers 1 and 2 were paid for; a worker model that does not exist would
even be retried and then silently replaced by the escalation model. So before planning (and
before resuming) every tier's client is made (a missing key is an ``AuthError`` naming where
to put one) and, where the provider's model list can be had, every model is looked up: an
unknown name is a ``NotFoundError`` with close names, a media bot (no text output) or a
worker model that cannot call tools while workers have tools is a ``ConfigError``. When the
list cannot be fetched, or came from the built-in offline list, nothing is refused on its word.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from ..errors import AuthError, ConfigError, InvalidRequestError, NotFoundError, PoeError
from ._tiers import TIER_NAMES, TierModel

if TYPE_CHECKING:
    from .._model_info import ModelInfo
    from ..client import AsyncPoeClient

__all__ = ["check_tiers"]

_ROLES = {str(k): v for k, v in TIER_NAMES.items()} | {"escalation": "escalation"}
_WORKERS = ("3", "escalation")  # the tiers that run the agent loop with the tools


async def check_tiers(
    tiers: Mapping[str, str],
    client_for: Callable[[TierModel], Awaitable[AsyncPoeClient]],
    *,
    tools: bool,
) -> None:
    """Refuse tier models that cannot work, before a run spends anything.

    Args:
        tiers: tier models by ``1``..``4`` and ``escalation``.
        client_for: the client a tier model is called through (may create it).
        tools: whether workers get tools (then worker models must be able to call them).

    Raises:
        AuthError: a tier's provider has no key.
        NotFoundError: the provider does not list a tier's model (with close names).
        ConfigError: a tier's model does not answer with text, or a worker model cannot
            call tools while workers have tools.
    """
    for key, text in tiers.items():
        spec = TierModel.parse(text)
        where = f"tier {key} ({_ROLES.get(key, key)}) model {str(spec)!r}"
        try:
            client = await client_for(spec)
        except AuthError as exc:
            raise AuthError(f"{where}: {exc.message}", metadata=exc.metadata) from None
        info = await _lookup(client, spec.model, where)
        if info is None:
            continue
        if "text" not in info.output_modalities:
            made = ", ".join(info.output_modalities) or "no text"
            raise ConfigError(f"{where} answers with {made}, not text: tiers need a chat model")
        if tools and key in _WORKERS and info.supports_tools is False:
            raise ConfigError(
                f"{where} cannot call tools (its provider's model list says so), and workers "
                "have the tools of [tools] in config.toml: choose a model with tool support "
                "(`poe-mcp models --tools` lists them)"
            )


async def _lookup(client: AsyncPoeClient, model: str, where: str) -> ModelInfo | None:
    """The model's entry, None when the list is unavailable; raises for an unknown model."""
    catalog = client.catalog
    if catalog is None:
        return None
    try:
        await catalog.models()
    except PoeError:
        return None  # no list to judge by: the model calls themselves will say what is wrong
    if catalog.source not in ("live", "cache"):
        return None  # the built-in offline list may be older than the provider's
    try:
        return await catalog.get(model)
    except NotFoundError as exc:
        raise NotFoundError(f"{where}: {exc.message}", metadata=exc.metadata) from None
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{where}: {exc.message}", metadata=exc.metadata) from None
