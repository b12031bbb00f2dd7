"""Deterministic replies shared by the REST API and the bot protocol.

Interface (used by ``_rest_chat.py``, ``_rest_responses.py`` and ``_bot_handler.py``)::

    reply = respond(
        model,        # ModelSpec from SimState.find_model
        messages,     # OpenAI-format dicts: role system|developer|user|assistant|tool,
                      # content str | None | list of parts (text, image_url, file)
        max_tokens=None, stop=None,
        tools=None, tool_choice=None, parallel_tool_calls=None,
        params=None,                # bot parameters as sent; validated (undeclared -> 400)
        store_media=state.add_media,   # (bytes, mime, ext) -> absolute URL; needed by media bots
        resolve_url=state.resolve_url, # url -> (bytes, mime) | None, for attachments given by URL
    )
    reply.text, reply.finish_reason ("stop" | "length" | "tool_calls"), reply.tool_calls
    (SimToolCall id/name/arguments JSON text), reply.usage (prompt_tokens, completion_tokens),
    reply.media (MediaRef url/mime/name/size for media bots).

Raises :class:`~poe_mcp.errors.InvalidRequestError` for tools sent to a model without tool support,
a ``tool_choice`` naming an unknown tool, and bad bot parameters.

What a text reply says, one line each (tests rely on it)::

    You said: "<last user message text>"
    <Model> received <n> messages (system prompt: yes|no).
    Attachments: image/png 1234 bytes 64x48 px; application/pdf 300 bytes (a.pdf)   [if any]
    Parameters: thinking_budget=1024                                               [if any sent]
    Tool results: get_weather -> "sunny"; ...                                      [after tools]

Tool calls: with ``tools`` and ``tool_choice`` not ``"none"``, when the last message is the
user's, the model calls the tool forced by ``tool_choice``, else every tool whose name appears in
the user text (case-insensitive, in order of appearance; only the first when
``parallel_tool_calls`` is false), else the first tool when ``tool_choice`` is ``"required"``.
Arguments come from ``key=value`` pairs in the user text (``key="two words"`` for spaces),
coerced to the schema's types; missing required properties get sample values of their type.

Correcting bad arguments: when the last messages are tool results and one of them starts with
``Invalid arguments for NAME`` (optionally after ``Error: ``, as :meth:`poe_mcp.Tool.validate`
words it and the agent sends it), the model calls NAME again instead of answering: one call per
such result (only the first when ``parallel_tool_calls`` is false; none with ``tool_choice``
``"none"`` or when NAME is not in ``tools``). The new arguments are the failed call's, keeping
each declared property whose value fits its schema (type, ``enum``, ``const``, numeric bounds,
string length) and replacing the others with values that fit: ``default``, else the first
``enum``/``const`` value, else a sample of the type within its bounds. ``pattern`` and
``format`` are not understood, so a property with one can stay wrong on every retry (this is
how a client's retry bound is exercised).

Token counts: ``ceil(chars / 4)`` per text, plus 4 per message and 85 per attachment; the JSON of
``tools`` counts as prompt text. ``max_tokens`` truncates the text to ``max_tokens * 4`` characters.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import _constants as C
from ..errors import InvalidRequestError
from ._catalog import ModelSpec, validate_params
from ._replies_media import generate
from ._replies_multi import bot_params, panel_lines, with_reasoning
from ._replies_orchestra import is_worker, orchestra_reply, worker_report
from ._replies_structured import json_answer, requested_format

__all__ = [
    "AttachmentInfo",
    "MediaRef",
    "Reply",
    "SimToolCall",
    "SimUsage",
    "count_tokens",
    "describe_attachment",
    "image_pixels",
    "respond",
]

StoreMedia = Callable[[bytes, str, str], str]
ResolveUrl = Callable[[str], "tuple[bytes, str] | None"]

_KV = re.compile(r"""(\w+)=("([^"]*)"|'([^']*)'|[^\s,;]+)""")
_ARG_ERROR = re.compile(r"^\s*(?:Error:\s*)?Invalid arguments for ([A-Za-z0-9_-]+)")


