"""End to end: the real server on a free port, real clients over websockets and TCP.

Audio is streamed in real time (the engine plays it at the wall clock's pace), so the
three protocols stream at once, with the malformed clients beside them, while two
dashboards watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from capture.ingest import audiofork, audiosocket, twilio
from test_server_support import (
    FAST_ALERTS,
    AlertFeed,
    add_users,
    calibrate,
    cheap_hasher,
    login,
    opened_alert,
    stream_audiofork,
    stream_audiosocket,
    stream_twilio,
    voice,
)
from voiceline.server import ServerConfig
from voiceline.server.testing import ServerThread

CALM_S, AGITATED_S = 4.0, 9.0
AGENTS = {"audiofork": "A2001", "twilio": "A2002", "audiosocket": "A2003"}
SEATS = {"audiofork": "S-AF", "twilio": "S-TW", "audiosocket": "S-AS"}


def speech(fs_hz: int = 8000) -> np.ndarray:
    """Calm, then agitated: the same synthetic voice the agents were calibrated on."""
    return np.concatenate([voice(CALM_S, seed=3, fs_hz=fs_hz),
                           voice(AGITATED_S, agitated=True, seed=4, fs_hz=fs_hz)])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("live")
    ingest_token = add_users(data)
    calibrate(data, *AGENTS.values())
    config = ServerConfig(data_dir=data, audiosocket_port=0, password_hasher=cheap_hasher(),
                          alerts=FAST_ALERTS, audiosocket_require_binding=False)
    with ServerThread(config) as server:
        server.ingest_token = ingest_token
        yield server


# -- malformed clients, run beside the good calls -----------------------------------------

async def closed_by_server(ws) -> tuple[int | None, str | None]:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10.0)
    return ws.close_code, ws.close_reason


async def bad_json(server) -> tuple:
    url = f"{server.ws_url}/ingest/audiofork?token={server.ingest_token}"
    async with connect(url) as ws:
        await ws.send('{"call_id": "broken-1", "sample_rate": 8000,')
        return await closed_by_server(ws)


async def odd_bytes_mid_call(server) -> tuple:
    """One second of good audio, then a message of 321 bytes."""
    url = f"{server.ws_url}/ingest/audiofork?token={server.ingest_token}"
    async with connect(url) as ws:
        await ws.send(audiofork.start_message("broken-2", "S-BAD", "A2001"))
        for _ in range(50):
            await ws.send(audiofork.pcm_message(np.zeros(160, dtype=np.int16)))
            await asyncio.sleep(0.02)
        await ws.send(b"\x01" * 321)
        return await closed_by_server(ws)


async def twilio_without_start(server) -> tuple:
    url = f"{server.ws_url}/ingest/twilio?token={server.ingest_token}"
    async with connect(url) as ws:
        await ws.send(twilio.media_message("outbound", 1, 0, b"\xff" * 160, 2))
        return await closed_by_server(ws)


async def audiosocket_garbage(server) -> float:
    """A UUID, then an odd-length audio message: the server hangs up; returns how fast."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.config.audiosocket_port)
    writer.write(audiosocket.uuid_message(uuid.uuid4()) + b"\x10\x00\x03abc")
    await writer.drain()
    started = time.monotonic()
    rest = await asyncio.wait_for(reader.read(), 10.0)
    writer.close()
    assert rest == b""
    return time.monotonic() - started


async def too_big(server) -> tuple:
    """200 kB in one message: the websocket layer refuses it before any parser sees it."""
    url = f"{server.ws_url}/ingest/audiofork?token={server.ingest_token}"
    async with connect(url, max_size=None) as ws:
        await ws.send(audiofork.start_message("big-1", "S-BIG", "A2001"))
        await ws.send(bytes(200_000))
        return await closed_by_server(ws)


async def no_token(server) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{server.ws_url}/ingest/twilio"):
            pass
    return refused.value.response.status_code


# -- the run ------------------------------------------------------------------------------

