"""Server-sent events as the WHATWG spec reads them, through ``httpx-sse``.

``httpx-sse`` (the SSE reader ``fastapi_poe`` uses for the bot protocol too) splits lines only at
``\\n``, ``\\r\\n`` and ``\\r`` since 0.4.2; a line reader built on ``str.splitlines()`` (httpx's
``aiter_lines``) also splits at U+2028, U+2029, U+0085 and friends, which JSON strings may hold
raw, and cuts a chunk in two. It also handles comments, ``event:``/``id:``/``retry:`` fields and
multi-line ``data``.

One leniency beyond the spec: at the end of the body, an event that was not closed by a blank
line is still handed over, named :data:`EOF_EVENT` when its last line was cut (no line end at
all), so the reader can use it if its data is whole (``data: [DONE]`` as the body's last bytes,
from some proxies) and drop it if it was cut in the middle.

It reads any response object with ``headers`` and ``aiter_text()``: the ``openai`` SDK's
``httpx2`` responses as well as ``httpx`` ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from .. import _constants as C

__all__ = [
    "EOF_EVENT",
    "Event",
    "EventStream",
    "is_event_stream",
    "looks_like_sse",
    "sse_events",
    "sse_events_from_text",
]

Event = tuple[str, str]  # (event name, "" for a plain message; data)
EOF_EVENT = "poe-mcp-end-of-body"  # the name of an event whose last line had no line end
# Appended to every body. After a last line that ended, the first "\n" is the blank line that
# closes an open event; after a cut last line it ends that line, and the event stays open to be
# named EOF_EVENT. The final blank line closes whichever event is open (nothing: no event).
_CLOSE = f"\nevent: {EOF_EVENT}\n\n"


def is_event_stream(content_type: str | None) -> bool:
    return "text/event-stream" in (content_type or "").lower()


def looks_like_sse(body: bytes | str) -> bool:
    """Whether a body starts the way an event stream does (a field or a comment)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text.lstrip("\ufeff \t\r\n").startswith(("data:", "event:", ":", "id:", "retry:"))


async def _events(source: Any) -> AsyncIterator[Event]:
    import httpx_sse

    async for event in httpx_sse.EventSource(source).aiter_sse():
        yield event.event if event.event != "message" else "", event.data


class _NoBom:
    """A response whose text loses one leading U+FEFF, as the spec says a reader must; it keeps
    the first ``SSE_HEAD_CHARS`` of the text (a body that holds no events is read as a whole)."""

    def __init__(self, response: Any) -> None:
        self.headers = response.headers
        self._response = response
        self.head = ""

    async def aiter_text(self) -> AsyncIterator[str]:
        first = True
        async for text in self._response.aiter_text():
            if first and text:
                text, first = text.removeprefix("\ufeff"), False
            if text:
                if len(self.head) < C.SSE_HEAD_CHARS:
                    self.head += text[: C.SSE_HEAD_CHARS - len(self.head)]
                yield text
        yield _CLOSE


class EventStream:
    """The events of a ``text/event-stream`` response, as they arrive (``async for``).

    Attributes:
        head: the start of the body read so far (up to ``SSE_HEAD_CHARS``), to make sense of
            a body that holds no events (a JSON error sent as an event stream).
    """

    def __init__(self, response: Any) -> None:
        self._source = _NoBom(response)
        self._events = _events(self._source)

    @property
    def head(self) -> str:
        return self._source.head

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events


def sse_events(response: Any) -> EventStream:
    """The events of a ``text/event-stream`` response, as they arrive."""
    return EventStream(response)


class _Text:
    """An already-read body that calls itself an event stream (a server that sent SSE under
    another content type)."""

    headers = {"content-type": "text/event-stream"}  # noqa: RUF012 - read-only

    def __init__(self, text: str) -> None:
        self._text = text

    async def aiter_text(self) -> AsyncIterator[str]:
        yield self._text
        yield _CLOSE


def sse_events_from_text(text: str) -> AsyncIterator[Event]:
    """The events in a whole body already read."""
    return _events(cast(Any, _Text(text.removeprefix("\ufeff"))))
