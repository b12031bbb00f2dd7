"""Everything the simulator remembers: keys' points, rate windows, faults, requests, files.

One :class:`SimState` is shared by the REST API (``_rest_*.py``), the bot protocol
(``_bot_*.py``) and the in-process helpers of :class:`~poe_mcp.simulator.Simulator`. The server
runs in its own thread while tests call the helpers from theirs, so every mutation takes one lock
(held for microseconds; nothing slow happens under it).

Interface used by both protocols, in the order a request meets it::

    state.check_key(key)            # AuthError (401) / BalanceError (402)
    info = state.check_rate(key)    # RateLimitError (429, retry_after set); RateInfo for headers
    fault = state.next_fault(path, model)  # a scripted Fault, or None
    entry = state.record(method, path, model=..., body=..., headers=...)  # /sim/requests
    model = state.find_model(name)  # NotFoundError (404) naming close matches
    reply = respond(model, messages, store_media=state.add_media, resolve_url=state.resolve_url)
    state.charge(key, model, prompt_tokens, completion_tokens)  # points history entry
"""

from __future__ import annotations

import base64
import collections
import itertools
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import _constants as C
from ..errors import AuthError, BalanceError, ConfigError, RateLimitError
from . import _quirks, _rest_openai
from ._catalog import CATALOG, ModelSpec, find_model
from ._faults import Fault

__all__ = ["RateInfo", "SimState", "StoredFile", "check_numbers", "summarise_body"]


