"""The bot-protocol backend: Poe's original API (``POST /bot/<name>``) through ``fastapi_poe``.

It matters where the REST API falls short: real file uploads, bot parameters in
``ProtocolMessage.parameters`` (thinking budget, aspect ratio...), bots the REST API does not
expose. It speaks the wire only; retries, rate limits, prices and the ledger happen once in the
client for every backend. Hence:

- ``fastapi_poe.stream_request(..., num_tries=1)``: our retry layer is the only one;
- one ``httpx.AsyncClient`` per backend, created on first use and closed by :meth:`aclose`
  (``fastapi_poe`` uses httpx 0.28; a response hook turns non-2xx answers into our errors, so
  the status and ``Retry-After`` survive ``fastapi_poe``'s own wrapping);
- never ``get_bot_response_sync`` (it runs a private event loop); ``fastapi_poe`` is imported
  on the first request.

Mapping of messages and attachments: ``_legacy_messages``; uploads: ``_legacy_upload``; error
kinds: ``_legacy_errors``. The protocol reports no token counts, so usage is estimated
(:mod:`poe_mcp._tokens`) and flagged ``Usage.estimated``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import _constants as C
from .._sanitize import check_sendable
from .._tokens import text_tokens
from ..errors import (
    ConfigError,
    IncompleteStreamError,
    NetworkError,
    PoeError,
    RequestTimeoutError,
    UpstreamError,
    error_from_response,
)
from ..types import Attachment, ChatResult, Delta, ToolCall, Usage
from . import BackendOptions, ChatRequest
from ._chat_wire import SIMULATOR_HEADER, StreamReader, rate_limit_headers
from ._legacy_errors import incomplete, map_exception
from ._legacy_messages import Plan, build_query, plan_request, tool_definitions
from ._legacy_upload import Uploader
from ._shapes import provider_messages
from ._sse import is_event_stream
from ._wire_errors import error_from_body, protocol_error

if TYPE_CHECKING:
    import fastapi_poe as fp
    import httpx

__all__ = ["LegacyBackend"]

logger = logging.getLogger("poe_mcp.backends.legacy")

_SIDE_REQUESTS = frozenset({"settings", "report_error", "report_feedback", "report_reaction"})
_NO_DONE = "without sending 'done'"  # what fastapi_poe reports when a stream ends early


@dataclass(slots=True)
class _Call:
    """What the response hook and fastapi_poe's error reports learnt about one request."""

    request_id: str | None = None
    simulated: bool = False
    unfinished: bool = False
    answered: bool = False  # the event stream began (a 200 with its headers)

    def on_error(self, exc: Exception, message: str) -> None:
        # Replaces fastapi_poe's default, which prints to stdout (an MCP stdio stream).
        if _NO_DONE in message:
            self.unfinished = True
        logger.debug("fastapi_poe: %s (%s)", message, type(exc).__name__)


# The request in progress in this task, for the shared session's response hook. Generators run
# in their caller's context, so the hook of the bot request sees the value set just before it.
_CURRENT: ContextVar[_Call | None] = ContextVar("poe_mcp_legacy_call", default=None)


def _new_session(
    timeout_s: float, hook: Callable[[httpx.Response], Coroutine[Any, Any, None]]
) -> httpx.AsyncClient:
    import httpx

    class _SharedSession(httpx.AsyncClient):
        """A client that survives ``async with``: ``fastapi_poe.upload_file`` enters (and so
        closes) the session it is given; ours lives until :meth:`LegacyBackend.aclose`."""

        async def __aenter__(self) -> _SharedSession:
            return self

        async def __aexit__(self, *exc_info: object) -> None:
            return None

    return _SharedSession(
        timeout=httpx.Timeout(timeout_s, connect=C.CONNECT_TIMEOUT_S),
        event_hooks={"response": [hook]},
    )


