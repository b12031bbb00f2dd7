"""Options more than one command takes, declared once, and a way to declare several at once."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click

__all__ = [
    "Decorator",
    "attach_option",
    "options",
    "param_option",
    "parse_params",
    "shown_defaults",
    "token_option",
]

Decorator = Callable[[Any], Any]

param_option = click.option(
    "-p", "--param", "params", multiple=True, help="Bot parameter NAME=VALUE (repeatable)."
)


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--param`` ``k=v`` pairs as a dict; values that parse as JSON (numbers, true, objects)
    are typed."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--param")
        try:
            params[name.strip()] = json.loads(raw)
        except ValueError:
            params[name.strip()] = raw
    return params


def attach_option(text: str) -> Decorator:
    """``-a/--attach FILE`` (repeatable), ``text`` its help."""
    path = click.Path(dir_okay=False, path_type=str)
    return click.option("-a", "--attach", multiple=True, type=path, help=text)


def token_option(text: str) -> Decorator:
    """``--token`` (or ``POE_MCP_TOKEN``): the bearer token of the HTTP server and the console."""
    return click.option("--token", envvar="POE_MCP_TOKEN", help=text)


def options(*decorators: Decorator) -> Decorator:
    """The decorators as one, as if stacked in this order (the first is the outermost)."""
    return lambda fn: functools.reduce(lambda f, d: d(f), reversed(decorators), fn)


def shown_defaults(*specs: tuple[str, Any, click.ParamType[Any, Any] | None, str]) -> Decorator:
    """Options whose default ``--help`` shows: ``(name, default, type, help)`` each, in order."""
    return options(
        *(
            click.option(name, default=default, type=kind, show_default=True, help=text)
            for name, default, kind, text in specs
        )
    )
