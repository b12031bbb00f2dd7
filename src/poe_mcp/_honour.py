"""Every standard parameter on every backend takes effect, or the call is refused before sending.

Poe's REST API takes every standard field the client sends. Poe's bot protocol (the ``legacy``
backend) has ``temperature``, ``stop`` and tools, but no ``max_tokens``, ``top_p``,
``parallel_tool_calls`` or a forced ``tool_choice``; it used to drop them. Now:

==================== ================================================================
``max_tokens``       enforced here: the answer is cut at the limit (estimated tokens,
                     as the protocol's usage is: :mod:`poe_mcp._tokens`),
                     ``finish_reason`` becomes ``length`` and the result says so
``top_p``            refused, naming the backend that has it (``openai``)
``parallel_tool_calls=false``, ``tool_choice`` ``required`` or a named tool
                     refused the same way (``auto`` / ``none`` work)
==================== ================================================================

:func:`honour` wraps a backend once, when the client creates it, so every path (chat, stream,
retries, media, the agent) gets the same rule without the backends knowing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ._tokens import chars_for_tokens
from .backends import Backend, ChatRequest
from .errors import InvalidRequestError
from .types import ChatResult, Delta

__all__ = [
    "LOCALLY_ENFORCED",
    "RESERVED_EXTRA",
    "UNSUPPORTED",
    "HonestBackend",
    "check_extra",
    "check_support",
    "check_tool_choice",
    "honour",
]

# Names bot parameters (``extra`` / MCP ``params`` / CLI ``--param``) may not carry: the REST
# backend merges ``extra`` into the top of the JSON body, so ``{"model": ...}`` would silently
# send (and bill) another model and ``{"temperature": 5}`` would skip the checks and the
# backend rules of the real argument; the bot protocol would pass them to the bot as unknown
# parameters. name -> the argument that sets it (None: the call itself decides it).
RESERVED_EXTRA: dict[str, str | None] = {
    "model": None,
    "messages": None,
    "stream": None,
    "n": None,
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "top_p": "top_p",
    "stop": "stop",
    "tools": "tools",
    "tool_choice": "tool_choice",
    "parallel_tool_calls": "parallel_tool_calls",
    "response_format": "response_format",
    "stream_options": "stream_options",
}


def check_extra(extra: Mapping[str, Any] | None) -> None:
    """Refuse bot parameters that name a standard field of the request (:data:`RESERVED_EXTRA`).

    Raises:
        InvalidRequestError: naming each such key and the argument to use instead.
    """
    if not extra:
        return
    found = [str(k) for k in extra if k in RESERVED_EXTRA]
    if not found:
        return
    what = []
    for name in found:
        use = RESERVED_EXTRA[name]
        what.append(
            f"{name!r} is set by the call itself, not by a bot parameter"
            if use is None
            else f"{name!r} is a standard parameter: pass it as {use}=..., not in params/extra"
        )
    raise InvalidRequestError(
        f"bot parameters (params / extra / --param) cannot hold {', '.join(found)}: "
        f"{'; '.join(what)}. Nothing was sent.",
        metadata={"param": "extra", "reserved": found},
    )


def _tool_names(tools: Any) -> list[str]:
    names = []
    for tool in tools or ():
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            names.append(function["name"])
    return names


def check_tool_choice(params: Mapping[str, Any]) -> None:
    """Refuse a ``tool_choice`` that forces a tool call no offered tool can answer.

    ``required`` (or a named function) without ``tools`` would force a call of nothing, and a
    named function that is not among ``tools`` cannot be called: providers either reject
    these or drop the choice silently.

    Raises:
        InvalidRequestError: naming the choice and the tools offered.
    """
    choice = params.get("tool_choice")
    if choice is None or choice in ("auto", "none"):
        return
    names = _tool_names(params.get("tools"))
    if isinstance(choice, Mapping):
        function = choice.get("function")
        wanted = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(wanted, str) or not wanted:
            raise InvalidRequestError(
                'tool_choice must be "auto", "none", "required" or {"type": "function", '
                '"function": {"name": ...}}',
                metadata={"param": "tool_choice"},
            )
        if wanted not in names:
            offered = ", ".join(names) or "none"
            raise InvalidRequestError(
                f"tool_choice names the function {wanted!r}, which is not among the tools "
                f"offered ({offered}): it could never be called. Nothing was sent.",
                metadata={"param": "tool_choice"},
            )
        return
    if choice != "required":
        raise InvalidRequestError(
            f'tool_choice must be "auto", "none", "required" or {{"type": "function", '
            f'"function": {{"name": ...}}}}, not {str(choice)[:64]!r}',
            metadata={"param": "tool_choice"},
        )
    if not names:
        raise InvalidRequestError(
            'tool_choice "required" needs tools to choose from: pass tools, or leave '
            "tool_choice out. Nothing was sent.",
            metadata={"param": "tool_choice"},
        )


# backend -> parameters it cannot send at all (name -> why, for the refusal)
UNSUPPORTED: dict[str, dict[str, str]] = {
    "legacy": {
        "top_p": "top_p",
        "parallel_tool_calls": "parallel_tool_calls=false",
        "tool_choice": "tool_choice other than auto or none",
    },
}
# backend -> parameters poe-mcp enforces itself
LOCALLY_ENFORCED: dict[str, frozenset[str]] = {"legacy": frozenset({"max_tokens"})}

_HOW_TO_SWITCH = (
    "Use the REST backend, which has it: backend='openai' in Python, --backend openai on the "
    "command line, use_openai_client=true (or ask_poe_v2) over MCP."
)


def _offending(backend: str, params: Mapping[str, Any]) -> list[str]:
    found = []
    for name, label in UNSUPPORTED.get(backend, {}).items():
        if name not in params:
            continue
        value = params[name]
        if name == "parallel_tool_calls" and value is not False:
            continue  # true is what the protocol does anyway
        if name == "tool_choice" and value in ("auto", "none"):
            continue
        found.append(label)
    return found


def check_support(backend: str, request: ChatRequest) -> None:
    """Refuse parameters ``backend`` can neither send nor enforce.

    Raises:
        InvalidRequestError: names the parameters, the backend, and the one that has them.
    """
    found = _offending(backend, request.params)
    if found:
        raise InvalidRequestError(
            f"Poe's bot protocol (backend {backend!r}) has no {', '.join(found)}: it would be "
            f"dropped silently. {_HOW_TO_SWITCH}",
            metadata={"backend": backend, "unsupported": found, "use_backend": "openai"},
        )


def _cap_chars(request: ChatRequest, backend: str) -> int | None:
    limit = request.params.get("max_tokens")
    if "max_tokens" not in LOCALLY_ENFORCED.get(backend, ()) or not isinstance(limit, int):
        return None
    return chars_for_tokens(max(1, limit))


def _notice(request: ChatRequest, backend: str) -> str:
    return (
        f"answer cut at max_tokens={request.params.get('max_tokens')} by poe-mcp: Poe's bot "
        f"protocol (backend {backend!r}) has no max_tokens, so the bot wrote (and was paid "
        "for) more than is shown"
    )


def _cut(result: ChatResult, request: ChatRequest, backend: str, limit: int) -> ChatResult:
    if len(result.text) <= limit:
        return result
    notes = (*result.notes, _notice(request, backend))
    return dataclasses.replace(
        result, text=result.text[:limit], finish_reason="length", notes=notes
    )


class HonestBackend:
    """A backend with the rules above applied; everything else passes through."""

    def __init__(self, inner: Backend) -> None:
        self._inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:  # rate_limit, bot URLs... of the wrapped backend
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return repr(self._inner)

    async def chat(self, request: ChatRequest) -> ChatResult:
        check_support(self.name, request)
        result = await self._inner.chat(request)
        limit = _cap_chars(request, self.name)
        return result if limit is None else _cut(result, request, self.name, limit)

    def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        check_support(self.name, request)
        source = self._inner.stream(request)
        limit = _cap_chars(request, self.name)
        return source if limit is None else self._capped(source, request, limit)

    async def _capped(
        self, source: AsyncIterator[Delta], request: ChatRequest, limit: int
    ) -> AsyncIterator[Delta]:
        """The stream with text past ``limit`` held back (the bot still finishes its answer:
        the protocol cannot be told to stop, and its usage comes at the end)."""
        full, shown = "", 0
        try:
            async for delta in source:
                if delta.result is not None:
                    yield Delta(result=_cut(delta.result, request, self.name, limit))
                    return
                full = delta.text if delta.replace else full + delta.text
                visible = full[:limit]
                if delta.replace:
                    shown = len(visible)
                    yield dataclasses.replace(delta, text=visible)
                elif len(visible) > shown or delta.tool_calls:
                    piece, shown = visible[shown:], len(visible)
                    yield dataclasses.replace(delta, text=piece)
        finally:
            closer = getattr(source, "aclose", None)
            if closer is not None:
                await closer()

    async def list_models(self) -> list[dict[str, Any]]:
        return await self._inner.list_models()

    async def aclose(self) -> None:
        await self._inner.aclose()


def honour(backend: Backend) -> Backend:
    """``backend`` wrapped when it cannot honour every parameter by itself."""
    if backend.name in UNSUPPORTED or backend.name in LOCALLY_ENFORCED:
        return HonestBackend(backend)
    return backend
