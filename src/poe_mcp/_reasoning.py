"""One reasoning control for every model: ``reasoning_effort`` mapped to what each model takes.

Callers say how hard a model should think once, as a level (``low``, ``medium``, ``high``) or a
budget of reasoning tokens (an int, 0 = none). Models take that in different ways, which Poe's
``/v1/models`` declares per model: a token budget (``thinking_budget``, Claude and Gemini), a
level (``reasoning_effort``, Grok and OpenAI's reasoning models), a switch (``enable_thinking``,
Qwen and DeepSeek hybrids), sometimes a switch and a budget together. The catalog's
``reasoning`` block says whether the model can reason at all.

The mapping, per model:

1. it declares a reasoning parameter: the effort becomes that parameter (levels become budgets
   through ``REASONING_BUDGETS``, clamped to the declared range; budgets become levels through
   ``REASONING_LEVEL_THRESHOLDS``, picking the nearest level the model offers);
2. else it states that it cannot reason: refused before anything is sent;
3. else (capability unknown, or no declared control): sent the way OpenAI's API expects, as
   ``reasoning_effort`` with a level, and a note says so.

A budget outside a declared parameter's range is refused, never silently clamped; so is a
request that sets the same parameter through ``extra`` too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _constants as C
from .errors import InvalidRequestError, PoeError

if TYPE_CHECKING:
    from ._model_info import ModelInfo, ModelParameter
    from .catalog import Catalog

__all__ = ["LEVELS", "ReasoningPlan", "plan_reasoning", "reasoning_support", "validate_effort"]

log = logging.getLogger(__name__)

LEVELS = ("low", "medium", "high")
# Every level a provider may offer, weakest first: a model's own enum is matched on this scale.
_SCALE = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# Parameter names known to control reasoning, by the kind of value they take.
_LEVEL_NAMES = ("reasoning_effort", "thinking_level", "reasoning_level", "effort")
_BUDGET_NAMES = (
    "thinking_budget",
    "budget_tokens",
    "thinking_budget_tokens",
    "max_thinking_tokens",
    "reasoning_budget",
    "reasoning_max_tokens",
)
_SWITCH_NAMES = ("enable_thinking", "thinking", "extended_thinking", "enable_reasoning")
NATIVE = "reasoning_effort"  # OpenAI's own chat-completions field


@dataclass(frozen=True, slots=True)
class ReasoningPlan:
    """What to add to one request's body for the asked effort, and what to tell the caller."""

    extra: dict[str, Any]
    note: str


def validate_effort(effort: Any) -> str | int:
    """The effort, checked: ``low``/``medium``/``high`` or a budget >= 0.

    Raises:
        InvalidRequestError: anything else.
    """
    if isinstance(effort, str) and effort.strip().lower() in LEVELS:
        return effort.strip().lower()
    if isinstance(effort, int) and not isinstance(effort, bool) and effort >= 0:
        return effort
    raise InvalidRequestError(
        f"reasoning_effort must be low, medium, high or a token budget >= 0, got {effort!r}"
    )


def reasoning_support(info: ModelInfo) -> bool | None:
    """What the catalog states about reasoning: True, False, or None (it does not say).

    Reads Poe's ``reasoning`` block (a bool, or an object with ``supported``) and the
    ``supported_parameters`` list other providers publish.
    """
    block = info.raw.get("reasoning")
    if isinstance(block, bool):
        return block
    if isinstance(block, Mapping):
        for key in ("supported", "supports_reasoning", "enabled"):
            if isinstance(block.get(key), bool):
                return bool(block[key])
        if block:
            return True  # a block describing how the model reasons
    listed = info.raw.get("supported_parameters")
    if isinstance(listed, list) and any(p in listed for p in ("reasoning", NATIVE)):
        return True
    return None


def _declared(info: ModelInfo) -> tuple[ModelParameter | None, ...]:
    """The model's (level, budget, switch) reasoning parameters, None where it has none."""
    level = budget = switch = None
    for param in info.parameters or ():
        name, typ = param.name.lower(), param.schema.get("type")
        if typ == "string" and (name in _LEVEL_NAMES or "effort" in name):
            level = level or param
        elif typ in ("integer", "number") and (
            name in _BUDGET_NAMES or ("budget" in name and ("think" in name or "reason" in name))
        ):
            budget = budget or param
        elif typ == "boolean" and (name in _SWITCH_NAMES or "thinking" in name):
            switch = switch or param
    return level, budget, switch


def _level_for_budget(budget: int) -> str:
    low, high = C.REASONING_LEVEL_THRESHOLDS
    if budget == 0:
        return "none"
    return "low" if budget < low else "medium" if budget < high else "high"


