"""``poe-mcp completion bash|zsh|fish``: the shell's completion script (click's own support)."""

from __future__ import annotations

import click

__all__ = ["completion"]

_INSTALL = {
    "bash": 'eval "$(poe-mcp completion bash)"    # in ~/.bashrc',
    "zsh": 'eval "$(poe-mcp completion zsh)"     # in ~/.zshrc',
    "fish": "poe-mcp completion fish > ~/.config/fish/completions/poe-mcp.fish",
}


@click.command()
@click.argument("shell", type=click.Choice(sorted(_INSTALL)))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (commands, options, choices).

    \b
    Install:
      bash: eval "$(poe-mcp completion bash)"    # in ~/.bashrc
      zsh:  eval "$(poe-mcp completion zsh)"     # in ~/.zshrc
      fish: poe-mcp completion fish > ~/.config/fish/completions/poe-mcp.fish
    """
    from click.shell_completion import get_completion_class

    from . import cli

    cls = get_completion_class(shell)
    assert cls is not None  # every choice has a class in click
    script = cls(cli, {}, "poe-mcp", "_POE_MCP_COMPLETE").source()
    click.echo(script)
