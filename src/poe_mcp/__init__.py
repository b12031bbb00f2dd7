"""poe-mcp: Poe's models from anywhere, through MCP, Python and the command line.

Quick start::

    from poe_mcp import PoeClient

    with PoeClient() as client:  # POE_API_KEY from the environment
        print(client.chat("Claude-Sonnet-4", "Hello!").text)

The public API is what ``__all__`` lists. Names are imported on first use so that
``import poe_mcp`` stays cheap (the MCP server is spawned for every assistant session).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Agent": "agent",
    "AgentResult": "agent",
    "AsyncModel": "_model",
    "AsyncModelConversation": "_model",
    "AsyncPoeClient": "client",
    "Attachment": "types",
    "Attempt": "types",
    "AuthError": "errors",
    "BalanceError": "errors",
    "Catalog": "catalog",
    "ChatOptions": "types",
    "ChatResult": "types",
    "ClientEvent": "_events",
    "Comparison": "multi",
    "ConfigError": "errors",
    "Consensus": "multi",
    "Conversation": "conversation",
    "Delta": "types",
    "IncompleteStreamError": "errors",
    "InvalidRequestError": "errors",
    "InvalidResponseError": "errors",
    "MediaError": "errors",
    "MediaResult": "types",
    "Model": "_model",
    "ModelAnswer": "multi",
    "ModelConversation": "_model",
    "ModelInfo": "catalog",
    "ModerationError": "errors",
    "NetworkError": "errors",
    "NotFoundError": "errors",
    "OverloadedError": "errors",
    "PoeClient": "_sync_client",
    "PoeError": "errors",
    "QuotaError": "errors",
    "RateLimitError": "errors",
    "ReasoningEffort": "types",
    "RequestTimeoutError": "errors",
    "ResponseFormat": "structured",
    "SessionNotFoundError": "errors",
    "Settings": "config",
    "Simulator": "simulator",
    "Stance": "multi",
    "StoreError": "errors",
    "TooLargeError": "errors",
    "Tool": "tools",
    "ToolCall": "types",
    "ToolCallDelta": "types",
    "ToolExecutionError": "errors",
    "ToolTrace": "agent",
    "UpstreamError": "errors",
    "Usage": "types",
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
    "Catalog",
    "ChatOptions",
    "ChatResult",
    "ClientEvent",
    "Comparison",
    "ConfigError",
    "Consensus",
    "Conversation",
    "Delta",
    "IncompleteStreamError",
    "InvalidRequestError",
    "InvalidResponseError",
    "MediaError",
    "MediaResult",
    "Model",
    "ModelAnswer",
    "ModelConversation",
    "ModelInfo",
    "ModerationError",
    "NetworkError",
    "NotFoundError",
    "OverloadedError",
    "PoeClient",
    "PoeError",
    "QuotaError",
    "RateLimitError",
    "ReasoningEffort",
    "RequestTimeoutError",
    "ResponseFormat",
    "SessionNotFoundError",
    "Settings",
    "Simulator",
    "Stance",
    "StoreError",
    "TooLargeError",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolExecutionError",
    "ToolTrace",
    "UpstreamError",
    "Usage",
    "__version__",
    "compare",
    "consensus",
    "tool",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'poe_mcp' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._events import ClientEvent
    from ._model import AsyncModel, AsyncModelConversation, Model, ModelConversation
    from ._sync_client import PoeClient
    from .agent import Agent, AgentResult, ToolTrace
    from .catalog import Catalog, ModelInfo
    from .client import AsyncPoeClient
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
        ToolExecutionError,
        UpstreamError,
    )
    from .multi import Comparison, Consensus, ModelAnswer, Stance, compare, consensus
    from .simulator import Simulator
    from .structured import ResponseFormat
    from .tools import Tool, tool
    from .types import (
        Attachment,
        Attempt,
        ChatOptions,
        ChatResult,
        Delta,
        MediaResult,
        ReasoningEffort,
        ToolCall,
        ToolCallDelta,
        Usage,
    )
