"""Backends: the wire formats the client speaks, behind one small protocol.

A backend sends one request and turns the answer into our types (:class:`~poe_mcp.types.ChatResult`,
:class:`~poe_mcp.types.Delta`) and our errors (:mod:`poe_mcp.errors`). It does not retry, rate
limit, price or record: the client does that once for every backend.

- ``openai``: Poe's (or OpenAI's, or any compatible) REST API through the official ``openai`` SDK.
- ``legacy``: Poe's bot protocol through ``fastapi_poe`` (``backends/legacy.py``).

Backends are imported only when first used, so ``import poe_mcp`` never pays for an SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigError
from ..types import ChatResult, Delta

if TYPE_CHECKING:
    import httpx2

    from .._providers import Provider
    from ..config import Settings

__all__ = ["BACKENDS", "Backend", "BackendOptions", "ChatRequest", "create_backend"]


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """What a backend needs to reach its provider.

    Attributes:
        api_key: the key (already registered as a secret; never log it).
        provider: the :class:`~poe_mcp._providers.Provider`: its name and every URL (REST
            base, bot protocol, uploads, account).
        timeout_s: default whole-request timeout.
        settings: the client's settings, for anything else.
        http_client: an ``httpx2.AsyncClient`` for the REST API and the account endpoints
            (e.g. one over ``httpx2.ASGITransport`` to drive an app in process); None makes
            one. The backend never closes a client it was given.
    """

    api_key: str
    provider: Provider
    timeout_s: float
    settings: Settings
    http_client: httpx2.AsyncClient | None = None

    @property
    def base_url(self) -> str:
        """The REST base URL, e.g. ``https://api.poe.com/v1`` or a simulator's."""
        return self.provider.base_url

    def __repr__(self) -> str:
        return f"BackendOptions(provider={self.provider.name!r}, base_url={self.base_url!r})"


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One validated chat request, in OpenAI format.

    Attributes:
        model: the model (Poe bot name).
        messages: OpenAI-format messages, attachments already turned into content parts.
        params: standard fields that are set (``temperature``, ``max_tokens``, ``top_p``,
            ``stop``, ``tools``, ``tool_choice``, ``parallel_tool_calls``); absent when unset.
        extra: bot parameters (thinking budget, aspect ratio...), sent as extra body fields.
        timeout_s: this call's timeout, or None for the backend's default.
        text_format: structured output through the Responses API (``POST /v1/responses``
            with ``text.format``), used on Poe, whose chat completions ignore
            ``response_format``; None for chat completions. Only the REST backend sends it
            (see :mod:`poe_mcp.structured`, which picks the way).
    """

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] | None = None
    timeout_s: float | None = None
    text_format: dict[str, Any] | None = None


class Backend(Protocol):
    """The interface every backend implements."""

    name: str

    async def chat(self, request: ChatRequest) -> ChatResult:
        """Send the request without streaming; raise a ``PoeError`` on failure."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Stream the answer.

        Yields deltas that carry text or tool-call fragments (never empty ones, so the
        client knows the caller has seen something), then one last ``Delta(result=...)``
        with the assembled result and usage. A stream that breaks or ends without a finish
        reason raises ``IncompleteStreamError`` (or any ``PoeError``; the client adds the
        partial text).
        """
        ...

    async def list_models(self) -> list[dict[str, Any]]:
        """The provider's model list (raw ``/v1/models`` items)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


# backend name -> "module:Class"; each class is built with one BackendOptions argument.
BACKENDS: dict[str, str] = {
    "openai": "poe_mcp.backends.openai_compat:OpenAICompatBackend",
    "legacy": "poe_mcp.backends.legacy:LegacyBackend",
}


def create_backend(name: str, options: BackendOptions) -> Backend:
    """Build the backend called ``name``.

    Raises:
        ConfigError: unknown backend name, or its module is not available.
    """
    target = BACKENDS.get(name)
    if target is None:
        raise ConfigError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ConfigError(f"backend {name!r} is not available in this installation") from exc
    factory: Any = getattr(module, attr)
    backend: Backend = factory(options)
    return backend
