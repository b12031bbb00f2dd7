"""What the simulated models do for many-model work: panels, syntheses, reasoning, caching.

Rules (tests and demos rely on them), on top of the ordinary reply of ``_replies.respond``:

- **Stances.** A system prompt holding ``Stance: for|against|neutral`` makes the model argue
  that side and end with ``Opinion: yes`` (for), ``Opinion: no`` (against) or, when neutral, a
  deterministic ``yes``/``no`` of its own (a hash of the model and the question).
- **Synthesis.** A user message that quotes answers under ``### <label>`` headings, each with an
  ``Opinion:`` line, is answered with ``Agreement:``, ``Disagreement:`` and ``Verdict:`` lines
  that name the labels (a heading's ``Answer N:`` prefix and ``(...)`` suffix are dropped).
- **Reasoning.** A request that asks the model to think (a declared ``thinking_budget`` > 0,
  ``reasoning_effort``, ``enable_thinking``; or OpenAI's native ``reasoning_effort``, which every
  reasoning model without a declared control accepts) gets ``reasoning_content`` and
  ``usage.completion_tokens_details.reasoning_tokens`` (part of ``completion_tokens``): 8, 16,
  32 or 64 tokens for minimal/low/medium/high, a budget / 256 (1..64) for a budget.
- **Prompt caching.** Models whose catalog entry has a cache-read price report the prompt tokens
  of every message before the last user message as ``prompt_tokens_details.cached_tokens``
  (a conversation's history is what providers cache).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import _constants as C
from ..errors import InvalidRequestError

if TYPE_CHECKING:
    from ._catalog import ModelSpec
    from ._replies import Reply, SimUsage

__all__ = ["bot_params", "panel_lines", "usage_json", "with_reasoning"]

NATIVE_EFFORT = "reasoning_effort"
_NATIVE_LEVELS = ("none", "minimal", "low", "medium", "high")
_LEVEL_TOKENS = {"none": 0, "minimal": 8, "low": 16, "medium": 32, "high": 64}
_STANCE = re.compile(r"\bStance:\s*(for|against|neutral)\b", re.IGNORECASE)
_HEADING = re.compile(r"^###\s+(.+?)\s*$", re.MULTILINE)
_OPINION = re.compile(r"^Opinion:\s*(.+?)\s*\.?$", re.MULTILINE | re.IGNORECASE)
_LABEL_PREFIX = re.compile(r"^Answer\s+\d+:\s*", re.IGNORECASE)
_LABEL_SUFFIX = re.compile(r"\s*\([^)]*\)\s*$")

PromptTokens = Callable[[Sequence[Mapping[str, Any]], Any], int]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
        )
    return ""


def _native(model: ModelSpec, params: Mapping[str, Any] | None) -> bool:
    return bool(
        params
        and NATIVE_EFFORT in params
        and model.reasoning
        and model.param(NATIVE_EFFORT) is None
    )


def bot_params(model: ModelSpec, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The bot parameters to validate: OpenAI's native ``reasoning_effort`` taken out when the
    model reasons and declares no control of its own (such models accept it like OpenAI's).

    Raises:
        InvalidRequestError: a native ``reasoning_effort`` that is not a level.
    """
    rest = dict(params or {})
    if _native(model, params):
        value = rest.pop(NATIVE_EFFORT)
        if value not in _NATIVE_LEVELS:
            raise InvalidRequestError(
                f"'{NATIVE_EFFORT}' must be one of {', '.join(_NATIVE_LEVELS)}, got {value!r}"
            )
    return rest


def _lean(model_id: str, question: str) -> str:
    digest = hashlib.sha256(f"{model_id}\n{question}".encode()).digest()
    return "yes" if digest[0] % 2 == 0 else "no"


def _says(names: list[str], opinion: str) -> str:
    return f"{' and '.join(names)} {'says' if len(names) == 1 else 'say'} {opinion}"


def _synthesis(text: str) -> list[str]:
    heads = list(_HEADING.finditer(text))
    opinions: dict[str, list[str]] = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        found = _OPINION.findall(text[head.end() : end])
        if not found:
            continue
        label = _LABEL_SUFFIX.sub("", _LABEL_PREFIX.sub("", head.group(1))) or head.group(1)
        opinions.setdefault(found[-1].strip().lower(), []).append(label)
    if not opinions:
        return []
    ranked = sorted(opinions.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    total = sum(len(v) for v in opinions.values())
    agree = [_says(names, op) for op, names in ranked if len(names) > 1]
    lines = ["Agreement: " + ("; ".join(agree) if agree else "no two answers agree") + "."]
    if len(ranked) == 1:
        lines.append(f"Disagreement: none; every answer says {ranked[0][0]}.")
    else:
        others = [_says(names, op) for op, names in ranked[1:]]
        lines.append(f"Disagreement: {'; '.join(others)}, against {ranked[0][0]}.")
    top, names = ranked[0]
    if len(ranked) > 1 and len(ranked[1][1]) == len(names):
        lines.append(f"Verdict: undecided ({len(names)} of {total} answers each way).")
    else:
        lines.append(f"Verdict: {top} ({len(names)} of {total} answers).")
    return lines


def panel_lines(
    model: ModelSpec, messages: Sequence[Mapping[str, Any]], last_user: str
) -> list[str]:
    """The stance and synthesis lines of a reply (none for an ordinary request)."""
    system = "\n".join(
        _text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    )
    lines: list[str] = []
    stance = _STANCE.search(system)
    if stance is not None:
        side = stance.group(1).lower()
        opinion = {"for": "yes", "against": "no"}.get(side) or _lean(model.id, last_user)
        argues = "weighs both sides" if side == "neutral" else f"argues {side}"
        lines += [f"{model.id} {argues}.", f"Opinion: {opinion}"]
    return lines + _synthesis(last_user)


def _effort(model: ModelSpec, params: Mapping[str, Any] | None) -> tuple[str, int] | None:
    """(what was asked, reasoning tokens) when the request asks the model to think."""
    params = params or {}
    budget = params.get("thinking_budget")
    if isinstance(budget, int) and not isinstance(budget, bool) and budget > 0:
        return f"budget {budget}", max(1, min(budget // 256, C.SIM_REASONING_MAX_TOKENS))
    level = params.get(NATIVE_EFFORT)
    if isinstance(level, str) and _LEVEL_TOKENS.get(level):
        return f"effort {level}", _LEVEL_TOKENS[level]
    if params.get("enable_thinking") is True:
        return "thinking on", _LEVEL_TOKENS["medium"]
    return None


def with_reasoning(
    model: ModelSpec,
    params: Mapping[str, Any] | None,
    messages: Sequence[Mapping[str, Any]],
    reply: Reply,
    prompt_tokens: PromptTokens,
) -> Reply:
    """``reply`` with its reasoning (when asked for) and cached-token count (see above)."""
    usage: SimUsage = reply.usage
    asked = _effort(model, params)
    reasoning = ""
    if asked is not None:
        what, tokens = asked
        reasoning = f"[{model.id} thinking, {what}: {tokens} tokens of reasoning]"
        usage = dataclasses.replace(
            usage, completion_tokens=usage.completion_tokens + tokens, reasoning_tokens=tokens
        )
    if model.cache_read_price is not None:
        last = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=0)
        if last > 0:
            usage = dataclasses.replace(usage, cached_tokens=prompt_tokens(messages[:last], None))
    if usage is reply.usage:
        return reply
    return dataclasses.replace(reply, usage=usage, reasoning=reasoning)


def usage_json(usage: SimUsage) -> dict[str, Any]:
    """The ``usage`` object of an answer, with OpenAI's detail objects."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