@dataclass(frozen=True, slots=True)
class RateInfo:
    """What the ``x-ratelimit-*`` headers say after a request was admitted (or refused)."""

    limit: int
    remaining: int
    reset_s: float

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(self.remaining),
            "x-ratelimit-reset-requests": str(math.ceil(self.reset_s)),  # whole seconds
        }


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file the simulator serves: generated media or an upload."""

    id: str
    data: bytes
    mime: str
    name: str
    url: str


@dataclass(slots=True)
class _Account:
    points: int
    history: list[dict[str, Any]] = field(default_factory=list)  # newest last
    window: collections.deque[float] = field(default_factory=collections.deque)


def _data_uri_summary(uri: str) -> dict[str, Any]:
    head, _, payload = uri.partition(",")
    media_type = head[5:].split(";")[0] or "text/plain"
    try:
        size = len(base64.b64decode(payload, validate=False)) if ";base64" in head else len(payload)
    except ValueError:
        size = len(payload)
    return {"media_type": media_type, "bytes": size}


def summarise_body(value: Any) -> Any:
    """A copy of a JSON body with every data URI replaced by ``{"media_type", "bytes"}``.

    Keeps ``/sim/requests`` small and lets tests assert what was attached without the payload.
    """
    if isinstance(value, str):
        return _data_uri_summary(value) if value.startswith("data:") else value
    if isinstance(value, Mapping):
        return {k: summarise_body(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarise_body(v) for v in value]
    return value


def check_numbers(**numbers: object) -> None:
    """Refuse a simulator setting that cannot work (``poe-mcp simulator`` checks its options
    the same way): ``rpm`` a whole number >= 1, ``initial_points`` and ``port`` whole numbers
    >= 0 (``port`` <= 65535), ``latency_ms`` and ``media_delay_s`` finite numbers >= 0.

    Raises:
        ConfigError: naming the setting and the value.
    """
    lowest = {"rpm": 1}
    for name, value in numbers.items():
        whole = name in ("rpm", "initial_points", "port")
        ok = isinstance(value, int) if whole else isinstance(value, int | float)
        if isinstance(value, bool) or not ok:
            kind = "a whole number" if whole else "a number"
            raise ConfigError(f"the simulator's {name} must be {kind}, not {type(value).__name__}")
        assert isinstance(value, int | float)
        low = lowest.get(name, 0)
        if not (math.isfinite(value) and value >= low) or (name == "port" and value > 65535):
            top = " and at most 65535" if name == "port" else ""
            raise ConfigError(
                f"the simulator's {name} must be a finite number, at least {low}{top}, got {value}"
            )


class SimState:
    """Shared, thread-safe state of one simulator.

    Args:
        rpm: requests per minute allowed per key (sliding 60 s window).
        latency_ms: added to every API answer by the servers (read by them, not used here).
        media_delay_s: how long media bots take (servers sleep asynchronously).
        initial_points: starting balance of every ordinary key.
        clock: monotonic clock; injectable so the rate window can be tested without waiting.
        provider: ``poe``, or ``openai`` for OpenAI's models, ids and errors (``_rest_openai.py``).
    """

    def __init__(
        self,
        *,
        rpm: int = C.POE_RPM,
        latency_ms: float = 0.0,
        media_delay_s: float = C.SIM_MEDIA_DELAY_S,
        initial_points: int = C.SIM_INITIAL_POINTS,
        clock: Callable[[], float] = time.monotonic,
        provider: str = "poe",
    ) -> None:
        check_numbers(
            rpm=rpm,
            latency_ms=latency_ms,
            media_delay_s=media_delay_s,
            initial_points=initial_points,
        )
        if not callable(clock):
            raise TypeError(f"clock takes a function (time.monotonic), not {type(clock).__name__}")
        self.provider = provider
        self.rpm = rpm
        self.latency_ms = latency_ms
        self.media_delay_s = media_delay_s
        self.initial_points = initial_points
        self.public_url = "http://127.0.0.1"  # set by the server once it knows its port
        self.stopping = False  # set while the server shuts down
        self.catalog: tuple[ModelSpec, ...] = CATALOG
        self._clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._accounts: dict[str, _Account] = {}
        self._faults: list[Fault] = []
        self._log: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=C.SIM_REQUEST_LOG_MAX
        )
        self._media: collections.OrderedDict[str, StoredFile] = collections.OrderedDict()
        self._uploads: dict[str, StoredFile] = {}

    # --- models ----------------------------------------------------------------------------
    def find_model(self, name: str | None) -> ModelSpec:
        """The model called ``name`` in any case; NotFoundError (404) names close matches."""
        if self.provider == "openai":
            return _rest_openai.find_chat_model(name)
        return find_model(name)

    def answered_id(self, model: ModelSpec, requested: str | None) -> str:
        """The model id an answer carries (OpenAI answers with dated snapshot ids)."""
        if self.provider == "openai":
            return _rest_openai.answered_id(model, requested)
        return _quirks.answered_id(model.id, model.quirks) or model.id

    def models_body(self) -> dict[str, Any]:
        """The ``GET /v1/models`` body."""
        if self.provider == "openai":
            return _rest_openai.models_body()
        return {"object": "list", "data": [m.to_openai() for m in self.catalog]}

    def model_item(self, name: str) -> dict[str, Any]:
        """The ``GET /v1/models/<id>`` body; NotFoundError for an unknown model."""
        if self.provider == "openai":
            return _rest_openai.model_item(name)
        return self.find_model(name).to_openai()

    # --- keys and points -------------------------------------------------------------------
    def _account(self, key: str) -> _Account:
        acct = self._accounts.get(key)
        if acct is None:
            points = 0 if key.startswith("broke") else self.initial_points
            acct = self._accounts[key] = _Account(points)
        return acct

    def check_key(self, key: str | None, *, need_points: bool = True) -> None:
        """Refuse a missing key or one starting with ``invalid`` (401), or no points left (402).

        Raises:
            AuthError: missing or invalid key.
            BalanceError: the key's points are spent (``need_points`` only).
        """
        if self.provider == "openai":
            _rest_openai.check_key(key, need_points)
            return
        if not key:
            raise AuthError("Missing API key. Send 'Authorization: Bearer <POE_API_KEY>'.")
        if key.startswith("invalid"):
            raise AuthError("Invalid API key. Get yours at https://poe.com/api_key.")
        if need_points:
            with self._lock:
                points = self._account(key).points
            if points <= 0:
                raise BalanceError(
                    "Insufficient points: this key's balance is 0. Add points at "
                    "https://poe.com/api_key."
                )

    def balance(self, key: str) -> int:
        """Current point balance of ``key``."""
        with self._lock:
            return self._account(key).points

    def points_for(self, model: ModelSpec, prompt_tokens: int, completion_tokens: int) -> int:
        """Points one call costs: its USD price times points per USD, rounded up."""
        if not model.priced:
            return C.SIM_UNPRICED_POINTS
        usd = float(model.request_price or 0)
        usd += prompt_tokens * float(model.prompt_price or 0)
        usd += completion_tokens * float(model.completion_price or 0)
        return max(1, math.ceil(usd * C.SIM_POINTS_PER_USD))

    def charge(
        self, key: str, model: ModelSpec, prompt_tokens: int, completion_tokens: int
    ) -> dict[str, Any]:
        """Take a call's points from ``key`` and add it to the points history; return the entry."""
        cost = self.points_for(model, prompt_tokens, completion_tokens)
        entry = {
            "creation_time": time.time_ns() // 1000,  # microseconds, like Poe
            "bot_name": model.id,
            "query_id": uuid.uuid4().hex,
            "usage_type": "API",
            "cost_points": cost,
            "cost_breakdown_in_points": {
                "Input": f"{prompt_tokens} tokens",
                "Output": f"{completion_tokens} tokens",
                "Total": f"{cost} points",
            },
        }
        with self._lock:
            acct = self._account(key)
            acct.points = max(0, acct.points - cost)
            acct.history.append(entry)
        return entry

    def points_history(
        self,
        key: str,
        *,
        limit: int = C.SIM_POINTS_HISTORY_DEFAULT_LIMIT,
        starting_after: str | None = None,
    ) -> dict[str, Any]:
        """Poe's ``/usage/points_history`` body: newest first, paginated by ``query_id``."""
        with self._lock:
            items = list(reversed(self._account(key).history))
        if starting_after:
            ids = [i["query_id"] for i in items]
            items = items[ids.index(starting_after) + 1 :] if starting_after in ids else []
        page = items[:limit]
        return {"data": page, "has_more": len(items) > limit, "length": len(page)}

    # --- rate limit ------------------------------------------------------------------------
    def check_rate(self, key: str) -> RateInfo:
        """Admit one request of ``key`` in its sliding 60 s window.

        Raises:
            RateLimitError: the window is full; ``retry_after`` is the seconds until a slot frees.
        """
        now = self._clock()
        with self._lock:
            window = self._account(key).window
            while window and now - window[0] >= C.SIM_RATE_WINDOW_S:
                window.popleft()
            reset = (window[0] + C.SIM_RATE_WINDOW_S - now) if window else 0.0
            if len(window) >= self.rpm:
                retry = max(reset, 0.001)
                raise RateLimitError(
                    f"Rate limit reached: {self.rpm} requests per minute per key. "
                    f"Retry after {math.ceil(retry)} s.",
                    retry_after=retry,
                    metadata={"limit": self.rpm},
                )
            window.append(now)
            reset = window[0] + C.SIM_RATE_WINDOW_S - now
            return RateInfo(self.rpm, self.rpm - len(window), reset)

    def rate_info(self, key: str | None) -> RateInfo:
        """Header values for ``key`` without taking a slot (for answers refused before counting)."""
        if not key:
            return RateInfo(self.rpm, self.rpm, 0.0)
        now = self._clock()
        with self._lock:
            window = self._account(key).window
            live = [t for t in window if now - t < C.SIM_RATE_WINDOW_S]
        reset = live[0] + C.SIM_RATE_WINDOW_S - now if live else 0.0
        return RateInfo(self.rpm, max(0, self.rpm - len(live)), reset)

    # --- faults ----------------------------------------------------------------------------
    def add_faults(self, faults: Iterable[Fault]) -> None:
        """Queue faults; each strikes the next ``times`` requests it matches."""
        with self._lock:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def next_fault(self, path: str, model: str | None = None) -> Fault | None:
        """Take the first queued fault matching this request, or None."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(path, model):
                    if fault.times == 0:  # every matching request until cleared
                        return fault
                    fault.times -= 1
                    if fault.times <= 0:
                        del self._faults[i]
                    return fault
        return None

    # --- request log -----------------------------------------------------------------------
    def record(
        self,
        method: str,
        path: str,
        *,
        model: str | None = None,
        body: Any = None,
        headers: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Log a request for ``/sim/requests``; return the entry (callers may set ``status``).

        ``headers`` are header *names*; values are never stored, so the key cannot leak.
        """
        entry: dict[str, Any] = {
            "id": next(self._ids),
            "time": time.time(),
            "method": method,
            "path": path,
            "model": model,
            "body": summarise_body(body),
            "headers": sorted({h.lower() for h in headers}),
            "status": None,
        }
        with self._lock:
            self._log.append(entry)
        return entry

    def requests(self) -> list[dict[str, Any]]:
        """Every logged request, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # --- files -----------------------------------------------------------------------------
    def add_media(self, data: bytes, mime: str, ext: str) -> str:
        """Keep generated media; return its absolute URL ``<public_url>/media/<id>.<ext>``."""
        media_id = uuid.uuid4().hex
        name = f"{media_id}.{ext}"
        url = f"{self.public_url}/media/{name}"
        with self._lock:
            self._media[name] = StoredFile(media_id, data, mime, name, url)
            while len(self._media) > C.SIM_MEDIA_STORE_MAX:
                self._media.popitem(last=False)
        return url

    def get_media(self, name: str) -> StoredFile | None:
        """The media file called ``<id>.<ext>``, or None."""
        with self._lock:
            return self._media.get(name)

    def add_upload(self, data: bytes, mime: str, name: str) -> str:
        """Keep an uploaded file; return its URL ``<public_url>/uploads/<id>/<name>``."""
        upload_id = uuid.uuid4().hex
        safe = name.replace("/", "_") or "file"
        url = f"{self.public_url}/uploads/{upload_id}/{safe}"
        with self._lock:
            self._uploads[upload_id] = StoredFile(upload_id, data, mime, safe, url)
        return url

    def get_upload(self, url_or_id: str) -> StoredFile | None:
        """An upload by its URL (any host) or id, or None."""
        upload_id = url_or_id
        if "/" in url_or_id:
            parts = urlsplit(url_or_id).path.split("/")
            upload_id = parts[2] if len(parts) > 2 and parts[1] == "uploads" else ""
        with self._lock:
            return self._uploads.get(upload_id)

    def resolve_url(self, url: str) -> tuple[bytes, str] | None:
        """Bytes and media type behind a URL this simulator serves (media or upload), else None."""
        path = urlsplit(url).path
        if path.startswith("/media/"):
            media = self.get_media(path.rsplit("/", 1)[-1])
            return (media.data, media.mime) if media else None
        upload = self.get_upload(url)
        return (upload.data, upload.mime) if upload else None

    # --- all -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget balances, rate windows, faults, logged requests and files."""
        with self._lock:
            self._accounts.clear()
            self._faults.clear()
            self._log.clear()
            self._media.clear()
            self._uploads.clear()
