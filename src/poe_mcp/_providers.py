"""Providers: who answers, where, with which key, and where its users fix a key or a bill.

One :class:`Provider` holds every fact about the provider in use, resolved once from the
settings (:meth:`Provider.from_settings`): the key's environment variable and its
``credentials.toml`` section, the REST base URL, the bot-protocol and upload URLs, the account
URL (Poe's ``/usage/...`` endpoints) and the pages an error points to. The client builds one
and hands it to its backends; nothing else derives a URL or names a key variable.

============ ============================ ============================== ====================
provider     key (environment / section)  REST base URL                  key page
============ ============================ ============================== ====================
poe          POE_API_KEY / [poe]          https://api.poe.com/v1         poe.com/api_key
openai       OPENAI_API_KEY / [openai]    https://api.openai.com/v1      platform.openai.com
compatible   POE_MCP_COMPATIBLE_API_KEY   the configured base URL        the base URL
============ ============================ ============================== ====================

The ``compatible`` provider sends its key to whatever base URL is configured, so it has a key
of its own and never falls back to Poe's or OpenAI's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from . import _constants as C

if TYPE_CHECKING:
    from .config import Settings

__all__ = ["PROVIDERS", "Provider", "bot_urls"]


@dataclass(frozen=True, slots=True)
class Provider:
    """Everything the client needs to know about one provider.

    Attributes:
        name: ``poe``, ``openai`` or ``compatible``.
        key_env: the environment variable of its API key.
        base_env: the environment variable of its REST base URL.
        key_section: the ``credentials.toml`` table of its key.
        key_example: what a key looks like, for the "no key" message.
        base_url: the REST base URL (``.../v1``, no trailing slash).
        bot_url: where ``POST <bot_url><bot>`` goes (Poe's bot protocol); None for OpenAI.
        upload_url: where the bot protocol uploads files; None for OpenAI.
        account_url: the root of Poe's account endpoints (``/usage/current_balance``); None
            for providers without point balances.
        key_page: where a user gets or checks a key (for compatible: the base URL).
        key_hint: the one sentence an auth error gets.
        billing_hint: the one sentence a balance or quota error gets.
        site: text whose presence in a message means it already points at this provider.
    """

    name: str
    key_env: str
    base_env: str
    key_section: str
    key_example: str
    base_url: str
    bot_url: str | None
    upload_url: str | None
    account_url: str | None
    key_page: str
    key_hint: str
    billing_hint: str
    site: str

    def __repr__(self) -> str:
        return f"Provider(name={self.name!r}, base_url={self.base_url!r})"

    @classmethod
    def named(
        cls,
        name: str,
        base_url: str | None = None,
        *,
        bot_url: str | None = None,
        upload_url: str | None = None,
    ) -> Provider:
        """The provider ``name`` at ``base_url`` (default: its own), bot URLs derived from it.

        An unknown name is treated as ``compatible`` (what any other OpenAI-compatible server
        is); :class:`~poe_mcp.config.Settings` refuses unknown names before this is reached.
        """
        spec = PROVIDERS.get(name, PROVIDERS["compatible"])
        base = (base_url or spec.base_url).rstrip("/")
        where = base or "the provider's base URL"
        bots = spec.name != "openai"  # OpenAI has no bot protocol
        derived_bot, derived_upload = bot_urls(base) if base and bots else (None, None)
        return replace(
            spec,
            base_url=base,
            bot_url=_slash(bot_url) or derived_bot if bots else None,
            upload_url=_slash(upload_url) or derived_upload if bots else None,
            account_url=_account_url(base) if spec.name == "poe" else None,
            key_page=spec.key_page or where,
            key_hint=spec.key_hint.format(base_url=where),
            billing_hint=spec.billing_hint.format(base_url=where),
            site=spec.site or where,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Provider:
        """The provider ``settings`` name, at their base URL (``POE_BASE_URL``...), with the
        bot and upload URLs they set (``POE_BOT_BASE_URL``, ``bot_base_url``...) or derived."""
        return cls.named(
            settings.provider,
            settings.base_url,
            bot_url=settings.bot_base_url,
            upload_url=settings.upload_base_url,
        )

    def hint(self, kind: str) -> str | None:
        """The sentence that tells the user what to do about an error of ``kind``."""
        if kind == "auth":
            return self.key_hint
        if kind in ("balance", "quota"):
            return self.billing_hint
        return None


def _slash(url: str | None) -> str | None:
    return url.rstrip("/") + "/" if url else None


def bot_urls(base_url: str) -> tuple[str, str]:
    """The bot-protocol and upload base URLs that belong with a REST base URL.

    Poe's REST API (``https://api.poe.com/v1``) gives Poe's bot endpoint
    (``https://api.poe.com/bot/``) and upload endpoint (``POE_UPLOAD_BASE_URL``, another
    host). Any other base, such as the simulator's ``http://127.0.0.1:P/v1``, gives
    ``<root>/bot/`` and ``<root>/poe_api/`` (``<root>`` is the base without ``/v1``).

    Returns:
        ``(bot_base_url, upload_base_url)``, both ending with ``/``.
    """
    parts = urlsplit(base_url.rstrip("/"))
    if parts.netloc.lower() == urlsplit(C.POE_BASE_URL).netloc:
        return C.POE_BOT_BASE_URL, C.POE_UPLOAD_BASE_URL
    return f"{_root(base_url)}/bot/", f"{_root(base_url)}/poe_api/"


def _root(base_url: str) -> str:
    parts = urlsplit(base_url.rstrip("/"))
    path = parts.path.removesuffix("/v1")
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


def _account_url(base_url: str) -> str:
    """Where Poe's account endpoints (``/usage/...``) live: the API root, not ``/v1``."""
    return C.POE_ACCOUNT_BASE_URL if base_url == C.POE_BASE_URL else _root(base_url)


def _spec(
    name: str, key_env: str, example: str, base_url: str, page: str, key: str, bill: str, site: str
) -> Provider:
    base_env = "POE_BASE_URL" if name == "poe" else "OPENAI_BASE_URL"
    return Provider(
        name, key_env, base_env, name, example, base_url, None, None, None, page, key, bill, site
    )


# The static facts of each provider; ``{base_url}`` is filled in by :meth:`Provider.named`.
PROVIDERS: dict[str, Provider] = {
    "poe": _spec(
        "poe", "POE_API_KEY", "your-poe-key", C.POE_BASE_URL, "https://poe.com/api_key",
        "Check POE_API_KEY: your key is at https://poe.com/api_key.",
        "Add points at https://poe.com/api_key or wait for the monthly refresh.",
        "poe.com/api_key",
    ),
    "openai": _spec(
        "openai", "OPENAI_API_KEY", "sk-...", C.OPENAI_BASE_URL,
        "https://platform.openai.com/api-keys",
        "Check OPENAI_API_KEY: your keys are at https://platform.openai.com/api-keys.",
        "Check the plan and billing at https://platform.openai.com/settings/organization/billing.",
        "platform.openai.com",
    ),
    "compatible": _spec(
        "compatible", "POE_MCP_COMPATIBLE_API_KEY", "the server's key", "", "",
        "Check the API key configured for {base_url}.",
        "Check your plan with the provider at {base_url}.",
        "",
    ),
}  # fmt: skip
