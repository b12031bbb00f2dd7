"""Streamed discussion turns: a task per turn, its events replayable, cancellable.

A turn is started by ``POST /discussion/turns`` and runs in a task of its own; the browser reads
its events from ``GET /discussion/turns/<id>/events`` (server-sent events) and may connect late:
every event is kept until the turn is forgotten and carries its index as the SSE ``id``, so a
browser reconnecting after a network blip resumes where it stopped (``Last-Event-ID``).
``POST .../cancel`` (the stop button), or no browser following the turn for
``CONSOLE_RECONNECT_GRACE_S``, cancels the task, which closes the upstream request: nothing is
stored for a cancelled turn (the library's rule).

A plain turn is one :meth:`Conversation.stream <poe_mcp.conversation.Conversation.stream>` call
(load, fit to the window, call, store). An agent turn (tools on) is one
``Agent.run(message, conversation=...)`` with the tools ``config.toml`` configures (``[tools]``),
which stores the whole exchange (calls and results included), as the MCP server's
``ask_poe_with_tools`` does. This module only maps the form to those calls and their outcome to
events.

Events (``event: <name>``, JSON data): ``delta`` {text, replace}, ``tool_call`` {id, name,
arguments}, ``tool_result`` {id, name, result, error}, ``media`` {kind, url}, ``done`` {model,
session_id, input_tokens, output_tokens, cost, cost_text, latency_s, finish_reason, simulated},
``failed`` {kind, message}, ``cancelled`` {}.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import _constants as C
from .._money import format_usd
from ..errors import IncompleteStreamError, InvalidRequestError, PoeError

if TYPE_CHECKING:
    from ..client import AsyncPoeClient
    from ..conversation import Conversation
    from ..types import ChatOptions, ChatResult, Delta
    from ._context import ConsoleContext

__all__ = ["Turn", "TurnManager", "TurnRequest"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TurnRequest:
    """What the browser asked for."""

    model: str
    message: dict[str, Any]  # an OpenAI-format user message (text and attachment parts)
    session_id: str | None = None
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    tools: bool = False
    title: str | None = None


@dataclass(slots=True)
class Turn:
    id: str
    request: TurnRequest
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finished: bool = False
    task: asyncio.Task[None] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    session_id: str | None = None

    listeners: int = 0
    idle_since: float = field(default_factory=time.monotonic)  # since when nobody follows it

    def emit(self, name: str, data: dict[str, Any]) -> None:
        self.events.append((name, data))
        self.changed.set()

    async def follow(self, start: int = 0) -> AsyncIterator[tuple[int, str, dict[str, Any]]]:
        """``(index, name, data)`` of every event from ``start`` (a reconnecting browser's
        ``Last-Event-ID`` + 1), waiting for new ones until the turn ends."""
        sent = max(0, start)
        while True:
            while sent < len(self.events):
                name, data = self.events[sent]
                yield sent, name, data
                sent += 1
            if self.finished:
                return
            self.changed.clear()
            if sent < len(self.events):
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), C.CONSOLE_SSE_PING_S)
            if sent == len(self.events) and not self.finished:
                yield -1, "ping", {}

    def cancel(self) -> bool:
        if self.task is None or self.task.done():
            return False
        self.task.cancel()
        return True

    def joined(self) -> None:
        """A browser follows the turn's events."""
        self.listeners += 1

    def left(self) -> None:
        """A browser stopped listening: cancel the turn unless one is back within the grace
        period (an ``EventSource`` reconnects by itself after a network blip)."""
        self.listeners -= 1
        if self.listeners > 0 or self.finished:
            return
        self.idle_since = time.monotonic()
        self.watch()

    def watch(self) -> None:
        """Cancel the turn if nobody follows it for ``CONSOLE_RECONNECT_GRACE_S`` from now: a
        turn whose page was closed (or that no page ever followed) stops paying for itself."""

        def maybe_cancel() -> None:
            idle = time.monotonic() - self.idle_since
            nobody = self.listeners <= 0 and not self.finished
            if nobody and idle >= C.CONSOLE_RECONNECT_GRACE_S * 0.99:
                self.cancel()  # nobody waits for this answer: stop paying for it

        asyncio.get_running_loop().call_later(C.CONSOLE_RECONNECT_GRACE_S, maybe_cancel)


