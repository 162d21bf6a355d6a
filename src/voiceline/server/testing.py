"""The real server in a background thread, on a free port: for tests and benchmarks.

>>> with ServerThread(ServerConfig(data_dir=tmp)) as server:   # doctest: +SKIP
...     httpx.get(server.url + "/healthz")

``stop()`` then ``start()`` again restarts it on the same ports with the same data
directory, as an operator's restart would.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import threading
import time
from dataclasses import replace
from typing import Any

import uvicorn

from voiceline.server.config import ServerConfig
from voiceline.server.run import uvicorn_config

START_TIMEOUT_S = 30.0
PORT_ATTEMPTS = 5


class PortTaken(RuntimeError):
    """A port chosen for the server was taken before the server could bind it."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerThread:
    """``voiceline serve`` in a thread of this process.

    Parameters
    ----------
    config : ServerConfig
        Its ``port`` is replaced by a free one (kept across restarts), and so is its
        ``ingest_port`` unless None (so that test servers never collide on the default
        8081); an ``audiosocket_port`` of 0 also becomes a free port.
    """

    def __init__(self, config: ServerConfig) -> None:
        port = free_port(config.host)
        audiosocket = config.audiosocket_port
        if audiosocket == 0:
            audiosocket = free_port(config.host)
        ingest = free_port(config.host) if config.ingest_port is not None else None
        self.config = replace(config, port=port, ingest_port=ingest,
                              audiosocket_port=audiosocket)
        self.server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app: Any = None

    @property
    def url(self) -> str:
        scheme = "https" if self.config.tls else "http"
        return f"{scheme}://{self.config.host}:{self.config.port}"

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.config.tls else "ws"
        return f"{scheme}://{self.config.host}:{self.config.port}"

    @property
    def ingest_url(self) -> str | None:
        """Base URL of the lean websocket ingest listener (None if it is off)."""
        port = self.config.ingest_port
        scheme = "wss" if self.config.lean_ingest_tls else "ws"
        return None if port is None else f"{scheme}://{self.config.host}:{port}"

    @property
    def service(self) -> Any:
        return self.app.state.service

    def settle_store(self, timeout_s: float = 10.0) -> None:
        """Wait until the store thread has run every call queued so far (an audit entry
        a request queued without waiting, say), so a test may read the store directly."""
        self.service.worker.submit(lambda: None).result(timeout_s)

    def start(self) -> ServerThread:
        """Start and wait until the server serves. A port taken between choosing it and
        binding it (by another test process, say) is chosen again, a few times."""
        for attempt in range(PORT_ATTEMPTS):
            try:
                return self._start()
            except PortTaken:
                if attempt == PORT_ATTEMPTS - 1:
                    raise
                self.config = replace(
                    self.config, port=free_port(self.config.host),
                    ingest_port=(free_port(self.config.host)
                                 if self.config.ingest_port is not None else None),
                    audiosocket_port=(free_port(self.config.host)
                                      if self.config.audiosocket_port is not None else None))
        raise AssertionError("unreachable")

    def _start(self) -> ServerThread:
        from voiceline.server import create_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise PortTaken(str(exc)) from None
            raise
        self.app = create_app(self.config)
        self.server = uvicorn.Server(uvicorn_config(self.config, self.app,
                                                    log_level="warning"))
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self.server.serve(sockets=[sock]))
            except BaseException as exc:  # report start-up failures to the caller
                failure.append(exc)
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="voiceline-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if failure or not self._thread.is_alive():
                self._thread.join(START_TIMEOUT_S)
                error = getattr(self.app.state, "start_error", None)
                if error is not None and "cannot listen" in str(error):
                    raise PortTaken(str(error))
                raise RuntimeError(f"the server did not start: {failure[:1] or error}")
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start in time")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Graceful shutdown: live calls end, dashboards get 1012, the store closes."""
        if self.server is not None and self._thread is not None:
            self.server.should_exit = True
            self._thread.join(START_TIMEOUT_S)
        self.server = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