@dataclass(frozen=True, slots=True)
class SimUsage:
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int = 0  # part of completion_tokens (see _replies_multi)
    cached_tokens: int = 0  # part of prompt_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class SimToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass(frozen=True, slots=True)
class MediaRef:
    url: str
    mime: str
    name: str
    size: int


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    finish_reason: str
    usage: SimUsage
    tool_calls: tuple[SimToolCall, ...] = ()
    media: tuple[MediaRef, ...] = ()
    reasoning: str = ""  # sent as reasoning_content (see _replies_multi)


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    kind: str  # "image" or "file"
    media_type: str
    size: int | None  # None when the bytes are not reachable (a foreign URL)
    pixels: tuple[int, int] | None = None
    name: str | None = None
    url: str | None = None

    def describe(self) -> str:
        out = self.media_type
        out += f" {self.size} bytes" if self.size is not None else f" at {self.url}"
        if self.pixels:
            out += f" {self.pixels[0]}x{self.pixels[1]} px"
        if self.name:
            out += f" ({self.name})"
        return out


def count_tokens(text: str) -> int:
    """Deterministic token estimate: one token per 4 characters, rounded up."""
    return math.ceil(len(text) / C.CHARS_PER_TOKEN)


def image_pixels(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, else None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + seg_len
    return None


def _decode_data_uri(uri: str) -> tuple[bytes, str]:
    head, _, payload = uri.partition(",")
    mime = head[5:].split(";")[0] or "application/octet-stream"
    if ";base64" in head:
        try:
            return base64.b64decode(payload), mime
        except ValueError as exc:
            raise InvalidRequestError(f"attachment is not valid base64: {exc}") from exc
    return payload.encode(), mime


def describe_attachment(
    part: Mapping[str, Any], resolve_url: ResolveUrl | None = None
) -> AttachmentInfo | None:
    """What an ``image_url`` or ``file`` content part holds, or None for other parts."""
    kind = part.get("type")
    name: str | None = None
    if kind == "image_url":
        raw = part.get("image_url")
        url = raw.get("url") if isinstance(raw, Mapping) else raw
        name = raw.get("filename") if isinstance(raw, Mapping) else None  # bot protocol uploads
    elif kind == "file":
        raw = part.get("file") or {}
        name = raw.get("filename")
        url = raw.get("file_data") or raw.get("file_url") or raw.get("url") or raw.get("file_id")
    else:
        return None
    url = str(url or "")
    if url.startswith("data:"):
        data, mime = _decode_data_uri(url)
    else:
        found = resolve_url(url) if resolve_url and url else None
        if found is None:
            mime = "image/*" if kind == "image_url" else "application/octet-stream"
            return AttachmentInfo(str(kind).split("_")[0], mime, None, name=name, url=url)
        data, mime = found
    pixels = image_pixels(data) if mime.startswith("image/") else None
    return AttachmentInfo(str(kind).split("_")[0], mime, len(data), pixels, name)


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = [
        p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
    ]
    return "\n".join(str(p) for p in parts)


def _sample(schema: Mapping[str, Any]) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "string")
    if typ == "integer":
        return int(schema.get("minimum", 1))
    return {"number": 1.5, "boolean": True, "array": [], "object": {}, "null": None}.get(
        str(typ), "sample"
    )


def _coerce(value: str, schema: Mapping[str, Any]) -> Any:
    typ = schema.get("type")
    try:
        if typ == "integer":
            return int(value)
        if typ == "number":
            return float(value)
    except ValueError:
        return value
    if typ == "boolean":
        return value.lower() in ("true", "1", "yes")
    return value