class TurnManager:
    """Running and recently finished turns of this process."""

    def __init__(self, context: ConsoleContext) -> None:
        self._context = context
        self._turns: OrderedDict[str, Turn] = OrderedDict()
        self.on_session: Any = None  # callback(session_id, turn) when a new session is created

    def get(self, turn_id: str) -> Turn | None:
        return self._turns.get(turn_id)

    def start(self, request: TurnRequest) -> Turn:
        """Start a turn in its own task.

        Raises:
            InvalidRequestError: an answer is still coming in the same conversation (two
                turns at once would each answer without the other's question).
        """
        if request.session_id is not None:
            for other in self._turns.values():
                if not other.finished and request.session_id in (
                    other.request.session_id,
                    other.session_id,
                ):
                    raise InvalidRequestError(
                        "an answer is still coming in this conversation: wait for it (or press "
                        "Stop), then send again"
                    )
        turn = Turn(secrets.token_urlsafe(12), request)
        self._turns[turn.id] = turn
        while len(self._turns) > C.CONSOLE_TURNS_KEPT:
            _, old = self._turns.popitem(last=False)
            old.cancel()
        turn.task = asyncio.create_task(self._run(turn), name=f"console-turn-{turn.id}")
        turn.watch()
        return turn

    async def aclose(self) -> None:
        tasks = [t.task for t in self._turns.values() if t.task is not None and not t.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, turn: Turn) -> None:
        from ..conversation import Conversation

        started = time.perf_counter()
        req = turn.request
        try:
            conversation = Conversation(
                req.session_id, store=await self._context.store(), system=req.system or None
            )
            client = await self._context.client()
            options: ChatOptions = {}
            if req.temperature is not None:
                options["temperature"] = req.temperature
            if req.max_tokens is not None:
                options["max_tokens"] = req.max_tokens
            turn_kind = self._agent_turn if req.tools else self._chat_turn
            result = await turn_kind(turn, client, conversation, options)
            turn.session_id = conversation.session_id
            if turn.session_id and self.on_session is not None:
                self.on_session(turn.session_id, turn)
            self._media(turn, result)
            turn.emit("done", _done(result, turn.session_id, time.perf_counter() - started))
        except asyncio.CancelledError:
            turn.emit("cancelled", {})
            raise
        except PoeError as exc:
            turn.emit("failed", {"kind": exc.kind, "message": exc.message})
        except Exception as exc:
            log.exception("console turn failed")
            turn.emit("failed", {"kind": "internal", "message": f"{type(exc).__name__}: {exc}"})
        finally:
            turn.finished = True
            turn.changed.set()

    async def _chat_turn(
        self, turn: Turn, client: AsyncPoeClient, conversation: Conversation, options: ChatOptions
    ) -> ChatResult:
        req = turn.request
        result: ChatResult | None = None
        async for delta in conversation.stream(client, req.model, req.message, **options):
            _delta(turn, delta)
            result = delta.result or result
        if result is None:  # pragma: no cover - the client raises before this
            raise IncompleteStreamError("the answer ended without a result")
        return result

    async def _agent_turn(
        self, turn: Turn, client: AsyncPoeClient, conversation: Conversation, options: ChatOptions
    ) -> ChatResult:
        from ..agent import Agent
        from ..types import ChatResult as Result
        from ._tools import console_tools

        def on_delta(delta: Delta) -> None:
            _delta(turn, delta)
            for call in delta.result.tool_calls if delta.result is not None else ():
                turn.emit(
                    "tool_call", {"id": call.id, "name": call.name, "arguments": call.arguments}
                )

        tools = await console_tools(self._context)
        agent = Agent(
            client, turn.request.model, tools=tools, stream=True, on_delta=on_delta, options=options
        )
        result = await agent.run(turn.request.message, conversation=conversation)
        for t in result.trace:
            data = {"id": t.call_id, "name": t.name, "result": t.result, "error": t.error}
            turn.emit("tool_result", data)
        return Result(
            text=result.text,
            model=result.model,
            finish_reason={"final": "stop"}.get(result.stopped_reason, result.stopped_reason),
            usage=result.usage,
            cost=result.cost,
            latency_s=result.elapsed_s,
            simulated=result.simulated,
        )

    def _media(self, turn: Turn, result: ChatResult) -> None:
        from ..media import extract_media, link_kind

        for link in extract_media(result.text, result.attachments):
            kind = link_kind(link)
            if kind in ("image", "video", "audio"):
                turn.emit("media", {"kind": kind, "url": link.url})


def _delta(turn: Turn, delta: Delta) -> None:
    if delta.text or delta.replace:
        turn.emit("delta", {"text": delta.text, "replace": delta.replace})


def _done(result: ChatResult, session_id: str | None, elapsed_s: float) -> dict[str, Any]:
    return {
        "model": result.model,
        "session_id": session_id,
        "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens,
        "estimated": result.usage.estimated,
        "cost": result.cost,
        "cost_text": format_usd(result.cost),
        "latency_s": round(result.latency_s or elapsed_s, 3),
        "finish_reason": result.finish_reason,
        "simulated": result.simulated,
        "text": result.text,
    }
