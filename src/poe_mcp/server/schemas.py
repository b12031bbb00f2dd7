"""Structured results of the MCP tools (``outputSchema`` / ``structuredContent``).

Field descriptions are left out on purpose: every tool's schema is sent to the calling assistant
on each ``tools/list``, and the names say enough.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


def _drop_titles(schema: dict[str, Any]) -> None:
    """Titles repeat the property names; dropping them keeps ``tools/list`` small."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)


class _Compact(BaseModel):
    model_config = ConfigDict(json_schema_extra=_drop_titles)


class UsageOut(_Compact):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    estimated: bool = False
    reasoning_tokens: int = 0  # part of output_tokens
    cached_tokens: int = 0  # part of input_tokens, read from the prompt cache
    cache_write_tokens: int = 0


class AskResult(_Compact):
    # cost: USD, or None when the model's price is unknown (never guessed as 0)

    text: str
    model: str
    session_id: str
    usage: UsageOut
    cost: float | None
    finish_reason: str | None
    backend: str
    simulated: bool
    history_messages: int
    new_session: bool
    parsed: Any = None  # with response_format: the validated JSON value


class SessionOut(_Compact):
    id: str
    model: str | None
    turns: int
    updated_at: float
    expires_at: float


class SessionsResult(_Compact):
    sessions: list[SessionOut]


class ClearResult(_Compact):
    session_id: str
    cleared: bool


class ModelOut(_Compact):
    id: str
    owned_by: str | None = None
    input_modalities: list[str] = []
    output_modalities: list[str] = []
    supports_tools: bool | None = None
    context_window: int | None = None
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    usd_per_request: float | None = None


class ModelsResult(_Compact):
    models: list[ModelOut]
    count: int
    source: str
    simulated: bool = False


class UsageTotalsOut(_Compact):
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost: float
    unknown_cost_calls: int
    estimated_calls: int
    reasoning_tokens: int = 0
    cached_tokens: int = 0


class UsageGroupOut(_Compact):
    key: str
    totals: UsageTotalsOut


class UsageResult(_Compact):
    totals: UsageTotalsOut
    groups: list[UsageGroupOut] = []
    since: float | None = None


class ServerInfo(_Compact):
    name: str
    version: str
    provider: str
    base_url: str
    backend: str
    simulated: bool
    api_key_configured: bool
    store: dict[str, Any]
    session_ttl_s: float
    tools: list[str]
    rate_limit: dict[str, Any]
    balance_points: int | None = None
    transport: str


class CompareOut(_Compact):
    # answers: one per model, in order: model, ok, text, usage, cost, latency_s, error
    answers: list[dict[str, Any]]
    usage: dict[str, Any]
    cost: float | None
    wall_s: float
    failed: list[str]
    simulated: bool


class ConsensusOut(_Compact):
    # steps: each panel answer (with its stance), then the synthesis, each with its cost
    question: str
    verdict: str
    synthesizer: str
    ok: bool
    steps: list[dict[str, Any]]
    usage: dict[str, Any]
    cost: float | None
    wall_s: float
    simulated: bool
