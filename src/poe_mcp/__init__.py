"""poe-mcp: Poe's models from anywhere, through MCP, Python and the command line.

Quick start::

    from poe_mcp import PoeClient

    with PoeClient() as client:  # POE_API_KEY from the environment
        print(client.chat("Claude-Sonnet-4", "Hello!").text)

The public API is what ``__all__`` lists (the names of the export table below). Names are
imported on first use so that ``import poe_mcp`` stays cheap (the MCP server is spawned for
every assistant session).

Public submodules, for what the top level does not re-export:

- ``poe_mcp.client``, ``poe_mcp.types``, ``poe_mcp.errors``: the client, its values, the error
  tree;
- ``poe_mcp.config``: :class:`Settings` and ``ENV_VARS`` (every environment variable read);
- ``poe_mcp.catalog``, ``poe_mcp.budget``, ``poe_mcp.ratelimit``: prices and capabilities,
  spending limits, client-side rate limits (``poe_mcp.ratelimit.redis`` for the shared one);
- ``poe_mcp.store``: sessions, the usage ledger, runs and logs (memory, SQLite, Redis);
- ``poe_mcp.conversation``, ``poe_mcp.agent``, ``poe_mcp.tools``: conversations, the tool loop
  and its tools (from functions, the built-in file and command tools, other MCP servers);
- ``poe_mcp.multi``, ``poe_mcp.structured``, ``poe_mcp.media``: many models at once, structured
  output, media generation;
- ``poe_mcp.orchestra``: tiered orchestration;
- ``poe_mcp.simulator``: the built-in Poe simulator;
- ``poe_mcp.backends``: the wire formats (REST and bot protocol);
- ``poe_mcp.server``, ``poe_mcp.console``, ``poe_mcp.cli``: the adapters (MCP, web, command
  line).

Modules whose name starts with ``_`` are private and change without notice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Agent": "agent",
    "AgentResult": "agent",
    "AsyncModel": "_model",
    "AsyncModelConversation": "_model",
    "AsyncPoeClient": "_client",
    "Attachment": "types",
    "Attempt": "types",
    "AuthError": "errors",
    "BalanceError": "errors",
    "BudgetGuard": "budget",
    "BudgetLimits": "budget",
    "Catalog": "catalog",
    "ChatOptions": "types",
    "ChatResult": "types",
    "ClientEvent": "_events",
    "ClientOptions": "_client",
    "Comparison": "multi",
    "ConfigError": "errors",
    "Consensus": "multi",
    "Conversation": "conversation",
    "Delta": "types",
    "IncompleteStreamError": "errors",
    "InvalidRequestError": "errors",
    "InvalidResponseError": "errors",
    "MediaError": "errors",
    "MediaOptions": "types",
    "MediaResult": "types",
    "MessagesInput": "_messages",
    "Model": "_model",
    "ModelAnswer": "multi",
    "ModelConversation": "_model",
    "ModelInfo": "catalog",
    "ModelParameter": "_model_info",
    "ModerationError": "errors",
    "NetworkError": "errors",
    "NotFoundError": "errors",
    "OverloadedError": "errors",
    "PoeClient": "_sync_client",
    "PoeError": "errors",
    "Price": "_model_info",
    "Provider": "_providers",
    "QuotaError": "errors",
    "RateLimitError": "errors",
    "RateLimiter": "ratelimit",
    "ReasoningEffort": "types",
    "RequestTimeoutError": "errors",
    "ResponseFormat": "structured",
    "SessionNotFoundError": "errors",
    "SessionStore": "store.base",
    "Settings": "config",
    "Simulator": "simulator",
    "Stance": "multi",
    "Store": "store.base",
    "StoreError": "errors",
    "TooLargeError": "errors",
    "Tool": "tools",
    "ToolArgumentsError": "errors",
    "ToolCall": "types",
    "ToolCallDelta": "types",
    "ToolExecutionError": "errors",
    "ToolTrace": "agent",
    "UpstreamError": "errors",
    "Usage": "types",
    "UsageLedger": "store.base",
    "compare": "multi",
    "consensus": "multi",
    "tool": "tools",
}

__all__ = [
    "Agent",
    "AgentResult",
    "AsyncModel",
    "AsyncModelConversation",
    "AsyncPoeClient",
    "Attachment",
    "Attempt",
    "AuthError",
    "BalanceError",
    "BudgetGuard",
    "BudgetLimits",
    "Catalog",
    "ChatOptions",
    "ChatResult",
    "ClientEvent",
    "ClientOptions",
    "Comparison",
    "ConfigError",
    "Consensus",
    "Conversation",
    "Delta",
    "IncompleteStreamError",
    "InvalidRequestError",
    "InvalidResponseError",
    "MediaError",
    "MediaOptions",
    "MediaResult",
    "MessagesInput",
    "Model",
    "ModelAnswer",
    "ModelConversation",
    "ModelInfo",
    "ModelParameter",
    "ModerationError",
    "NetworkError",
    "NotFoundError",
    "OverloadedError",
    "PoeClient",
    "PoeError",
    "Price",
    "Provider",
    "QuotaError",
    "RateLimitError",
    "RateLimiter",
    "ReasoningEffort",
    "RequestTimeoutError",
    "ResponseFormat",
    "SessionNotFoundError",
    "SessionStore",
    "Settings",
    "Simulator",
    "Stance",
    "Store",
    "StoreError",
    "TooLargeError",
    "Tool",
    "ToolArgumentsError",
    "ToolCall",
    "ToolCallDelta",
    "ToolExecutionError",
    "ToolTrace",
    "UpstreamError",
    "Usage",
    "UsageLedger",
    "__version__",
    "compare",
    "consensus",
    "tool",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._client import AsyncPoeClient, ClientOptions
    from ._events import ClientEvent
    from ._messages import MessagesInput
    from ._model import AsyncModel, AsyncModelConversation, Model, ModelConversation
    from ._model_info import ModelParameter, Price
    from ._providers import Provider
    from ._sync_client import PoeClient
    from .agent import Agent, AgentResult, ToolTrace
    from .budget import BudgetGuard, BudgetLimits
    from .catalog import Catalog, ModelInfo
    from .config import Settings
    from .conversation import Conversation
    from .errors import (
        AuthError,
        BalanceError,
        ConfigError,
        IncompleteStreamError,
        InvalidRequestError,
        InvalidResponseError,
        MediaError,
        ModerationError,
        NetworkError,
        NotFoundError,
        OverloadedError,
        PoeError,
        QuotaError,
        RateLimitError,
        RequestTimeoutError,
        SessionNotFoundError,
        StoreError,
        TooLargeError,
        ToolArgumentsError,
        ToolExecutionError,
        UpstreamError,
    )
    from .multi import Comparison, Consensus, ModelAnswer, Stance, compare, consensus
    from .ratelimit import RateLimiter
    from .simulator import Simulator
    from .store.base import SessionStore, Store, UsageLedger
    from .structured import ResponseFormat
    from .tools import Tool, tool
    from .types import (
        Attachment,
        Attempt,
        ChatOptions,
        ChatResult,
        Delta,
        MediaOptions,
        MediaResult,
        ReasoningEffort,
        ToolCall,
        ToolCallDelta,
        Usage,
    )
