"""Fan-out to dashboards: alert events from the store, seat snapshots, bounded queues.

New alert events are read from the store (``events_after``, the same source a resuming
client reads) and each is offered, already serialised, to every dashboard's queue: by
the feed task when woken, or straight from the store thread's job that wrote them (the
engine's decisions: :meth:`DashboardHub.read_new` then :meth:`DashboardHub.publish`,
one trip to the store thread instead of two). The seat snapshot is offered the same way.
Offering never waits: a dashboard whose queue is full has fallen behind, and is closed
with code 1013 and the reason ``"too slow, resume from id N"`` (N, the last event id
written to it). Ingest and the engine therefore never wait for any dashboard.

A dashboard that connects with ``since`` gets every event after it: it is registered
first, then its writer reads ``events_after(since)`` from the store page by page, then
sends what the feed queued meanwhile, skipping ids it has already sent. An event the
feed read before the registration was committed before it, so the catch-up read holds
it: nothing is missed, nothing is sent twice.

What a dashboard sends is read with :func:`parse_message`: anything but a JSON object
with a ``type`` (text nested too deeply for the parser, NaN or infinities, lone
surrogates) is a reason to answer with, never an exception that ends the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from starlette.websockets import WebSocket, WebSocketDisconnect

from voiceline.server.ingest import CLOSE_POLICY, close_reason
from voiceline.server.metrics import Metrics
from voiceline.server.worker import StoreWorker

log = logging.getLogger("voiceline.server")
PAGE = 500
CLOSE_TOO_SLOW = 1013  # "try again later"
CLOSE_TIMEOUT_S = 5.0
SESSION_ENDED = "the session has ended (signed out, expired, or the account disabled)"
#: How often open dashboards' sessions are checked (a sign-out elsewhere, an expiry, or
#: an administrator's reset or disable through the CLI; the API's disable acts at once).
SESSION_CHECK_S = 30.0
#: Longest string ``request_id`` a reply echoes.
MAX_REQUEST_ID_CHARS = 128
#: Largest number a reply echoes as a ``request_id``: what a browser reads back exactly.
MAX_REQUEST_ID_NUMBER = 2**53
NOT_AN_OBJECT = "messages must be JSON objects with a 'type'"


class Outgoing(NamedTuple):
    text: str
    event_id: int | None = None


def alert_message(event: dict) -> str:
    """The ``alert`` message of one stored event (see :mod:`voiceline.server`)."""
    return json.dumps({"type": "alert", "event_id": event["event_id"], "event": event["type"],
                       "time_s": event["time_s"], "alert": event["alert"]},
                      ensure_ascii=False, allow_nan=False)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400
        raise ValueError(f"{text[:20]} is too large for a JSON number")
    return number


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def parse_message(text: str) -> tuple[dict | None, str]:
    """A dashboard's message as a JSON object with a string ``type``, or None and why not.

    Refused: text that is not JSON, nests deeper than the parser can follow, holds NaN,
    infinities or numbers beyond a float, or a lone surrogate (``"\\ud800"``, which the
    store and browsers cannot take).
    """
    try:
        msg = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
        json.dumps(msg, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        return None, "the message is nested too deeply"
    except UnicodeEncodeError:
        return None, "the message holds a lone surrogate, which is not Unicode text"
    except ValueError as exc:
        return None, f"the message is not valid JSON ({str(exc)[:60]})"
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        return None, NOT_AN_OBJECT
    return msg, ""


def echoable(request_id: object) -> bool:
    """Whether a reply may echo ``request_id``: absent, a string of at most
    :data:`MAX_REQUEST_ID_CHARS`, or a number a browser reads back as sent."""
    if request_id is None or isinstance(request_id, str):
        return request_id is None or len(request_id) <= MAX_REQUEST_ID_CHARS
    return (isinstance(request_id, int | float) and not isinstance(request_id, bool)
            and abs(request_id) <= MAX_REQUEST_ID_NUMBER)


class Dashboard:
    """One connected dashboard: its socket, user, queue and resume cursor."""

    def __init__(self, ws: WebSocket, user: Any, since: int, queue_size: int,
                 token: str = "") -> None:
        self.ws = ws
        self.user = user
        self.token = token
        self.cursor = since
        self.queue: asyncio.Queue[Outgoing] = asyncio.Queue(queue_size)
        self.too_slow = asyncio.Event()
        self.ended = asyncio.Event()
        """Set with :attr:`end_reason` when the session ends (see ``DashboardHub.end``)."""
        self.end_reason = ""
        self.peer = f"{ws.client.host}:{ws.client.port}" if ws.client else "?"


class DashboardHub:
    """The connected dashboards and the feed that keeps them current."""

    def __init__(self, worker: StoreWorker, store: Any, metrics: Metrics,
                 queue_size: int) -> None:
        self.worker = worker
        self.store = store
        self.metrics = metrics
        self.queue_size = queue_size
        self.clients: set[Dashboard] = set()
        self.head = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self.head = await self.worker.call(self.store.last_event_id)
        self._task = asyncio.create_task(self._feed(), name="voiceline-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        """New events may be in the store: fan them out."""
        self._wake.set()

    def read_new(self) -> list[dict]:
        """The events after the last one published, at most a page (in the store thread,
        right after writing them); pass them to :meth:`publish` on the loop."""
        return self.store.events_after(self.head, PAGE)

    def publish(self, events: list[dict]) -> None:
        """Offer events read from the store after some ``head`` to every dashboard, in id
        order; those already published (the feed or another writer got there first) are
        skipped. A full page leaves the rest to the feed."""
        published = 0
        for event in events:
            if event["event_id"] <= self.head:
                continue
            item = Outgoing(alert_message(event), event["event_id"])
            for client in list(self.clients):
                self.offer(client, item)
            self.head = event["event_id"]
            published += 1
        self.metrics.alert_events_published += published
        if len(events) >= PAGE:
            self.wake()

    def broadcast(self, text: str) -> None:
        """Offer a message that is not an alert event (the seat snapshot) to everyone."""
        for client in list(self.clients):
            self.offer(client, Outgoing(text))

    async def serve(self, client: Dashboard,
                    on_message: Callable[[Dashboard, str], Awaitable[None]]) -> str:
        """Run one dashboard until it leaves or is dropped; returns why it ended."""
        self.clients.add(client)
        self.metrics.dashboard_clients = len(self.clients)
        writer = asyncio.create_task(self._write(client))
        reader = asyncio.create_task(self._read(client, on_message))
        slow = asyncio.create_task(client.too_slow.wait())
        ended = asyncio.create_task(client.ended.wait())
        try:
            done, _ = await asyncio.wait({writer, reader, slow, ended},
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.clients.discard(client)
            self.metrics.dashboard_clients = len(self.clients)
            for task in (writer, reader, slow, ended):
                task.cancel()
            await asyncio.gather(writer, reader, slow, ended, return_exceptions=True)
        if ended in done:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.ws.close(CLOSE_POLICY,
                                                       close_reason(client.end_reason)),
                                       CLOSE_TIMEOUT_S)
            return client.end_reason
        if slow in done:
            reason = f"too slow, resume from id {client.cursor}"
            self.metrics.dashboards_dropped_slow += 1
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.ws.close(CLOSE_TOO_SLOW, reason), CLOSE_TIMEOUT_S)
            return reason
        if writer in done and writer.exception() is not None:
            return f"send failed: {writer.exception()}"
        return "disconnected"

    def end(self, clients: list[Dashboard], reason: str) -> int:
        """Close these dashboards' feeds with 1008 and ``reason`` (their session has
        ended: signed out, expired, reset or the account disabled); returns how many."""
        for client in clients:
            client.end_reason = reason
            client.ended.set()
        return len(clients)

    async def check_sessions(self, check: Callable[[str], Awaitable[Any]]) -> int:
        """End every dashboard whose session token ``check`` no longer accepts (an
        awaitable returning the user or None); returns how many ended."""
        gone = [c for c in list(self.clients) if await check(c.token) is None]
        return self.end(gone, SESSION_ENDED)

    def offer(self, client: Dashboard, item: Outgoing) -> None:
        """Queue ``item`` for ``client`` without waiting; a full queue drops the client."""
        if client.too_slow.is_set():
            return
        try:
            client.queue.put_nowait(item)
        except asyncio.QueueFull:
            client.too_slow.set()

    async def _feed(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while True:
                    events = await self.worker.call(self.store.events_after, self.head, PAGE)
                    self.publish(events)
                    if len(events) < PAGE:
                        break
            except Exception:
                log.exception("reading alert events for dashboards failed; retrying")
                await asyncio.sleep(1.0)
                self._wake.set()

    async def _write(self, client: Dashboard) -> None:
        while True:  # catch up from the store
            events = await self.worker.call(self.store.events_after, client.cursor, PAGE)
            for event in events:
                await client.ws.send_text(alert_message(event))
                client.cursor = event["event_id"]
            if len(events) < PAGE:
                break
        while True:
            item = await client.queue.get()
            if item.event_id is not None and item.event_id <= client.cursor:
                continue
            await client.ws.send_text(item.text)
            if item.event_id is not None:
                client.cursor = item.event_id

    async def _read(self, client: Dashboard,
                    on_message: Callable[[Dashboard, str], Awaitable[None]]) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await client.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                try:
                    await on_message(client, text)
                except Exception:  # one failed action must not end the dashboard's feed
                    log.exception("dashboard %s: acting on a message failed", client.peer)
                    self.offer(client, Outgoing(json.dumps(
                        {"type": "error", "status": 500,
                         "message": "the server could not act on this message; it is "
                                    "logged"})))
