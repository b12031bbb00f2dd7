from poe_mcp.cli import main

main()
