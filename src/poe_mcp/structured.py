"""Structured output: response formats, validation against a JSON Schema, one repair round.

``client.chat(..., response_format=...)`` takes ``{"type": "json_object"}``,
``{"type": "json_schema", "json_schema": {"name", "schema", "strict", "description"}}`` (or the
Responses API's flat form with those keys beside ``type``), a pydantic model class, or a
:class:`ResponseFormat`. How the request is sent depends on where it goes (:func:`choose_way`):

=============================================== =============================================
where                                           how
=============================================== =============================================
OpenAI and OpenAI-compatible providers          ``response_format`` on chat completions
Poe, REST backend, a model whose catalog entry  the Responses API: ``POST /v1/responses`` with
lists ``/v1/responses`` in supported_endpoints  ``text.format``
Poe otherwise (its chat completions ignore      a system instruction carrying the schema
``response_format``; the bot protocol has
none), or with tools, tool results or ``stop``
=============================================== =============================================

Whichever way, the answer is parsed and validated here, with ``jsonschema`` (the maintained
reference validator: every draft, ``$ref``, formats) and the pydantic model when one was given.
An invalid answer gets :data:`~poe_mcp._constants.STRUCTURED_REPAIR_ROUNDS` repair round: the
answer and the validation errors go back to the model, which answers again. When that answer
fails too, :class:`~poe_mcp.errors.InvalidResponseError` keeps the raw text. An answer cut by
``max_tokens`` is not repaired (the repair would be cut too): the error says to raise the limit.

``ChatResult.parsed`` holds the value; ``usage``, ``cost`` and ``latency_s`` cover every request
of the call (each request is also its own row in the usage ledger).
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from . import _constants as C
from ._suggest import did_you_mean
from .backends._responses import RESPONSES_ENDPOINT
from .errors import InvalidRequestError, InvalidResponseError, PoeError

if TYPE_CHECKING:
    from .backends import ChatRequest
    from .client import AsyncPoeClient
    from .types import ChatResult

__all__ = ["ResponseFormat", "Way", "chat_structured", "choose_way", "prepare", "repair_prompt"]

Way = Literal["native", "responses", "instructed"]

_NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,{C.STRUCTURED_NAME_MAX}}}$")
_FENCED = re.compile(r"^```[A-Za-z]*[ \t]*\r?\n(.*?)\r?\n?```$", re.DOTALL)
_JSON_SCHEMA_KEYS = ("name", "schema", "strict", "description")
# Chat parameters the Responses API path translates; anything else goes the instructed way.
_RESPONSES_PARAMS = frozenset({"max_tokens", "temperature", "top_p"})


def _refuse(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, metadata={"param": "response_format"})


def _check_keys(value: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in value:
        if key not in allowed:
            raise _refuse(
                f"{where} has an unknown key {key!r} (accepted: {', '.join(allowed)})."
                f"{did_you_mean(str(key), allowed)}"
            )


def _is_model_class(value: Any) -> bool:
    return isinstance(value, type) and callable(getattr(value, "model_json_schema", None))


def _check_schema(schema: Mapping[str, Any]) -> None:
    from jsonschema import exceptions, validators

    try:
        validators.validator_for(schema).check_schema(dict(schema))
    except exceptions.SchemaError as exc:
        where = exc.json_path if exc.path else "$"
        raise _refuse(
            f"response_format schema is not a valid JSON Schema: {exc.message} (at {where})"
        ) from None
    from ._tool_schemas import check_schema_refs

    try:  # a $ref to nowhere (or to a URL) would fail only when the paid answer is validated
        check_schema_refs(schema, "response_format schema")
    except InvalidRequestError as exc:
        raise _refuse(exc.message) from None


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """A requested answer format: any JSON object, or JSON matching a schema.

    Build one with :meth:`of` (from the OpenAI shapes or a pydantic model class); the client
    does that for you.

    Attributes:
        type: ``json_object`` or ``json_schema``.
        schema: the JSON Schema (``json_schema`` only).
        name: the schema's name (letters, digits, ``_`` and ``-``; at most 64).
        description: what the answer is, shown to the model.
        strict: OpenAI's strict mode flag, passed on where it is sent natively.
        model: the pydantic model class the answer is validated into, when one was given.
    """

    type: Literal["json_object", "json_schema"]
    schema: Mapping[str, Any] | None = None
    name: str = "response"
    description: str | None = None
    strict: bool | None = None
    model: builtins.type[Any] | None = None  # `type` is the field above

    @classmethod
    def of(cls, value: Any) -> ResponseFormat | None:
        """The format ``value`` asks for; None for ``{"type": "text"}`` (plain text).

        Raises:
            InvalidRequestError: an unknown type or key, a missing or invalid schema, a bad name.
        """
        if isinstance(value, ResponseFormat):
            return value
        if _is_model_class(value):
            schema = value.model_json_schema()
            _check_schema(schema)
            name = re.sub(r"[^A-Za-z0-9_-]", "_", value.__name__)[: C.STRUCTURED_NAME_MAX]
            return cls("json_schema", schema=schema, name=name or "response", model=value)
        if not isinstance(value, Mapping):
            raise _refuse(
                'response_format must be {"type": "json_object"}, {"type": "json_schema", '
                '"json_schema": {"name": ..., "schema": {...}}} or a pydantic model class, not '
                f"{type(value).__name__}"
            )
        kind = value.get("type")
        if kind in ("text", "json_object"):
            _check_keys(value, ("type",), f"response_format of type {kind}")
            return None if kind == "text" else cls("json_object")
        if kind != "json_schema":
            raise _refuse(
                f"response_format type {kind!r} is not supported: use json_object or json_schema"
            )
        if "json_schema" in value:
            _check_keys(value, ("type", "json_schema"), "response_format")
            inner = value["json_schema"]
            if not isinstance(inner, Mapping):
                raise _refuse("response_format.json_schema must be an object")
        else:  # the Responses API's flat form: {"type": "json_schema", "name": ..., "schema": ...}
            _check_keys(value, ("type", "json_schema", *_JSON_SCHEMA_KEYS), "response_format")
            inner = {k: v for k, v in value.items() if k != "type"}
        _check_keys(inner, _JSON_SCHEMA_KEYS, "response_format.json_schema")
        return cls._from_json_schema(inner)

    @classmethod
    def _from_json_schema(cls, inner: Mapping[str, Any]) -> ResponseFormat:
        schema = inner.get("schema")
        if not isinstance(schema, Mapping):
            raise _refuse("response_format.json_schema.schema is required: a JSON Schema object")
        name = inner.get("name", "response")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _refuse(
                "response_format.json_schema.name must be 1 to "
                f"{C.STRUCTURED_NAME_MAX} letters, digits, '_' or '-', got {name!r}"
            )
        strict = inner.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _refuse("response_format.json_schema.strict must be true or false")
        description = inner.get("description")
        if description is not None and not isinstance(description, str):
            raise _refuse("response_format.json_schema.description must be a string")
        _check_schema(schema)
        return cls("json_schema", schema=dict(schema), name=name, description=description,
                   strict=strict)  # fmt: skip

    # --- wire forms -----------------------------------------------------------------------

    def to_openai(self) -> dict[str, Any]:
        """Chat completions' ``response_format``."""
        if self.type == "json_object":
            return {"type": "json_object"}
        inner: dict[str, Any] = {"name": self.name, "schema": dict(self.schema or {})}
        if self.description:
            inner["description"] = self.description
        if self.strict is not None:
            inner["strict"] = self.strict
        return {"type": "json_schema", "json_schema": inner}

    def to_text_format(self) -> dict[str, Any]:
        """The Responses API's ``text.format`` (the same fields, flat)."""
        wire = self.to_openai()
        return {"type": wire["type"], **wire.get("json_schema", {})}

    def instruction(self) -> str:
        """The system instruction used where the format cannot be sent as a parameter."""
        if self.type == "json_object":
            return (
                "Answer with JSON only: one JSON object, no prose before or after it, "
                "no code fences."
            )
        about = f" ({self.description})" if self.description else ""
        schema = json.dumps(self.schema, ensure_ascii=False, indent=1)
        return (
            "Answer with JSON only: one JSON value that matches the schema below, no prose "
            f"before or after it, no code fences.\nJSON Schema `{self.name}`{about}:\n"
            f"```json\n{schema}\n```"
        )

    # --- validation -----------------------------------------------------------------------

    def parse(self, text: str) -> Any:
        """The answer as a validated value (a pydantic instance when :attr:`model` is set).

        A code fence around the whole answer is tolerated.

        Raises:
            InvalidResponseError: not JSON, not an object (``json_object``), or not valid
                against the schema; ``metadata["errors"]`` lists the problems.
        """
        body = text.strip()
        fenced = _FENCED.match(body)
        if fenced:
            body = fenced.group(1).strip()
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise _invalid(f"the answer is not valid JSON: {exc}", text, [str(exc)]) from None
        if self.type == "json_object":
            if not isinstance(value, dict):
                problem = f"expected a JSON object, got {type(value).__name__}"
                raise _invalid(f"the answer is not a JSON object: {problem}", text, [problem])
            return value
        errors = _schema_errors(value, self.schema or {})
        if errors:
            raise _invalid(
                f"the answer does not match the schema {self.name}: {'; '.join(errors)}",
                text,
                errors,
            )
        if self.model is not None:
            return _validate_model(self.model, value, text)
        return value