def _arguments(user_text: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    props: Mapping[str, Any] = schema.get("properties") or {}
    args: dict[str, Any] = {}
    for m in _KV.finditer(user_text):
        key = m.group(1)
        quoted = m.group(3) if m.group(3) is not None else m.group(4)
        value = quoted if quoted is not None else m.group(2).rstrip(".,;:!?)")
        if "properties" in schema and key not in props:
            continue  # a declared schema takes only its own properties
        args[key] = _coerce(value, props.get(key) or {}) if quoted is None else value
    required = schema.get("required")
    wanted = required if isinstance(required, list) else list(props)
    for name in wanted:
        if name not in args:
            args[name] = _sample(props.get(name) or {})
    return args


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _options(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The alternatives of an ``anyOf``/``oneOf`` schema (pydantic's ``X | None``), else []."""
    found = schema.get("anyOf") or schema.get("oneOf") or []
    return [o for o in found if isinstance(o, Mapping)]


def _fits(value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``value`` satisfies the parts of ``schema`` the simulated model understands."""
    options = _options(schema)
    if options:
        return any(_fits(value, o) for o in options)
    if "const" in schema and value != schema["const"]:
        return False
    if schema.get("enum") and value not in schema["enum"]:
        return False
    typ = schema.get("type")
    types = typ if isinstance(typ, list) else [typ] if typ else []
    if types and not any(
        isinstance(value, _JSON_TYPES.get(str(t), (object,)))
        and not (isinstance(value, bool) and t in ("integer", "number"))
        for t in types
    ):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if (low is not None and value < low) or (high is not None and value > high):
            return False
        if (above is not None and value <= above) or (below is not None and value >= below):
            return False
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return False
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return False
    return True


def _fitting_sample(schema: Mapping[str, Any]) -> Any:
    """A value that fits ``schema`` as far as :func:`_fits` can tell."""
    if "default" in schema and _fits(schema["default"], schema):
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    options = [o for o in _options(schema) if o.get("type") != "null"]
    if options:
        return _fitting_sample(options[0])
    if schema.get("enum"):
        return schema["enum"][0]
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "string")
    if typ in ("integer", "number"):
        value: float = 1 if typ == "integer" else 1.5
        step = 1 if typ == "integer" else 0.5
        if "minimum" in schema:
            value = max(value, schema["minimum"])
        if "exclusiveMinimum" in schema:
            value = max(value, schema["exclusiveMinimum"] + step)
        if "maximum" in schema:
            value = min(value, schema["maximum"])
        if "exclusiveMaximum" in schema:
            value = min(value, schema["exclusiveMaximum"] - step)
        return int(value) if typ == "integer" else float(value)
    if typ == "string" or typ is None:
        text = "sample".ljust(int(schema.get("minLength", 0)), "x")
        return text[: schema["maxLength"]] if "maxLength" in schema else text
    return _sample(schema)


def _corrected(previous: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The failed call's arguments with every value that does not fit its schema replaced."""
    try:
        data = json.loads(previous) if previous else {}
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    props: Mapping[str, Any] = schema.get("properties") or {}
    args: dict[str, Any] = {}
    for key, value in data.items():
        if "properties" in schema and key not in props:
            continue
        if _fits(value, props.get(key) or {}):
            args[key] = value
    required = schema.get("required")
    for name in required if isinstance(required, list) else list(props):
        if name not in args:
            args[name] = _fitting_sample(props.get(name) or {})
    return args


def _retries(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]], parallel: bool
) -> list[tuple[str, str]]:
    """(name, arguments JSON) for each trailing tool result that reports invalid arguments."""
    previous: dict[str, tuple[str, str]] = {}
    for msg in messages:
        for call in msg.get("tool_calls") or ():
            fn = call.get("function") or {}
            previous[str(call.get("id"))] = (
                str(fn.get("name") or ""),
                str(fn.get("arguments") or ""),
            )
    trailing: list[Mapping[str, Any]] = []
    for msg in reversed(messages):
        if msg.get("role") != "tool":
            break
        trailing.append(msg)
    by_name = {_tool_name(t): t for t in tools}
    retries: list[tuple[str, str]] = []
    for msg in reversed(trailing):
        match = _ARG_ERROR.match(_text_of(msg.get("content")))
        if match is None or match.group(1) not in by_name:
            continue
        name = match.group(1)
        called, raw = previous.get(str(msg.get("tool_call_id")), ("", ""))
        schema = (by_name[name].get("function") or {}).get("parameters") or {}
        args = _corrected(raw if called == name else "", schema)
        retries.append((name, json.dumps(args)))
    return retries[:1] if not parallel else retries


def _tool_name(tool: Mapping[str, Any]) -> str:
    fn = tool.get("function") or {}
    return str(fn.get("name") or tool.get("name") or "")


def _pick_tools(
    tools: Sequence[Mapping[str, Any]],
    tool_choice: Any,
    user_text: str,
    parallel: bool,
) -> list[Mapping[str, Any]]:
    by_name = {_tool_name(t): t for t in tools}
    if isinstance(tool_choice, Mapping):
        forced = str(
            (tool_choice.get("function") or {}).get("name") or tool_choice.get("name") or ""
        )
        if forced not in by_name:
            raise InvalidRequestError(f"tool_choice names {forced!r}, which is not in tools")
        return [by_name[forced]]
    lowered = user_text.lower()
    hits = sorted(
        (
            (lowered.find(name.lower()), name)
            for name in by_name
            if name and name.lower() in lowered
        ),
    )
    chosen = [by_name[name] for _, name in hits]
    if not chosen and tool_choice == "required" and tools:
        chosen = [tools[0]]
    return chosen[:1] if not parallel else chosen


def _call_id(n_messages: int, index: int, name: str, args: str) -> str:
    digest = hashlib.sha256(f"{n_messages}:{index}:{name}:{args}".encode()).hexdigest()
    return f"call_{digest[:24]}"


def _tool_results(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    names: dict[str, str] = {}
    for msg in messages:
        for call in msg.get("tool_calls") or ():
            names[str(call.get("id"))] = _tool_name(call)
    results: list[str] = []
    for msg in reversed(messages):
        if msg.get("role") != "tool":
            break
        name = names.get(str(msg.get("tool_call_id")), str(msg.get("name") or "tool"))
        results.append(f'{name} -> "{_text_of(msg.get("content"))}"')
    return list(reversed(results))


def _prompt_tokens(messages: Sequence[Mapping[str, Any]], tools: Any) -> int:
    total = 0
    for msg in messages:
        total += C.SIM_MESSAGE_OVERHEAD_TOKENS + count_tokens(_text_of(msg.get("content")))
        content = msg.get("content")
        if isinstance(content, list):
            total += C.SIM_ATTACHMENT_TOKENS * sum(
                1 for p in content if isinstance(p, Mapping) and p.get("type") != "text"
            )
        for call in msg.get("tool_calls") or ():
            total += count_tokens(json.dumps(call.get("function") or {}))
    if tools:
        total += count_tokens(json.dumps(tools, separators=(",", ":")))
    return total


def _apply_limits(text: str, max_tokens: int | None, stop: Sequence[str]) -> tuple[str, str]:
    finish = "stop"
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    if cuts:
        text = text[: min(cuts)]
    if max_tokens is not None and count_tokens(text) > max_tokens:
        text = text[: max_tokens * C.CHARS_PER_TOKEN]
        finish = "length"
    return text, finish


def respond(
    model: ModelSpec,
    messages: Sequence[Mapping[str, Any]],
    *,
    max_tokens: int | None = None,
    stop: str | Sequence[str] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: Any = None,
    parallel_tool_calls: bool | None = None,
    params: Mapping[str, Any] | None = None,
    store_media: StoreMedia | None = None,
    resolve_url: ResolveUrl | None = None,
    response_format: Any = None,
) -> Reply:
    """The simulated model's answer to ``messages``; see the module docstring for the rules.

    ``response_format`` is the format the endpoint honours (chat completions' in OpenAI mode,
    ``text.format`` on ``/v1/responses``); an instruction in a system message asks too. Either
    way the answer is JSON (``_replies_structured.py``).

    Raises:
        InvalidRequestError: tools for a model without tool support, an unknown forced tool,
            an undeclared or out-of-schema bot parameter, or undecodable attachment data.
    """
    resolved = validate_params(model, bot_params(model, params))
    if tools and not model.tools:
        raise InvalidRequestError(
            f"{model.id} does not support tools (function calling). Use a model whose "
            f"supported_features include 'tools', e.g. Claude-Sonnet-4 or GPT-4.1."
        )
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    prompt_tokens = _prompt_tokens(messages, tools)
    users = [m for m in messages if m.get("role") == "user"]
    last_user = _text_of(users[-1].get("content")) if users else ""

    if model.is_media:
        if store_media is None:
            raise ValueError("media bots need store_media")
        made = generate(model, last_user, resolved)
        url = store_media(made.data, made.mime, made.ext)
        name = url.rsplit("/", 1)[-1]
        bang = "!" if model.kind == "image" else ""
        text = f"{bang}[{made.description}]({url})"
        ref = MediaRef(url, made.mime, name, len(made.data))
        return Reply(text, "stop", SimUsage(prompt_tokens, count_tokens(text)), media=(ref,))

    last_role = messages[-1].get("role") if messages else None
    parallel = parallel_tool_calls is not False
    wanted: list[tuple[str, str]] = []
    if tools and tool_choice != "none" and last_role == "user":
        for tool in _pick_tools(tools, tool_choice, last_user, parallel):
            schema = (tool.get("function") or {}).get("parameters") or {}
            wanted.append((_tool_name(tool), json.dumps(_arguments(last_user, schema))))
    elif tools and tool_choice != "none" and last_role == "tool":
        wanted = _retries(messages, tools, parallel)
    if wanted:
        calls = tuple(
            SimToolCall(_call_id(len(messages), i, name, args), name, args)
            for i, (name, args) in enumerate(wanted)
        )
        completion = sum(count_tokens(c.name + c.arguments) for c in calls)
        return Reply("", "tool_calls", SimUsage(prompt_tokens, completion), calls)

    if is_worker(messages):  # an orchestration worker's final report
        text = worker_report(messages, _tool_results(messages))
        return Reply(text, "stop", SimUsage(prompt_tokens, count_tokens(text)))

    asked = requested_format(messages, response_format)
    if asked is not None:  # JSON asked for; orchestration tiers answer with their own plans
        text = orchestra_reply(messages, asked) or json_answer(model, messages, asked)
        text, finish = _apply_limits(text, max_tokens, stops)
        return Reply(text, finish, SimUsage(prompt_tokens, count_tokens(text)))

    system = any(m.get("role") in ("system", "developer") for m in messages)
    lines = [
        f'You said: "{last_user}"',
        f"{model.id} received {len(messages)} messages "
        f"(system prompt: {'yes' if system else 'no'}).",
    ]
    infos = [
        info
        for m in messages
        if isinstance(m.get("content"), list)
        for p in m["content"]
        if isinstance(p, Mapping) and (info := describe_attachment(p, resolve_url)) is not None
    ]
    if infos:
        lines.append("Attachments: " + "; ".join(i.describe() for i in infos))
    if params:
        lines.append("Parameters: " + ", ".join(f"{k}={params[k]}" for k in sorted(params)))
    results = _tool_results(messages)
    if results:
        lines.append("Tool results: " + "; ".join(results))
    lines += panel_lines(model, messages, last_user)  # stances and syntheses (see _replies_multi)
    text, finish = _apply_limits("\n".join(lines), max_tokens, stops)
    reply = Reply(text, finish, SimUsage(prompt_tokens, count_tokens(text)))
    return with_reasoning(model, params, messages, reply, _prompt_tokens)
