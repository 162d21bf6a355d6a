"""The lean websocket ingest listener: audio fork and Twilio on a port of their own.

Why: through uvicorn and Starlette every websocket message costs the event loop about
50-75 µs, most of it not our work: uvicorn stops and restarts reading the socket for
each message (two ``epoll_ctl`` system calls), queues it as an ASGI event and wakes the
route's task to take it. A telephony source sends 50 messages a second per call (20 ms
frames), 15,000 a second at 300 seats, and the loop shares the GIL with the engine
thread. Here each connection is an :class:`asyncio.BufferedProtocol` that hands what
it reads to the websockets library's sans-I/O :class:`ServerProtocol` (the same core
uvicorn's binding uses) and each message straight to the ingest parser and the engine:
no task switch, no queue, no pause per message. Reading pauses only while a call start
or end waits for the store.

The endpoints, tokens, limits and close codes are those of the FastAPI routes in
:mod:`voiceline.server.sockets`, which stay for senders that must share the HTTP port:

- ``/ingest/audiofork`` and ``/ingest/twilio``; any other path is refused with HTTP 404;
- an ingest token as ``Authorization: Bearer`` or ``?token=``, else HTTP 401 (JSON
  ``{"detail": ...}``);
- a message over ``max_message_bytes`` closes with 1009, text that is not UTF-8 with
  1007, a malformed message (as the parser judges it) with 1008 and the reason; the call
  on that connection ends, every other connection carries on;
- the waiting limits and connection budget of :mod:`voiceline.server.limits`: no
  handshake in time, the socket is dropped; no call start or no data in time, 1008
  with the reason;
- at shutdown, 1012.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from ssl import SSLContext
from typing import Any
from urllib.parse import parse_qs

from websockets.datastructures import Headers
from websockets.frames import Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from voiceline.server.calls import SHUTDOWN_REASON
from voiceline.server.deps import bearer_token, check_token
from voiceline.server.ingest import (
    CLOSE_POLICY,
    TOKEN_REQUIRED,
    IngestConnection,
    close_reason,
    note_refused,
)
from voiceline.server.limits import over_limit

log = logging.getLogger("voiceline.server")
WIRE_LOG = logging.getLogger("voiceline.server.wire")
"""The websockets core's own log lines (one per connection opened or closed)."""
PATHS = {"/ingest/audiofork": "audiofork", "/ingest/twilio": "twilio"}
CLOSE_SHUTDOWN = 1012
CLOSE_TIMEOUT_S = 5.0
"""How long a closing connection may wait for the peer's half of the closing handshake."""
READ_BYTES = 16 * 1024
"""Most bytes taken from one socket per read (~25 messages of 20 ms stereo): an overloaded
loop then still turns over every few hundred ms instead of parsing a whole backlog of one
connection before anything else runs."""
PEER_CLOSED = "connection closed by the peer"