def _invalid(message: str, raw: str, errors: list[str]) -> InvalidResponseError:
    return InvalidResponseError(message, raw_text=raw, metadata={"errors": errors})


def _short(message: str) -> str:
    limit = C.STRUCTURED_ERROR_CHARS
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _schema_errors(value: Any, schema: Mapping[str, Any]) -> list[str]:
    from jsonschema import validators

    cls = validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    found = sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{e.json_path}: {_short(e.message)}" for e in found[: C.STRUCTURED_ERRORS_SHOWN]]


def _validate_model(model: type[Any], value: Any, raw: str) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors = [
            f"$.{'.'.join(str(p) for p in err['loc'])}: {_short(err['msg'])}"
            for err in exc.errors()[: C.STRUCTURED_ERRORS_SHOWN]
        ]
        raise _invalid(
            f"the answer does not fit {model.__name__}: {'; '.join(errors)}", raw, errors
        ) from None


# --- sending ---------------------------------------------------------------------------------


def _has_tool_traffic(request: ChatRequest) -> bool:
    return any(m.get("role") == "tool" or m.get("tool_calls") for m in request.messages)


async def choose_way(client: AsyncPoeClient, request: ChatRequest, backend: str) -> Way:
    """How ``request`` can carry a response format (see the module docstring)."""
    if backend != "openai":
        return "instructed"  # Poe's bot protocol has no response_format
    if client.provider != "poe":
        return "native"
    if set(request.params) - _RESPONSES_PARAMS or _has_tool_traffic(request):
        return "instructed"  # the Responses path translates neither tools nor stop sequences
    catalog = client.catalog
    if catalog is None:
        return "instructed"
    try:
        info = await catalog.find(request.model)
    except PoeError:
        return "instructed"  # no catalog: instructing works with every model
    endpoints = info.raw.get("supported_endpoints") if info is not None else None
    if isinstance(endpoints, list) and RESPONSES_ENDPOINT in endpoints:
        return "responses"
    return "instructed"


