"""The tools an agent turn of the console may use: those ``config.toml`` configures.

The built-in file tools and ``run_command`` (``[tools]``: roots and an allow-list, both opt-in;
see :mod:`poe_mcp.builtin_tools`), with poe-mcp's own config and data dirs refused even inside a
root. Built again whenever the settings change, so a new root applies without a restart. MCP
servers (``[mcp_servers]``) are offered by ``ask_poe_with_tools`` over MCP; the console does not
start them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..tools import Tool
    from ._context import ConsoleContext

__all__ = ["console_tools", "tool_names"]


async def console_tools(context: ConsoleContext) -> list[Tool]:
    """The configured built-in tools (may be empty: the model then simply answers).

    Raises:
        ConfigError: ``[tools]`` names a root or program that does not exist.
    """
    from .._paths import denied_paths
    from ..tools._builtin import builtin_tools_from_config

    settings = context.configured
    return builtin_tools_from_config(settings.section("tools"), denied=denied_paths(settings))


def tool_names(context: ConsoleContext) -> list[str]:
    """Names of the configured tools, for the page (never raises)."""
    from ..errors import ConfigError

    section = context.configured.file.get("tools")
    if not isinstance(section, dict):
        return []
    try:
        from .._paths import denied_paths
        from ..tools._builtin import builtin_tools_from_config

        tools = builtin_tools_from_config(section, denied=denied_paths(context.configured))
    except ConfigError:
        return []
    return [t.name for t in tools]
