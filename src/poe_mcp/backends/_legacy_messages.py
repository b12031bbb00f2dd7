"""OpenAI-format chat messages -> Poe's bot protocol (``fastapi_poe`` ``QueryRequest``).

The mapping, one rule each:

- roles: ``system`` -> ``system``, ``user`` -> ``user``, ``assistant`` -> ``bot``
  (``developer`` already became ``system`` in ``_messages``).
- content: text parts are joined; ``image_url``, ``file`` and ``input_audio`` parts become
  :class:`FileRef` s that the backend uploads (``fastapi_poe.upload_file``) and attaches by URL
  in ``ProtocolMessage.attachments``, which is how the protocol carries files.
- tools: the *latest* round (an assistant message with ``tool_calls`` after the last user
  message, followed only by its ``tool`` results) travels in ``QueryRequest.tool_calls`` /
  ``tool_results``, exactly as ``fastapi_poe`` sends its own second round. Older rounds are
  history; the protocol has no per-message tool fields, so their calls and results are written
  into the bot's turn as text, which every bot understands. This is also what makes a
  conversation that started on the REST backend carry over unchanged.
- bot parameters (``ChatRequest.extra``, e.g. ``thinking_budget``) go in the ``parameters``
  of the last user message, where Poe reads them.
- ``temperature`` and ``stop`` map to the request's ``temperature`` / ``stop_sequences``;
  the protocol has no ``max_tokens``, ``top_p`` or ``tool_choice`` (``"none"`` drops the tools).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from .. import _constants as C
from .._messages import content_text
from ..errors import InvalidRequestError, TooLargeError
from . import ChatRequest

if TYPE_CHECKING:
    import fastapi_poe as fp

__all__ = [
    "FileRef",
    "Plan",
    "Turn",
    "build_query",
    "decode_data_uri",
    "plan_request",
    "tool_definitions",
]

logger = logging.getLogger("poe_mcp.backends.legacy")

_ROLES = {"system": "system", "user": "user", "assistant": "bot"}
_IGNORED_PARAMS = ("max_tokens", "top_p", "parallel_tool_calls")


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file a message carries, before upload: its bytes, or a URL Poe should fetch."""

    name: str
    media_type: str
    data: bytes | None = None
    url: str | None = None

    @property
    def key(self) -> str:
        """Identity for the upload cache: the same bytes (or URL) are uploaded once."""
        if self.data is not None:
            return "sha256:" + hashlib.sha256(self.data).hexdigest()
        return "url:" + str(self.url)


@dataclass(slots=True)
class Turn:
    """One protocol message to be: role, text and files."""

    role: str
    text: str
    files: list[FileRef] = field(default_factory=list)


@dataclass(slots=True)
class Plan:
    """A request mapped to the protocol, files not yet uploaded.

    Attributes:
        turns: the query's messages.
        tool_calls: OpenAI tool calls of the pending round (for ``QueryRequest.tool_calls``).
        tool_results: ``{tool_call_id, name, content}`` of that round.
        parameters: bot parameters for the last user message.
    """

    turns: list[Turn]
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[dict[str, str]] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def files(self) -> list[FileRef]:
        return [ref for turn in self.turns for ref in turn.files]

    def prompt_chars(self) -> int:
        """Characters of everything sent as text (for the token estimate)."""
        chars = sum(len(turn.text) for turn in self.turns)
        chars += sum(len(r["content"]) for r in self.tool_results)
        chars += sum(len(json.dumps(c)) for c in self.tool_calls)
        return chars


def _text_of(content: Any) -> str:
    return content_text(content, ("text", "input_text"))


def _too_large(name: str, size: int, limit: int) -> TooLargeError:
    return TooLargeError(
        f"attachment {name!r} is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB. "
        "Send a smaller or compressed file.",
        metadata={"size_bytes": size, "limit_bytes": limit},
    )


def _default_name(stem: str, media_type: str) -> str:
    ext = mimetypes.guess_extension(media_type.split(";")[0].strip()) or ""
    return f"{stem}{ext}"


def decode_data_uri(uri: str, name: str | None, stem: str, max_bytes: int) -> FileRef:
    """A :class:`FileRef` holding the bytes of a ``data:`` URI.

    Raises:
        InvalidRequestError: the URI is malformed.
        TooLargeError: the decoded file is larger than ``max_bytes``.
    """
    header, sep, payload = uri.partition(",")
    if not sep:
        raise InvalidRequestError(f"malformed data URI for attachment {name or stem!r}")
    meta = header[5:].split(";")
    media_type = meta[0].strip() or "text/plain"
    label = name or _default_name(stem, media_type)
    if "base64" in (m.strip().lower() for m in meta[1:]):
        # Refuse before decoding: a 1 GB base64 string should not become 750 MB of bytes first.
        approx = len(payload) * 3 // 4
        if approx > max_bytes + 3:
            raise _too_large(label, approx, max_bytes)
        try:
            data = base64.b64decode(payload)
        except (binascii.Error, ValueError):
            raise InvalidRequestError(
                f"attachment {label!r} is not valid base64 in its data URI"
            ) from None
    else:
        data = unquote_to_bytes(payload)
    if len(data) > max_bytes:
        raise _too_large(label, len(data), max_bytes)
    return FileRef(name=label, media_type=media_type, data=data)


