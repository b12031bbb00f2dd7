"""Turning what callers give (text, message dicts, files) into OpenAI-format messages.

Also the checks made before anything is sent, so a bad parameter fails fast with a clear
``invalid_request`` error instead of a round trip.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import stat
from collections.abc import Container, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import _constants as C
from ._tool_schemas import check_tool_definitions
from .backends import ChatRequest
from .errors import InvalidRequestError, TooLargeError

__all__ = [
    "AttachmentSource",
    "MessagesInput",
    "attachment_part",
    "build_messages",
    "build_request",
    "content_text",
    "guess_media_type",
    "last_user_text",
    "validate_params",
]

AttachmentSource = str | os.PathLike[str] | bytes
MessagesInput = str | Sequence[Mapping[str, Any]]

_ROLES = frozenset({"system", "user", "assistant", "tool"})

# Signatures of the formats people attach most; enough to label bytes without a file name.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
)


def guess_media_type(data: bytes, filename: str | None = None) -> str:
    """The media type of ``data``: from its leading bytes, else its file name, else a guess."""
    head = data[:16]
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if filename:
        guessed, _ = mimetypes.guess_type(filename)
        if guessed:
            return guessed
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def attachment_part(
    source: AttachmentSource,
    *,
    filename: str | None = None,
    media_type: str | None = None,
    max_bytes: int = C.MAX_ATTACHMENT_BYTES,
) -> dict[str, Any]:
    """A message content part carrying a file as a data URI.

    Images become ``{"type": "image_url", ...}`` parts, everything else
    ``{"type": "file", "file": {"filename", "file_data"}}`` parts, which is what Poe's and
    OpenAI's chat completions accept.

    Args:
        source: a path (str or PathLike) or the file's bytes.
        filename: the name to send (default: the path's name, or ``attachment``).
        media_type: override the detected media type.
        max_bytes: larger files raise ``TooLargeError``.

    Raises:
        InvalidRequestError: the path does not exist or cannot be read.
        TooLargeError: the file is larger than ``max_bytes``.
        TypeError: ``source`` is neither a path nor bytes.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        name = filename or "attachment"
    elif isinstance(source, str | os.PathLike):
        data, name = _read_attachment(source, filename, max_bytes)
    else:
        raise TypeError(
            "an attachment is a path (str or Path) or the file's bytes, not "
            f"{type(source).__name__}"
        )
    _check_size(len(data), name, max_bytes)
    kind = media_type or guess_media_type(data, name)
    uri = f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
    if kind.startswith("image/"):
        image: dict[str, Any] = {"url": uri}
        if filename or not isinstance(source, bytes):
            # OpenAI's image part has no name: the bot protocol uploads it under this one, and
            # the REST wire drops it (wire_messages).
            image[IMAGE_FILENAME] = name
        return {"type": "image_url", "image_url": image}
    return {"type": "file", "file": {"filename": name, "file_data": uri}}


# Where an image part keeps its file name (ours; never sent over REST).
IMAGE_FILENAME = "filename"


def wire_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` as the REST API takes them: image parts without our ``filename``.

    Returns ``messages`` itself when no part carries one (the usual case: no copy).
    """

    def named(part: Any) -> bool:
        image = part.get("image_url") if isinstance(part, Mapping) else None
        return isinstance(image, Mapping) and IMAGE_FILENAME in image

    if not any(
        isinstance(m.get("content"), list) and any(named(p) for p in m["content"]) for m in messages
    ):
        return messages
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(named(p) for p in content):
            parts = [
                {**p, "image_url": {k: v for k, v in p["image_url"].items() if k != IMAGE_FILENAME}}
                if named(p)
                else p
                for p in content
            ]
            message = {**message, "content": parts}
        out.append(message)
    return out


def _read_attachment(
    source: str | os.PathLike[str], filename: str | None, max_bytes: int
) -> tuple[bytes, str]:
    """The bytes and name of a local file: a regular file only, read without ever blocking (a
    FIFO or device is refused before it is opened). Links are followed: the library and the
    command line read what their user can read (the MCP server checks its path policy first).
    """
    from ._paths import read_regular

    text = os.fspath(source)
    if "\x00" in text:
        raise InvalidRequestError("attachment path contains a NUL byte")
    path = Path(text).expanduser()
    name = filename or path.name
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
        if stat.S_ISREG(info.st_mode):
            _check_size(info.st_size, name, max_bytes)
        data, _size = read_regular(real, max_bytes + 1)
    except FileNotFoundError:
        raise InvalidRequestError(f"attachment not found: {path}") from None
    except IsADirectoryError:
        raise InvalidRequestError(f"attachment is not a regular file: {path} is a folder") from None
    except InvalidRequestError as exc:
        raise InvalidRequestError(
            f"attachment is not a regular file: {path} is {exc.message}"
        ) from None
    except OSError as exc:
        raise InvalidRequestError(f"cannot read attachment {path}: {exc.strerror}") from None
    return data, name


def _check_size(size: int, name: str, max_bytes: int) -> None:
    if size > max_bytes:
        raise TooLargeError(
            f"attachment {name!r} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB. "
            "Send a smaller or compressed file.",
            metadata={"size_bytes": size, "limit_bytes": max_bytes},
        )


def _content_part(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return {"type": "text", "text": item}
    if isinstance(item, (bytes, os.PathLike)):
        return attachment_part(item)
    if isinstance(item, Mapping):
        return dict(item)
    raise InvalidRequestError(
        f"unsupported message content part of type {type(item).__name__}: use text, "
        "a content dict, bytes or a path"
    )


def _has_content(content: Any) -> bool:
    if isinstance(content, str):
        return bool(content.strip())
    return bool(content)


def build_messages(
    messages_or_prompt: MessagesInput,
    *,
    system: str | None = None,
    attachments: Iterable[AttachmentSource] | None = None,
) -> list[dict[str, Any]]:
    """OpenAI-format messages from a prompt or a message list.

    ``developer`` becomes ``system`` (Poe rejects it); content lists may hold bytes and paths,
    which become attachment parts; ``attachments`` are added to the last user message;
    ``system`` is put first, replacing a leading system message if there is one.

    Raises:
        InvalidRequestError: empty prompt, no messages, an unknown role or a malformed message.
    """
    if isinstance(messages_or_prompt, str):
        if not messages_or_prompt.strip():
            raise InvalidRequestError("the prompt is empty: say something to the model")
        messages: list[dict[str, Any]] = [{"role": "user", "content": messages_or_prompt}]
    elif isinstance(messages_or_prompt, (Mapping, bytes, bytearray)) or not isinstance(
        messages_or_prompt, Iterable
    ):
        hint = ": put the one message in a list" if isinstance(messages_or_prompt, Mapping) else ""
        raise InvalidRequestError(
            "give a prompt (a string) or a list of messages, not "
            f"{type(messages_or_prompt).__name__}{hint}"
        )
    else:
        messages = [_one_message(index, raw) for index, raw in enumerate(messages_or_prompt)]
        if not messages:
            raise InvalidRequestError("no messages: give a prompt or at least one message")
        if not any(_has_content(m.get("content")) or m.get("tool_calls") for m in messages):
            raise InvalidRequestError("every message is empty: say something to the model")

    # One path or one file's bytes is one attachment, never a string's characters.
    files: list[Any] = (
        [attachments]
        if isinstance(attachments, str | bytes | bytearray | os.PathLike)
        else list(attachments or ())
    )
    if files:
        _attach(messages, [attachment_part(source) for source in files])

    if system is not None:
        if messages and messages[0]["role"] == "system":
            messages[0] = {"role": "system", "content": system}
        else:
            messages.insert(0, {"role": "system", "content": system})
    for index, message in enumerate(messages):
        _check_text(message.get("content"), index)
    return messages


def _one_message(index: int, raw: Any) -> dict[str, Any]:
    """One caller's message checked and normalised: ``developer`` is ``system``, non-text
    content becomes content parts."""
    if not isinstance(raw, Mapping):
        raise InvalidRequestError(f"message {index} must be a dict with role and content")
    message = dict(raw)
    role = message.get("role")
    if role == "developer":
        message["role"] = role = "system"
    if role not in _ROLES:
        raise InvalidRequestError(
            f"message {index} has role {role!r}; use system, user, assistant or tool"
        )
    content = message.get("content")
    if isinstance(content, (list, tuple)):
        message["content"] = [_content_part(part) for part in content]
    elif content is not None and not isinstance(content, str):
        message["content"] = [_content_part(content)]
    return message


def _attach(messages: list[dict[str, Any]], parts: list[dict[str, Any]]) -> None:
    """Add attachment parts to the last user message (a new one when there is none)."""
    target = next((m for m in reversed(messages) if m["role"] == "user"), None)
    if target is None:
        target = {"role": "user", "content": []}
        messages.append(target)
    content = target.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}] if content else []
    target["content"] = [*(content or []), *parts]


def _check_text(content: Any, index: int) -> None:
    """Refuse text that cannot be sent: undecodable bytes (``\\udcxx`` surrogates, e.g. binary
    piped into ``poe-mcp chat``) would otherwise fail deep in the HTTP layer."""
    texts = [content] if isinstance(content, str) else []
    if isinstance(content, list):
        texts = [
            p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        ]
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidRequestError(
                f"message {index} is not valid text (an undecodable byte at character "
                f"{exc.start}): send binary files as attachments, not as text"
            ) from None


def validate_params(
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    stop: str | Sequence[str] | None = None,
) -> list[str] | None:
    """Check sampling parameters against the API's bounds; return ``stop`` as a list.

    Raises:
        InvalidRequestError: naming the parameter, its value and the allowed range.
    """
    lo, hi = C.TEMPERATURE_RANGE
    if temperature is not None and not lo <= temperature <= hi:
        raise InvalidRequestError(
            f"temperature must be between {lo:g} and {hi:g}, got {temperature}",
            metadata={"param": "temperature"},
        )
    lo, hi = C.TOP_P_RANGE
    if top_p is not None and not lo <= top_p <= hi:
        raise InvalidRequestError(
            f"top_p must be between {lo:g} and {hi:g}, got {top_p}", metadata={"param": "top_p"}
        )
    if max_tokens is not None and (isinstance(max_tokens, bool) or max_tokens < 1):
        raise InvalidRequestError(
            f"max_tokens must be at least 1, got {max_tokens}", metadata={"param": "max_tokens"}
        )
    if stop is None:
        return None
    stops = [stop] if isinstance(stop, str) else list(stop)
    if len(stops) > C.MAX_STOP_SEQUENCES:
        raise InvalidRequestError(
            f"at most {C.MAX_STOP_SEQUENCES} stop sequences are allowed, got {len(stops)}",
            metadata={"param": "stop"},
        )
    if any(not isinstance(s, str) or s == "" for s in stops):
        raise InvalidRequestError(
            "stop sequences must be non-empty strings", metadata={"param": "stop"}
        )
    return stops or None


def stream_options_param(options: Any, backend: str | None) -> dict[str, Any]:
    """``stream_options`` checked: only ``include_usage`` (a bool), only on a streamed call
    (``backend`` None means a call that does not stream) and only on the REST API.

    ``include_usage`` (default true) asks the provider for its token counts in the stream's last
    chunk; false leaves them out, and the usage is then estimated (``usage.estimated``).

    Raises:
        InvalidRequestError: another key, a non-bool value, a call that does not stream, or the
            bot-protocol backend (it reports no token counts at all).
    """
    if backend is None:
        raise InvalidRequestError(
            "stream_options applies to streamed calls only: use stream() (stream=true)",
            metadata={"param": "stream_options"},
        )
    if not isinstance(options, Mapping):
        raise InvalidRequestError(
            'stream_options must be an object such as {"include_usage": true}',
            metadata={"param": "stream_options"},
        )
    unknown = sorted(str(k) for k in options if k != "include_usage")
    value = options.get("include_usage", True)
    if unknown or not isinstance(value, bool):
        raise InvalidRequestError(
            "stream_options takes only include_usage (true or false)"
            + (f"; unknown: {', '.join(unknown)}" if unknown else f", got {value!r}"),
            metadata={"param": "stream_options"},
        )
    if backend != "openai":
        raise InvalidRequestError(
            f"stream_options applies to the REST API (backend 'openai'), not {backend!r}: "
            "Poe's bot protocol reports no token counts (they are always estimated)",
            metadata={"param": "stream_options"},
        )
    return {"include_usage": value}


def content_text(content: Any, part_types: Container[str] = ("text",)) -> str:
    """The text of a message's ``content``: a string as it is, the text of a list's parts of
    ``part_types`` joined by newlines, anything else empty."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and p.get("type") in part_types
        )
    return ""


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of the last user message with text content (for prompt logging and estimates)."""
    for message in reversed(messages):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, (str, list)):
            return content_text(content)
    return ""


def build_request(
    model: str,
    messages_or_prompt: MessagesInput,
    *,
    system: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    top_p: float | None = None,
    stop: str | Sequence[str] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    parallel_tool_calls: bool | None = None,
    attachments: Iterable[AttachmentSource] | None = None,
    extra: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> ChatRequest:
    """A validated :class:`~poe_mcp.backends.ChatRequest` (see ``AsyncPoeClient.chat``).

    Raises:
        InvalidRequestError: a bad parameter, an empty prompt or no model.
        TooLargeError: an attachment over the size limit.
    """
    if not model or not model.strip():
        raise InvalidRequestError("no model given: name a model, e.g. Claude-Sonnet-4")
    stops = validate_params(temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop)
    messages = build_messages(messages_or_prompt, system=system, attachments=attachments)
    # Only fields that are set go on the wire: Poe's strict mode rejects what it does not know.
    params: dict[str, Any] = {}
    if temperature is not None:
        params["temperature"] = temperature
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if top_p is not None:
        params["top_p"] = top_p
    if stops:
        params["stop"] = stops
    if tools:
        check_tool_definitions(tools)  # a broken schema is our error, before anything is sent
        params["tools"] = [dict(t) for t in tools]
    if tool_choice is not None:
        params["tool_choice"] = tool_choice
    if parallel_tool_calls is not None:
        params["parallel_tool_calls"] = parallel_tool_calls
    return ChatRequest(
        model=model,
        messages=messages,
        params=params,
        extra=dict(extra) if extra else None,
        timeout_s=timeout,
    )