def _instructed(messages: list[dict[str, Any]], instruction: str) -> list[dict[str, Any]]:
    """``messages`` with the instruction added to the first system prompt (or as one)."""
    out = [dict(m) for m in messages]
    for message in out:
        if message.get("role") in ("system", "developer") and isinstance(
            message.get("content"), str
        ):
            message["content"] = f"{message['content']}\n\n{instruction}"
            return out
    return [{"role": "system", "content": instruction}, *out]


def _mentions_json(messages: list[dict[str, Any]]) -> bool:
    return any("json" in str(m.get("content") or "").lower() for m in messages)


def prepare(request: ChatRequest, fmt: ResponseFormat, way: Way) -> ChatRequest:
    """``request`` carrying ``fmt`` the chosen way."""
    if way == "responses":
        return replace(request, text_format=fmt.to_text_format())
    if way == "native":
        messages = request.messages
        # OpenAI refuses json_object mode unless the messages ask for JSON themselves.
        if fmt.type == "json_object" and not _mentions_json(messages):
            messages = _instructed(messages, fmt.instruction())
        params = {**request.params, "response_format": fmt.to_openai()}
        return replace(request, messages=messages, params=params)
    return replace(request, messages=_instructed(request.messages, fmt.instruction()))


def repair_prompt(error: InvalidResponseError) -> str:
    """What the repair round tells the model about its invalid answer."""
    problems = "\n".join(f"- {e}" for e in error.metadata.get("errors") or [error.message])
    return (
        f"Your answer was not valid:\n{problems}\n"
        "Answer again with only the corrected JSON, nothing else."
    )