@dataclass
class LiveRun:
    calls: dict[str, str]
    opened: dict[str, dict]
    first: list[dict]
    second: list[dict]
    malformed: dict
    metrics: str


async def _live_run(server) -> LiveRun:
    ws, token = server.ws_url, server.ingest_token
    sup, sup2 = login(server.url, "sup"), login(server.url, "sup2")
    calls = {"audiofork": "af-call-1", "twilio": "CA" + "7" * 32,
             "audiosocket": str(uuid.uuid4()), "unbound": str(uuid.uuid4())}
    async with AlertFeed(ws, sup) as first, AlertFeed(ws, sup2) as second:
        streams = [
            stream_audiofork(ws, token, calls["audiofork"], SEATS["audiofork"],
                             AGENTS["audiofork"], speech(16000), fs_hz=16000),
            stream_twilio(ws, token, calls["twilio"], SEATS["twilio"], AGENTS["twilio"],
                          speech()),
            stream_audiosocket(server.url, server.config.audiosocket_port, token,
                               calls["audiosocket"], SEATS["audiosocket"],
                               AGENTS["audiosocket"], speech()),
            stream_audiosocket(server.url, server.config.audiosocket_port, token,
                               calls["unbound"], None, None, speech()),
        ]
        checks = {"bad_json": bad_json(server), "odd_bytes": odd_bytes_mid_call(server),
                  "twilio_without_start": twilio_without_start(server),
                  "audiosocket_garbage": audiosocket_garbage(server),
                  "too_big": too_big(server),
                  "no_token": no_token(server)}
        results = await asyncio.gather(*streams, *checks.values())
        malformed = dict(zip(checks, results[len(streams):], strict=True))
        opened = {p: await first.wait_for(opened_alert(call), 10.0) for p, call in calls.items()}
        for call in calls.values():
            await second.wait_for(opened_alert(call), 10.0)
        await asyncio.sleep(0.5)
    metrics = httpx.get(f"{server.url}/metrics",
                        headers={"Authorization": f"Bearer {token}"}).text
    return LiveRun(calls, opened, first.messages, second.messages, malformed, metrics)


@pytest.fixture(scope="module")
def live_run(server) -> LiveRun:
    return asyncio.run(_live_run(server))


def lasted_s(explanation: str) -> int:
    """How long an alert's words say it lasted: "..., for 1 min 5 s" → 65."""
    found = re.search(r"for (?:(\d+) min )?(\d+) s$", explanation)
    assert found, explanation
    return 60 * int(found[1] or 0) + int(found[2])


def test_a_call_through_each_protocol_raises_an_agitation_alert_on_the_dashboards(
        server, live_run):
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    for protocol in AGENTS:
        call_id = live_run.calls[protocol]
        alert = live_run.opened[protocol]["alert"]
        assert (alert["seat_id"], alert["agent_id"]) == (SEATS[protocol], AGENTS[protocol])
        assert f"{AGENTS[protocol]}'s usual" in alert["explanation"]
        # the alert keeps which baseline judged it: the agent's own, this version of it
        written = json.loads((server.config.data_dir / "baselines"
                              / f"{AGENTS[protocol]}.json").read_text())["updated"]
        assert (alert["baseline"], alert["baseline_updated"]) == ("agent", written)
        assert alert["peak_score"] >= 0.7
        call = httpx.get(f"{server.url}/api/calls", params={"seat": SEATS[protocol]},
                         headers=sup).json()[0]
        assert call["call_id"] == call_id and call["protocol"] == protocol
        # Not during the calm part: after the agitation began, within a few seconds of it.
        assert CALM_S < alert["opened_s"] - call["started_s"] < CALM_S + 7.0, protocol
        closed = [m for m in live_run.first if m["type"] == "alert"
                  and m["alert"]["id"] == alert["id"] and m["event"] == "closed"]
        assert closed and closed[0]["alert"]["close_reason"] == "call ended"
        # its stored words say how long it lasted in all, not only until it opened
        final = closed[0]["alert"]
        lasted = final["closed_s"] - final["opened_s"] + lasted_s(alert["explanation"])
        assert abs(lasted_s(final["explanation"]) - lasted) <= 2.0, final["explanation"]
        assert lasted_s(final["explanation"]) > lasted_s(alert["explanation"])
    ids = [m["event_id"] for m in live_run.first if m["type"] == "alert"]
    assert ids == sorted(set(ids))
    assert len(ids) == 2 * len(live_run.calls)  # each call: opened, then closed at its end
    assert ids == [m["event_id"] for m in live_run.second if m["type"] == "alert"]


