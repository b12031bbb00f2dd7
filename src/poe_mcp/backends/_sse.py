"""Server-sent events as the WHATWG spec reads them, through ``httpx-sse``.

``httpx-sse`` (the SSE reader ``fastapi_poe`` uses for the bot protocol too) splits lines only at
``\\n``, ``\\r\\n`` and ``\\r`` since 0.4.2; a line reader built on ``str.splitlines()`` (httpx's
``aiter_lines``) also splits at U+2028, U+2029, U+0085 and friends, which JSON strings may hold
raw, and cuts a chunk in two. It also handles comments, ``event:``/``id:``/``retry:`` fields and
multi-line ``data``.

It reads any response object with ``headers`` and ``aiter_text()``: the ``openai`` SDK's
``httpx2`` responses as well as ``httpx`` ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

__all__ = ["Event", "is_event_stream", "sse_events", "sse_events_from_text"]

Event = tuple[str, str]  # (event name, "" for a plain message; data)


def is_event_stream(content_type: str | None) -> bool:
    return "text/event-stream" in (content_type or "").lower()


async def _events(source: Any) -> AsyncIterator[Event]:
    import httpx_sse

    async for event in httpx_sse.EventSource(source).aiter_sse():
        yield event.event if event.event != "message" else "", event.data


class _NoBom:
    """A response whose text loses one leading U+FEFF, as the spec says a reader must."""

    def __init__(self, response: Any) -> None:
        self.headers = response.headers
        self._response = response

    async def aiter_text(self) -> AsyncIterator[str]:
        first = True
        async for text in self._response.aiter_text():
            if first and text:
                text, first = text.removeprefix("\ufeff"), False
            if text:
                yield text


def sse_events(response: Any) -> AsyncIterator[Event]:
    """The events of a ``text/event-stream`` response, as they arrive."""
    return _events(_NoBom(response))


class _Text:
    """An already-read body that calls itself an event stream (a server that sent SSE under
    another content type)."""

    headers = {"content-type": "text/event-stream"}  # noqa: RUF012 - read-only

    def __init__(self, text: str) -> None:
        self._text = text

    async def aiter_text(self) -> AsyncIterator[str]:
        yield self._text


def sse_events_from_text(text: str) -> AsyncIterator[Event]:
    """The events in a whole body already read."""
    return _events(cast(Any, _Text(text.removeprefix("\ufeff"))))
