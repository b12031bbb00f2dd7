"""Model aliases: the short names people (and earlier Poe MCP servers) use, resolved before sending.

Two sources, the user's first:

- ``[aliases]`` in ``config.toml`` (``fast = "GPT-4o-mini"``), on every provider;
- the built-in table below, on Poe only: ``claude``, ``gpt``, ``gemini``, ``grok``... Each names
  a list of Poe bots, newest first; the first one the live model list has wins (the first one
  when the list cannot be fetched), so an alias keeps working as Poe renames its models.

A provider prefix (``anthropic/Claude-Sonnet-4``, OpenRouter style) is resolved on Poe through
the catalog, which checks the owner; when the catalog cannot tell, the name is refused with the
bare id to use instead (Poe itself rejects prefixed ids). ``poe-mcp models --aliases`` lists the
table as it resolves now.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .errors import ConfigError, InvalidRequestError, PoeError

if TYPE_CHECKING:
    from pathlib import Path

    from .catalog import Catalog
    from .config import Settings

__all__ = ["BUILTIN_ALIASES", "AliasEntry", "alias_table", "parse_aliases", "resolve_model"]

log = logging.getLogger(__name__)

# short name -> Poe bots it means, preferred first (the first the catalog lists wins)
BUILTIN_ALIASES: dict[str, tuple[str, ...]] = {
    "claude": ("Claude-Sonnet-4.5", "Claude-Sonnet-4"),
    "sonnet": ("Claude-Sonnet-4.5", "Claude-Sonnet-4"),
    "opus": ("Claude-Opus-4.1", "Claude-Opus-4"),
    "haiku": ("Claude-Haiku-4.5", "Claude-Haiku-3.5"),
    "gpt": ("GPT-5", "GPT-4.1"),
    "gpt-mini": ("GPT-5-mini", "GPT-4o-mini"),
    "chatgpt": ("GPT-5", "GPT-4.1"),
    "gemini": ("Gemini-2.5-Pro",),
    "gemini-flash": ("Gemini-2.5-Flash",),
    "grok": ("Grok-4",),
    "llama": ("Llama-3.1-405B",),
    "deepseek": ("DeepSeek-R1",),
    "perplexity": ("Perplexity-Sonar",),
    "image": ("GPT-Image-1",),
    "video": ("Veo-3",),
    "tts": ("ElevenLabs",),
}


@dataclass(frozen=True, slots=True)
class AliasEntry:
    """One alias as ``poe-mcp models --aliases`` shows it."""

    alias: str
    model: str  # what it resolves to now
    source: Literal["config", "built-in"]
    candidates: tuple[str, ...] = ()
    listed: bool | None = None  # the live model list has it (None: the list is unavailable)


def parse_aliases(table: Mapping[str, Any], config_dir: Path) -> dict[str, str]:
    """``[aliases]`` of ``config.toml``, keys lower-cased (``settings.aliases``).

    Raises:
        ConfigError: a value that is not a model name.
    """
    out: dict[str, str] = {}
    for name, target in table.items():
        if not isinstance(target, str) or not target.strip():
            raise ConfigError(
                f"[aliases] {name!r} in {config_dir / 'config.toml'} must be a model "
                'name, e.g. fast = "GPT-4o-mini"'
            )
        out[str(name).strip().lower()] = target.strip()
    return out


async def _known_ids(catalog: Catalog | None) -> set[str] | None:
    if catalog is None:
        return None
    try:
        return {m.id.lower() for m in await catalog.models()}
    except PoeError as exc:
        log.debug("model list unavailable for alias resolution: %s", exc)
        return None


def _pick(candidates: tuple[str, ...], known: set[str] | None) -> str:
    if known is not None:
        for name in candidates:
            if name.lower() in known:
                return name
    return candidates[0]


async def resolve_model(name: str, *, settings: Settings, catalog: Catalog | None) -> str:
    """The model id to send for ``name``: aliases resolved, provider prefixes checked on Poe.

    Names that are neither aliases nor prefixed come back unchanged (the provider has the
    last word on them), without touching the catalog.

    Raises:
        NotFoundError: a prefixed name whose model does not exist or has another owner.
        InvalidRequestError: a prefixed name that fits several models, or that cannot be
            checked because the model list is unavailable.
    """
    wanted = name.strip()
    key = wanted.lower()
    mine = settings.aliases
    on_poe = settings.provider == "poe"
    if key in mine:
        wanted = mine[key]
        key = wanted.lower()
    if on_poe and key in BUILTIN_ALIASES:
        wanted = _pick(BUILTIN_ALIASES[key], await _known_ids(catalog))
    if on_poe and "/" in wanted:
        return await _unprefixed(wanted, catalog)
    return wanted


async def _unprefixed(name: str, catalog: Catalog | None) -> str:
    bare = name.rpartition("/")[2]
    if catalog is not None:
        try:
            return (await catalog.get(name)).id
        except PoeError as exc:
            if exc.kind in ("not_found", "invalid_request"):
                raise
            log.debug("cannot check %s: %s", name, exc)
    raise InvalidRequestError(
        f"model {name!r} has a provider prefix, which Poe does not accept, and the model list "
        f"needed to check it is unavailable: use the bare name, e.g. {bare!r}.",
        metadata={"model": name, "suggestions": [bare]},
    )


async def alias_table(settings: Settings, catalog: Catalog | None) -> list[AliasEntry]:
    """Every alias in effect and the model it resolves to now (config first, then built-in)."""
    mine = settings.aliases
    on_poe = settings.provider == "poe"
    known = await _known_ids(catalog)

    def listed(model: str) -> bool | None:
        return None if known is None else model.lower() in known

    entries = []
    for alias, target in sorted(mine.items()):
        names = BUILTIN_ALIASES.get(target.lower(), ()) if on_poe else ()
        model = _pick(names, known) if names else target
        entries.append(AliasEntry(alias, model, "config", names, listed(model)))
    if on_poe:
        for alias, names in BUILTIN_ALIASES.items():
            if alias not in mine:
                model = _pick(names, known)
                entries.append(AliasEntry(alias, model, "built-in", names, listed(model)))
    return entries