def test_an_unbound_audiosocket_call_is_judged_against_the_population(live_run):
    alert = live_run.opened["unbound"]["alert"]
    unbound_seat = "as-" + live_run.calls["unbound"].replace("-", "")[:8]
    assert (alert["seat_id"], alert["agent_id"]) == (unbound_seat, None)
    assert alert["explanation"].endswith("than the agents' usual (no personal baseline yet), "
                                         "for 2 s")
    assert (alert["baseline"], alert["baseline_updated"]) == ("population", None)
    seats = [s for m in live_run.first if m["type"] == "seats" for s in m["seats"]
             if s["seat_id"] == unbound_seat and s["state"] == "playing"]
    assert seats and {s["baseline"] for s in seats} == {"population"}


def test_malformed_clients_are_closed_with_a_reason_and_disturb_no_one(server, live_run):
    code, reason = live_run.malformed["bad_json"]
    assert code == 1008 and "not valid JSON" in reason
    code, reason = live_run.malformed["odd_bytes"]
    assert code == 1008 and "odd byte count" in reason
    code, reason = live_run.malformed["twilio_without_start"]
    assert code == 1008 and "before 'start'" in reason
    assert len(reason.encode()) <= 123
    assert live_run.malformed["audiosocket_garbage"] < 2.0
    assert live_run.malformed["too_big"][0] == 1009  # "message too big"
    assert live_run.malformed["no_token"] == 401
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    broken = httpx.get(f"{server.url}/api/calls", params={"seat": "S-BAD"}, headers=sup).json()
    assert broken[0]["end_reason"].startswith("protocol error: binary message of 321 bytes")
    assert 'voiceline_protocol_errors_total{protocol="audiofork",fatal="true"} 2' \
        in live_run.metrics
    assert 'voiceline_ingest_refused_total{reason="token"} 1' in live_run.metrics
    # The good calls beside them lost nothing: every frame arrived, none was dropped.
    frames = {p: int(round(sec / 0.02)) for p, sec in (("twilio", 2 * (CALM_S + AGITATED_S)),)}
    assert f'voiceline_frames_received_total{{protocol="twilio"}} {frames["twilio"]}' \
        in live_run.metrics
    assert "voiceline_engine_dropped_seconds_total 0" in live_run.metrics


def test_dashboards_get_a_seat_snapshot_about_once_a_second(live_run):
    snapshots = [m for m in live_run.first if m["type"] == "seats"]
    assert CALM_S + AGITATED_S - 2 <= len(snapshots) <= CALM_S + AGITATED_S + 4
    # the busiest of the snapshots in which the three calls are through the engine: a call
    # that has just connected shows "starting" (no baseline yet) until its first tick,
    # and which snapshot is busiest depends on how fast each sender connected
    def through(m):
        states = {s["seat_id"]: s.get("state") for s in m["seats"]}
        return all(states.get(seat) in ("waiting", "playing") for seat in SEATS.values())

    busiest = max(filter(through, snapshots), key=lambda m: m["floor"]["in_call"])
    assert busiest["floor"]["in_call"] >= 4
    seats = {s["seat_id"]: s for s in busiest["seats"]}
    for protocol, seat in SEATS.items():
        assert seats[seat]["protocol"] == protocol and seats[seat]["scored"] is True
        assert seats[seat]["baseline"] == "agent"
    agitated = [m for m in snapshots if m["floor"]["open_alerts"] >= 4]
    assert agitated and agitated[0]["floor"]["stress_index"] > 2.0
    assert {"agitation"} == {a for s in agitated[0]["seats"] for a in s.get("open_alerts", ())}


