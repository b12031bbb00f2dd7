"""The four tiers: which model (and provider) each runs, and what each is told.

A tier's model is ``MODEL`` (the run's own client and provider) or ``PROVIDER:MODEL`` with a
provider poe-mcp knows (``poe``, ``openai``, ``compatible``), e.g. ``openai:gpt-4o-mini``. The
models come, lowest precedence first, from the defaults below, ``[tiers]`` in ``config.toml``
(keys ``1`` to ``4`` and ``escalation``), then the caller (CLI ``--tier 1=MODEL``, the console,
the MCP tool's ``tiers`` argument).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import _constants as C
from ..errors import ConfigError
from ._plan import Ticket, Track

__all__ = [
    "DEFAULT_TIERS",
    "TIER_NAMES",
    "WORKER_MARKER",
    "TierModel",
    "finding_prompt",
    "resolve_tiers",
    "tickets_prompt",
    "tracks_prompt",
    "worker_prompt",
]

TIER_NAMES = {1: "orchestrator", 2: "tech lead", 3: "worker", 4: "QA"}
# Strongest model plans, a strong one breaks down, a capable cheaper one works, a cheap one checks.
DEFAULT_TIERS: dict[str, str] = {
    "1": "Claude-Opus-4.1",
    "2": "Claude-Sonnet-4",
    "3": "GPT-4.1",
    "4": "GPT-4o-mini",
    "escalation": "Claude-Opus-4.1",
}
_KEYS = ("1", "2", "3", "4", "escalation")


@dataclass(frozen=True, slots=True)
class TierModel:
    """A tier's model and the provider it is reached through (None: the run's own client)."""

    model: str
    provider: str | None = None

    @classmethod
    def parse(cls, spec: str) -> TierModel:
        """``MODEL`` or ``PROVIDER:MODEL``.

        Raises:
            ConfigError: an empty model name.
        """
        text = spec.strip()
        head, sep, tail = text.partition(":")
        if sep and head in C.PROVIDERS:
            provider, model = head, tail.strip()
        else:
            provider, model = None, text
        if not model:
            raise ConfigError(f"tier model {spec!r} names no model: use MODEL or PROVIDER:MODEL")
        return cls(model=model, provider=provider)

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}" if self.provider else self.model


def resolve_tiers(*layers: Mapping[str, Any] | None) -> dict[str, str]:
    """Merge tier tables (later layers win) over the defaults, keys normalised to strings.

    Raises:
        ConfigError: an unknown key (the message lists the valid ones) or a non-string model.
    """
    tiers = dict(DEFAULT_TIERS)
    for layer in layers:
        for key, value in (layer or {}).items():
            name = str(key).strip()
            if name not in _KEYS:
                raise ConfigError(
                    f"unknown tier {key!r}: use 1 (orchestrator), 2 (tech lead), 3 (worker), "
                    "4 (QA) or escalation"
                )
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"tier {name} must be a model name, got {value!r}")
            TierModel.parse(value)
            tiers[name] = value.strip()
    return tiers


def tracks_prompt(goal: str, outline: str | None, max_tracks: int) -> list[dict[str, Any]]:
    """Tier 1's request: the goal (and outline) -> tracks."""
    system = (
        "You are tier 1, the orchestrator of a team of models. Split the user's goal into at most "
        f"{max_tracks} tracks (epics) that can be worked on separately. Each track has a short "
        "id (T1, T2, ...), a goal, acceptance criteria a reviewer can check, and the scope: the "
        "files or modules it may touch. Answer with JSON only."
    )
    user = f"Goal: {goal}"
    if outline:
        user += f"\n\nProject outline:\n{outline}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def tickets_prompt(track: Track, known_ids: list[str], max_tickets: int) -> list[dict[str, Any]]:
    """Tier 2's request: one track -> tickets whose ``depends_on`` form a DAG."""
    system = (
        "You are tier 2, a tech lead. Turn the track into at most "
        f"{max_tickets} tickets. Each ticket has a unique id ('<track id>.<n>'), a target (what "
        "to produce), the context the worker needs (it sees nothing else), acceptance criteria, "
        "and depends_on: the ids of tickets that must be completed first. Dependencies must "
        "form a DAG (no cycles) and name only existing ids. Answer with JSON only."
    )
    lines = [
        f"Track {track.id}: {track.goal}",
        "Acceptance criteria: " + ("; ".join(track.acceptance_criteria) or "none given"),
        "Scope: " + (", ".join(track.scope) or "any"),
    ]
    if known_ids:
        lines.append("Tickets of earlier tracks (may be depended on): " + ", ".join(known_ids))
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


# The simulator recognises a worker's request by this phrase (simulator/_replies_orchestra.py).
WORKER_MARKER = "tier-3 worker"


def worker_prompt(
    ticket: Ticket, dependencies: Mapping[str, str], findings: list[str]
) -> tuple[str, str]:
    """A worker's system prompt and ticket text: the ticket and the context it names, no more."""
    schema = {
        "status": "done | failed",
        "summary": "what you did, or why it failed",
        "unmet_criteria": ["acceptance criteria that are not met"],
    }
    system = (
        f"You are a {WORKER_MARKER}. Do exactly the ticket below with the tools you have; you "
        "know nothing but what it says. When you are done, check every acceptance criterion and "
        "answer with JSON only, of this shape: " + json.dumps(schema)
    )
    lines = [f"Ticket {ticket.id}: {ticket.target}"]
    if ticket.context:
        lines.append(f"Context: {ticket.context}")
    if ticket.acceptance_criteria:
        lines.append("Acceptance criteria: " + "; ".join(ticket.acceptance_criteria))
    for dep, output in dependencies.items():
        lines.append(f"Output of {dep}: {output}")
    for n, finding in enumerate(findings, 1):
        lines.append(f"QA finding {n} from an earlier attempt: {finding}")
    return system, "\n".join(lines)


def finding_prompt(ticket: Ticket, failure: str) -> list[dict[str, Any]]:
    """Tier 4's request: compress a worker's failure into one short, actionable finding."""
    system = (
        "You are tier 4, QA. A worker failed the ticket below. Compress the failure into one "
        "short finding (at most two sentences) that tells the next attempt what went wrong and "
        "what to check. Never write the fix yourself. Answer with JSON only."
    )
    user = f"Ticket {ticket.id}: {ticket.target}\nFailure: {failure[: C.ORCH_TEXT_MAX]}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
