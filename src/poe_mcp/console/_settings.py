"""The Settings page: provider, base URL, key status, models, defaults, tiers, budgets, rate limit.

A save writes ``config.toml`` (validated whole first, see ``_config_file``) and applies it at once
(:meth:`ConsoleContext.reload`); when the new settings cannot be used the file is put back and
the page says why. Fields an environment variable controls are shown read-only, naming the
variable: the environment wins over ``config.toml``, so editing them here would do nothing.
The API key is never shown: only whether one is set and where from; a new one goes to
``credentials.toml`` (mode 0600).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from .. import _constants as C
from .._providers import PROVIDERS
from ..config import env_value
from ..errors import ConfigError, InvalidRequestError, PoeError
from ._config_file import restore, store_api_key, update_config
from ._inputs import check_finite, check_int64, check_line, check_model
from ._web import Routes, base_path, console_of, render

__all__ = ["routes"]

routes = Routes()


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # form field
    keys: tuple[str, ...]  # where it lives in config.toml
    label: str
    kind: str = "text"  # text | int | float | choice
    env: str | None = None  # an environment variable that overrides it
    choices: tuple[str, ...] = ()
    help: str = ""


FIELDS: tuple[Field, ...] = (
    Field("provider", ("provider",), "Provider", "choice", "POE_MCP_PROVIDER", C.PROVIDERS),
    Field("base_url", ("base_url",), "Base URL", help="Empty: the provider's own API."),
    Field(
        "backend",
        ("backend",),
        "Poe backend",
        "choice",
        "POE_MCP_BACKEND",
        C.BACKENDS,
        "REST (openai) or Poe's bot protocol (legacy); Poe only.",
    ),
    Field("model", ("model",), "Default model", env="POE_MCP_MODEL"),
    Field("tier_1", ("tiers", "1"), "Tier 1 · orchestrator"),
    Field("tier_2", ("tiers", "2"), "Tier 2 · tech lead"),
    Field("tier_3", ("tiers", "3"), "Tier 3 · workers"),
    Field("tier_4", ("tiers", "4"), "Tier 4 · QA"),
    Field("tier_escalation", ("tiers", "escalation"), "Escalation"),
    Field(
        "daily_usd",
        ("budgets", "daily_usd"),
        "Daily budget (USD)",
        "float",
        "POE_MCP_BUDGET_DAILY_USD",
    ),
    Field(
        "daily_tokens",
        ("budgets", "daily_tokens"),
        "Daily budget (tokens)",
        "int",
        "POE_MCP_BUDGET_DAILY_TOKENS",
    ),
    Field(
        "session_usd",
        ("budgets", "session_usd"),
        "Per-conversation budget (USD)",
        "float",
        "POE_MCP_BUDGET_SESSION_USD",
    ),
    Field(
        "session_tokens",
        ("budgets", "session_tokens"),
        "Per-conversation budget (tokens)",
        "int",
        "POE_MCP_BUDGET_SESSION_TOKENS",
    ),
    Field("rpm", ("rpm",), "Requests per minute", "int", "POE_MCP_RPM"),
    Field("burst", ("rate_limit", "burst"), "Burst", "int"),
    Field("max_wait_s", ("rate_limit", "max_wait_s"), "Longest wait for a slot (s)", "float"),
)


def _env_for(field: Field, provider: str) -> str | None:
    if field.name == "base_url":
        return PROVIDERS.get(provider, PROVIDERS["compatible"]).base_env
    return field.env


def _file_value(file: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = file
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _field_views(file: dict[str, Any], provider: str, form: Any = None) -> list[dict[str, Any]]:
    views = []
    for f in FIELDS:
        env = _env_for(f, provider)
        overridden = bool(env and env_value(env))
        value = _file_value(file, f.keys) if form is None else form.get(f.name)
        if f.name == "provider" and not value:
            value = provider  # the provider in effect (the environment's, or the default)
        if f.name == "base_url" and isinstance(value, str) and value:
            value = _safe_store(value)  # a password in the URL is never shown (see _kept)
        views.append(
            {
                "field": f,
                "value": "" if value is None else value,
                "env": env if overridden else None,
            }
        )
    return views


def _parse(field: Field, raw: str) -> Any:
    text = raw.strip()
    if not text:
        return None
    shown = text if len(text) <= 40 else text[:39] + "…"
    try:
        if field.kind == "int":
            try:
                return check_int64(int(text), field.label)
            except ValueError:
                raise ConfigError(f"{field.label} must be a whole number, got {shown!r}") from None
        if field.kind == "float":
            try:
                return check_finite(float(text), field.label)
            except ValueError:
                raise ConfigError(f"{field.label} must be a number, got {shown!r}") from None
        if field.kind == "choice" and text not in field.choices:
            raise ConfigError(f"{field.label} must be one of {', '.join(field.choices)}")
        if field.name == "base_url":
            return check_line(text, field.label, C.CONSOLE_URL_MAX_CHARS)
        return check_model(text, field.label)  # the default model and the tier models
    except InvalidRequestError as exc:
        raise ConfigError(exc.message) from None


async def _page(request: Request, **extra: Any) -> Response:
    ctx = console_of(request).context
    provider = ctx.configured.provider
    statuses = [ctx.key_status(p) for p in C.PROVIDERS]
    return await render(
        request,
        "settings.html",
        page_name="settings",
        fields=extra.pop("fields", None) or _field_views(ctx.configured.file, provider),
        key_statuses=statuses,
        active=ctx.key_status(),
        effective_base_url=_safe_store(ctx.configured.effective_base_url),
        simulator_url=ctx.simulator_url,
        config_path=ctx.configured.config_dir / "config.toml",
        store_url=_safe_store(ctx.configured.store_url),
        saved=request.query_params.get("saved"),
        **extra,
    )


def _kept(field: Field, file: dict[str, Any], value: Any) -> Any:
    """The saved value when the form sends back the redacted one the page showed."""
    current = _file_value(file, field.keys)
    if (
        field.name == "base_url"
        and isinstance(current, str)
        and value != current
        and value == _safe_store(current)
    ):
        return current
    return value


def _safe_store(url: str) -> str:
    from .._redact import redact_url

    return redact_url(url)


@routes.page("/settings")
async def settings_page(request: Request) -> Response:
    return await _page(request)


@routes.action("/settings")
async def save_settings(request: Request) -> Response:
    ctx = console_of(request).context
    form = await request.form()
    provider = str(form.get("provider") or ctx.configured.provider)
    changes: dict[tuple[str, ...], Any] = {}
    problems: list[str] = []
    for f in FIELDS:
        env = _env_for(f, provider)
        if env and env_value(env):
            continue  # the environment decides; config.toml stays as it is
        if f.name == "backend" and f.name not in form:
            continue
        try:
            changes[f.keys] = _kept(f, ctx.configured.file, _parse(f, str(form.get(f.name) or "")))
        except ConfigError as exc:
            problems.append(exc.message)
    path = ctx.configured.config_dir / "config.toml"
    old: str | None = None
    if not problems:
        try:
            old = update_config(path, changes)
            await ctx.reload()
        except ConfigError as exc:
            if old is not None:
                restore(path, old)
            problems.append(exc.message)
    if problems:
        views = _field_views(ctx.configured.file, provider, form)
        return await _page(request, fields=views, errors=problems, status_code=422)
    return RedirectResponse(f"{base_path(request)}/settings?saved=settings", status_code=303)


@routes.action("/settings/key")
async def save_key(request: Request) -> Response:
    ctx = console_of(request).context
    form = await request.form()
    provider = str(form.get("key_provider") or ctx.configured.provider)
    if provider not in C.PROVIDERS:
        return await _page(request, errors=[f"unknown provider {provider!r}"], status_code=422)
    try:
        store_api_key(ctx.configured.config_dir, provider, str(form.get("api_key") or ""))
        await ctx.reload()
    except ConfigError as exc:
        return await _page(request, errors=[exc.message], status_code=422)
    return RedirectResponse(f"{base_path(request)}/settings?saved=key", status_code=303)


@routes.page("/settings/models")
async def models_fragment(request: Request) -> Response:
    ctx = console_of(request).context
    query = request.query_params.get("q") or None
    refresh = request.query_params.get("refresh") == "1"
    error = None
    models: list[Any] = []
    source = None
    try:
        client = await ctx.client()
        catalog = client.catalog
        if catalog is not None:
            if refresh:
                await catalog.models(refresh=True)
            models = await catalog.search(query, all_kinds=request.query_params.get("all") == "1")
            source = catalog.source
    except PoeError as exc:
        error = exc.message
    if request.query_params.get("format") == "ids":
        return JSONResponse([m.id for m in models])
    return await render(
        request,
        "_models.html",
        models=models[: C.CONSOLE_MODELS_SHOWN],
        total=len(models),
        query=query or "",
        source=source,
        error=error,
        per_mtok=C.TOKENS_PER_MTOK,
    )
