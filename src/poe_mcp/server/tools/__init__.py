"""The MCP tools, one module per group, each listing its tools in ``TOOLS``.

=============  ==========================================================================
``chat``       ``ask_poe``, ``ask_with_attachment``, ``ask_poe_v2``: turns of a stored
               :class:`~poe_mcp.Conversation`
``agent``      ``ask_poe_with_tools``: :class:`~poe_mcp.Agent` runs in a stored conversation
``media``      ``generate_image``, ``generate_video``, ``generate_audio``
``sessions``   ``clear_session``, ``list_sessions``
``info``       ``list_available_models`` (and ``_v2``), ``get_usage``, ``get_server_info``
``multi``      ``compare_models``, ``consensus`` (optional group)
``orchestra``  ``orchestrate``, ``get_run``, ``resume_run``, ``cancel_run`` (optional group)
=============  ==========================================================================

A tool is a module-level async function: it maps its arguments onto the library and renders
the result (:func:`~._base.render`, :func:`~._base.tool_result`); the server's shared state
comes from the MCP lifespan context (:func:`~._base.runtime`). ``server/registry.py`` names the
module of every tool and adds the error handling, argument checks and metrics around them.
"""
