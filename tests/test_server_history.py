"""A seat's last minutes (GET /api/seats/{id}/history): the ring itself, then the real server.

The server test streams one call while a dashboard watches, with snapshots every 0.1 s
and a history of 1 s (10 points), so that filling, bounding and forgetting all happen
within a few seconds.
"""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

from test_server_support import AlertFeed, add_users, calibrate, cheap_hasher, login, voice
from voiceline.server import ServerConfig
from voiceline.server.seat_history import SeatHistory
from voiceline.server.testing import ServerThread

T0 = 1_700_000_000.0


def seat(seat_id: str = "S01", agent_id: str | None = "A1001", call_id: str = "c-1",
         loudness_sone: float | None = 4.0, **values) -> dict:
    """A scored entry of the ``seats`` message, as :meth:`Service.seats` writes it."""
    return {"seat_id": seat_id, "call_id": call_id, "agent_id": agent_id, "scored": True,
            "agent_speaking": True, "loudness_sone": loudness_sone, "f0_hz": 150.0,
            "speech_rate_syl_s": 4.5, "agitation": 0.2, "low_energy": 0.1,
            "deviation": 0.8, **values}


# -- the ring -----------------------------------------------------------------------------

def test_points_come_back_as_the_snapshot_had_them_with_missing_values_as_none():
    history = SeatHistory(window_s=600.0, max_points=600)
    history.add(T0, [seat(loudness_sone=None, f0_hz=math.nan, agent_speaking=False),
                     {"seat_id": "S02", "call_id": "c-2", "agent_id": "A1002",
                      "scored": False, "state": "unscored", "reason": "no baseline"}])
    history.add(T0 + 1, [seat(loudness_sone=6.25)])
    assert history.points("S01") == [
        {"t": T0, "call_id": "c-1", "loudness_sone": None, "f0_hz": None,
         "speech_rate_syl_s": 4.5, "agitation": 0.2, "low_energy": 0.1, "deviation": 0.8,
         "agent_speaking": False},
        {"t": T0 + 1, "call_id": "c-1", "loudness_sone": 6.25, "f0_hz": 150.0,
         "speech_rate_syl_s": 4.5, "agitation": 0.2, "low_energy": 0.1, "deviation": 0.8,
         "agent_speaking": True}]
    assert "S02" not in history, "an unscored call has no voice to keep"
    assert [p["t"] for p in history.points("S01", since=T0 + 0.5)] == [T0 + 1]


def test_a_ring_keeps_the_newest_points_and_nothing_older_than_the_window():
    history = SeatHistory(window_s=600.0, max_points=600)
    for k in range(700):  # 700 s at one snapshot a second
        history.add(T0 + k, [seat(loudness_sone=float(k))])
    points = history.points("S01")
    assert len(points) == 600
    assert [p["loudness_sone"] for p in points] == [float(k) for k in range(100, 700)]
    by_time = SeatHistory(window_s=10.0, max_points=600)
    for k in range(30):
        by_time.add(T0 + k, [seat(loudness_sone=float(k))])
    assert [p["t"] for p in by_time.points("S01")] == [T0 + k for k in range(19, 30)]


def test_a_seat_without_calls_is_forgotten_and_a_new_agent_starts_over():
    history = SeatHistory(window_s=10.0, max_points=600)
    history.add(T0, [seat("S01"), seat("S02", call_id="c-2")])
    history.add(T0 + 1, [seat("S01", call_id="c-3"), seat("S02", agent_id="A1009",
                                                          call_id="c-4")])
    # S01: the same agent's next call continues the ring, each point with its call.
    assert [p["call_id"] for p in history.points("S01")] == ["c-1", "c-3"]
    assert [p["call_id"] for p in history.points("S02")] == ["c-4"]
    assert history.agent_of("S02") == "A1009"
    history.add(T0 + 5, [seat("S02", agent_id="A1009", call_id="c-4")])
    history.add(T0 + 11.5, [seat("S02", agent_id="A1009", call_id="c-4")])
    assert "S01" not in history and history.points("S01") == []  # no call for 10 s
    assert [p["t"] for p in history.points("S02")] == [T0 + 5, T0 + 11.5]


def test_a_clock_set_back_starts_over_rather_than_stalling():
    history = SeatHistory(window_s=600.0, max_points=600)
    history.add(T0, [seat()])
    history.add(T0, [seat(loudness_sone=9.0)])  # the same snapshot twice: once
    history.add(T0 - 3600, [seat(loudness_sone=5.0)])
    assert [(p["t"], p["loudness_sone"]) for p in history.points("S01")] == [(T0 - 3600, 5.0)]


