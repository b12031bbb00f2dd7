"""The REST backend: Poe's OpenAI-compatible API (or OpenAI, or any compatible server).

Requests go through the official ``openai`` SDK (auth, URLs, connection pool, timeouts), with
its retries off: our retry layer is the only one. Answers are read from the raw response
(``with_raw_response`` / ``with_streaming_response``) and parsed as plain JSON, which costs
less than building the SDK's pydantic models and gives us the headers (request id, rate-limit
state) for free. The SDK is imported when the first request is made.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from .. import _constants as C
from .._logging import redact
from .._messages import wire_messages
from .._sanitize import check_sendable
from .._tokens import prompt_tokens, text_tokens
from ..errors import (
    IncompleteStreamError,
    InvalidRequestError,
    NetworkError,
    PoeError,
    RequestTimeoutError,
    UpstreamError,
    error_from_response,
)
from ..types import ChatResult, Delta, ToolCallDelta, Usage
from . import BackendOptions, ChatRequest
from ._chat_wire import (
    SIMULATOR_HEADER,
    Completion,
    StreamReader,
    parse_completion,
    rate_limit_headers,
    read_json_lines,
)
from ._optional import (
    omit_remembered,
    rejected_field,
    remember_rejection,
    stream_options_mode,
)
from ._shapes import provider_messages
from ._sse import Event, is_event_stream, looks_like_sse, sse_events, sse_events_from_text
from ._wire_errors import error_from_body, normalise_error_body, protocol_error

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx2
    from openai import AsyncOpenAI

__all__ = ["OpenAICompatBackend", "map_sdk_error"]

logger = logging.getLogger("poe_mcp.backends.openai")


class OpenAICompatBackend:
    """Chat completions over the ``openai`` SDK's ``AsyncOpenAI`` (created once, reused).

    Attributes:
        rate_limit: the last ``x-ratelimit-*`` values the provider sent (limit, remaining,
            reset_s), for diagnostics.
    """

    name = "openai"

    def __init__(self, options: BackendOptions) -> None:
        self._options = options
        self._sdk: AsyncOpenAI | None = None
        self._http: httpx2.AsyncClient | None = options.http_client
        self.rate_limit: dict[str, str] = {}
        self.simulator_seen = False  # some answer (model list included) came from the simulator
        # Built now, not on the first request: the client takes a rate-limit slot just
        # before calling us, and 100 ms of set-up between slot and send would bunch requests.
        self._client()

    def __repr__(self) -> str:
        return f"OpenAICompatBackend(base_url={self._options.base_url!r})"

    def _client(self) -> AsyncOpenAI:
        sdk = self._sdk
        if sdk is None:
            import httpx2
            import openai

            timeout = httpx2.Timeout(self._options.timeout_s, connect=C.CONNECT_TIMEOUT_S)
            if self._http is None:  # the SDK's own kind of pool, shared with balance()
                self._http = openai.DefaultAsyncHttpxClient(timeout=timeout)
            sdk = self._sdk = openai.AsyncOpenAI(
                api_key=self._options.api_key,
                base_url=self._options.base_url,
                max_retries=0,  # ours is the only retry layer
                timeout=timeout,
                http_client=self._http,
            )
        return sdk

    def _kwargs(self, request: ChatRequest) -> dict[str, Any]:
        # Tool-call ids we made unique go back to the provider as it wrote them.
        messages = provider_messages(wire_messages(request.messages))  # no private keys
        kwargs: dict[str, Any] = {"model": request.model, "messages": messages}
        kwargs.update(request.params)
        if request.extra:
            kwargs["extra_body"] = request.extra
        if request.timeout_s is not None:
            kwargs["timeout"] = request.timeout_s
        return kwargs

    def _note_headers(self, headers: Mapping[str, str]) -> tuple[str | None, bool]:
        self.rate_limit = rate_limit_headers(headers) or self.rate_limit
        simulated = SIMULATOR_HEADER in headers
        self.simulator_seen = self.simulator_seen or simulated
        return headers.get("x-request-id"), simulated

    async def chat(self, request: ChatRequest) -> ChatResult:
        check_sendable(request.model, request.messages, request.params, request.extra)
        if request.text_format is not None:  # structured output on Poe: the Responses API
            from ._responses import responses_chat

            return await responses_chat(self, request)
        kwargs = self._kwargs(request)
        ours = {"parallel_tool_calls"}  # the agent's default: true is every provider's default
        raw = await self._create(
            self._client().chat.completions.with_raw_response.create, kwargs, ours
        )
        request_id, simulated = self._note_headers(raw.headers)
        try:
            content = raw.content
        except Exception as exc:
            raise map_sdk_error(exc, self._options.base_url) from exc
        content_type = raw.headers.get("content-type")
        try:
            if looks_like_sse(content):
                answer = await _read_sse_body(content, request_id)  # a server that streams
            elif is_event_stream(content_type) and not content.strip():
                # An event stream with no events: cut before its first (a proxy that
                # dropped the connection after the headers).
                raise IncompleteStreamError("the stream ended before any data")
            else:  # a whole answer or an error, whatever the content type says
                answer = _read_completion(content, content_type, request_id)
        except IncompleteStreamError as exc:
            # Nothing reached the caller: as on the bot protocol, an answer cut short is a
            # network failure (sent again), not a stream the caller saw break.
            raise NetworkError(
                exc.message, request_id=exc.request_id, metadata={"backend": self.name}
            ) from exc
        return self._result(request, answer, request_id, simulated)

    async def _create(
        self, create: Callable[..., Awaitable[Any]], kwargs: dict[str, Any], ours: set[str]
    ) -> Any:
        """Send, leaving out optional fields this base URL refused before; when the provider
        refuses one of ``ours`` by name now, remember that and send once more without it (once
        per field)."""
        base = self._options.base_url
        omit_remembered(base, kwargs, keep=frozenset(kwargs.keys() - ours))
        dropped: set[str] = set()
        while True:
            try:
                return await create(**kwargs)
            except Exception as exc:
                error = map_sdk_error(exc, base)
                field = rejected_field(error, kwargs)
                if field is None or field not in ours or field in dropped:
                    raise error from exc
                dropped.add(field)
                logger.warning("%s refuses %s; sending without it from now on", base, field)
                remember_rejection(base, field)
                del kwargs[field]

    def _result(
        self, request: ChatRequest, answer: Completion, request_id: str | None, simulated: bool
    ) -> ChatResult:
        return ChatResult(
            text=answer.text,
            model=answer.model or request.model,
            finish_reason=answer.finish_reason,
            usage=_usage(answer.usage, request, answer.text),
            request_id=request_id or answer.response_id,
            tool_calls=answer.tool_calls,
            provider=self._options.provider.name,
            backend=self.name,
            simulated=simulated,
            reasoning=answer.reasoning,
            finish_inferred=answer.finish_inferred,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        import httpx2

        check_sendable(request.model, request.messages, request.params, request.extra)
        kwargs, ours = self._stream_kwargs(request)

        async def open_stream(**kw: Any) -> tuple[Any, Any]:
            manager = self._client().chat.completions.with_streaming_response.create(**kw)
            return manager, await manager.__aenter__()

        manager, response = await self._create(open_stream, kwargs, ours)
        request_id, simulated = self._note_headers(response.headers)
        reader = StreamReader(request_id=request_id)
        http = response.http_response
        answer: Completion | None = None
        try:
            content_type = http.headers.get("content-type")
            events: AsyncIterable[Event] | None = None
            live = None
            if is_event_stream(content_type):
                events = live = sse_events(http)
            else:
                # Not an event stream: an error body, SSE under another type, or a whole
                # answer from a server that ignores stream=true.
                body = await http.aread()
                if looks_like_sse(body):
                    events = sse_events_from_text(body.decode("utf-8", "replace"))
                else:
                    answer = _read_completion(body, content_type, request_id)
            if events is not None:
                async for name, data in events:
                    delta = reader.feed(name, data)
                    if delta is not None:
                        yield delta
                    if reader.done:
                        break
            if live is not None:  # (then ``answer`` is still None)
                answer = _answer_in_head(live.head, reader, content_type, request_id)
        except PoeError:
            raise
        except (httpx2.TimeoutException, httpx2.TransportError, httpx2.StreamError) as exc:
            if reader.finish_reason is None:
                raise _broken_stream(exc, request_id, reader.text) from exc
            # The answer had ended (a finish reason came): only [DONE] or the usage chunk
            # was lost with the connection.
            logger.debug("the stream broke after its finish reason: %s", type(exc).__name__)
        finally:
            await manager.__aexit__(None, None, None)
        if answer is not None:
            whole = _whole_answer_delta(answer)
            if whole is not None:
                yield whole
        else:
            held = reader.flush()  # text held back while it could still open a <think> tag
            if held is not None:
                yield held
            answer = reader.completion()
        yield Delta(result=self._result(request, answer, request_id, simulated))

    def _stream_kwargs(self, request: ChatRequest) -> tuple[dict[str, Any], set[str]]:
        """The streamed request's arguments, and those of ours a server may refuse (dropped
        on retry): usage is asked for unless ``stream_options`` is off."""
        kwargs = self._kwargs(request)
        kwargs["stream"] = True
        ours = {"parallel_tool_calls"}
        mode = stream_options_mode(self._options.settings)
        if "stream_options" not in kwargs and mode != "off":
            kwargs["stream_options"] = {"include_usage": True}
            if mode == "auto":
                ours.add("stream_options")
        return kwargs, ours

    async def list_models(self) -> list[dict[str, Any]]:
        try:
            raw = await self._client().models.with_raw_response.list()
            content = raw.content
        except Exception as exc:
            raise map_sdk_error(exc, self._options.base_url) from exc
        self._note_headers(raw.headers)
        try:
            data = json.loads(content)
        except ValueError:
            raise protocol_error("the model list is malformed JSON") from None
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise protocol_error("the model list has no 'data' array")
        return [item for item in items if isinstance(item, dict)]

    async def balance(self) -> int:
        """The Poe account's point balance (``GET <account_url>/usage/current_balance``).

        Raises:
            InvalidRequestError: the provider has no point balances (only Poe does).
            PoeError: the request failed (auth, network...).
        """
        import httpx2

        account = self._options.provider.account_url
        if account is None:
            raise InvalidRequestError(
                "point balances exist only for Poe accounts, not provider "
                f"{self._options.provider.name!r}"
            )
        self._client()
        assert self._http is not None  # made with the SDK client
        url = f"{account}/usage/current_balance"
        try:
            response = await self._http.get(
                url, headers={"Authorization": f"Bearer {self._options.api_key}"}
            )
        except httpx2.TimeoutException as exc:
            raise RequestTimeoutError(f"{url} did not answer in time") from exc
        except httpx2.HTTPError as exc:
            raise NetworkError(f"cannot reach {url}: {type(exc).__name__}") from exc
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise error_from_response(response.status_code, body, dict(response.headers))
        value = body.get("current_point_balance") if isinstance(body, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise UpstreamError(f"{url} answered without a current_point_balance")
        return int(value)

    async def aclose(self) -> None:
        sdk, self._sdk = self._sdk, None
        if sdk is not None and self._options.http_client is None:
            await sdk.close()  # closes the pool it was made with; never the caller's
        self._http = self._options.http_client


def _broken_stream(exc: Exception, request_id: str | None, text: str) -> PoeError:
    """A stream whose connection failed after the 200 arrived: a stall is a timeout; a break
    is a stream cut short, as on the bot protocol (with the text that arrived), even before
    its first chunk. A non-streamed call reports a cut-short answer as ``network`` (see
    :meth:`OpenAICompatBackend.chat`), again like the bot protocol."""
    import httpx2

    if isinstance(exc, httpx2.TimeoutException):
        return RequestTimeoutError(
            "the stream stalled: no data within the read timeout", request_id=request_id
        )
    return IncompleteStreamError(
        f"the connection broke during the stream: {type(exc).__name__}",
        partial_text=text,
        request_id=request_id,
        metadata={"backend": "openai"},
    )


async def _read_sse_body(body: bytes, request_id: str | None) -> Completion:
    """A whole event stream already read (the answer to a request that did not stream)."""
    reader = StreamReader(request_id=request_id)
    async for name, data in sse_events_from_text(body.decode("utf-8", "replace")):
        reader.feed(name, data)
        if reader.done:
            break
    return reader.completion()


def _read_completion(body: bytes, content_type: str | None, request_id: str | None) -> Completion:
    """A whole answer's body: the completion, or the error it holds (classified)."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        lines = read_json_lines(text, request_id)  # chunks without SSE framing
        if lines is not None:
            return lines
        if text[:1] in ("{", "["):
            shown = (
                text if len(text) <= C.ERROR_QUOTE_CHARS else text[: C.ERROR_QUOTE_CHARS] + "..."
            )
            raise protocol_error(
                f"the provider answered with malformed JSON: {shown}", request_id=request_id
            ) from None
        found = error_from_body(200, body, content_type, request_id=request_id)
        raise found or protocol_error(
            "the provider answered with an empty body", request_id=request_id
        ) from None
    return parse_completion(data, request_id=request_id)


