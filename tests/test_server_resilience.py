"""The server under stress: a dashboard that stops reading, and a restart mid-stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from capture.ingest import audiofork, audiosocket
from test_server_support import (
    FAST_ALERTS,
    AlertFeed,
    add_users,
    calibrate,
    cheap_hasher,
    login,
    opened_alert,
    stream_audiofork,
    voice,
)
from voiceline.server import ServerConfig
from voiceline.server.testing import ServerThread
from voiceline.store import Store

BACKLOG_EVENTS = 1500


@pytest.fixture
def data(tmp_path):
    token = add_users(tmp_path)
    calibrate(tmp_path, "A3001")
    (tmp_path / "ingest-token").write_text(token)
    return tmp_path


# -- a dashboard that never reads ---------------------------------------------------------

def add_backlog(data) -> int:
    """An old call whose alert changed many times: a long history to catch up on."""
    with Store(data / "voiceline.db") as store:
        store.upsert_seat("S-OLD")
        store.start_call("old", "S-OLD", None, "audiofork", started_s=1.7e9)
        alert = store.open_alert("old", "agitation", "warning", 0.8, "louder " * 250,
                                 now_s=1.7e9 + 1)
        for i in range(BACKLOG_EVENTS - 1):
            store.update_alert(alert["id"], score=0.8 + i * 1e-5, now_s=1.7e9 + 2)
        return store.last_event_id()


async def _slow_dashboard(server, head: int) -> dict:
    sup = login(server.url, "sup")
    service = server.service
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.config.port))
    slow = await connect(f"{server.ws_url}/ws/alerts", sock=sock, max_queue=1)
    await slow.send(json.dumps({"type": "auth", "token": sup, "since": 0}))
    assert json.loads(await slow.recv())["type"] == "hello"
    # From here on the slow dashboard reads nothing while its history is due.
    async with AlertFeed(server.ws_url, sup, since=head) as healthy:
        pcm = voice(4.0, seed=5)
        started = time.monotonic()
        stream = asyncio.create_task(stream_audiofork(
            server.ws_url, server.ingest_token, "call-while-slow", "S-1", "A3001", pcm))
        while service.metrics.dashboards_dropped_slow == 0:
            assert time.monotonic() - started < 10.0, "the slow dashboard was never dropped"
            await asyncio.sleep(0.05)
        dropped_after_s = time.monotonic() - started
        received = []  # now it reads again: its history, then the close frame
        with contextlib.suppress(ConnectionClosed):
            while True:
                received.append(json.loads(await asyncio.wait_for(slow.recv(), 10.0)))
        await stream
        streamed_s = time.monotonic() - started
        seats = [m["t"] for m in healthy.messages if m["type"] == "seats"]
    engine = service.engine.stats
    return {"dropped_after_s": dropped_after_s, "streamed_s": streamed_s,
            "received": received, "code": slow.close_code, "reason": slow.close_reason,
            "healthy_seats_t": seats, "engine": engine}


def test_a_dashboard_that_stops_reading_is_dropped_and_ingest_never_waits(data):
    head = add_backlog(data)
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher(),
                          dashboard_queue=8, snapshot_interval_s=0.1)
    with ServerThread(config) as server:
        server.ingest_token = (data / "ingest-token").read_text()
        run = asyncio.run(_slow_dashboard(server, head))
    assert run["dropped_after_s"] < 3.0
    ids = [m["event_id"] for m in run["received"] if m["type"] == "alert"]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) < BACKLOG_EVENTS
    assert (run["code"], run["reason"]) == (1013, f"too slow, resume from id {ids[-1]}")
    # Meanwhile the call streamed in real time and the engine lost none of it...
    assert run["streamed_s"] < 4.0 + 1.0
    assert run["engine"]["dropped_s"] == 0 and run["engine"]["late_s"] == 0
    # ... and the healthy dashboard's snapshots kept coming every 0.1 s.
    gaps = np.diff(run["healthy_seats_t"])
    assert len(gaps) > 20 and gaps.max() < 0.5


# -- restart mid-stream -------------------------------------------------------------------

async def stream_with_reconnect(server, call_id: str, pcm: np.ndarray) -> int:
    """Audio fork that reconnects when the server goes away, with the same call id, and
    goes on from the audio of the present moment (what a telephony fork does)."""
    headers = {"Authorization": f"Bearer {server.ingest_token}"}
    t0, k, step, connections = time.monotonic(), 0, 160, 0
    while k < pcm.shape[0]:
        try:
            async with connect(f"{server.ws_url}/ingest/audiofork",
                               additional_headers=headers, open_timeout=2) as ws:
                connections += 1
                await ws.send(audiofork.start_message(call_id, "S-R", "A3001"))
                while k < pcm.shape[0]:
                    await ws.send(audiofork.pcm_message(pcm[k : k + step]))
                    k += step
                    await asyncio.sleep(max(0.0, t0 + k / 8000 - time.monotonic()))
                await ws.send(audiofork.stop_message())
        except (ConnectionClosed, OSError, TimeoutError):
            await asyncio.sleep(0.1)
            k = max(k, round((time.monotonic() - t0) * 8000) // step * step)
    return connections


async def _restart(server) -> dict:
    sup = login(server.url, "sup")
    pcm = np.concatenate([voice(3.0, seed=6), voice(20.0, agitated=True, seed=7)])
    stream = asyncio.create_task(stream_with_reconnect(server, "rs-1", pcm))
    async with AlertFeed(server.ws_url, sup) as before:
        await before.wait_for(opened_alert("rs-1"), 20.0)
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        with contextlib.suppress(AssertionError):
            await before.wait_for(lambda m: False, 5.0)  # until the old feed has closed
    last_seen = max(m["event_id"] for m in before.alerts)
    async with AlertFeed(server.ws_url, sup, since=last_seen) as after:
        await after.wait_for(opened_alert("rs-1#2"), 20.0)
    stream.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stream
    async with AlertFeed(server.ws_url, sup) as everything:
        await everything.wait_for(opened_alert("rs-1#2"), 5.0)
    return {"before": before, "after": after, "everything": everything}


def test_a_dashboard_resuming_after_a_restart_gets_every_event_once(data):
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher(),
                          alerts=FAST_ALERTS)
    server = ServerThread(config)
    server.ingest_token = (data / "ingest-token").read_text()
    with server:
        run = asyncio.run(_restart(server))
    before = [m["event_id"] for m in run["before"].alerts]
    after = [m["event_id"] for m in run["after"].alerts]
    stored = [m["event_id"] for m in run["everything"].alerts]
    events = [(m["event"], m["alert"]["call_id"], m["alert"]["close_reason"])
              for m in run["everything"].alerts]
    assert run["before"].close_code == 1012  # "service restart"
    assert before and after
    # No gap, no duplicate: what the two connections saw is the store's feed from id 1
    # (later events, such as the second call's end, may follow).
    assert before + after == stored[: len(before) + len(after)], events
    assert stored == list(range(1, len(stored) + 1))
    assert events[:2] == [("opened", "rs-1", None), ("closed", "rs-1", "server stopped")]
    assert ("opened", "rs-1#2", None) in events
    with Store(data / "voiceline.db") as store:
        first = store.get_call("rs-1")
    assert first["end_reason"] == "server shutdown"


# -- no baselines yet; AudioSocket calls that must be bound -------------------------------

async def _unscored(server, sup: dict) -> tuple[dict, bytes]:
    stream = asyncio.create_task(stream_audiofork(
        server.ws_url, server.ingest_token, "unscored-1", "S-U", "A1001", voice(1.5, seed=8)))
    await asyncio.sleep(0.8)
    seats = await asyncio.to_thread(httpx.get, f"{server.url}/api/seats", headers=sup)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.config.audiosocket_port)
    writer.write(audiosocket.uuid_message(uuid.uuid4()))
    rest = await asyncio.wait_for(reader.read(), 5.0)
    writer.close()
    await stream
    return seats.json(), rest


def test_without_baselines_calls_are_recorded_unscored_and_healthz_says_why(tmp_path):
    token = add_users(tmp_path)
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=0, password_hasher=cheap_hasher())
    with ServerThread(config) as server:
        server.ingest_token = token
        sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
        seats, rest = asyncio.run(_unscored(server, sup))
        health = httpx.get(f"{server.url}/healthz").json()
        calls = httpx.get(f"{server.url}/api/calls", headers=sup).json()
        metrics = httpx.get(f"{server.url}/metrics", headers=sup).text
    [seat] = seats["seats"]
    assert {k: seat[k] for k in ("seat_id", "call_id", "agent_id", "protocol", "scored")} == {
        "seat_id": "S-U", "call_id": "unscored-1", "agent_id": "A1001",
        "protocol": "audiofork", "scored": False}
    assert seat["reason"].startswith(f"no voice baselines in {tmp_path / 'baselines'}")
    assert seats["floor"] == {"in_call": 1, "open_alerts": 0, "stress_index": None}
    assert health["scoring"]["enabled"] is False and "voiceline calibrate" in \
        health["scoring"]["reason"]
    assert [(c["call_id"], c["end_reason"]) for c in calls] == [("unscored-1", "hung up")]
    assert rest == b""  # the unbound AudioSocket call was refused and not recorded
    assert 'voiceline_ingest_refused_total{reason="unbound"} 1' in metrics
