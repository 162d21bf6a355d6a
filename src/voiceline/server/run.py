"""Running the app under uvicorn: the server settings and log redaction."""

from __future__ import annotations

import logging
import re
from typing import Any

import uvicorn

from voiceline.server.config import ServerConfig

WS_IMPLEMENTATION = "websockets-sansio"
"""uvicorn's binding of the websockets library's sans-I/O protocol core (see the
package docstring for why not ``"websockets"``)."""
GRACEFUL_SHUTDOWN_S = 5.0
_TOKEN = re.compile(r"(token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Blank ``token=...`` in log lines (uvicorn logs websocket paths with their query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg = _TOKEN.sub(r"\1***", message)
            record.args = ()
        return True


def install_redaction() -> None:
    for name in ("uvicorn.error", "uvicorn.access", "voiceline.server"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def uvicorn_config(config: ServerConfig, app: Any = None, **extra: Any) -> uvicorn.Config:
    """The uvicorn settings for ``config``: websocket limits, no compression."""
    from voiceline.server import create_app

    install_redaction()
    return uvicorn.Config(
        app if app is not None else create_app(config), host=config.host, port=config.port,
        ws=WS_IMPLEMENTATION, ws_max_size=config.max_message_bytes,
        ws_per_message_deflate=False, lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, **extra)


def serve(config: ServerConfig) -> None:
    """Serve until interrupted (Ctrl-C ends calls, closes the store, and returns)."""
    server = uvicorn.Server(uvicorn_config(config))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        pass