class LeanIngestConnection(asyncio.BufferedProtocol):
    """One websocket ingest connection on the lean listener (see the module docstring)."""

    def __init__(self, listener: LeanIngestListener) -> None:
        self.listener = listener
        self.service = listener.service
        self.ws = ServerProtocol(max_size=self.service.config.max_message_bytes,
                                 logger=WIRE_LOG)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.conn: IngestConnection | None = None
        self.reason = PEER_CLOSED
        self.closed = False
        self._task: asyncio.Task | None = None
        self._waiting = False
        self._backlog: list = []
        self._parts: list[bytes] = []
        self._kind: Opcode | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._patience: asyncio.TimerHandle | None = None
        """Fires when the handshake, the call's start or the call's data is overdue."""
        self._buffer = memoryview(bytearray(READ_BYTES))

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        address = transport.get_extra_info("peername")
        self.peer = f"{address[0]}:{address[1]}" if address else "?"
        self.listener.connections.add(self)
        config = self.service.config
        if over_limit(len(self.listener.connections), config.max_connections):
            self.service.cuts.cut("ingest", "limit", self.peer,
                                  f"over max_connections ({config.max_connections})")
            transport.abort()
            return
        self._patience = asyncio.get_running_loop().call_later(
            config.handshake_timeout_s, self._no_handshake)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        ws = self.ws
        ws.receive_data(self._buffer[:nbytes].tobytes())
        frames = ws.events_received()
        if frames:
            if isinstance(frames[0], Request):
                self._handshake_later(frames[0])
            elif self.conn is not None:
                events = self._messages(frames)
                if events:
                    self._deliver(events)
        self._after_wire()

    def eof_received(self) -> bool:
        self.ws.receive_eof()
        self._after_wire()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._patience is not None:
            self._patience.cancel()
        self.listener.connections.discard(self)
        if exc is not None and self.reason == PEER_CLOSED:
            self.reason = f"connection error: {exc}"
        if self.conn is not None:
            conn, reason = self.conn, self.reason
            self._later(conn.close, reason)

    # -- the websocket messages -----------------------------------------------------------

    def _messages(self, frames: list) -> list:
        """Whole messages of ``frames`` through the parser; its events, in order."""
        conn = self.conn
        assert conn is not None
        events: list = []
        for frame in frames:
            opcode = frame.opcode
            if opcode is Opcode.BINARY or opcode is Opcode.TEXT:
                if not frame.fin:
                    self._kind, self._parts = opcode, [frame.data]
                    continue
                data = frame.data
            elif opcode is Opcode.CONT:
                self._parts.append(frame.data)
                if not frame.fin:
                    continue
                opcode, data = self._kind, b"".join(self._parts)
                self._kind, self._parts = None, []
            else:  # ping, pong, close: the websockets core answers them
                continue
            if opcode is Opcode.BINARY:
                events += conn.receive_bytes(data)
                continue
            try:
                text = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                self._fail_wire(1007, f"text message is not UTF-8: {exc.reason} at byte "
                                      f"{exc.start}")
                break
            events += conn.receive_text(text)
        return events

    def _deliver(self, events: list) -> None:
        """Audio goes to the engine at once; a call start or end is awaited, reading paused."""
        if self._waiting:
            self._backlog += events
            return
        done = self.conn.handle_now(events)  # type: ignore[union-attr]
        if done < len(events):
            self._waiting = True
            self.transport.pause_reading()  # type: ignore[union-attr]
            self._later(self._handle_rest, events[done:])

    async def _handle_rest(self, events: list) -> None:
        conn = self.conn
        assert conn is not None
        while events:
            fatal = await conn.handle(events)
            if fatal:  # the parser takes nothing more; reading goes on for the close frame
                self._backlog = []
                self.reason = f"protocol error: {fatal}"
                self._close(CLOSE_POLICY, close_reason(fatal))
            events, self._backlog = self._backlog, []
        self._waiting = False
        if not self.closed:
            self.transport.resume_reading()  # type: ignore[union-attr]
            self._wait_patiently()  # a call started or ended: the other deadline applies

    # -- the opening handshake ----------------------------------------------------------

    def _handshake_later(self, request: Request) -> None:
        self.transport.pause_reading()  # type: ignore[union-attr]
        self._later(self._handshake, request)

    async def _handshake(self, request: Request) -> None:
        service, ws = self.service, self.ws
        path, _, query = request.path.partition("?")
        protocol = PATHS.get(path)
        if protocol is None:
            response = _json_response(ws, 404, f"no ingest endpoint {path}; this port serves "
                                               f"{' and '.join(PATHS)}")
        else:
            token = bearer_token(request.headers.get("Authorization")) or \
                (parse_qs(query).get("token") or [None])[0]
            client = await check_token(service, token, "ingest")
            if client is None:
                note_refused(service, protocol, self.peer, token)
                response = _json_response(ws, 401, TOKEN_REQUIRED)
            else:
                response = ws.accept(request)
                if response.status_code == 101 and not self.closed:
                    self.conn = IngestConnection(service, protocol, self.peer, client.label,
                                                 port="ingest", token_id=client.token_id)
                    self._wait_patiently()
        if self.closed:  # the peer left while the store looked the token up
            return
        ws.send_response(response)
        self._after_wire()
        if response.status_code == 101:
            self.transport.resume_reading()  # type: ignore[union-attr]

    # -- waiting limits (:mod:`voiceline.server.limits`) ---------------------------------

    def _no_handshake(self) -> None:
        self._patience = None
        if self.conn is None and not self.closed:
            timeout_s = self.service.config.handshake_timeout_s
            self.service.cuts.cut("ingest", "handshake_timeout", self.peer,
                                  f"no websocket handshake within {timeout_s:g} s")
            self.transport.abort()  # type: ignore[union-attr]

    def _wait_patiently(self) -> None:
        """Close the connection once its call's start or data is overdue; re-armed
        lazily, so that a message costs a clock reading, not a timer."""
        if self._patience is not None:
            self._patience.cancel()
        self._patience = None
        if self.closed or self.conn is None:
            return
        left_s = self.conn.patience_s()
        if left_s > 0:
            self._patience = asyncio.get_running_loop().call_later(left_s, self._wait_patiently)
            return
        self.reason = self.conn.overdue()
        self._close(CLOSE_POLICY, close_reason(self.reason))

    # -- closing ------------------------------------------------------------------------

    def shutdown(self) -> None:
        """The server stops: 1012 to an open connection, others are dropped."""
        if self.closed:
            return
        if self.ws.state is State.OPEN:
            self.reason = SHUTDOWN_REASON
            self._close(CLOSE_SHUTDOWN, SHUTDOWN_REASON)
        else:
            self.transport.abort()  # type: ignore[union-attr]

    def _close(self, code: int, reason: str) -> None:
        if self.closed or self.ws.state is not State.OPEN:
            return
        self.ws.send_close(code, reason)
        self._after_wire()

    def _fail_wire(self, code: int, why: str) -> None:
        self.reason = f"websocket error: {why}"
        log.warning("ingest %s: closing (%d): %s", self.peer, code, why)
        if self.ws.state is State.OPEN:
            self.ws.fail(code, why)

    def _after_wire(self) -> None:
        """Write what the websockets core has to send; note a failure it detected."""
        ws, transport = self.ws, self.transport
        assert transport is not None
        if (ws.parser_exc is not None and self.reason == PEER_CLOSED
                and not isinstance(ws.parser_exc, EOFError)):  # EOF: the peer just left
            self.reason = f"websocket error: {ws.parser_exc}"
            if ws.close_sent is not None and ws.close_sent.code != 1006:
                log.warning("ingest %s: closing (%d): %s", self.peer, ws.close_sent.code,
                            ws.parser_exc)
        for data in ws.data_to_send():
            if data:
                transport.write(data)
            elif transport.can_write_eof():
                transport.write_eof()
            else:
                transport.close()
        if ws.close_expected() and self._close_timer is None and not self.closed:
            self._close_timer = asyncio.get_running_loop().call_later(
                CLOSE_TIMEOUT_S, transport.abort)

    def _later(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` (a coroutine function) after this connection's previous one."""
        previous = self._task

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await previous
            try:
                await fn(*args)
            except Exception:  # one connection's failure must not reach the loop
                log.exception("ingest %s: failed", self.peer)
                if not self.closed:
                    self.transport.abort()  # type: ignore[union-attr]

        self._task = self.listener.spawn(run())


def _json_response(ws: ServerProtocol, status: int, detail: str) -> Response:
    """A refusal with a JSON body, as the FastAPI routes answer."""
    response = ws.reject(status, "")
    body = json.dumps({"detail": detail}).encode()
    headers = Headers([(k, v) for k, v in response.headers.raw_items()
                       if k.lower() not in ("content-length", "content-type")])
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(body))
    return Response(response.status_code, response.reason_phrase, headers, body)


class LeanIngestListener:
    """The listening socket and its connections; started and stopped by the service."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.connections: set[LeanIngestConnection] = set()
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def bind(self, host: str, port: int, ssl: SSLContext | None = None,
                   ssl_handshake_timeout_s: float | None = None) -> None:
        """Take the port (``OSError`` if it cannot be had); connections wait for :meth:`serve`.
        With ``ssl`` the port speaks TLS (``wss://``), and a client has
        ``ssl_handshake_timeout_s`` to finish its TLS handshake."""
        loop = asyncio.get_running_loop()
        tls = {"ssl": ssl, "ssl_handshake_timeout": ssl_handshake_timeout_s} if ssl else {}
        self.server = await loop.create_server(lambda: LeanIngestConnection(self), host, port,
                                               start_serving=False, **tls)

    async def serve(self) -> None:
        """Accept connections (once the engine is up)."""
        assert self.server is not None
        await self.server.start_serving()
        host, port = self.server.sockets[0].getsockname()[:2]
        log.info("lean websocket ingest listening on %s:%d", host, port)

    def spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Stop listening; 1012 to every connection; wait for their calls to end."""
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.transport.abort()  # type: ignore[union-attr]
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
