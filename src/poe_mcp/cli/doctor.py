"""``poe-mcp doctor``: is everything in place? Config, key (presence only), API, store."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from ..config import Settings, resolve_api_key
from ..errors import PoeError

__all__ = ["doctor", "run_checks"]


def _key_source(provider: str) -> str | None:
    env = "OPENAI_API_KEY" if provider in ("openai", "compatible") else "POE_API_KEY"
    if os.environ.get(env):
        return f"environment ({env})"
    try:
        resolve_api_key(provider)
    except PoeError:
        return None
    return "credentials.toml"


async def run_checks(settings: Settings) -> list[dict[str, Any]]:
    """Each check as ``{"name", "ok", "detail"}``; never raises, never shows the key."""
    from .._logging import redact
    from ..server.runtime import redact_url

    checks: list[dict[str, Any]] = [
        {
            "name": "config",
            "ok": True,
            "detail": f"provider {settings.provider}, base URL {settings.effective_base_url}, "
            f"backend {settings.backend}, data dir {settings.home}, config dir "
            f"{settings.config_dir}",
        }
    ]
    source = _key_source(settings.provider)
    checks.append(
        {
            "name": "api_key",
            "ok": source is not None,
            "detail": f"found in {source}"
            if source
            else "missing: export POE_API_KEY=... or put it in "
            f"{settings.config_dir / 'credentials.toml'} under [poe] api_key "
            "(or try `poe-mcp serve --simulate`)",
        }
    )

    from ..store import open_store

    store_url = redact_url(settings.store_url)
    try:
        store: Any = open_store(settings.store_url)
        health = await store.health()
        await store.aclose()
        checks.append({"name": "store", "ok": bool(health.get("ok")), "detail": f"{store_url}"})
    except PoeError as exc:
        checks.append({"name": "store", "ok": False, "detail": f"{store_url}: {exc}"})

    if source is None:
        checks.append({"name": "api", "ok": False, "detail": "skipped: no API key"})
        return checks
    from ..client import AsyncPoeClient

    async with AsyncPoeClient(settings=settings, store=False, max_retries=0) as client:
        try:
            models = await client.list_models()
            checks.append(
                {
                    "name": "api",
                    "ok": True,
                    "detail": f"{settings.effective_base_url} answered with {len(models)} models",
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(as_json: bool) -> None:
    """Check the configuration, the API key (presence only), the API and the store."""
    import anyio

    settings = Settings.load()
    checks = anyio.run(run_checks, settings)
    ok = all(c["ok"] for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": ok, "checks": checks}, indent=2))
    else:
        for c in checks:
            mark = "ok  " if c["ok"] else "FAIL"
            click.echo(f"[{mark}] {c['name']}: {c['detail']}")
    if not ok:
        raise SystemExit(1)
