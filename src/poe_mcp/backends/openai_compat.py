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
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from .. import _constants as C
from .._logging import redact
from .._messages import estimate_input_tokens
from ..errors import (
    IncompleteStreamError,
    NetworkError,
    PoeError,
    RequestTimeoutError,
    UpstreamError,
    error_from_response,
)
from ..types import ChatResult, Delta, ToolCall, ToolCallDelta, Usage
from . import BackendOptions, ChatRequest

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["OpenAICompatBackend", "map_sdk_error"]

logger = logging.getLogger("poe_mcp.backends.openai")

_SIMULATOR_HEADER = "x-poe-simulator"


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
        self.rate_limit: dict[str, str] = {}
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

            sdk = self._sdk = openai.AsyncOpenAI(
                api_key=self._options.api_key,
                base_url=self._options.base_url,
                max_retries=0,  # ours is the only retry layer
                timeout=httpx2.Timeout(self._options.timeout_s, connect=C.CONNECT_TIMEOUT_S),
            )
        return sdk

    def _kwargs(self, request: ChatRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": request.model, "messages": request.messages}
        kwargs.update(request.params)
        if request.extra:
            kwargs["extra_body"] = request.extra
        if request.timeout_s is not None:
            kwargs["timeout"] = request.timeout_s
        return kwargs

    def _note_headers(self, headers: Mapping[str, str]) -> tuple[str | None, bool]:
        limit = headers.get("x-ratelimit-remaining-requests")
        if limit is not None:
            self.rate_limit = {
                "limit": headers.get("x-ratelimit-limit-requests", ""),
                "remaining": limit,
                "reset_s": headers.get("x-ratelimit-reset-requests", ""),
            }
        return headers.get("x-request-id"), _SIMULATOR_HEADER in headers

    async def chat(self, request: ChatRequest) -> ChatResult:
        try:
            raw = await self._client().chat.completions.with_raw_response.create(
                **self._kwargs(request)
            )
            content = raw.content
        except Exception as exc:
            raise map_sdk_error(exc, self._options.base_url) from exc
        request_id, simulated = self._note_headers(raw.headers)
        try:
            data = json.loads(content)
        except ValueError:
            raise UpstreamError(
                "the provider answered with malformed JSON", request_id=request_id
            ) from None
        if not isinstance(data, dict) or not data.get("choices"):
            raise _body_error(data, request_id)
        choice = data["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content") or ""
        tool_calls = tuple(
            ToolCall(
                id=str(call.get("id") or f"call_{i}"),
                name=str((call.get("function") or {}).get("name") or ""),
                arguments=(call.get("function") or {}).get("arguments") or "{}",
            )
            for i, call in enumerate(message.get("tool_calls") or ())
        )
        return ChatResult(
            text=text,
            model=data.get("model") or request.model,
            finish_reason=choice.get("finish_reason"),
            usage=_usage(data.get("usage"), request, text),
            request_id=request_id or data.get("id"),
            tool_calls=tool_calls,
            provider=self._options.provider,
            backend=self.name,
            simulated=simulated,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        import httpx2

        kwargs = self._kwargs(request)
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
        try:
            manager = self._client().chat.completions.with_streaming_response.create(**kwargs)
            response = await manager.__aenter__()
        except Exception as exc:
            raise map_sdk_error(exc, self._options.base_url) from exc
        request_id, simulated = self._note_headers(response.headers)
        parts: list[str] = []
        calls: dict[int, list[str]] = {}  # index -> [id, name, arguments so far]
        finish: str | None = None
        usage_data: Any = None
        model = request.model
        event = ""
        try:
            async for line in response.http_response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                    continue
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError:
                    raise UpstreamError(
                        "the provider sent a malformed stream chunk", request_id=request_id
                    ) from None
                if not isinstance(chunk, dict):
                    continue
                if "error" in chunk or event == "error":
                    raise _stream_error(chunk, request_id)
                model = chunk.get("model") or model
                if chunk.get("usage"):
                    usage_data = chunk["usage"]
                for choice in chunk.get("choices") or ():
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    delta = choice.get("delta") or {}
                    text = delta.get("content") or ""
                    fragments = _tool_fragments(delta.get("tool_calls"), calls)
                    if text or fragments:
                        if text:
                            parts.append(text)
                        yield Delta(text=text, tool_calls=fragments)
        except PoeError:
            raise
        except httpx2.TimeoutException as exc:
            raise RequestTimeoutError(
                "the stream stalled: no data within the read timeout", request_id=request_id
            ) from exc
        except (httpx2.TransportError, httpx2.StreamError) as exc:
            raise NetworkError(
                f"the connection broke during the stream: {type(exc).__name__}",
                request_id=request_id,
            ) from exc
        finally:
            await manager.__aexit__(None, None, None)
        text = "".join(parts)
        if finish is None:
            raise IncompleteStreamError(
                "the stream ended without a finish reason (the answer may be cut short)",
                partial_text=text,
                request_id=request_id,
            )
        tool_calls = tuple(
            ToolCall(id=entry[0] or f"call_{index}", name=entry[1], arguments=entry[2] or "{}")
            for index, entry in sorted(calls.items())
        )
        yield Delta(
            result=ChatResult(
                text=text,
                model=model,
                finish_reason=finish,
                usage=_usage(usage_data, request, text),
                request_id=request_id,
                tool_calls=tool_calls,
                provider=self._options.provider,
                backend=self.name,
                simulated=simulated,
            )
        )

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
            raise UpstreamError("the model list is malformed JSON") from None
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise UpstreamError("the model list has no 'data' array")
        return [item for item in items if isinstance(item, dict)]

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = None


def _tool_fragments(raw: Any, calls: dict[int, list[str]]) -> tuple[ToolCallDelta, ...]:
    if not raw:
        return ()
    fragments = []
    for position, item in enumerate(raw):
        index = item.get("index", position)
        function = item.get("function") or {}
        call_id = item.get("id")
        name = function.get("name")
        arguments = function.get("arguments") or ""
        entry = calls.setdefault(index, ["", "", ""])
        if call_id:
            entry[0] = call_id
        if name:
            entry[1] = name
        entry[2] += arguments
        fragments.append(ToolCallDelta(index=index, id=call_id, name=name, arguments=arguments))
    return tuple(fragments)


def _usage(raw: Any, request: ChatRequest, text: str) -> Usage:
    if isinstance(raw, dict) and raw.get("prompt_tokens") is not None:
        return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))
    # No counts from the provider: estimate so the ledger stays complete, and say so.
    return Usage(
        estimate_input_tokens(request.messages) + 1,
        len(text) // C.CHARS_PER_TOKEN,
        estimated=True,
    )


