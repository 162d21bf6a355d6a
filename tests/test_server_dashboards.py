"""Alert events reach each dashboard once and in order, whoever reads them from the store."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from voiceline.server.dashboards import PAGE, Dashboard, DashboardHub
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
