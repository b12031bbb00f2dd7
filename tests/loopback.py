"""An ASGI app served for a test: uvicorn on an ephemeral 127.0.0.1 port, in a thread of its own."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class LoopbackServer:
    """``with LoopbackServer(app) as server:`` serves ``app`` at ``server.url`` until the block
    ends (or ``start()`` / ``stop()``)."""

    def __init__(self, app: Any, *, lifespan: str = "off", name: str = "the test server") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._name = name
        config = uvicorn.Config(
            app, interface="asgi3", lifespan=lifespan, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> LoopbackServer:
        """Serve, returning once the server accepts connections (at most 10 s)."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self._name} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
