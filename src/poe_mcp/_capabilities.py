"""Checks before spending: a request the catalog says the model cannot serve is refused unsent.

Only a stated "no" refuses. Capabilities are three-valued (``yes`` / ``no`` / ``unknown``, see
:meth:`~poe_mcp.catalog.ModelInfo.capability`): a model whose list entry says nothing (OpenAI's
bare ``/v1/models``, Ollama, vLLM...) is sent the request, and the provider has the last word.

- an image in the messages for a model that states it takes no images;
- ``generate_image`` / ``generate_video`` / ``generate_audio`` with a model whose stated output
  is another kind (a text model, or a video bot asked for an image);
- bot parameters (``extra``) the model's list entry does not declare, or whose value its schema
  refuses, on every backend (the bot protocol may drop an unknown parameter silently), naming
  the models that do take them.

:func:`check_request` runs every check a chat request gets before it is sent, the ones that
need no catalog too (:func:`~poe_mcp._honour.check_extra`,
:func:`~poe_mcp._honour.check_tool_choice`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from . import _constants as C
from ._suggest import suggest
from .errors import InvalidRequestError, NotFoundError, PoeError

if TYPE_CHECKING:
    from .backends import ChatRequest
    from .catalog import Catalog, ModelInfo
    from .client import AsyncPoeClient

__all__ = [
    "check_input",
    "check_known_model",
    "check_output",
    "check_params",
    "check_request",
    "image_parts",
    "output_capability",
]

log = logging.getLogger(__name__)

Answer = Literal["yes", "no", "unknown"]


def image_parts(messages: Sequence[Mapping[str, Any]]) -> int:
    """How many image parts the messages carry (``image_url`` content parts)."""
    count = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            count += sum(
                1 for p in content if isinstance(p, Mapping) and p.get("type") == "image_url"
            )
    return count


def _vision(info: ModelInfo) -> Answer:
    capability = getattr(info, "capability", None)
    if callable(capability):
        answer: Answer = capability("vision")
        return answer
    return "unknown" if info.vision is None else "yes" if info.vision else "no"


def output_capability(info: ModelInfo, kind: str) -> Answer:
    """Whether ``info`` states that it makes ``kind`` (``text``, ``image``, ``video``, ``audio``).

    Stated means the list entry has an ``architecture`` (Poe, OpenRouter) or the model is in a
    maintained table (OpenAI's own models); otherwise the answer is ``unknown``.
    """
    stated = isinstance(info.raw.get("architecture"), Mapping) or getattr(info, "kind", None)
    if not stated:
        return "unknown"
    return "yes" if kind in info.output_modalities else "no"


async def _info(catalog: Catalog | None, model: str) -> ModelInfo | None:
    if catalog is None:
        return None
    try:
        return await catalog.find(model)
    except PoeError as exc:
        log.debug("catalog cannot tell about %s: %s", model, exc)
        return None


async def check_input(
    catalog: Catalog | None, model: str, messages: Sequence[Mapping[str, Any]]
) -> None:
    """Refuse images for a model that states it takes none.

    Raises:
        InvalidRequestError: naming the model and models that take images.
    """
    images = image_parts(messages)
    if not images:
        return
    info = await _info(catalog, model)
    if info is None or _vision(info) != "no":
        return
    others = []
    if catalog is not None:
        try:
            others = [m.id for m in await catalog.search(input_modality="image")][:3]
        except PoeError:
            others = []
    hint = f" Models that take images: {', '.join(others)}." if others else ""
    raise InvalidRequestError(
        f"{info.id} does not take images (the model list says so), and {images} image(s) are "
        f"attached: nothing was sent.{hint}",
        metadata={"model": info.id, "capability": "vision", "suggestions": others},
    )


async def check_output(catalog: Catalog | None, info: ModelInfo | None, kind: str) -> None:
    """Refuse a media call to a model that states it makes something else.

    Raises:
        InvalidRequestError: naming what the model makes and models that make ``kind``.
    """
    if info is None or output_capability(info, kind) != "no":
        return
    others = []
    if catalog is not None:
        try:
            others = [m.id for m in await catalog.search(modality=kind)][:3]
        except PoeError:
            others = []
    makes = "/".join(info.output_modalities) or "something else"
    hint = f" Models that make {kind}: {', '.join(others)}." if others else ""
    raise InvalidRequestError(
        f"{info.id} makes {makes}, not {kind}: nothing was sent or charged.{hint}",
        metadata={"model": info.id, "capability": f"output:{kind}", "suggestions": others},
    )


async def check_params(
    catalog: Catalog | None, model: str, params: Mapping[str, Any] | None
) -> None:
    """Refuse bot parameters ``model`` does not declare (or values its schema refuses).

    Nothing is checked when the catalog cannot tell (no catalog, an unknown model, an entry
    without a ``parameters`` list): the provider then has the last word.

    Raises:
        InvalidRequestError: what is wrong, what the model accepts, and which models take an
            undeclared parameter.
    """
    from ._reasoning import NATIVE

    # OpenAI's own reasoning field is how poe-mcp asks a model that declares no reasoning
    # control (see _reasoning): a chat-completions field, not a bot parameter.
    params = {k: v for k, v in (params or {}).items() if k != NATIVE}
    if catalog is None or not params:
        return
    try:
        await catalog.check_params(model, params)
    except InvalidRequestError as exc:
        unknown = exc.metadata.get("unknown_parameters") or []
        if not unknown:
            raise
        takers = await _models_taking(catalog, unknown)
        hint = f" Models that take {', '.join(unknown)}: {', '.join(takers)}." if takers else ""
        info = await _info(catalog, model)
        declared = [p.name for p in (info.parameters or ())] if info is not None else []
        close = [
            f"{' or '.join(repr(f) for f in found)} (for {u!r})"
            for u in unknown
            if (found := suggest(u, declared))
        ]
        if close:
            hint = f" Did you mean {'; '.join(close)}?{hint}"
        exc.message = f"{exc.message}{hint} Nothing was sent."
        exc.args = (exc.message,)
        exc.metadata["suggestions"] = takers
        raise


async def _models_taking(catalog: Catalog, names: list[str]) -> list[str]:
    try:
        models = await catalog.search(all_kinds=True)
    except PoeError:
        return []
    wanted = set(names)
    return [m.id for m in models if wanted <= {p.name for p in m.parameters or ()}][: C.SUGGESTIONS]


async def check_request(catalog: Catalog | None, request: ChatRequest) -> None:
    """Every check a chat request gets before it is sent (see the module docstring).

    Raises:
        InvalidRequestError: the first problem found.
    """
    from ._honour import check_extra, check_tool_choice

    check_extra(request.extra)
    check_tool_choice(request.params)
    await check_input(catalog, request.model, request.messages)
    await check_params(catalog, request.model, request.extra)


async def check_known_model(client: AsyncPoeClient, name: str, role: str) -> None:
    """Refuse a model the provider's live model list does not have, before a call that pays
    for other requests first (a consensus's panel before its synthesizer) is started.

    Only a list fetched from the provider (or its cache) can tell; without one, nothing is
    refused and the call itself says what is wrong.

    Raises:
        NotFoundError: ``role`` (e.g. "the synthesizer") names an unknown model; close names
            are in ``metadata["suggestions"]``.
    """
    catalog = client.catalog
    if catalog is None:
        return
    model = await client.resolve_model(name)  # a wrong provider prefix is refused here too
    try:
        await catalog.models()
    except PoeError:
        return
    if catalog.source not in ("live", "cache"):
        return  # the built-in offline list may be older than the provider's
    try:
        await catalog.get(model)
    except NotFoundError as exc:
        raise NotFoundError(
            f"{role}: {exc.message} Nothing was sent.", metadata=exc.metadata
        ) from None
