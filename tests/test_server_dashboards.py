"""Alert events reach each dashboard once and in order, whoever reads them from the store."""

from __future__ import annotations

import asyncio
import json
import math
from types import SimpleNamespace

from voiceline.server.dashboards import (
    MAX_REQUEST_ID_CHARS,
    NOT_AN_OBJECT,
    PAGE,
    Dashboard,
    DashboardHub,
    echoable,
    parse_message,
)
from voiceline.server.metrics import Metrics
from voiceline.store import Store


def _store_with_events(tmp_path, n_updates: int) -> Store:
    store = Store(tmp_path / "voiceline.db")
    store.upsert_seat("S1")
    store.start_call("C1", "S1", None, "audiofork")
    alert = store.open_alert("C1", "agitation", "warning", 0.9, "loudness above the usual")
    for i in range(n_updates):
        store.update_alert(alert["id"], score=0.9 + i / 1000)
    return store


def _sent_ids(client: Dashboard) -> list[int]:
    ids = []
    while not client.queue.empty():
        item = client.queue.get_nowait()
        assert json.loads(item.text)["event_id"] == item.event_id
        ids.append(item.event_id)
    return ids


def test_overlapping_reads_publish_every_event_once_in_order(tmp_path):
    async def run() -> tuple[list[list[int]], int, DashboardHub]:
        store = _store_with_events(tmp_path, 3)  # events 1-4
        hub = DashboardHub(worker=None, store=store, metrics=Metrics(), queue_size=100)
        clients = [Dashboard(SimpleNamespace(client=None), None, 0, 100) for _ in range(2)]
        hub.clients.update(clients)
        stale = hub.read_new()  # read from head 0, published late
        hub.publish(store.events_after(0, 2))  # the feed got to events 1-2 first
        store.update_alert(1, score=0.99)  # event 5
        hub.publish(stale)  # 1-4: only 3 and 4 are new
        hub.publish(hub.read_new())  # 5
        hub.publish(stale)  # nothing new
        return [_sent_ids(c) for c in clients], hub.metrics.alert_events_published, hub

    sent, published, hub = asyncio.run(run())
    assert sent == [[1, 2, 3, 4, 5]] * 2
    assert published == 5 and hub.head == 5


def test_a_full_page_leaves_the_rest_to_the_feed(tmp_path):
    async def run() -> tuple[int, bool]:
        store = _store_with_events(tmp_path, PAGE)  # PAGE + 1 events
        hub = DashboardHub(worker=None, store=store, metrics=Metrics(), queue_size=10)
        hub.publish(hub.read_new())
        return hub.head, hub._wake.is_set()

    head, woken = asyncio.run(run())
    assert head == PAGE and woken


def test_a_dashboard_message_is_an_object_with_a_type_or_a_reason():
    assert parse_message('{"type": "ping", "request_id": 2.5}') == (
        {"type": "ping", "request_id": 2.5}, "")
    for text, words in (('{"type": "ping", "request_id": NaN}', "NaN is not a JSON number"),
                        ('{"type": "ack", "alert_id": -Infinity}', "-Infinity is not"),
                        ('{"type": "ack", "alert_id": 1e400}', "1e400 is too large"),
                        ("[" * 30_000 + "]" * 30_000, "nested too deeply"),
                        ('{"type": "resolve", "note": "\\ud800"}', "lone surrogate"),
                        ('{"type": "ack", "alert_id": ' + "9" * 5000 + "}", "not valid JSON"),
                        ("{'type': 'ping'}", "not valid JSON"),
                        ('["ping"]', NOT_AN_OBJECT), ('{"type": ["ping"]}', NOT_AN_OBJECT)):
        msg, reason = parse_message(text)
        assert msg is None and words in reason, (text[:40], reason)


def test_only_request_ids_a_browser_reads_back_unchanged_are_echoed():
    for request_id in (None, "r1", "r" * MAX_REQUEST_ID_CHARS, 7, -7.5, 2**53):
        assert echoable(request_id), request_id
    for request_id in (math.nan, math.inf, 2**70, "r" * (MAX_REQUEST_ID_CHARS + 1), [1],
                       {"id": 1}, True):
        assert not echoable(request_id), request_id


class _Socket:
    """Delivers ``texts`` as a client would, then the client leaves."""

    def __init__(self, texts: list[str]) -> None:
        self.client = None
        self.texts = texts

    async def receive(self) -> dict:
        if self.texts:
            return {"type": "websocket.receive", "text": self.texts.pop(0)}
        await asyncio.sleep(0)
        return {"type": "websocket.disconnect", "code": 1000}


def test_an_action_that_fails_is_answered_and_the_feed_reads_on():
    seen = []

    async def on_message(client: Dashboard, text: str) -> None:
        seen.append(text)
        if text == "boom":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")

    async def run() -> list[dict]:
        hub = DashboardHub(worker=None, store=None, metrics=Metrics(), queue_size=10)
        client = Dashboard(_Socket(["boom", "after"]), None, 0, 10)
        await hub._read(client, on_message)
        return [json.loads(client.queue.get_nowait().text) for _ in range(client.queue.qsize())]

    replies = asyncio.run(run())
    assert seen == ["boom", "after"]
    assert [(r["type"], r["status"]) for r in replies] == [("error", 500)]