# -- the real server ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("history")
    ingest_token = add_users(data)
    calibrate(data, "A1001")
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher(),
                          snapshot_interval_s=0.1, seat_history_s=1.0)
    with ServerThread(config) as server:
        server.ingest_token = ingest_token
        yield server


async def _one_call(server, sup_token: str) -> dict:
    """Stream 12 s on seat S-H; read the history during the call (8 s in: 4 s to spare on
    a loaded machine, where 0.5 s once was not) and after it."""
    from test_server_support import stream_audiofork

    headers = {"Authorization": f"Bearer {sup_token}"}
    url = f"{server.url}/api/seats/S-H/history"
    async with AlertFeed(server.ws_url, sup_token) as feed:
        stream = asyncio.create_task(stream_audiofork(
            server.ws_url, server.ingest_token, "h-1", "S-H", "A1001", voice(12.0, seed=5)))
        await asyncio.sleep(8.0)  # the first scored window ends 5.6-6.6 s in
        during = (await asyncio.to_thread(httpx.get, url, headers=headers)).json()
        since = during["points"][len(during["points"]) // 2]["t"]
        recent = (await asyncio.to_thread(httpx.get, url, params={"since": since},
                                          headers=headers)).json()
        await stream
        await asyncio.sleep(1.5)  # longer than seat_history_s: the seat is forgotten
        after = await asyncio.to_thread(httpx.get, url, headers=headers)
        snapshots = [m for m in feed.messages if m["type"] == "seats"]
    return {"during": during, "since": since, "recent": recent, "after": after,
            "snapshots": snapshots}


def test_history_fills_from_the_dashboards_snapshots_bounded_and_since(server):
    run = asyncio.run(_one_call(server, login(server.url, "sup")))
    during = run["during"]
    assert (during["seat_id"], during["call_id"], during["agent_id"]) == ("S-H", "h-1",
                                                                           "A1001")
    points = during["points"]
    # 1 s at 0.1 s: at most 10 points, in time order, none older than a second.
    assert 5 <= len(points) <= 10
    times = [p["t"] for p in points]
    assert times == sorted(times) and times[-1] - times[0] <= 1.0
    # Each point is the seat's entry of a seats message the dashboard got, value for value.
    sent = {m["t"]: s for m in run["snapshots"] for s in m["seats"] if s["seat_id"] == "S-H"}
    for point in points:
        entry = sent[point["t"]]
        assert point == {"t": point["t"], **{k: entry[k] for k in point if k != "t"}}
    assert {p["call_id"] for p in points} == {"h-1"}
    assert any(p["loudness_sone"] is not None and p["loudness_sone"] > 0 for p in points)
    # ?since: only the points at or after it.
    recent = [p["t"] for p in run["recent"]["points"]]
    # (the second read came later: the 1 s history may have moved past ``since`` on a
    # loaded machine, so the points it still holds are what must be there)
    assert recent and min(recent) >= run["since"] and set(recent) >= {
        t for t in times if t >= min(recent)}
    # A second after the call: nothing kept, the seat still known (200, not 404).
    after = run["after"]
    assert after.status_code == 200
    assert after.json() == {"seat_id": "S-H", "call_id": None, "agent_id": None,
                            "points": []}


def test_history_is_for_staff_only_and_unknown_seats_are_404(server):
    url = f"{server.url}/api/seats/S-H/history"
    assert httpx.get(url).status_code == 401
    refused = httpx.get(url, headers={"Authorization": f"Bearer {login(server.url, 'wang')}"})
    assert refused.status_code == 403 and "admin or supervisor or qa" in refused.json()["detail"]
    qa = {"Authorization": f"Bearer {login(server.url, 'qa')}"}
    missing = httpx.get(f"{server.url}/api/seats/S-NOPE/history", headers=qa)
    assert missing.status_code == 404 and "GET /api/seats?all=1" in missing.json()["detail"]
    bad = httpx.get(url, params={"since": "yesterday"}, headers=qa)
    assert bad.status_code == 422


def test_a_finished_call_leaves_a_voice_summary_for_the_agents_report(server):
    """After h-1 (the first test's call) ended, its windows are summarised in the store."""
    import time

    from voiceline.store import Store

    deadline = time.monotonic() + 5.0
    with Store(server.config.store_path) as store:
        rows = []
        while not rows and time.monotonic() < deadline:
            rows = [r for r in store.list_voice_summaries(agent_id="A1001")
                    if r["call_id"] == "h-1"]
            time.sleep(0.1)
    (row,) = rows
    assert row["source"] == "live" and 11.5 <= row["duration_s"] <= 15.0
    summary = row["summary"]
    assert summary["baseline"] == "agent" and 1 <= summary["windows"] <= 10
    assert 0.0 <= summary["in_range_share"] <= 1.0
    assert set(summary["features"]) >= {"loudness_mean_sone", "speech_rate_syl_s"}
