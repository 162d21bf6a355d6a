"""Ingest connections: bytes from the network into a parser, its events into calls.

The server only moves bytes: the protocols are parsed by :mod:`capture.ingest`. One
:class:`IngestConnection` per websocket or TCP connection acts on the parser's events:
a call start is recorded and opened in the engine, audio is pushed to the engine, a
call end (or the connection closing) ends the call. A fatal
:class:`~capture.ingest.ProtocolError` closes that connection only — websocket code
1008 with the reason, TCP by closing — and is logged; nothing else is disturbed. A
message that makes the parser or the server fail in a way nobody foresaw is treated the
same: a fatal error for that connection and one log line, never a traceback in the loop.

Audio is held per channel and pushed to the engine in pieces of :data:`BATCH_S`
(100 ms; the service pushes what was held longer than that, so audio waits at most
about 150 ms, well inside the engine's 0.5 s jitter allowance): a 20 ms frame then
costs a fifth of an engine push (its lock and buffer bookkeeping) instead of one per
channel. Held pieces are contiguous on the channel's timeline; anything else (a call
end, a gap the parser did not fill) pushes what is held first.

AudioSocket carries no credentials and no agent: the dialplan first binds the call's
UUID to a seat and agent with ``POST /api/audiosocket/bind`` (ingest token), then opens
the TCP socket. An unbound UUID is refused, unless ``audiosocket_require_binding`` is
false: then it is monitored as seat ``as-<8 hex>`` against the population baseline.

Every connection has waiting limits (:meth:`IngestConnection.patience_s`): its call must
start within ``handshake_timeout_s`` and, once live, send something at least every
``ingest_idle_timeout_s`` (:mod:`voiceline.server.limits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import replace
from typing import Any

import numpy as np

from capture.ingest import (
    Audio,
    AudioForkParser,
    AudioSocketParser,
    Binding,
    CallEnded,
    CallStarted,
    IngestStats,
    ProtocolError,
    TwilioParser,
)
from voiceline.server.calls import SHUTDOWN_REASON, LiveCall, SeatBusyError
from voiceline.server.limits import over_limit
from voiceline.store.values import storable

log = logging.getLogger("voiceline.server")
CLOSE_POLICY = 1008
MAX_CLOSE_REASON_BYTES = 123
WARNINGS_LOGGED = 5
"""Non-fatal protocol errors logged per connection; the rest are only counted."""
TCP_READ_BYTES = 64 * 1024
BATCH_S = 0.1
"""Audio held per channel before one engine push; also the service's flush period."""
TOKEN_REQUIRED = ("an ingest token is required: 'Authorization: Bearer <token>' or "
                  "?token=<token>")


def note_refused(service: Any, protocol: str, peer: str, token: str | None) -> None:
    """Count and log an ingest connection refused for its token."""
    service.metrics.connections_refused["token"] += 1
    log.warning("ingest %s %s: refused, %s ingest token", protocol, peer,
                "no" if not token else "unknown, expired or revoked")


def close_reason(text: str) -> str:
    """``text`` cut to the 123 UTF-8 bytes a websocket close frame can carry."""
    text = storable(text)
    data = text.encode("utf-8")
    if len(data) <= MAX_CLOSE_REASON_BYTES:
        return text
    return data[: MAX_CLOSE_REASON_BYTES - 3].decode("utf-8", "ignore") + "..."


