"""``poe-mcp models``: the live model list with capabilities and prices (thin, over the catalog)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from .. import _constants as C

if TYPE_CHECKING:
    from ..catalog import ModelInfo

__all__ = ["models"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print every field as JSON.")
@click.option(
    "--modality",
    type=click.Choice(["text", "image", "video", "audio"]),
    help="Only models that produce this (image, video and audio bots).",
)
@click.option("--tools", is_flag=True, help="Only models that support function calling.")
@click.option("--search", "query", help="Only models whose id, provider or description match.")
@click.option("--refresh", is_flag=True, help="Fetch the list now instead of using the cache.")
@click.option(
    "--all",
    "all_kinds",
    is_flag=True,
    help="Also models that cannot chat (OpenAI's embedding, speech, transcription, image, "
    "moderation, realtime, responses-only and instruct models), with a KIND column.",
)
@click.option(
    "--set-default",
    "set_default",
    metavar="NAME",
    help=f"Make NAME the default model of `poe-mcp chat` (writes `model = NAME` to "
    f"config.toml; built-in default {C.DEFAULT_CHAT_MODEL}).",
)
@click.option(
    "--aliases",
    "show_aliases",
    is_flag=True,
    help="List the model aliases (built-in short names like claude, gpt, gemini, and "
    "[aliases] of config.toml) and the model each resolves to now.",
)
@click.option("--provider", type=click.Choice(list(C.PROVIDERS)), help="Provider.")
@click.option("--base-url", help="API base URL (e.g. a simulator's http://127.0.0.1:8787/v1).")
def models(
    as_json: bool,
    modality: str | None,
    tools: bool,
    query: str | None,
    refresh: bool,
    all_kinds: bool,
    set_default: str | None,
    show_aliases: bool,
    provider: str | None,
    base_url: str | None,
) -> None:
    """List the models of the active provider that can chat, live from its API.

    Prices are USD per million tokens ("per call" for media bots); "unknown" means the provider
    publishes none, and such calls are flagged in `poe-mcp usage`, never counted as $0.
    TOOLS is yes, - (no) or ? (the provider does not say). OpenAI's capabilities and context
    windows come from poe-mcp's table of OpenAI models; models it does not know show ?.

    \b
    Examples:
      poe-mcp models --tools
      poe-mcp models --modality image
      poe-mcp models --search claude --json
      poe-mcp models --set-default Claude-Sonnet-4
      poe-mcp models --aliases
    """
    if show_aliases:
        from ._models_aliases import show_aliases as show

        asyncio.run(show(as_json, {"provider": provider, "base_url": base_url}))
        return
    if set_default is not None:
        asyncio.run(
            _set_default(set_default, as_json, {"provider": provider, "base_url": base_url})
        )
        return
    asyncio.run(
        _run(
            as_json=as_json,
            modality=modality,
            tools=tools,
            query=query,
            refresh=refresh,
            all_kinds=all_kinds,
            client_args={"provider": provider, "base_url": base_url},
        )
    )


async def _run(
    *,
    as_json: bool,
    modality: str | None,
    tools: bool,
    query: str | None,
    refresh: bool,
    client_args: dict[str, Any],
    all_kinds: bool = False,
) -> None:
    from ..client import AsyncPoeClient

    async with AsyncPoeClient(store=False, entry_point="cli", **client_args) as client:
        catalog = client.catalog
        if catalog is None:
            raise click.ClickException("this client has no model catalog")
        await catalog.models(refresh=refresh)
        found = await catalog.search(
            query,
            modality=modality,
            supports_tools=True if tools else None,
            all_kinds=all_kinds,
        )
        source, stale, reason = catalog.source, catalog.stale, catalog.offline_reason

    if source == "offline":
        click.echo(f"offline: {reason}; showing the last known list", err=True)
    if as_json:
        payload = {
            "source": source,
            "stale": stale,
            "offline_reason": reason,
            "models": [m.to_dict() for m in found],
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("no model matches", err=True)
        return
    click.echo(_table(found, with_kind=all_kinds))
    click.echo(f"\n{len(found)} models ({source}{', stale' if stale else ''})", err=True)


def _table(found: list[ModelInfo], *, with_kind: bool = False) -> str:
    from ._format import table

    rows = []
    for m in found:
        modalities = f"{'+'.join(m.input_modalities)}->{'+'.join(m.output_modalities)}"
        rows.append(
            [
                m.id,
                m.provider or "-",
                modalities,
                {True: "yes", False: "-", None: "?"}[m.supports_tools],
                f"{m.context_window:,}" if m.context_window else "-",
                _price(m),
            ]
        )
    headers = ["MODEL", "PROVIDER", "MODALITIES", "TOOLS", "CONTEXT", "PRICE"]
    if with_kind:
        headers.insert(1, "KIND")
        for m, row in zip(found, rows, strict=True):
            row.insert(1, m.kind or "?")
        return table(headers, rows, right={5})
    return table(headers, rows, right={4})


def _price(m: ModelInfo) -> str:
    from .._money import format_usd  # one money format: as MCP's model list and `usage` print

    def per_mtok(price: Decimal | None) -> str:
        return "?" if price is None else format_usd(float(price * C.TOKENS_PER_MTOK))

    if not m.price_known:
        return "unknown"
    parts = []
    if m.price.input is not None or m.price.output is not None:
        parts.append(f"{per_mtok(m.price.input)} in / {per_mtok(m.price.output)} out per 1M tokens")
    if m.price.request is not None:
        parts.append(f"{format_usd(float(m.price.request))} per call")
    return "; ".join(parts)


async def _set_default(name: str, as_json: bool, client_args: dict[str, Any]) -> None:
    """Check ``name`` against the catalog when it can tell, then write it to config.toml."""
    from ..client import AsyncPoeClient
    from ..config import Settings
    from ..errors import AuthError, InvalidRequestError, NotFoundError, PoeError
    from ._config_edit import set_config_value
    from ._term import notice, ok

    name = name.strip()
    if not name:
        raise click.BadParameter(
            "give a model name, e.g. Claude-Sonnet-4", param_hint="--set-default"
        )
    settings = Settings.load(**client_args)
    checked = False
    try:
        async with AsyncPoeClient(settings=settings, store=False, entry_point="cli") as client:
            catalog = client.catalog
            if catalog is not None:
                info = await catalog.find(await client.resolve_model(name))  # aliases too
                if info is None:
                    names = catalog.suggestions(name)
                    hint = f" Did you mean: {', '.join(names)}?" if names else ""
                    raise NotFoundError(f"unknown model {name!r}.{hint}")
                makes = info.output_modalities
                if makes and "text" not in makes:
                    raise InvalidRequestError(
                        f"{info.id} makes {'/'.join(makes)}, not text: the default model is the "
                        f"one `poe-mcp chat` talks to (for media: poe-mcp {makes[0]} -m {info.id})"
                    )
                name, checked = info.id, True
    except (NotFoundError, InvalidRequestError):
        raise
    except (AuthError, PoeError) as exc:
        notice(f"could not check {name!r} against the model list ({exc.kind}); set it anyway")
    path = settings.config_dir / "config.toml"
    set_config_value(path, "model", name)
    if as_json:
        click.echo(json.dumps({"default_model": name, "config": str(path), "checked": checked}))
        return
    click.echo(ok(f"default model: {name} (model = {name!r} in {path})"))
