"""``poe-mcp doctor``: is everything in place? Config, key (presence only), API, store."""

from __future__ import annotations

import json
from typing import Any

import click

from ..config import Settings, key_sources
from ..errors import PoeError

__all__ = ["doctor", "run_checks"]


async def run_checks(settings: Settings) -> list[dict[str, Any]]:
    """Each check as ``{"name", "ok", "detail"}``; never raises, never shows the key."""
    from .._logging import redact
    from .._redact import redact_url
    from ._doctor_settings import check, config_file_check, settings_checks

    base_url = redact_url(settings.effective_base_url)  # no user:password from the URL
    checks: list[dict[str, Any]] = [config_file_check(settings.config_dir, None)]
    checks += settings_checks(settings)
    source = next(iter(key_sources(settings.provider)), None)
    provider = settings.provider_info
    unusable = _unusable_key(settings) if source is not None else None
    checks.append(
        {
            "name": "api_key",
            "ok": source is not None and unusable is None,
            "detail": unusable
            or (
                f"found in {source}"
                if source
                else f"missing: export {provider.key_env}=... or put it in "
                f"{settings.config_dir / 'credentials.toml'} under [{provider.key_section}] "
                "api_key"
            ),
        }
    )

    from ..store import open_store

    store_url = redact_url(settings.store_url)
    try:
        store: Any = open_store(settings.store_url)
        health = await store.health()
        await store.aclose()
        why = "" if health.get("ok") else f": {health.get('error') or 'unhealthy'}"
        checks.append(
            {"name": "store", "ok": bool(health.get("ok")), "detail": redact(f"{store_url}{why}")}
        )
    except PoeError as exc:
        checks.append({"name": "store", "ok": False, "detail": f"{store_url}: {exc}"})

    if source is None or unusable is not None:
        why = "skipped: no API key" if source is None else "skipped: the API key cannot be sent"
        checks.append(check("api", "skip", why))
        if settings.provider == "poe":
            checks.append(check("key_valid", "skip", why))
        return checks
    from ..client import AsyncPoeClient

    async with AsyncPoeClient(settings=settings, store=False, max_retries=0) as client:
        try:
            models = await client.list_models()
            checks.append(
                {
                    "name": "api",
                    "ok": True,
                    "detail": f"{base_url} answered with {len(models)} models",
                }
            )
        except PoeError as exc:
            detail = redact(f"{exc} [kind: {exc.kind}]")
            checks.append({"name": "api", "ok": False, "detail": detail})
        if settings.provider == "poe":
            # /v1/models answers without a key; the balance endpoint proves the key works.
            try:
                points = await client.balance()
                checks.append(
                    {"name": "key_valid", "ok": True, "detail": f"accepted; {points:,} points left"}
                )
            except PoeError as exc:
                detail = redact(f"{exc} [kind: {exc.kind}]")
                checks.append({"name": "key_valid", "ok": False, "detail": detail})
    return checks


def _unusable_key(settings: Settings) -> str | None:
    """Why the key found cannot be used (a space, an accented letter...), or None."""
    from ..config import resolve_api_key

    try:
        resolve_api_key(settings.provider)
    except PoeError as exc:
        return str(exc)
    return None


_LATER = ("api_key", "store", "api")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(as_json: bool) -> None:
    """Check the configuration, the API key (presence only), the API and the store.

    Shows the config file and whether it loaded, then every setting in effect (store, media
    dir, budgets, rpm, session TTL, exposed tools, aliases, MCP servers and whether their
    commands exist). Checks that cannot run are SKIP, not FAIL; exit 1 on any FAIL.
    """
    import anyio

    from ..config import config_dir
    from ._doctor_settings import check, config_file_check

    try:
        settings = Settings.load()
    except PoeError as exc:  # the file (or the environment) is not valid: say so, skip the rest
        checks = [config_file_check(config_dir(), exc)]
        checks += [check(n, "skip", "skipped: the settings did not load") for n in _LATER]
    else:
        checks = anyio.run(run_checks, settings)
    from .._redact import mask_secrets

    for c in checks:
        c.setdefault("status", "ok" if c["ok"] else "fail")
        # Every line quotes settings: a key pasted into the wrong one (a path, an alias, an
        # MCP server's command) is masked like in error messages, whatever check shows it.
        c["name"], c["detail"] = mask_secrets(str(c["name"])), mask_secrets(str(c["detail"]))
    ok = all(c["status"] != "fail" for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": ok, "checks": checks}, indent=2))
    else:
        for c in checks:
            mark = {"ok": "ok  ", "fail": "FAIL", "skip": "SKIP"}[c["status"]]
            click.echo(f"[{mark}] {c['name']}: {c['detail']}")
    if not ok:
        raise SystemExit(1)