def _describe(exc: BaseException) -> str:
    """An exception as one short line: its type and the start of its message."""
    text = " ".join(storable(str(exc)).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def make_parser(protocol: str, service: Any) -> Any:
    if protocol == "audiofork":
        return AudioForkParser()
    if protocol == "twilio":
        return TwilioParser()
    if protocol == "audiosocket":
        return AudioSocketParser(resolve=service.bindings.resolve)
    raise ValueError(f"unknown ingest protocol {protocol!r}")


class Bindings:
    """AudioSocket UUID → seat and agent, set through REST before the call; in memory.

    A binding is used once (when the call's socket opens) and expires after ``ttl_s``
    if unused. Bindings do not survive a restart: the dialplan binds just before the
    call. Each remembers the ingest token that made it, so that revoking the token also
    drops its unused bindings and closes the calls that used one.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._items: dict[str, tuple[Binding, float, Any]] = {}
        self._used: dict[str, Any] = {}  # UUID → who bound it, from resolve to call start

    def bind(self, call_uuid: str, binding: Binding, now_s: float | None = None,
             client: Any = None) -> float:
        """Store a binding made by ``client`` (the ingest token's
        :class:`~voiceline.auth.IngestClient`); returns when it expires (unix s).
        ``ValueError`` for a bad UUID."""
        now_s = time.time() if now_s is None else now_s
        self._expire(now_s)
        key = str(uuid.UUID(call_uuid))
        self._items[key] = (binding, now_s + self.ttl_s, client)
        return now_s + self.ttl_s

    def resolve(self, call_uuid: str) -> Binding | None:
        """The parser's ``resolve``: the binding of ``call_uuid`` (consumed), or None."""
        self._expire(time.time())
        found = self._items.pop(call_uuid, None)
        if found is None:
            return None
        binding, _, client = found
        if client is not None:
            self._used[call_uuid] = client
        return binding

    def bound_by(self, call_uuid: str) -> Any:
        """Who bound the call ``call_uuid`` (an ``IngestClient``, or None); asked once,
        when the call starts."""
        return self._used.pop(call_uuid, None)

    def drop_token(self, token_ids: set[int]) -> int:
        """Forget the unused bindings made with these (revoked) tokens; returns how many."""
        gone = [k for k, (_, _, client) in self._items.items()
                if client is not None and client.token_id in token_ids]
        for key in gone:
            del self._items[key]
        return len(gone)

    def _expire(self, now_s: float) -> None:
        for key in [k for k, (_, until, _) in self._items.items() if until <= now_s]:
            del self._items[key]


class IngestConnection:
    """What one ingest connection does with its parser's events."""

    def __init__(self, service: Any, protocol: str, peer: str, label: str,
                 port: str = "http", token_id: int | None = None) -> None:
        self.service = service
        self.token_id = token_id
        """The ingest token it opened with (None: AudioSocket, bound by REST instead)."""
        self.revoked = False
        """Set when that token is revoked: the next message closes the connection."""
        self.protocol = protocol
        self.port = port
        """The listening port it came through, as :mod:`.limits` names them."""
        self.parser = make_parser(protocol, service)
        self.peer = peer
        self.label = label
        self.call: LiveCall | None = None
        self.warnings = 0
        self.opened_s = time.monotonic()
        self.touched_s = self.opened_s
        """When a message (websocket) or bytes (TCP) last arrived (monotonic s)."""
        self.idle_since_s = self.opened_s
        """When the connection last had no call: its opening, or its last call's end."""
        self._stats = IngestStats()
        self._held: dict[str, list[Audio]] = {}
        self._held_samples: dict[str, int] = {}
        self.held_since_s = 0.0
        self._failure: str | None = None
        service.metrics.connections[protocol] += 1
        service.ingest_open.add(self)
        log.info("ingest %s %s (token %r): connected", protocol, peer, label)

    def receive_text(self, text: str) -> list:
        """The parser's events for one text message (see :meth:`receive_bytes`)."""
        self.touched_s = time.monotonic()
        if self.revoked:
            return [self._revoked()]
        try:
            return self.parser.receive_text(text)
        except Exception as exc:  # the message fails, not the server
            return [self._parser_failed(exc)]

    def receive_bytes(self, data: bytes) -> list:
        """The parser's events for one binary message or TCP chunk.

        A parser turns bad input into a fatal :class:`ProtocolError`; should it raise
        instead, the message gets that error here, and the parser takes nothing more.
        """
        self.touched_s = time.monotonic()
        if self.revoked:
            return [self._revoked()]
        try:
            return self.parser.receive_bytes(data)
        except Exception as exc:  # the message fails, not the server
            return [self._parser_failed(exc)]

    def patience_s(self, now_s: float | None = None) -> float:
        """Seconds left before this connection has waited too long (<= 0: close it with
        :meth:`overdue`): ``handshake_timeout_s`` to start a call while it has
        none, ``ingest_idle_timeout_s`` of silence while it has one (:mod:`.limits`)."""
        config = self.service.config
        now_s = time.monotonic() if now_s is None else now_s
        if self.call is None:
            return self.idle_since_s + config.handshake_timeout_s - now_s
        return self.touched_s + config.ingest_idle_timeout_s - now_s

    def overdue(self) -> str:
        """Count and log a connection that waited too long; the reason to close with."""
        config = self.service.config
        if self.call is None:
            kind, why = "handshake_timeout", (f"no call started within "
                                              f"{config.handshake_timeout_s:g} s")
        else:
            kind, why = "idle_timeout", f"no data for {config.ingest_idle_timeout_s:g} s"
        self.service.cuts.cut(self.port, kind, self.peer, f"{self.protocol}: {why}")
        return why

    def handle_now(self, events: list) -> int:
        """Act on the leading events that need no waiting (audio, warnings); returns how
        many it took. The rest, from the first call start, call end or fatal error on,
        are for :meth:`handle`."""
        done = 0
        try:
            for event in events:
                kind = type(event)
                if kind is Audio:
                    self._hold(event)
                elif kind is ProtocolError and not event.fatal:
                    self._error(event)
                else:
                    break
                done += 1
        except Exception as exc:  # :meth:`handle` closes with the reason
            self._failure = self._failed(exc, events[done])
        finally:
            self._count()
        return done

    async def handle(self, events: list) -> str | None:
        """Act on a parser's events; returns the reason when the connection must close."""
        event = None
        try:
            if self._failure is not None:
                return self._failure
            for event in events:
                if isinstance(event, Audio):
                    self._hold(event)
                elif isinstance(event, CallStarted):
                    refused = await self._start(event)
                    if refused:
                        return refused
                elif isinstance(event, CallEnded):
                    await self._end(event.reason)
                elif isinstance(event, ProtocolError):
                    fatal = self._error(event)
                    if fatal:
                        return fatal
        except Exception as exc:  # one connection's failure stays its own
            self._failure = self._failed(exc, event)
            return self._failure
        finally:
            self._count()
        return None

    def _revoked(self) -> ProtocolError:
        """The fatal error for a message on a connection whose token was revoked."""
        reason = f"the ingest token {self.label!r} was revoked"
        parser = self.parser
        if not parser.closed:
            parser.closed, parser.close_reason = True, reason
            self.service.cuts.cut(self.port, "token_revoked", self.peer,
                                  f"{self.protocol}: {reason}")
        return ProtocolError(reason, fatal=True)

    def _parser_failed(self, exc: Exception) -> ProtocolError:
        """The fatal error for a message the parser raised on; it takes nothing more."""
        reason = f"malformed {self.protocol} message ({_describe(exc)})"
        log.debug("ingest %s %s: the parser raised", self.protocol, self.peer, exc_info=exc)
        parser = self.parser
        parser.closed, parser.close_reason = True, reason
        parser.stats.errors += 1
        return ProtocolError(reason, fatal=True)

    def _failed(self, exc: Exception, event: object) -> str:
        """Log one line for an event the server failed on; the reason to close with."""
        what = type(event).__name__ if event is not None else "message"
        log.error("ingest %s %s: failed on a %s event, closing: %s", self.protocol, self.peer,
                  what, _describe(exc))
        log.debug("ingest %s %s: the failure", self.protocol, self.peer, exc_info=exc)
        self.service.metrics.protocol_errors[(self.protocol, "true")] += 1
        return f"the server failed on this {self.protocol} stream's {what} event"

    def _hold(self, audio: Audio) -> None:
        """Keep ``audio`` for the next push of its channel; push when a batch is full."""
        call = self.call
        if call is None or not call.scored:
            return
        channel = audio.channel
        held = self._held.get(channel)
        if held:
            last = held[-1]
            if round(last.t_s * last.fs_hz) + last.samples.shape[0] != round(
                    audio.t_s * audio.fs_hz):
                self._push(channel)
                held = None
        if not held:
            self._held[channel] = [audio]
            self._held_samples[channel] = audio.samples.shape[0]
            if self not in self.service.ingest_holding:
                self.held_since_s = time.monotonic()
                self.service.ingest_holding.add(self)
        else:
            held.append(audio)
            self._held_samples[channel] += audio.samples.shape[0]
        if self._held_samples[channel] >= BATCH_S * audio.fs_hz:
            self._push(channel)

    def flush(self) -> None:
        """Push all held audio to the engine."""
        for channel in list(self._held):
            self._push(channel)
        self.service.ingest_holding.discard(self)

    def _push(self, channel: str) -> None:
        held = self._held.pop(channel, None)
        self._held_samples.pop(channel, None)
        if not held or self.call is None:
            return
        first = held[0]
        audio = first if len(held) == 1 else Audio(
            first.call_id, channel, first.t_s, first.fs_hz,
            np.concatenate([a.samples for a in held]))
        self.service.calls.push(self.call, audio)

    async def close(self, reason: str) -> None:
        """The connection is gone: end its call with ``reason``, log one line."""
        with contextlib.suppress(Exception):
            events = [CallEnded(e.call_id, reason) if isinstance(e, CallEnded) else e
                      for e in self.parser.eof()]
            await self.handle(events)
        if self.call is not None:
            await self._end(reason)
        self.service.ingest_open.discard(self)
        self.service.metrics.connections[self.protocol] -= 1
        stats = self.parser.stats
        log.info("ingest %s %s: closed after %.1f s (%s); %d frames, %d errors", self.protocol,
                 self.peer, time.monotonic() - self.opened_s, reason, stats.frames, stats.errors)

    async def _start(self, started: CallStarted) -> str | None:
        service = self.service
        if self.protocol == "audiosocket":  # its socket carries no token; the bind did
            client = service.bindings.bound_by(started.call_id)
            if client is not None:
                self.token_id, self.label = client.token_id, client.label
            if self.token_id in service.revoked_ids:
                return (f"the ingest token that bound AudioSocket call {started.call_id} "
                        "was revoked")
        if (self.protocol == "audiosocket" and service.config.audiosocket_require_binding
                and not started.params.get("bound")):
            service.metrics.connections_refused["unbound"] += 1
            return (f"AudioSocket call {started.call_id} was not bound to a seat; POST "
                    "/api/audiosocket/bind before opening the socket")
        try:
            self.call = await service.calls.start(started)
        except ValueError as exc:  # a busy seat, an id a call may not have, a store limit
            if not isinstance(exc, SeatBusyError):  # (that one is counted where raised)
                service.metrics.connections_refused["call"] += 1
            log.warning("ingest %s %s: call refused: %s", self.protocol, self.peer, exc)
            return f"cannot record the call: {exc}"
        call = self.call
        judged = (f"scored against the {call.baseline} baseline" if call.scored
                  else f"not scored: {call.unscored_reason}")
        renamed = f" (as {call.call_id})" if call.call_id != started.call_id else ""
        log.info("ingest %s %s: call %s%s started on seat %s, agent %s, %d Hz %s; %s",
                 self.protocol, self.peer, started.call_id, renamed, started.seat,
                 started.agent or "unknown", started.fs_hz, "+".join(started.channels), judged)
        return None

    async def _end(self, reason: str) -> None:
        self.flush()
        call, self.call = self.call, None
        self.idle_since_s = time.monotonic()
        if call is not None:
            await self.service.calls.end(call, storable(reason))

    def _error(self, error: ProtocolError) -> str | None:
        if self.revoked and error.fatal:  # counted and logged as a cut by _revoked
            return error.reason
        self.service.metrics.protocol_errors[(self.protocol, str(error.fatal).lower())] += 1
        if error.fatal:
            log.warning("ingest %s %s: protocol error, closing: %s", self.protocol, self.peer,
                        error.reason)
            return error.reason
        self.warnings += 1
        if self.warnings <= WARNINGS_LOGGED:
            more = " (further warnings are only counted)" if self.warnings == WARNINGS_LOGGED \
                else ""
            log.warning("ingest %s %s: %s%s", self.protocol, self.peer, error.reason, more)
        return None

    def _count(self) -> None:
        stats = self.parser.stats
        self.service.metrics.add_parser_stats(self.protocol, stats, self._stats)
        self._stats = replace(stats)


async def start_audiosocket(service: Any, host: str, port: int) -> asyncio.Server:
    """Listen for AudioSocket TCP connections on ``host:port``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if address else "?"
        limit = service.config.max_connections
        if over_limit(len(service.audiosocket_writers) + 1, limit):
            service.cuts.cut("audiosocket", "limit", peer, f"over max_connections ({limit})")
            writer.transport.abort()
            return
        conn = IngestConnection(service, "audiosocket", peer, "-", port="audiosocket")
        reason = "connection closed by the peer"
        service.audiosocket_writers.add(writer)
        try:
            while True:
                try:
                    async with asyncio.timeout(max(conn.patience_s(), 0.0)):
                        data = await reader.read(TCP_READ_BYTES)
                except TimeoutError:
                    reason = conn.overdue()
                    break
                if not data:
                    if service.stopping:
                        reason = SHUTDOWN_REASON
                    break
                fatal = await conn.handle(conn.receive_bytes(data))
                if fatal:
                    reason = fatal
                    break
        except (ConnectionError, OSError) as exc:
            reason = f"connection error: {exc}"
        finally:
            service.audiosocket_writers.discard(writer)
            await conn.close(reason)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(serve, host, port)
    log.info("AudioSocket listening on %s:%d", host, port)
    return server
