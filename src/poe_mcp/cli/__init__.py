"""The ``poe-mcp`` command line: a thin layer over the library.

Subcommands live in their own modules and are imported only when run, so ``poe-mcp serve``
(spawned by an assistant for every session) does not pay for the others.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import logging
import sys
from typing import Any

import click

from .. import __version__
from ..errors import PoeError

# command name -> (module under poe_mcp.cli, attribute)
_COMMANDS: dict[str, tuple[str, str]] = {
    "audio": ("media", "audio"),
    "chat": ("chat", "chat"),
    "compare": ("compare", "compare"),
    "completion": ("completion", "completion"),
    "console": ("console", "console"),
    "doctor": ("doctor", "doctor"),
    "image": ("media", "image"),
    "install": ("install", "install"),
    "logs": ("logs", "logs"),
    "models": ("models", "models"),
    "orchestrate": ("orchestrate", "orchestrate"),
    "serve": ("serve", "serve"),
    "sessions": ("sessions", "sessions"),
    "simulator": ("simulator", "simulator"),
    "usage": ("usage", "usage"),
    "video": ("media", "video"),
}


# Names users of other tools type for ours (``poe-mcp ask`` as in earlier servers' ``ask_poe``).
_SYNONYMS = {"ask": "chat", "server": "serve", "cost": "usage", "history": "sessions"}


class _LazyGroup(click.Group):
    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        unknown = name and not name.startswith("-") and name not in _COMMANDS
        if unknown and not ctx.resilient_parsing:  # shell completion passes partial names
            close = difflib.get_close_matches(name, list(_COMMANDS), n=1)
            guess = _SYNONYMS.get(name) or (close[0] if close else None)
            hint = f" Did you mean {guess!r}?" if guess else ""
            ctx.fail(f"No such command {name!r}.{hint} See 'poe-mcp --help' for the commands.")
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(
            name
            for name, (mod, _) in _COMMANDS.items()
            if importlib.util.find_spec(f"{__name__}.{mod}") is not None
        )

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        mod, attr = _COMMANDS[cmd_name]
        if importlib.util.find_spec(f"{__name__}.{mod}") is None:
            return None
        command = getattr(importlib.import_module(f"{__name__}.{mod}"), attr)
        assert isinstance(command, click.Command)
        _accept_verbose(command)
        return command


def _more_verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
    if value:
        from .._logging import setup_logging

        root = ctx.find_root().params.get("verbose") or 0
        setup_logging(logging.WARNING - 10 * (root + value))


def _accept_verbose(command: click.Command) -> None:
    """Let ``-v`` come after the subcommand too (``poe-mcp chat -v ...``), at every level."""
    if not any("--verbose" in getattr(p, "opts", ()) for p in command.params):
        command.params.append(
            click.Option(
                ["-v", "--verbose"],
                count=True,
                expose_value=False,
                is_eager=True,
                callback=_more_verbose,
                help="More log output on stderr (-vv for debug).",
            )
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_verbose(sub)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="poe-mcp")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """Poe's models from anywhere: MCP server, library and command line.

    With no POE_API_KEY set, try everything offline against the built-in simulator
    (`poe-mcp serve --simulate`, `poe-mcp simulator`).
    """
    from .._logging import setup_logging

    setup_logging(logging.WARNING - 10 * verbose)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``poe-mcp`` script: errors print as one clear line, never a traceback."""
    try:
        return cli.main(args=argv, prog_name="poe-mcp", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        from .._redact import mask_secrets

        # click quotes the bad value ("'sk-...' is not a valid integer"): a key pasted into
        # the wrong option must not be printed back.
        setattr(exc, "message", mask_secrets(exc.message))  # noqa: B010 - typed Final in click
        exc.show()
        sys.exit(exc.exit_code)
    except PoeError as exc:
        from ._term import fail, for_terminal

        # the message may quote a provider or an answer: no escape sequence reaches the terminal
        click.echo(f"{fail(f'error ({exc.kind}):')} {for_terminal(str(exc), sys.stderr)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