def _usage(raw: Any, request: ChatRequest, text: str) -> Usage:
    reported = Usage.from_openai(raw)  # with reasoning and cached-token details when given
    if reported is not None:
        return reported
    # No counts from the provider: estimate so the ledger stays complete, and say so.
    return Usage(prompt_tokens(request.messages), text_tokens(text), estimated=True)


def map_sdk_error(exc: BaseException, base_url: str = "") -> PoeError:
    """Translate an ``openai`` SDK (or ``httpx2``) exception into our error tree.

    Call it inside the ``except`` block: anything that is neither an SDK nor a transport error
    (a ``TypeError`` in our own code, say) is re-raised as it is, never turned into a
    retryable upstream error.
    """
    if isinstance(exc, PoeError):
        return exc
    import httpx2
    import openai

    if isinstance(exc, openai.APIStatusError):
        headers = exc.response.headers
        return error_from_response(
            exc.status_code,
            normalise_error_body(exc.body),
            headers,
            request_id=headers.get("x-request-id"),
        )
    if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
        chain = (exc, exc.__cause__, exc.__context__)
        connecting = any(isinstance(e, (httpx2.ConnectTimeout, httpx2.PoolTimeout)) for e in chain)
        return RequestTimeoutError(
            f"no answer from {base_url} within the timeout",
            status=None,
            # accepted: the request reached the provider (a media bot may still be working)
            metadata={"accepted": not connecting},
        )
    if isinstance(exc, (openai.APIConnectionError, httpx2.TransportError)):
        cause = exc.__cause__ or exc.__context__
        detail = f": {redact(str(cause))}" if cause else ""
        return NetworkError(f"cannot reach {base_url}{detail}")
    if isinstance(exc, openai.APIError):
        return UpstreamError(redact(exc.message), status=None)
    if isinstance(exc, (httpx2.HTTPError, httpx2.StreamError)):
        return NetworkError(f"talking to {base_url} failed: {type(exc).__name__}")
    raise exc  # not a wire failure: our own bug, which must propagate


def _whole_answer_delta(answer: Completion) -> Delta | None:
    """A whole answer (from a server that ignored ``stream=true``) as one delta, or None
    when it holds nothing to show."""
    fragments = tuple(
        ToolCallDelta(i, c.id, c.name, c.arguments) for i, c in enumerate(answer.tool_calls)
    )
    if answer.text or answer.reasoning or fragments:
        return Delta(text=answer.text, tool_calls=fragments, reasoning=answer.reasoning)
    return None


def _answer_in_head(
    head: str, reader: StreamReader, content_type: str | None, request_id: str | None
) -> Completion | None:
    """An event stream that held no events: a JSON error (or a whole answer) sent under the
    event-stream type, read as what it is; None when events came."""
    if reader.chunks or reader.done or not head.strip() or looks_like_sse(head):
        return None
    return _read_completion(head.encode(), content_type, request_id)