def _nearest(level: str, offered: list[str]) -> str:
    """The value of ``offered`` closest to ``level`` on the common scale (ties: the stronger)."""
    known = [v for v in offered if v.lower() in _SCALE]
    if not known:
        return level
    want = _SCALE.index(level)
    return min(known, key=lambda v: (abs(_SCALE.index(v.lower()) - want), -_SCALE.index(v.lower())))


def _budget_value(model: str, param: ModelParameter, effort: str | int) -> int:
    schema = param.schema
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(effort, int):
        if (low is not None and effort < low) or (high is not None and effort > high):
            raise InvalidRequestError(
                f"{model} takes a reasoning budget ({param.name}) between {low} and {high} "
                f"tokens, not {effort}",
                metadata={"model": model, "parameter": param.name},
            )
        return effort
    value = C.REASONING_BUDGETS[effort]
    if high is not None:
        value = min(value, int(high))
    if low is not None:
        value = max(value, int(low))
    return value


def _map_declared(
    model: str,
    effort: str | int,
    level: ModelParameter | None,
    budget: ModelParameter | None,
    switch: ModelParameter | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    off = effort == 0
    if switch is not None:
        out[switch.name] = not off
        if off:
            return out  # thinking off: no budget or level to send
    if budget is not None and (isinstance(effort, int) or level is None):
        out[budget.name] = _budget_value(model, budget, effort)
    elif level is not None:
        wanted = effort if isinstance(effort, str) else _level_for_budget(effort)
        enum = [str(v) for v in level.schema.get("enum") or ()]
        if enum:
            out[level.name] = _nearest(wanted, enum)
        else:
            out[level.name] = "low" if wanted == "none" else wanted
    return out


def _describe(effort: str | int) -> str:
    return f"a budget of {effort} tokens" if isinstance(effort, int) else f"{effort!r}"


async def plan_reasoning(
    catalog: Catalog | None,
    model: str,
    effort: Any,
    extra: Mapping[str, Any] | None = None,
) -> ReasoningPlan:
    """How to ask ``model`` for ``effort``: the body fields to add and a note for the caller.

    Args:
        catalog: the client's catalog (None when off: the capability is then unknown).
        model: the model the request goes to.
        effort: ``low``/``medium``/``high`` or a token budget.
        extra: the bot parameters the caller already sets.

    Raises:
        InvalidRequestError: a bad effort, a model that states it cannot reason, a budget
            outside the model's declared range, or ``extra`` setting the same parameter.
    """
    value = validate_effort(effort)
    info: ModelInfo | None = None
    if catalog is not None:
        try:
            info = await catalog.find(model)
        except PoeError as exc:  # the catalog is unreachable: the capability is unknown
            log.debug("no catalog entry for %s: %s", model, exc)
    if info is not None:
        fields = _map_declared(info.id, value, *_declared(info))
        if fields:
            sent = ", ".join(f"{k}={v!r}" for k, v in fields.items())
            return _checked(info.id, extra, fields, f"reasoning {_describe(value)} sent as {sent}")
        if reasoning_support(info) is False:
            raise InvalidRequestError(
                f"{info.id} cannot reason (its catalog entry says reasoning is not supported), so "
                f"reasoning_effort={effort!r} cannot be honoured. Leave reasoning_effort out, or "
                f"ask a reasoning model{await _reasoning_models(catalog)}.",
                metadata={"model": info.id, "reasoning": False},
            )
    level = value if isinstance(value, str) else _level_for_budget(value)
    level = "low" if level == "none" else level
    if info is not None and isinstance(info.raw.get("reasoning"), Mapping):
        offered = info.raw["reasoning"].get("supported_efforts") or info.raw["reasoning"].get(
            "efforts"
        )
        if isinstance(offered, list) and offered:
            level = _nearest(level, [str(v) for v in offered])
    why = "declares no reasoning parameter" if info is not None else "is not in the model catalog"
    note = (
        f"reasoning {_describe(value)} sent as OpenAI's {NATIVE}={level!r}: {model} {why}, so "
        "its reasoning control is unknown"
    )
    return _checked(model, extra, {NATIVE: level}, note)


def _checked(
    model: str, extra: Mapping[str, Any] | None, fields: dict[str, Any], note: str
) -> ReasoningPlan:
    clash = sorted(set(fields) & set(extra or {}))
    if clash:
        raise InvalidRequestError(
            f"reasoning_effort and the bot parameter(s) {', '.join(clash)} both set how {model} "
            "reasons: give one of them",
            metadata={"model": model, "parameters": clash},
        )
    return ReasoningPlan({**(extra or {}), **fields}, note)


async def _reasoning_models(catalog: Catalog | None) -> str:
    if catalog is None:
        return ""
    try:
        models = await catalog.models()
    except PoeError:
        return ""
    names = [m.id for m in models if reasoning_support(m) and "text" in m.output_modalities]
    return f", e.g. {', '.join(names[:3])}" if names else ""
