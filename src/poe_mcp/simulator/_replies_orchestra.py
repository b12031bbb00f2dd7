"""Deterministic tier behaviour for tiered orchestration (``poe_mcp.orchestra``).

The simulator answers the orchestrator's requests so that runs are testable end to end:

- **tier 1** (``response_format`` named ``poe_mcp_tracks``): one track per sentence of the goal
  (``T1``, ``T2``...), with the sentence as its goal and one acceptance criterion. A goal holding
  ``[dup-tracks]`` is answered with every track called ``T1`` first, and correctly once the
  refusal is fed back.
- **tier 2** (``poe_mcp_tickets``): the track's goal split on commas, semicolons and "and";
  one ticket per part (``T1.1``, ``T1.2``...); the first has no dependency, the others depend on
  it, so they can run in parallel once it is done. A track whose goal holds ``[cyclic]`` is
  answered with a cycle first, and correctly once the refusal is fed back; ``[cyclic-always]``
  keeps answering with the cycle. ``[after-previous]`` makes the track's first ticket depend
  on the tickets of the earlier tracks (a cross-track dependency).
- **tier 3** (a worker: its system prompt starts ``You are a tier-3 worker``): tool calls as
  usual (a ticket naming a tool calls it), then the report JSON. Faults, in the ticket's text:
  ``[fail-once]`` fails the first attempt, ``[fail-N]`` fails while fewer than N QA findings
  were given (so ``[fail-3]`` with two retries succeeds only once escalated), ``[fail-always]``
  always fails, ``[bad-output-once]`` answers plain text (not JSON) on the first attempt.
- **tier 4** (``poe_mcp_finding``): ``QA: `` and the start of the failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["is_worker", "orchestra_reply", "worker_report"]

WORKER_MARKER = "tier-3 worker"  # the phrase poe_mcp.orchestra puts in a worker's system prompt
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PARTS = re.compile(r"\s*(?:,|;|\band\b)\s*")
_FAIL_N = re.compile(r"\[fail-(\d+)\]")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def _last_user(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _line(text: str, prefix: str) -> str:
    for line in text.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    return ""


def _tracks(messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first_user = next((m for m in messages if m.get("role") == "user"), {})
    goal = _text(first_user.get("content")).split("\n\nProject outline:", 1)[0]
    goal = goal.removeprefix("Goal:").strip()
    sentences = [s.strip() for s in _SENTENCE.split(goal) if s.strip()] or [goal or "the goal"]
    duplicate = "[dup-tracks]" in goal and not _refused(messages)
    return {
        "tracks": [
            {
                "id": "T1" if duplicate else f"T{n}",
                "goal": sentence,
                "acceptance_criteria": [f"{sentence.rstrip('.!?')} is done"],
                "scope": [],
            }
            for n, sentence in enumerate(sentences, 1)
        ]
    }


def _tickets(messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first_user = next((m for m in messages if m.get("role") == "user"), {})
    header = _line(_text(first_user.get("content")), "Track ")
    track_id, _, goal = header.partition(":")
    track_id = track_id.strip() or "T1"
    always = "[cyclic-always]" in goal
    cyclic = always or "[cyclic]" in goal
    earlier = _line(
        _text(first_user.get("content")), "Tickets of earlier tracks (may be depended on):"
    )
    after = (
        [i.strip() for i in earlier.split(",") if i.strip()] if "[after-previous]" in goal else []
    )
    for marker in ("[cyclic-always]", "[cyclic]", "[after-previous]"):
        goal = goal.replace(marker, "")
    goal = goal.strip().rstrip(".!?")
    parts = [p for p in _PARTS.split(goal) if p.strip()] or [goal or "the work"]
    ids = [f"{track_id}.{n}" for n in range(1, len(parts) + 1)]
    tickets = [
        {
            "id": tid,
            "target": part.strip(),
            "context": f"part of track {track_id}: {goal}",
            "acceptance_criteria": [f"{part.strip()} works"],
            "depends_on": list(after) if n == 0 else [ids[0]],
        }
        for n, (tid, part) in enumerate(zip(ids, parts, strict=True))
    ]
    if cyclic and (always or not _refused(messages)):
        tickets[0]["depends_on"] = [ids[-1]] if len(ids) > 1 else [ids[0]]
        if len(ids) > 1:
            tickets[-1]["depends_on"] = [ids[0]]
    return {"tickets": tickets}


def _refused(messages: Sequence[Mapping[str, Any]]) -> bool:
    """Whether an earlier answer was refused and the refusal fed back (a repair round)."""
    return any(
        m.get("role") == "user" and "was refused" in _text(m.get("content")) for m in messages
    )


def _finding(messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    failure = _line(_last_user(messages), "Failure:")
    return {"finding": f"QA: {failure[:160] or 'the attempt failed'}"}


def worker_report(messages: Sequence[Mapping[str, Any]], tool_results: Sequence[str]) -> str:
    """The worker's final answer: the report JSON, or a scripted failure."""
    ticket = next((_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
    target = _line(ticket, "Ticket ")
    findings = ticket.count("QA finding ")
    criteria = _line(ticket, "Acceptance criteria:")
    if "[bad-output-once]" in ticket and findings == 0:
        return f"I did {target}."
    fail_until = 1 if "[fail-once]" in ticket else 0
    match = _FAIL_N.search(ticket)
    if match:
        fail_until = int(match.group(1))
    if "[fail-always]" in ticket or findings < fail_until:
        report = {
            "status": "failed",
            "summary": f"attempt {findings + 1} of {target} did not pass its checks",
            "unmet_criteria": [criteria or "the target"],
        }
    else:
        done = f"done: {target}"
        if tool_results:
            done += " (tools: " + "; ".join(r[:80] for r in tool_results) + ")"
        report = {"status": "done", "summary": done, "unmet_criteria": []}
    return json.dumps(report)


def orchestra_reply(
    messages: Sequence[Mapping[str, Any]], response_format: Mapping[str, Any] | None
) -> str | None:
    """The answer to a tier-1, tier-2 or tier-4 request, or None for any other request."""
    if not isinstance(response_format, Mapping):
        return None
    schema = response_format.get("json_schema")
    name = schema.get("name") if isinstance(schema, Mapping) else None
    planners = {"poe_mcp_tracks": _tracks, "poe_mcp_tickets": _tickets, "poe_mcp_finding": _finding}
    planner = planners.get(str(name))
    return None if planner is None else json.dumps(planner(messages))


def is_worker(messages: Sequence[Mapping[str, Any]]) -> bool:
    """True when the request comes from an orchestration worker (tier 3)."""
    return any(
        m.get("role") == "system"
        and _text(m.get("content")).startswith(f"You are a {WORKER_MARKER}")
        for m in messages
    )