def _file_ref(part: Mapping[str, Any], max_bytes: int) -> FileRef | None:
    kind = part.get("type")
    if kind in ("text", "input_text"):
        return None
    if kind == "image_url":
        spec = part.get("image_url")
        url = spec.get("url") if isinstance(spec, Mapping) else spec
        if not isinstance(url, str) or not url:
            raise InvalidRequestError("an image_url part has no url")
        given = spec.get("filename") if isinstance(spec, Mapping) else None  # attachment_part's
        name = str(given) if given else None
        if url.startswith("data:"):
            return decode_data_uri(url, name, "image", max_bytes)
        return FileRef(name=name or _url_name(url, "image"), media_type="image/*", url=url)
    if kind == "file":
        spec = _mapping(part.get("file"))
        filename = spec.get("filename")
        name = str(filename) if filename else None
        if isinstance(spec.get("file_data"), str):
            return decode_data_uri(spec["file_data"], name, "file", max_bytes)
        url = spec.get("url")
        if isinstance(url, str) and url:
            if url.startswith("data:"):
                return decode_data_uri(url, name, "file", max_bytes)
            return FileRef(name=name or _url_name(url, "file"), media_type="", url=url)
        raise InvalidRequestError(
            "a file part needs file_data (a data URI) or a url; file_id is not supported by "
            "the bot protocol"
        )
    if kind == "input_audio":
        spec = _mapping(part.get("input_audio"))
        fmt = str(spec.get("format") or "wav")
        data_b64 = str(spec.get("data") or "")
        return decode_data_uri(
            f"data:audio/{fmt};base64,{data_b64}", f"audio.{fmt}", "audio", max_bytes
        )
    raise InvalidRequestError(
        f"content part type {kind!r} is not supported by the bot protocol; use text, "
        "image_url, file or input_audio"
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _url_name(url: str, stem: str) -> str:
    tail = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return tail or stem


def _turn(role: str, content: Any, max_bytes: int) -> Turn:
    files: list[FileRef] = []
    if isinstance(content, Sequence) and not isinstance(content, str):
        for part in content:
            if isinstance(part, Mapping):
                ref = _file_ref(part, max_bytes)
                if ref is not None:
                    files.append(ref)
    return Turn(role=role, text=_text_of(content), files=files)


def _render_call(call: Mapping[str, Any]) -> str:
    function = call.get("function") or {}
    return f"[called {function.get('name', '?')}({function.get('arguments') or '{}'})]"


def _tool_name(message: Mapping[str, Any], names: Mapping[str, str]) -> str:
    return str(message.get("name") or names.get(str(message.get("tool_call_id")), "tool"))


def _pending_round(messages: Sequence[Mapping[str, Any]]) -> int | None:
    """Index of the assistant message whose tool round is still open, if there is one."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    for j in range(len(messages) - 1, last_user, -1):
        role = messages[j].get("role")
        if role == "tool":
            continue
        if role == "assistant" and messages[j].get("tool_calls") and j < len(messages) - 1:
            return j
        return None
    return None


def plan_request(request: ChatRequest, max_bytes: int = C.MAX_ATTACHMENT_BYTES) -> Plan:
    """Map a request's messages to protocol turns (see the module docstring).

    Raises:
        InvalidRequestError: a malformed message or an unsupported content part.
        TooLargeError: an attachment over ``max_bytes``.
    """
    messages = request.messages
    pending = _pending_round(messages)
    body = messages if pending is None else messages[:pending]
    names: dict[str, str] = {}
    turns: list[Turn] = []
    previous_role = ""
    for message in body:
        role = str(message.get("role"))
        if role == "tool":
            # A finished round: its result becomes part of the bot's turn, as text.
            line = f"[{_tool_name(message, names)} returned: {_text_of(message.get('content'))}]"
            if turns and turns[-1].role == "bot":
                turns[-1].text = f"{turns[-1].text}\n{line}".lstrip("\n")
            else:
                turns.append(Turn(role="bot", text=line))
        elif role in _ROLES:
            turn = _turn(_ROLES[role], message.get("content"), max_bytes)
            calls = message.get("tool_calls") or ()
            for call in calls:
                names[str(call.get("id"))] = str((call.get("function") or {}).get("name", ""))
            if calls:
                rendered = "\n".join(_render_call(c) for c in calls)
                turn.text = f"{turn.text}\n{rendered}".lstrip("\n")
            if role == "assistant" and previous_role == "tool" and turns[-1].role == "bot":
                # Keep the turns alternating: the answer after a tool round continues that turn.
                turns[-1].text = f"{turns[-1].text}\n{turn.text}"
                turns[-1].files.extend(turn.files)
            else:
                turns.append(turn)
        else:
            raise InvalidRequestError(f"role {role!r} cannot be sent over the bot protocol")
        previous_role = role

    plan = Plan(turns=turns, parameters=dict(request.extra or {}))
    if pending is not None:
        opener = messages[pending]
        if _text_of(opener.get("content")).strip():
            plan.turns.append(_turn("bot", opener.get("content"), max_bytes))
        plan.tool_calls = [dict(c) for c in opener.get("tool_calls") or ()]
        for call in plan.tool_calls:
            names[str(call.get("id"))] = str((call.get("function") or {}).get("name", ""))
        plan.tool_results = [
            {
                "tool_call_id": str(m.get("tool_call_id") or ""),
                "name": _tool_name(m, names),
                "content": _text_of(m.get("content")),
            }
            for m in messages[pending + 1 :]
        ]
    if not plan.turns:
        raise InvalidRequestError("no message to send: give at least one user message")
    return plan


def tool_definitions(tools: Sequence[Mapping[str, Any]]) -> list[fp.ToolDefinition]:
    """OpenAI tool specs as ``fastapi_poe`` ``ToolDefinition`` s.

    The protocol's parameter schema keeps ``type``, ``properties`` and ``required`` only.

    Raises:
        InvalidRequestError: a tool that is not a function or has no name.
    """
    import fastapi_poe as fp

    out = []
    for tool in tools:
        function = tool.get("function")
        if tool.get("type", "function") != "function" or not isinstance(function, Mapping):
            raise InvalidRequestError("the bot protocol takes only function tools")
        name = function.get("name")
        if not name:
            raise InvalidRequestError("a tool has no function name")
        params = function.get("parameters") or {}
        out.append(
            fp.ToolDefinition(
                type="function",
                function=fp.types.FunctionDefinition(
                    name=str(name),
                    description=str(function.get("description") or ""),
                    parameters=fp.types.ParametersDefinition(
                        type=str(params.get("type") or "object"),
                        properties=dict(params.get("properties") or {}),
                        required=params.get("required"),
                    ),
                ),
            )
        )
    return out


@functools.cache
def _lean_query_class() -> type[fp.QueryRequest]:
    """``QueryRequest`` with a constant-size ``repr``.

    ``fastapi_poe``'s client puts ``repr(request)`` (``BotMessage.full_prompt``) into every
    message it yields, one per streamed event: with the whole conversation in the request,
    a 1 MB prompt answered in 60,000 events cost minutes of CPU on the event loop (quadratic
    in the prompt's size). Nothing reads ``full_prompt`` here, so the request we hand to
    ``fastapi_poe`` says only how many messages it holds; its fields, validation and wire
    form (``model_dump``) are the parent's.
    """
    import fastapi_poe as fp

    class LeanQueryRequest(fp.QueryRequest):
        def __repr__(self) -> str:
            return f"QueryRequest(<{len(self.query)} messages>)"

        __str__ = __repr__

    return LeanQueryRequest


def build_query(
    plan: Plan, request: ChatRequest, attachments: Mapping[str, fp.Attachment]
) -> fp.QueryRequest:
    """The ``QueryRequest`` for ``plan``, with uploaded files (by :attr:`FileRef.key`).

    Raises:
        InvalidRequestError: a value the protocol's models refuse.
    """
    import fastapi_poe as fp
    import pydantic
    from fastapi_poe.client import PROTOCOL_VERSION

    params = request.params
    ignored = [name for name in _IGNORED_PARAMS if name in params]
    if ignored:
        logger.debug("the bot protocol has no %s; not sent", ", ".join(ignored))
    target = next(
        (i for i in range(len(plan.turns) - 1, -1, -1) if plan.turns[i].role == "user"),
        len(plan.turns) - 1,
    )
    try:
        query = [
            fp.ProtocolMessage(
                role=turn.role,  # type: ignore[arg-type]
                content=turn.text,
                attachments=[attachments[ref.key] for ref in turn.files],
                parameters=plan.parameters if i == target else {},
            )
            for i, turn in enumerate(plan.turns)
        ]
        extra: dict[str, Any] = {}
        if params.get("temperature") is not None:
            extra["temperature"] = float(params["temperature"])
        if params.get("stop"):
            extra["stop_sequences"] = list(params["stop"])
        if plan.tool_calls:
            extra["tool_calls"] = [
                fp.ToolCallDefinition(
                    id=str(c.get("id") or f"call_{i}"),
                    type=str(c.get("type") or "function"),
                    function=fp.types.FunctionCallDefinition(
                        name=str((c.get("function") or {}).get("name") or ""),
                        arguments=str((c.get("function") or {}).get("arguments") or "{}"),
                    ),
                )
                for i, c in enumerate(plan.tool_calls)
            ]
            extra["tool_results"] = [
                fp.ToolResultDefinition(role="tool", **result) for result in plan.tool_results
            ]
        return _lean_query_class()(
            query=query,
            user_id="",
            conversation_id="",
            message_id="",
            version=PROTOCOL_VERSION,
            type="query",
            **extra,
        )
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidRequestError(
            f"the request cannot be sent over the bot protocol: {where}: {first.get('msg')}"
        ) from None
