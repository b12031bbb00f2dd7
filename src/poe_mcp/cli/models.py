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
@click.option("--provider", type=click.Choice(list(C.PROVIDERS)), help="Provider.")
@click.option("--base-url", help="API base URL (e.g. a simulator's http://127.0.0.1:8787/v1).")
def models(
    as_json: bool,
    modality: str | None,
    tools: bool,
    query: str | None,
    refresh: bool,
    provider: str | None,
    base_url: str | None,
) -> None:
    """List the models of the active provider, live from its API.

    Prices are USD per million tokens ("per call" for media bots); "unknown" means the provider
    publishes none, and such calls are flagged in `poe-mcp usage`, never counted as $0.

    \b
    Examples:
      poe-mcp models --tools
      poe-mcp models --modality image
      poe-mcp models --search claude --json
    """
    asyncio.run(
        _run(
            as_json=as_json,
            modality=modality,
            tools=tools,
            query=query,
            refresh=refresh,
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
) -> None:
    from ..client import AsyncPoeClient

    async with AsyncPoeClient(store=False, entry_point="cli", **client_args) as client:
        catalog = client.catalog
        if catalog is None:
            raise click.ClickException("this client has no model catalog")
        await catalog.models(refresh=refresh)
        found = await catalog.search(
            query, modality=modality, supports_tools=True if tools else None
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
    click.echo(_table(found))
    click.echo(f"\n{len(found)} models ({source}{', stale' if stale else ''})", err=True)


def _table(found: list[ModelInfo]) -> str:
    from ._format import table

    rows = []
    for m in found:
        modalities = f"{'+'.join(m.input_modalities)}->{'+'.join(m.output_modalities)}"
        rows.append(
            [
                m.id,
                m.provider or "-",
                modalities,
                "yes" if m.supports_tools else "-",
                f"{m.context_window:,}" if m.context_window else "-",
                _price(m),
            ]
        )
    headers = ["MODEL", "PROVIDER", "MODALITIES", "TOOLS", "CONTEXT", "PRICE (USD)"]
    return table(headers, rows, right={4})


def _price(m: ModelInfo) -> str:
    def per_mtok(price: Decimal | None) -> str:
        return "?" if price is None else f"{(price * C.TOKENS_PER_MTOK).normalize():f}"

    if not m.price_known:
        return "unknown"
    parts = []
    if m.price.input is not None or m.price.output is not None:
        parts.append(f"{per_mtok(m.price.input)} in / {per_mtok(m.price.output)} out per 1M tokens")
    if m.price.request is not None:
        parts.append(f"{m.price.request.normalize():f} per call")
    return "; ".join(parts)
