"""Running the app under uvicorn: the server settings and log redaction."""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from voiceline.server.config import LOCK_FILE, ServerConfig
from voiceline.server.limits import guarded_h11
from voiceline.server.tls import TLS12_CIPHERS, forwarded_allow_list

log = logging.getLogger("voiceline.server")


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's binding of the websockets library's sans-I/O protocol core (see the
    package docstring for why not its ``"websockets"``), with text that is not UTF-8
    refused as the lean ingest port refuses it: one log line and a 1007 close with the
    reason, which the app receives too (uvicorn logged a traceback and closed with no
    reason, and the ingest line read "closed by the peer")."""

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            data = b"".join(self.frames)
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.frames = []
                reason = f"text message is not UTF-8: {exc.reason} at byte {exc.start}"
                peer = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
                log.warning("websocket %s %s: closed, %s", self.scope.get("path", ""), peer,
                            reason)
                self.conn.send_close(1007, reason)
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()


WS_IMPLEMENTATION = WebSocketProtocol
GRACEFUL_SHUTDOWN_S = 5.0
_TOKEN = re.compile(r"(token=)[^&\s\"']+")
#: Control characters (C0, DEL, C1) and the line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match) -> str:
    return repr(match.group())[1:-1]  # "\n", "\x00", "\u2028"


def _clean(text: str) -> str:
    """``text`` without a token and with its control characters escaped."""
    if "token=" in text:
        text = _TOKEN.sub(r"\1***", text)
    return _CONTROL.sub(_escaped, text)


class RedactTokens(logging.Filter):
    """Blank ``token=...`` in log lines (uvicorn logs websocket paths with their query),
    and escape control characters in the values a line shows (a newline in a seat id a
    client sent would otherwise write a forged line into the log, a NUL make it binary).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # Cleaned where each value sits, so that the record keeps its shape: uvicorn's
        # access formatter reads its five arguments (client, method, path, version,
        # status) by position, and a record flattened to its message broke every
        # access line of a URL with a token (audio playback's ``audio_token=``). The
        # format string is the program's own: only its token is blanked.
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = _TOKEN.sub(r"\1***", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_cleaned(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _cleaned(v) for k, v in record.args.items()}
        return True


def _cleaned(value: object) -> object:
    """A log argument made safe: text and errors (whose message may quote a client's
    input) cleaned, anything else (numbers, for ``%d``) as it is."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, BaseException):
        return _clean(str(value))
    return value


def install_redaction() -> None:
    for name in ("uvicorn.error", "uvicorn.access", "voiceline.server",
                 "voiceline.server.wire"):
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
    """uvicorn's server, stopped by Ctrl-C, SIGTERM or SIGHUP without a traceback.

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
        # SIGHUP too (the terminal closed, a session ended): it killed the server where
        # it stood, its live calls left open in the store until the next start.
        previous = {sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


_held: list = []  # the lock files this process holds, open until it exits


def hold_data_dir(directory: Path) -> None:
    """Hold the data directory for this server, or ``ValueError`` naming who holds it.

    A second ``serve`` on the same directory used to end the first one's live calls in
    the store at its start-up ("left live by the previous run"), then fail on the port:
    the running server's records said its calls had ended. The lock is an advisory
    ``flock`` on ``DATA/voiceline.lock``; the kernel drops it when the process ends,
    however it ends, so a crash leaves nothing to clear by hand.
    """
    import fcntl
    import os

    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK_FILE, "a+")  # held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise ValueError(f"{directory} is in use by a running server ({holder}); stop it "
                         "first, or give this one its own --data") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"voiceline serve, pid {os.getpid()}\n")
    handle.flush()
    _held.append(handle)


def holds_data_dir(directory: Path) -> bool:
    """Whether this process holds ``directory``'s lock (:func:`hold_data_dir`)."""
    wanted = (Path(directory) / LOCK_FILE).resolve()
    return any(Path(handle.name).resolve() == wanted for handle in _held)


def check_ports_free(config: ServerConfig) -> None:
    """``ValueError`` naming the first port another program holds, before anything starts
    (uvicorn said so with exit 3, the ingest ports with a traceback)."""
    import socket

    ports = [("--port", config.port), ("--ingest-port", config.ingest_port),
             ("--audiosocket-port", config.audiosocket_port)]
    for option, port in ports:
        if not port:  # None: not opened; 0: the system picks a free one
            continue
        try:
            infos = socket.getaddrinfo(config.host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ValueError(f"--host {config.host}: {exc.strerror}") from None
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                probe.bind(address)
            except OSError as exc:
                raise ValueError(f"{option} {port} on {config.host}: {exc.strerror}; another "
                                 "program (or server) listens there") from None


def serve(config: ServerConfig) -> None:
    """Serve until interrupted (Ctrl-C ends calls, closes the store, and returns)."""
    QuietServer(uvicorn_config(config)).run()

