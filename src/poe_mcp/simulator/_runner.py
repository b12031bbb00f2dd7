"""``Simulator``: the simulator in a background thread (tests, ``serve --simulate``) or in front.

::

    with Simulator() as sim:                  # or: async with Simulator() as sim
        client = OpenAI(api_key="test-key", base_url=sim.base_url)
        sim.add_fault(kind="status", status=429, retry_after=1)
        ...
        sim.requests()                        # what the server received
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

from .. import _constants as C
from ..errors import ConfigError
from ._faults import Fault, parse_faults
from ._state import SimState, check_numbers

__all__ = ["Simulator"]

_START_TIMEOUT_S = 10.0


class Simulator:
    """A running copy of Poe's API on loopback.

    Args:
        host: interface to bind (loopback by default; the ``/sim/`` hooks answer loopback only).
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        rpm: requests per minute allowed per key before 429.
        latency_ms: added to every API answer.
        media_delay_s: how long media bots (image, video, audio) take; slept asynchronously.
        initial_points: starting point balance of every ordinary key.
        provider: ``poe`` (default), or ``openai`` to answer as OpenAI's API does: its plain
            model list (chat and non-chat models), dated model ids in answers, its error bodies
            (see ``poe_mcp.simulator._rest_openai``).

    Attributes:
        state: the shared :class:`SimState` (balances, faults, request log, files).
    """

    def __init__(
        self,
        host: str = C.SIMULATOR_HOST,
        port: int = 0,
        *,
        rpm: int = C.POE_RPM,
        latency_ms: float = 0.0,
        media_delay_s: float = C.SIM_MEDIA_DELAY_S,
        initial_points: int = C.SIM_INITIAL_POINTS,
        provider: str = "poe",
    ) -> None:
        if provider not in C.SIM_PROVIDERS:
            raise ConfigError(
                f"the simulator plays {' or '.join(C.SIM_PROVIDERS)}, not {provider!r}"
            )
        if not isinstance(host, str) or not host.strip():
            raise ConfigError(f"the simulator's host must be an address, got {host!r}")
        check_numbers(port=port)
        self.host = host
        self._requested_port = port
        self.provider = provider
        self.state = SimState(
            rpm=rpm,
            latency_ms=latency_ms,
            media_delay_s=media_delay_s,
            initial_points=initial_points,
            provider=provider,
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self.port = port

    # --- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8787``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL (``<url>/v1``): pass it to ``OpenAI(base_url=...)``."""
        return f"{self.url}/v1"

    @property
    def bot_base_url(self) -> str:
        """Bot protocol base URL (``<url>/bot/``) for ``fastapi_poe``'s ``base_url``."""
        return f"{self.url}/bot/"

    @property
    def upload_base_url(self) -> str:
        """Upload base URL (``<url>/poe_api/``) for ``fastapi_poe.upload_file``'s ``base_url``."""
        return f"{self.url}/poe_api/"

    @property
    def app(self) -> Any:
        """The simulator as an ASGI app, to drive in process without a socket or a thread.

        For example::

            sim = Simulator()
            http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sim.app))
            client = AsyncPoeClient("test-key", base_url="http://sim/v1", http_client=http)

        Each access builds an app over the same :attr:`state` (faults, balances, requests).
        """
        from ._app import build_app

        return build_app(self.state)

    # --- lifecycle -------------------------------------------------------------------------
    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto must be IPPROTO_TCP: only then does asyncio set TCP_NODELAY on accepted sockets
        # (without it Nagle holds the body write ~40 ms behind the header write).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"simulator cannot listen on {self.host}:{self._requested_port}: {exc.strerror}. "
                "Pick another --port (0 chooses a free one)."
            ) from exc
        sock.listen(2048)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self.state.public_url = self.url
        return sock

    def _make_server(self) -> Any:
        import uvicorn

        from ._app import build_app

        config = uvicorn.Config(
            build_app(self.state),
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_keep_alive=30,
            server_header=False,
            date_header=False,
        )
        return uvicorn.Server(config)

    def start(self) -> Simulator:
        """Start serving in a background thread; returns once the server accepts connections."""
        if self._thread is not None:
            return self
        self._sock = self._bind()
        self._server = self._make_server()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="poe-simulator", daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT_S) or not self._server.started:
            self.stop()
            raise ConfigError("the simulator did not start")
        return self

    def _thread_main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        finally:
            loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        # uvicorn's own serve() polls for exit every 0.1 s and sleeps 0.1 s on shutdown; tests
        # start many simulators, so wait on an event and close connections directly instead.
        server = self._server
        self._stop_event = asyncio.Event()
        try:
            server.config.load()
            server.lifespan = server.config.lifespan_class(server.config)
            await server.startup(sockets=[self._sock])
        finally:
            ready.set()
        if not server.started:
            return
        await self._stop_event.wait()
        self.state.stopping = True  # requests cut short now end quietly (see transport_middleware)
        for srv in server.servers:
            srv.close()
        for conn in list(server.server_state.connections):
            conn.transport.abort()
        await asyncio.sleep(0)  # connection_lost marks in-flight requests as disconnected
        tasks = [t for t in server.server_state.tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(event.set)
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT_S)
        if self._sock is not None:
            self._sock.close()
        self._thread = self._server = self._sock = None
        self._loop = self._stop_event = None

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve in the foreground until interrupted (Ctrl-C); used by ``poe-mcp simulator``.

        Args:
            on_ready: called once the port is bound (so :attr:`url` is final).
        """
        sock = self._bind()
        server = self._make_server()
        if on_ready is not None:
            on_ready()
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Simulator:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)

    # --- in-process helpers ----------------------------------------------------------------
    def add_fault(self, kind: str = "status", **fields: Any) -> Fault:
        """Queue one fault (same fields as ``POST /sim/faults``); returns it.

        Example: ``sim.add_fault("status", status=429, retry_after=1)``,
        ``sim.add_fault("cut", after_chunks=3)``, ``sim.add_fault("delay", delay_s=0.2)``.

        Raises:
            InvalidRequestError: unknown kind or field.
        """
        (fault,) = parse_faults({"kind": kind, **fields})
        self.state.add_faults([fault])
        return fault

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        self.state.clear_faults()

    def requests(self) -> list[dict[str, Any]]:
        """What the server received, oldest first (the ``/sim/requests`` entries)."""
        return self.state.requests()

    def clear_requests(self) -> None:
        self.state.clear_requests()

    def reset(self) -> None:
        """Forget balances, rate windows, faults, the request log and files."""
        self.state.reset()

    def balance(self, key: str) -> int:
        """Point balance of ``key``."""
        return self.state.balance(key)

    def __repr__(self) -> str:
        running = "running" if self._thread is not None else "stopped"
        mode = ", provider=openai" if self.provider == "openai" else ""
        return f"Simulator({self.url}{mode}, {running})"