async def _ack_and_resolve(server, live_run) -> tuple[list[dict], list[dict], list[dict]]:
    sup, sup2, qa = (login(server.url, name) for name in ("sup", "sup2", "qa"))
    acked = live_run.opened["audiofork"]["alert"]["id"]
    resolved = live_run.opened["twilio"]["alert"]["id"]
    head = max(m["event_id"] for m in live_run.first if m["type"] == "alert")
    async with AlertFeed(server.ws_url, sup, since=head) as one, \
            AlertFeed(server.ws_url, sup2, since=head) as two, \
            AlertFeed(server.ws_url, qa, since=head) as watcher:
        await one.send({"type": "ack", "alert_id": acked, "request_id": "r1"})
        await two.send({"type": "resolve", "alert_id": resolved, "note": "spoke to the agent"})
        await watcher.send({"type": "ack", "alert_id": resolved, "request_id": "r2"})
        await one.send({"type": "ack", "alert_id": acked, "request_id": "r3"})
        for feed in (one, two, watcher):
            await feed.wait_for(lambda m: m.get("event") == "acknowledged")
            await feed.wait_for(lambda m: m.get("event") == "resolved")
        await one.wait_for(lambda m: m.get("request_id") == "r3")
        await watcher.wait_for(lambda m: m.get("request_id") == "r2")
    return one.messages, two.messages, watcher.messages


def test_ack_and_resolve_over_the_websocket_reach_every_dashboard_and_persist(
        server, live_run):
    one, two, watcher = asyncio.run(_ack_and_resolve(server, live_run))
    acked = live_run.opened["audiofork"]["alert"]["id"]
    resolved = live_run.opened["twilio"]["alert"]["id"]
    for messages in (one, two, watcher):
        events = [(m["event"], m["alert"]["id"]) for m in messages if m["type"] == "alert"]
        assert sorted(events) == [("acknowledged", acked), ("resolved", resolved)]
    replies = {m.get("request_id"): m for m in one + watcher if m["type"] in ("ok", "error")}
    assert replies["r1"]["type"] == "ok"
    assert replies["r2"]["status"] == 403  # qa watches but does not act
    assert replies["r3"]["status"] == 409 and "already acknowledged by sup" in \
        replies["r3"]["message"]
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    stored = httpx.get(f"{server.url}/api/alerts/{resolved}", headers=sup).json()
    assert (stored["resolved_by"], stored["resolution_note"]) == ("sup2", "spoke to the agent")
    assert stored["acknowledged_by"] == "sup2"
    stored = httpx.get(f"{server.url}/api/alerts/{acked}", headers=sup).json()
    assert stored["acknowledged_by"] == "sup" and stored["resolved_by"] is None


def test_a_dashboard_must_authenticate_as_staff(server):
    async def attempt(first: dict | None, query: str = "") -> tuple:
        async with connect(f"{server.ws_url}/ws/alerts{query}") as ws:
            if first is not None:
                await ws.send(json.dumps(first))
            return await closed_by_server(ws)

    wang = login(server.url, "wang")
    code, reason = asyncio.run(attempt({"type": "auth", "token": "nope"}))
    assert code == 1008 and "unknown, expired or revoked" in reason
    code, reason = asyncio.run(attempt({"type": "auth", "token": wang}))
    assert code == 1008 and "role 'agent'" in reason
    code, reason = asyncio.run(attempt({"hello": 1}))
    assert code == 1008 and '"type": "auth"' in reason
    code, reason = asyncio.run(attempt(None, f"?token={login(server.url, 'qa')}&since=x"))
    assert code == 1008 and "since must be" in reason
