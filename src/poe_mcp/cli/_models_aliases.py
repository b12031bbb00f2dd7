"""``poe-mcp models --aliases``: every model alias in effect and what it resolves to now."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["show_aliases"]


async def show_aliases(as_json: bool, client_args: dict[str, Any]) -> None:
    """Print the alias table: ``[aliases]`` of config.toml first, then the built-in ones."""
    from .._aliases import alias_table
    from ..client import AsyncPoeClient
    from ._format import table

    async with AsyncPoeClient(store=False, entry_point="cli", **client_args) as client:
        entries = await alias_table(client.settings, client.catalog)
    if as_json:
        rows = [
            {
                "alias": e.alias,
                "model": e.model,
                "source": e.source,
                "candidates": list(e.candidates),
                "listed": e.listed,
            }
            for e in entries
        ]
        click.echo(json.dumps({"aliases": rows}, indent=2))
        return
    if not entries:
        click.echo("no aliases (add some under [aliases] in config.toml)", err=True)
        return
    listed = {True: "yes", False: "NO", None: "?"}
    rows_text = [[e.alias, e.model, e.source, listed[e.listed]] for e in entries]
    click.echo(table(["ALIAS", "MODEL", "SOURCE", "LISTED"], rows_text))
    click.echo(
        "\nAliases work wherever a model name does (MCP bot=, -m, the library). A built-in "
        "alias takes the first of its models the live list has; LISTED NO means the provider "
        'lists none of them. Add your own under [aliases] in config.toml: fast = "GPT-4o-mini".',
        err=True,
    )
