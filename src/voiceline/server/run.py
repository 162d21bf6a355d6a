"""Running the app under uvicorn: the server settings and log redaction."""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from voiceline.server.config import ServerConfig
from voiceline.server.limits import guarded_h11
from voiceline.server.tls import TLS12_CIPHERS, forwarded_allow_list

WS_IMPLEMENTATION = "websockets-sansio"
"""uvicorn's binding of the websockets library's sans-I/O protocol core (see the
package docstring for why not ``"websockets"``)."""
GRACEFUL_SHUTDOWN_S = 5.0
_TOKEN = re.compile(r"(token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Blank ``token=...`` in log lines (uvicorn logs websocket paths with their query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Redacted where the token sits, so that the record keeps its shape: uvicorn's
        # access formatter reads its five arguments (client, method, path, version,
        # status) by position, and a record flattened to its message broke every
        # access line of a URL with a token (audio playback's ``audio_token=``).
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = _TOKEN.sub(r"\1***", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN.sub(r"\1***", a) if isinstance(a, str) and "token=" in a
                                else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _TOKEN.sub(r"\1***", v) if isinstance(v, str) and "token=" in v
                           else v for k, v in record.args.items()}
        return True


def install_redaction() -> None:
    for name in ("uvicorn.error", "uvicorn.access", "voiceline.server"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def uvicorn_config(config: ServerConfig, app: Any = None, **extra: Any) -> uvicorn.Config:
    """The uvicorn settings for ``config``: websocket limits, no compression, and the
    HTTP port's connection budget and first-request deadline (:mod:`.limits`)."""
    from voiceline.server import create_app

    install_redaction()
    app = app if app is not None else create_app(config)
    http = guarded_h11(config.max_connections, config.handshake_timeout_s,
                       app.state.connection_cuts)
    tls = {}
    if config.tls:  # the same suites and versions as the lean ingest port (.tls)
        tls = {"ssl_certfile": config.tls_certfile, "ssl_keyfile": config.tls_keyfile,
               "ssl_version": ssl.PROTOCOL_TLS_SERVER, "ssl_ciphers": TLS12_CIPHERS}
    return uvicorn.Config(
        app, host=config.host, port=config.port, http=http,
        ws=WS_IMPLEMENTATION, ws_max_size=config.max_message_bytes,
        ws_per_message_deflate=False, lifespan="on",
        proxy_headers=True, forwarded_allow_ips=forwarded_allow_list(config.forwarded_allow_ips),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, **tls, **extra)


class QuietServer(uvicorn.Server):
    """uvicorn's server, stopped by Ctrl-C or SIGTERM without a traceback.

    uvicorn (≥ 0.29) re-raises the signal once its graceful shutdown is done; the
    KeyboardInterrupt then cancels the lifespan task still waiting in ``asyncio.run``,
    and uvicorn logs that as an error with two tracebacks. Here the signals only ask
    the server to exit (a second Ctrl-C forces it, as in uvicorn), so ``run`` returns.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(config: ServerConfig) -> None:
    """Serve until interrupted (Ctrl-C ends calls, closes the store, and returns)."""
    QuietServer(uvicorn_config(config)).run()