class LegacyBackend:
    """Chat over Poe's bot protocol (``fastapi_poe``), behind the :class:`Backend` protocol.

    Args:
        options: key, provider (its bot and upload URLs: ``POE_BOT_BASE_URL``,
            ``bot_base_url``..., else derived from the REST base URL), timeout and settings.

    Attributes:
        bot_base_url: where ``POST <bot_base_url><bot>`` goes.
        upload_base_url: where attachments are uploaded.
        rate_limit: the last ``x-ratelimit-*`` values the provider sent, for diagnostics.

    Raises:
        ConfigError: the provider is OpenAI, which has no bot protocol.
    """

    name = "legacy"

    def __init__(self, options: BackendOptions) -> None:
        provider = options.provider
        if provider.bot_url is None or provider.upload_url is None:
            raise ConfigError(
                "the bot protocol (backend 'legacy') is Poe's; use backend 'openai' with "
                "provider 'openai'"
            )
        self._options = options
        self.bot_base_url, self.upload_base_url = provider.bot_url, provider.upload_url
        self._http: httpx.AsyncClient | None = None
        self._uploader = Uploader(options.api_key, self.upload_base_url, self._session)
        self.rate_limit: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"LegacyBackend(bot_base_url={self.bot_base_url!r})"

    # --- transport -------------------------------------------------------------------------

    def _session(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = _new_session(self._options.timeout_s, self._on_response)
        return self._http

    async def _on_response(self, response: httpx.Response) -> None:
        headers = response.headers
        if response.is_success:
            content_type = headers.get("content-type")
            if is_event_stream(content_type):
                self._note_headers(headers)
                return
            if _request_type(response.request) != "query":
                return
            # A query answered with something else than an event stream: an error sent as a
            # success (text or JSON), or a page from a proxy. The provider's words, classified.
            self._note_headers(headers)
            raw = await response.aread()
            raise error_from_body(
                response.status_code, raw, content_type, headers=headers
            ) or protocol_error(f"{response.url} answered a query with an empty body")
        if _request_type(response.request) in _SIDE_REQUESTS:
            # fastapi_poe's own error reports: their answer must not replace the real outcome.
            return
        await response.aread()
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise error_from_response(response.status_code, body, headers)

    def _note_headers(self, headers: Mapping[str, str]) -> None:
        self.rate_limit = rate_limit_headers(headers) or self.rate_limit
        call = _CURRENT.get()
        if call is not None:
            call.request_id = headers.get("x-request-id")
            call.simulated = SIMULATOR_HEADER in headers
            call.answered = True

    # --- chat ------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatResult:
        source = self._events(request)
        try:
            async for delta in source:
                if delta.result is not None:
                    return delta.result
        except IncompleteStreamError as exc:
            # Nothing reached the caller, so the request is as safe to send again as a dropped
            # connection, and the REST backend reports a body cut short as exactly that.
            raise NetworkError(
                exc.message, request_id=exc.request_id, metadata={"backend": self.name}
            ) from exc
        finally:
            await source.aclose()
        raise UpstreamError(f"{request.model} gave no answer", metadata={"backend": self.name})

    def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        return self._events(request)

    async def _events(self, request: ChatRequest) -> AsyncGenerator[Delta, None]:
        """Deltas of one bot request, then ``Delta(result=...)``.

        ``request.timeout_s`` bounds the wait for each event (like an HTTP read timeout),
        uploads included; without it the session's timeouts apply.
        """
        from fastapi_poe.client import stream_request_base

        check_sendable(request.model, request.messages, request.params, request.extra)
        bot = request.model
        # Tool-call ids we made unique go back to the provider as it wrote them.
        plan = plan_request(replace(request, messages=provider_messages(request.messages)))
        files = plan.files
        try:
            async with asyncio.timeout(request.timeout_s):
                attachments = await self._uploader.upload_all(files) if files else {}
        except TimeoutError:
            raise RequestTimeoutError(
                f"uploading attachments took longer than {request.timeout_s} s", status=None
            ) from None
        query = build_query(plan, request, attachments)
        tools = request.params.get("tools")
        wire_tools = (
            tool_definitions(tools)
            if tools and request.params.get("tool_choice") != "none"
            else None
        )

        call = _Call()
        _CURRENT.set(call)
        where = f"{self.bot_base_url}{bot}"
        # stream_request_base, not stream_request: with tools, the latter assembles tool calls
        # by index itself (and drops finish reasons); ours follows the rules of ``_shapes``.
        source = stream_request_base(
            query,
            quote(bot, safe=""),
            self._options.api_key,
            tools=wire_tools,
            session=self._session(),
            on_error=call.on_error,
            num_tries=1,  # ours is the only retry layer
            retry_sleep_time=0,
            base_url=self.bot_base_url,
        )
        state = _Assembly()
        paused = time.perf_counter()
        try:
            while True:
                if time.perf_counter() - paused >= C.LOOP_YIELD_INTERVAL_S:
                    # Events already read arrive without a pause: a long answer would hold
                    # the event loop (other requests, /health) for a whole read's worth.
                    await asyncio.sleep(0)
                    paused = time.perf_counter()
                try:
                    async with asyncio.timeout(request.timeout_s):
                        message = await anext(source, None)
                except TimeoutError:
                    raise RequestTimeoutError(
                        f"{bot} sent nothing for {request.timeout_s} s",
                        status=None,
                        request_id=call.request_id,
                    ) from None
                except PoeError:
                    raise
                except Exception as exc:
                    error = map_exception(exc, bot=bot, where=where, request_id=call.request_id)
                    if call.answered and isinstance(error, NetworkError):
                        # The connection broke inside the answer's stream: as on REST, that
                        # is a stream cut short (with what arrived), not a failure to connect.
                        raise IncompleteStreamError(
                            f"the connection to {where} broke during the answer",
                            partial_text=state.text,
                            request_id=call.request_id,
                            metadata={"backend": self.name},
                        ) from exc
                    raise error from exc
                if message is None:
                    break
                delta = state.add(message)
                if delta is not None:
                    yield delta
        finally:
            _CURRENT.set(None)
            await source.aclose()
        if call.unfinished:
            raise incomplete(bot, state.text, call.request_id)
        yield Delta(result=self._result(request, plan, state, call))

    def _result(
        self, request: ChatRequest, plan: Plan, state: _Assembly, call: _Call
    ) -> ChatResult:
        calls = state.tool_calls()
        finish = state.finish or ("tool_calls" if calls else "stop")
        return ChatResult(
            text=state.text,
            model=request.model,
            finish_reason=finish,
            usage=_estimate(request, plan, state.text, calls),
            request_id=call.request_id,
            tool_calls=calls,
            attachments=tuple(state.files),
            provider=self._options.provider.name,
            backend=self.name,
            simulated=call.simulated,
            reasoning=state.reasoning,
            # ``done`` is the protocol's own end; only OpenAI chunks (json events) that never
            # gave a finish reason leave it to be inferred.
            finish_inferred=state.finish is None and state.json_chunks > 0,
        )

    # --- the rest of the Backend protocol --------------------------------------------------

    async def list_models(self) -> list[dict[str, Any]]:
        """The REST ``/v1/models`` list: the bot protocol has no catalog of its own."""
        url = f"{self._options.base_url.rstrip('/')}/models"
        try:
            response = await self._session().get(
                url, headers={"Authorization": f"Bearer {self._options.api_key}"}
            )
            data = response.json()
        except ValueError:
            raise UpstreamError("the model list is malformed JSON") from None
        except Exception as exc:
            raise map_exception(exc, bot="models", where=url) from exc
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise UpstreamError("the model list has no 'data' array")
        return [item for item in items if isinstance(item, dict)]

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()


class _Assembly:
    """The answer so far: text (``replace_response`` aware), tool calls, files, finish."""

    def __init__(self) -> None:
        self._parts: list[str] = []  # joined once at the end: += on an attribute is quadratic
        self.files: list[Attachment] = []
        self._reader = StreamReader()  # json events: OpenAI chunks, read as on REST

    def add(self, message: fp.PartialResponse) -> Delta | None:
        """Take one ``fastapi_poe`` message; return the delta to show, if any."""
        import fastapi_poe as fp

        if isinstance(message, fp.MetaResponse) or message.is_suggested_reply:
            return None
        if message.attachment is not None:
            found = message.attachment
            self.files.append(Attachment(found.url, found.content_type or None, found.name))
            return None
        if message.tool_calls:
            raw = [c.model_dump() for c in message.tool_calls]
            return self._chunk({"choices": [{"delta": {"tool_calls": raw}}]})
        if message.data is not None:
            return self._chunk(message.data)
        if message.is_replace_response:
            self._parts = [message.text]
            return Delta(text=message.text, replace=True)
        if message.text:
            self._parts.append(message.text)
            return Delta(text=message.text)
        return None

    @property
    def text(self) -> str:
        """The answer's text so far."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def finish(self) -> str | None:
        return self._reader.finish_reason

    @property
    def reasoning(self) -> str:
        return self._reader.reasoning

    @property
    def json_chunks(self) -> int:
        return self._reader.chunks

    def _chunk(self, data: Any) -> Delta | None:
        # A raw ``json`` event (OpenAI chat.completion.chunk): the same shapes and tool-call
        # assembly rules as the REST backend (see ``_shapes``).
        delta = self._reader.feed_chunk(data)
        if delta is not None and delta.text:
            self._parts.append(delta.text)
        return delta

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return self._reader.tool_calls()


def _request_type(request: httpx.Request) -> str | None:
    import httpx

    try:
        data = json.loads(request.content)
    except (ValueError, httpx.RequestNotRead):  # not JSON (an upload), or a streamed body
        return None
    return data.get("type") if isinstance(data, dict) else None


def _estimate(request: ChatRequest, plan: Plan, text: str, calls: tuple[ToolCall, ...]) -> Usage:
    """Token counts from characters: the bot protocol reports none."""
    prompt_chars = plan.prompt_chars()
    if request.params.get("tools"):
        prompt_chars += len(json.dumps(request.params["tools"]))
    output_chars = len(text) + sum(len(c.name) + len(c.arguments) for c in calls)
    return Usage(
        input_tokens=max(1, text_tokens(prompt_chars)) + len(plan.files) * C.ATTACHMENT_TOKENS,
        output_tokens=text_tokens(output_chars),
        estimated=True,
    )
