"""Connection budgets and waiting limits of the listening ports.

Why: a socket costs a file descriptor whether or not anything comes through it. Before
these limits a client could open sockets on any port and send nothing: 19,500 idle
sockets were held against the process's 20,000 descriptors, and the next seat to call,
or the next supervisor to sign in, would have been refused by the kernel. Three rules,
the same on every port (``[server]`` settings, :mod:`voiceline.server.config`):

- ``max_connections``: each listening port (HTTP, lean ingest, AudioSocket) keeps at
  most this many connections open; one more is closed as it is accepted;
- ``handshake_timeout_s``: a connection must send its first HTTP request (for a socket,
  the websocket upgrade) in this time, the body of each request in this time after its
  headers (a body never finished held a socket, unsigned, for as long as the client
  liked), and an ingest connection must start its call in this time after opening or
  after its previous call ended;
- ``ingest_idle_timeout_s``: an ingest connection whose call has sent nothing for this
  long is closed and its call ended ("no data for 60 s").

Dashboards have their own: ten seconds to sign in (``sockets.AUTH_TIMEOUT_S``), then
uvicorn's websocket pings. Between HTTP requests uvicorn's keep-alive timeout applies.

Every connection cut short is counted in ``voiceline_connections_cut_total{port,
reason}`` and logged, at most once per :data:`LOG_EVERY_S` per port and reason so that
a flood does not flood the log too.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import defaultdict
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("voiceline.server")
LOG_EVERY_S = 10.0
SPARE_DESCRIPTORS = 1024
"""Descriptors wanted beyond the three ports' budgets: the store, the engine's pipes,
log files, the library's own."""


class CutCounts:
    """Connections cut short, per (port, reason); shared by the app and its service."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = defaultdict(int)
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}

    def cut(self, port: str, reason: str, peer: str, detail: str) -> None:
        """Count one connection cut short; log it unless this kind was logged lately."""
        key = (port, reason)
        self.counts[key] += 1
        now = time.monotonic()
        last_s, last_count = self._logged.get(key, (-LOG_EVERY_S, 0))
        if now - last_s >= LOG_EVERY_S:
            since = self.counts[key] - last_count - 1
            more = f" ({since} more since the last such line)" if since else ""
            log.warning("%s port %s: closed, %s%s", port, peer, detail, more)
            self._logged[key] = (now, self.counts[key])


def over_limit(open_count: int, limit: int) -> bool:
    """True when a port holding ``open_count`` connections (the new one included) is
    past its budget."""
    return open_count > limit


def raise_descriptor_limit(config: Any) -> str | None:
    """Raise the soft limit on open files toward what the ports' budgets need.

    Returns a warning when even the hard limit is below it (the budgets then cannot
    protect the seats already streaming), else None.
    """
    ports = 1 + (config.ingest_port is not None) + (config.audiosocket_port is not None)
    wanted = ports * config.max_connections + SPARE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < wanted:
        return (f"the process may open {soft} files, fewer than the {wanted} that "
                f"{ports} port(s) of max_connections = {config.max_connections} need; "
                "lower max_connections or raise the limit (ulimit -n)")
    return None


def guarded_h11(max_connections: int, handshake_timeout_s: float,
                cuts: CutCounts) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with the port's budget, first-request and body
    deadlines.

    uvicorn itself has no limit on connections (``limit_concurrency`` answers requests
    503 but keeps the sockets) and no deadline before a connection's first request or
    for a request's body: a socket that never sends them is held until the peer goes.
    """

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _body_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if over_limit(len(self.connections), max_connections):
                cuts.cut("http", "limit", _peer(self.client),
                         f"over max_connections ({max_connections})")
                transport.abort()
                return
            self._deadline = self.loop.call_later(handshake_timeout_s, self._no_request)

        def _no_request(self) -> None:
            self._deadline = None
            if self.scope is None and not self.transport.is_closing():
                cuts.cut("http", "handshake_timeout", _peer(self.client),
                         f"no request within {handshake_timeout_s:g} s")
                self.transport.close()

        def handle_events(self) -> None:
            super().handle_events()
            if self.scope is not None and self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            # (a websocket upgrade has no cycle of its own: its protocol took over)
            sending_body = (self.conn.their_state is h11.SEND_BODY and self.cycle is not None
                            and self.cycle.scope is self.scope)
            if sending_body and self._body_deadline is None:
                self._body_deadline = self.loop.call_later(
                    handshake_timeout_s, self._no_body, self.cycle)
            elif not sending_body and self._body_deadline is not None:
                self._body_deadline.cancel()
                self._body_deadline = None

        def _no_body(self, cycle: object) -> None:
            self._body_deadline = None
            if (self.cycle is cycle and self.conn.their_state is h11.SEND_BODY
                    and not self.transport.is_closing()):
                cuts.cut("http", "body_timeout", _peer(self.client),
                         f"request body not sent within {handshake_timeout_s:g} s")
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            for timer in (self._deadline, self._body_deadline):
                if timer is not None:
                    timer.cancel()
            self._deadline = self._body_deadline = None
            super().connection_lost(exc)

    return GuardedH11Protocol


def _peer(address: Any) -> str:
    return f"{address[0]}:{address[1]}" if address else "?"