def _body_error(data: Any, request_id: str | None) -> PoeError:
    if isinstance(data, dict) and "error" in data:
        return _stream_error(data, request_id)
    return UpstreamError("the provider's answer has no choices", request_id=request_id)


def _stream_error(chunk: dict[str, Any], request_id: str | None) -> PoeError:
    error = chunk.get("error", chunk)
    code = error.get("code") if isinstance(error, dict) else None
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    return error_from_response(status, chunk, request_id=request_id)


def map_sdk_error(exc: BaseException, base_url: str = "") -> PoeError:
    """Translate an ``openai`` SDK (or ``httpx2``) exception into our error tree."""
    if isinstance(exc, PoeError):
        return exc
    import httpx2
    import openai

    if isinstance(exc, openai.APIStatusError):
        headers = exc.response.headers
        return error_from_response(
            exc.status_code, exc.body, headers, request_id=headers.get("x-request-id")
        )
    if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
        return RequestTimeoutError(f"no answer from {base_url} within the timeout", status=None)
    if isinstance(exc, (openai.APIConnectionError, httpx2.TransportError)):
        cause = exc.__cause__ or exc.__context__
        detail = f": {redact(str(cause))}" if cause else ""
        return NetworkError(f"cannot reach {base_url}{detail}")
    if isinstance(exc, openai.APIError):
        return UpstreamError(redact(exc.message), status=None)
    logger.debug("unexpected error from the openai SDK", exc_info=exc)
    return UpstreamError(f"unexpected error talking to {base_url}: {type(exc).__name__}")