def _add_up(earlier: ChatResult, result: ChatResult) -> None:
    """Usage and cost of the whole call on its last result."""
    result.usage = earlier.usage + result.usage
    if earlier.cost is None or result.cost is None:
        result.cost = None
    else:
        result.cost = earlier.cost + result.cost


async def chat_structured(
    client: AsyncPoeClient,
    request: ChatRequest,
    response_format: Any,
    backend: str | None,
    session_id: str | None,
    started: float,
) -> ChatResult:
    """``client.chat`` with a response format: send, parse, validate, repair once.

    Raises:
        InvalidRequestError: a bad ``response_format``.
        InvalidResponseError: the answer is still invalid after the repair round (or was cut
            by ``max_tokens``); ``raw_text`` keeps it.
        PoeError: any error of the requests themselves.
    """
    fmt = ResponseFormat.of(response_format)
    stream_options = request.params.get("stream_options")
    if stream_options is not None:  # stream(..., response_format=...): fetched whole
        if not stream_options.get("include_usage", True):
            raise InvalidRequestError(
                "stream_options include_usage=false cannot be honoured with response_format: "
                "a structured answer is fetched whole, with the provider's token counts",
                metadata={"param": "stream_options"},
            )
        request = replace(request, params={k: v for k, v in request.params.items()
                                           if k != "stream_options"})  # fmt: skip
    if fmt is None:
        return await client._send(request, backend, session_id, started)
    way = await choose_way(client, request, backend or client.backend)
    prepared = prepare(request, fmt, way)
    result = await client._send(prepared, backend, session_id, started)
    rounds = 0
    while True:
        if result.tool_calls:
            return result  # the model wants a tool first: nothing to parse yet
        try:
            result.parsed = fmt.parse(result.text)
            return result
        except InvalidResponseError as exc:
            exc.request_id = result.request_id
            exc.metadata.update(way=way, model=result.model, requests=rounds + 1)
            if result.finish_reason == "length":
                exc.message = (
                    f"{exc.message}. The answer was cut by max_tokens (finish_reason length): "
                    "raise max_tokens"
                )
                exc.args = (exc.message,)
                raise
            if rounds >= C.STRUCTURED_REPAIR_ROUNDS:
                exc.message = f"{exc.message} (still invalid after {rounds} repair round(s))"
                exc.args = (exc.message,)
                raise
            rounds += 1
            turn = [
                {"role": "assistant", "content": result.text},
                {"role": "user", "content": repair_prompt(exc)},
            ]
            prepared = replace(prepared, messages=[*prepared.messages, *turn])
            earlier = result
            result = await client._send(prepared, backend, session_id, started)
            _add_up(earlier, result)
