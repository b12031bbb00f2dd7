"""``python -m poe_mcp``: the ``poe-mcp`` command line."""

from poe_mcp.cli import main

main()
