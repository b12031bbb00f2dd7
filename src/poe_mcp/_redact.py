"""The one scrubber: secrets never leave the process in answers, records, errors or logs.

What it removes:

- **registered secrets**: every API key in use (Poe, OpenAI, the ``compatible`` provider's) and
  the HTTP bearer token, registered with :func:`register_secret` as soon as they are read, also
  in the forms a model asked to "encode" it would write: all upper or lower case, base64
  (standard and URL-safe, at any byte alignment), hex and percent-encoding;
- **bearer tokens** of any origin (``Authorization: Bearer <token>``), by pattern.

Where it runs (so that every entry point gets it): answers and streamed deltas in the client
(``client.py``), stored messages and ledger rows in every store backend (``store/``), every MCP
tool result (``server/app.py``), error texts and log records (``_logging.py``).

A streamed answer can split a key across two deltas; :class:`StreamScrubber` holds back the
shortest tail that could still become a secret, so no part of one is ever emitted. It does the
same for the other streamed texts of one answer (reasoning, each tool call's arguments) through
:meth:`StreamScrubber.part`.

Also here: :func:`redact_url` (userinfo and secret query values out of URLs) and
:func:`describe_value` (a value quoted in an error, masked when it looks like a secret).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote

from . import _constants as C

__all__ = [
    "StreamScrubber",
    "current_scrubber",
    "describe_value",
    "encoded_forms",
    "looks_secret",
    "map_strings",
    "mask_secrets",
    "redact",
    "redact_url",
    "register_secret",
    "register_url_secrets",
    "scrub_obj",
]

REDACTED = "[redacted]"
_MIN_SECRET_LEN = C.SECRET_MIN_CHARS
_BEARER_MIN_TOKEN = C.BEARER_MIN_TOKEN_CHARS
_HOLDBACK_MAX = C.STREAM_HOLDBACK_MAX_CHARS
_LOOKALIKE = C.SECRET_LOOKALIKE_MIN_CHARS
_ALPHABET = r"A-Za-z0-9._~+/=\-"

_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()  # longest first, so a secret containing another goes whole
_lock = threading.Lock()

_BEARER = re.compile(rf"(?i)\b(bearer)(\s+)[{_ALPHABET}]{{{_BEARER_MIN_TOKEN},}}")
# A tail that may still grow into "Bearer <token>": a prefix of the word, or the word and
# whatever token characters follow it.
_BEARER_TAIL = re.compile(rf"(?i)(?:\bb(?:e(?:a(?:r(?:e(?:r(?:\s+[{_ALPHABET}]*)?)?)?)?)?)?)\Z")
_SECRET_NAME = re.compile(r"(?i)(key|token|secret|passw|pwd|auth|sig|credential)")


def verbatim_in_json() -> bool:
    """True when every registered secret reads the same inside a JSON dump (none holds a
    character ``json.dumps`` escapes), so :func:`redact` of a dump finds each one."""
    return not any(_JSON_ESCAPED.search(secret) for secret in _ordered)


_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f\x7f]')


def register_secret(value: str | None) -> None:
    """Remember a secret so that it never reaches an answer, a record, an error or a log
    (nor in the encoded forms of :func:`encoded_forms`)."""
    global _ordered
    if value and len(value) >= _MIN_SECRET_LEN and value not in _secrets:
        with _lock:
            _secrets.add(value)
            _secrets.update(encoded_forms(value))
            _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def encoded_forms(secret: str) -> set[str]:
    """What a secret looks like once encoded the usual ways, as it would appear inside a
    longer encoded text: all upper or lower case, base64 and URL-safe base64 at each of the
    three byte alignments (only the characters that depend on the secret alone), hex (both
    cases) and percent-encoding (every byte, both cases; and ``quote``'s form). Empty for short
    secrets, whose encodings would match ordinary text."""
    if len(secret) < C.SECRET_ENCODED_MIN_CHARS:
        return set()
    raw = secret.encode("utf-8", "replace")
    forms = {secret.lower(), secret.upper(), raw.hex(), raw.hex().upper(), quote(secret, safe="")}
    percent = "".join(f"%{byte:02X}" for byte in raw)
    forms |= {percent, percent.lower()}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for align in range(3):
            coded = encode(b"\0" * align + raw).decode("ascii")
            # The first group mixes in the bytes before the secret, the last the bytes after.
            forms.add(coded[4 if align else 0 : 4 * ((align + len(raw)) // 3)])
    forms.discard(secret)
    return {form for form in forms if len(form) >= C.SECRET_ENCODED_MIN_CHARS}


def redact(text: str) -> str:
    """``text`` with every registered secret and bearer token replaced by ``[redacted]``."""
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return text


def map_strings(change: Callable[[str], str], value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with ``change`` applied to every
    string, keys included; other values are returned as they are."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {map_strings(change, k): map_strings(change, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [map_strings(change, v) for v in value]
    return value


def scrub_obj(value: Any) -> Any:
    """A copy of a JSON-like value with :func:`redact` applied to every string (keys included)."""
    return map_strings(redact, value)


def _secret_tail(text: str) -> int:
    """Length of the longest tail of ``text`` that could be the start of a secret."""
    longest = 0
    for secret in _ordered:
        limit = min(len(secret) - 1, len(text))
        # Candidates start where the secret's first character appears in the tail.
        start = len(text) - limit
        first = secret[0]
        at = text.find(first, start)
        while at != -1:
            size = len(text) - at
            if size > longest and secret.startswith(text[at:]):
                longest = size
                break  # earlier positions give longer tails; later ones cannot beat this
            at = text.find(first, at + 1)
    match = _BEARER_TAIL.search(text)
    if match is not None and match.end() > match.start():
        longest = max(longest, len(text) - match.start())
    return min(longest, _HOLDBACK_MAX)


def _safe_cut(text: str, cut: int) -> int:
    """``cut`` moved back to the start of any whole secret it would split: the tail held back
    for one secret (a maybe-start of it) can begin inside another that is already complete,
    and a split secret would be emitted unredacted."""
    moved = True
    while moved and cut > 0:
        moved = False
        for secret in _ordered:
            if cut < len(text):
                at = text.find(secret, max(0, cut - len(secret) + 1), cut + len(secret) - 1)
                if at != -1 and at < cut:
                    cut, moved = at, True
    return cut


class StreamScrubber:
    """Scrubs a text that arrives in pieces (streamed deltas).

    :meth:`feed` returns what can be shown now; a tail that could still turn into a secret
    is kept until the next piece says otherwise, or until :meth:`flush`. The other texts of
    the same stream (reasoning, each tool call's arguments) go through :meth:`part`, each
    with a scrubber of its own.
    """

    def __init__(self) -> None:
        self._held = ""
        self._parts: dict[object, StreamScrubber] = {}

    def part(self, name: object, text: str) -> str:
        """Scrub the next piece of the stream's text ``name`` (``"reasoning"``, a tool
        call's index...), holding back a maybe-secret tail like :meth:`feed`."""
        scrubber = self._parts.get(name)
        if scrubber is None:
            scrubber = self._parts[name] = StreamScrubber()
        return scrubber.feed(text)

    def feed(self, text: str, *, replace: bool = False) -> str:
        """Take the next piece (``replace``: it replaces everything so far) and return the
        scrubbed text to emit (for a replacement: the new text's safe beginning)."""
        _CURRENT.set(self)  # for scrubbed_delta: the delta's other texts, same stream
        buffer = text if replace else self._held + text
        if not _ordered and "b" not in buffer and "B" not in buffer:
            self._held = ""
            return buffer
        cut = _safe_cut(buffer, len(buffer) - _secret_tail(buffer))
        self._held = buffer[cut:]
        return redact(buffer[:cut])

    def flush(self) -> str:
        """Whatever is still held, scrubbed (call when the stream ends). What the parts
        still hold is dropped: the answer's result carries those texts whole, scrubbed."""
        held, self._held = self._held, ""
        self._parts.clear()
        return redact(held)


# The scrubber that last took a piece of streamed text in this context: the client feeds a
# delta's text, then scrubs the delta's other texts (reasoning, tool-call arguments) with no
# await between, so this is always the same stream's scrubber.
_CURRENT: ContextVar[StreamScrubber | None] = ContextVar("poe_mcp_stream_scrubber", default=None)


def current_scrubber() -> StreamScrubber | None:
    """The :class:`StreamScrubber` that took the last piece of streamed text here."""
    return _CURRENT.get()


def looks_secret(value: object) -> bool:
    """Whether a value quoted in a message could be a credential (a long token-like string).

    Registered secrets always count; otherwise: 16+ characters without spaces, made of token
    characters, that is not a URL, and holds a run of 12+ letters and digits mixed. A path
    counts when one of its folder or file names does (a key pasted into a path setting).
    """
    if not isinstance(value, str):
        return False
    text = value.strip()
    if any(secret in text for secret in _ordered):
        return True
    if len(text) < _LOOKALIKE or "://" in text:
        return False
    if text[0] in "/~.\\":
        return any(_token_like(name) for name in re.split(r"[/\\]", text))
    return _token_like(text)


def _token_like(text: str) -> bool:
    if len(text) < _LOOKALIKE or not re.fullmatch(rf"[{_ALPHABET}]+", text):
        return False
    # Keys carry a long random run; names such as gpt-4o-mini-2024-07-18 only short pieces.
    return any(
        re.search(r"[A-Za-z]", run) and re.search(r"[0-9]", run)
        for run in re.findall(r"[A-Za-z0-9]{12,}", text)
    )


def describe_value(value: object) -> str:
    """How to quote a user's value in an error: its repr, or, when it looks like a secret,
    its type, length and a masked preview (``<str of 51 characters: 'sk-a…'>``)."""
    if looks_secret(value):
        text = str(value).strip()
        preview = "" if any(s in text for s in _ordered) else text[:4]
        return f"<{type(value).__name__} of {len(text)} characters: '{preview}…' (masked)>"
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def mask_secrets(text: str) -> str:
    """``text`` (an error message quoting user input) with registered secrets redacted and
    every secret-looking run masked (see :func:`looks_secret`)."""

    def masked(run: str) -> str:
        return f"<{len(run)} characters, masked>" if looks_secret(run) else run

    def mask(match: re.Match[str]) -> str:
        run = match.group()
        if "/" in run and (run[0] in "/~.\\" or not looks_secret(run)):
            return "/".join(masked(name) for name in run.split("/"))  # a path: names apart
        return masked(run)

    return re.sub(rf"[{_ALPHABET}]{{{_LOOKALIKE},}}", mask, redact(text))


def redact_url(url: str) -> str:
    """``url`` without its user and password (``https://u:p@host`` -> ``https://***@host``),
    with secret-looking query values and path segments masked (``/bot<token>/``), and with
    registered secrets removed."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return mask_secrets(url)
    userinfo = _userinfo(url)  # ends at the authority's last '@'; a password may hold a '/'
    if userinfo is not None:
        rest = "***@" + rest[len(userinfo) + 1 :]
    head, qmark, query = rest.partition("?")
    authority, slash, path = head.partition("/")
    if slash:
        names = ["***" if looks_secret(name) else name for name in path.split("/")]
        head = f"{authority}/{'/'.join(names)}"
        rest = head + qmark + query
    if qmark:
        fragment = ""
        if "#" in query:
            query, fragment = query.split("#", 1)
            fragment = "#" + fragment
        pairs = []
        for pair in query.split("&"):
            name, eq, val = pair.partition("=")
            if eq and (_SECRET_NAME.search(name) or looks_secret(val)):
                val = "***"
            pairs.append(f"{name}{eq}{val}")
        rest = f"{head}?{'&'.join(pairs)}{fragment}"
    return redact(f"{scheme}://{rest}")


def _userinfo(url: str) -> str | None:
    _scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    end = min((i for i in (rest.find("?"), rest.find("#")) if i != -1), default=len(rest))
    at = rest.rfind("@", 0, end)
    if at == -1:
        return None
    before = rest[:at]
    slash, colon = before.find("/"), before.find(":")
    return before if slash == -1 or (colon != -1 and colon < slash) else None


def register_url_secrets(url: str | None) -> None:
    """Register the password (and user:password) of a URL, and its secret-looking query
    values, so that error texts quoting the URL never show them."""
    if not url:
        return
    userinfo = _userinfo(url)
    if userinfo:
        register_secret(userinfo)
        register_secret(userinfo.partition(":")[2])
    rest = url.partition("://")[2]
    if userinfo:
        rest = rest[len(userinfo) + 1 :]
    path = rest.partition("?")[0].partition("#")[0].partition("/")[2]
    for name in path.split("/"):
        if looks_secret(name):
            register_secret(name)
    query = url.partition("?")[2].partition("#")[0]
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and (_SECRET_NAME.search(name) or looks_secret(value)):
            register_secret(value)
