"""A seat carries one call: a second call for a seat that is streaming is refused."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from capture.ingest import audiofork
from test_server_support import add_users, calibrate, cheap_hasher, login
from voiceline.server import ServerConfig
from voiceline.server.testing import ServerThread


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("busy")
    ingest_token = add_users(data)
    calibrate(data, "A3001")
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher())
    with ServerThread(config) as server:
        server.ingest_token = ingest_token
        yield server


FRAME = audiofork.pcm_message(np.zeros(160, dtype=np.int16))  # 20 ms of silence


async def _paced(ws, frames: int) -> None:
    """Send ``frames`` 20 ms frames at the pace of a live line."""
    for _ in range(frames):
        await ws.send(FRAME)
        await asyncio.sleep(0.02)


async def _closed(ws) -> tuple[int | None, str | None]:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10.0)
    return ws.close_code, ws.close_reason


def _seat(server, seat_id: str) -> dict:
    token = login(server.url, "sup")
    seats = httpx.get(f"{server.url}/api/seats", headers={"Authorization": f"Bearer {token}"}
                      ).json()
    return next(s for s in seats["seats"] if s["seat_id"] == seat_id)


def test_a_second_call_on_a_streaming_seat_is_refused_and_the_first_goes_on(server):
    url = f"{server.ws_url}/ingest/audiofork?token={server.ingest_token}"

    async def scenario():
        async with connect(url) as first:
            await first.send(audiofork.start_message("real-1", "S-BUSY", "A3001"))
            await _paced(first, 25)
            async with connect(url) as intruder:
                await intruder.send(audiofork.start_message("intruder-1", "S-BUSY", "A3001"))
                code, reason = await _closed(intruder)
            await _paced(first, 25)  # the first call still streams, and is still scored
            seat = await asyncio.to_thread(_seat, server, "S-BUSY")
            # the same call coming back on a new connection takes its seat over
            async with connect(url) as again:
                await again.send(audiofork.start_message("real-1", "S-BUSY", "A3001"))
                await again.send(FRAME)
                await asyncio.sleep(0.3)
                resumed = await asyncio.to_thread(_seat, server, "S-BUSY")
            return code, reason, seat, resumed

    code, reason, seat, resumed = asyncio.run(scenario())
    assert code == 1008 and "seat S-BUSY has a call in progress" in reason
    assert seat["call_id"] == "real-1" and seat["scored"] and seat["state"] != "unscored"
    assert resumed["call_id"].startswith("real-1#") and resumed["scored"]


def test_two_calls_starting_together_on_one_seat_give_it_one_call(server):
    # the seat check ran before the store was awaited, and the call was only booked
    # after it: two calls arriving at once both got the seat, and the first went
    # unscored for the rest of its life
    url = f"{server.ws_url}/ingest/audiofork?token={server.ingest_token}"

    async def call(call_id: str, seat: str, go: asyncio.Event) -> tuple[int | None, str]:
        async with connect(url) as ws:
            await go.wait()
            await ws.send(audiofork.start_message(call_id, seat, "A3001"))
            try:
                await _paced(ws, 30)
            except ConnectionClosed:
                pass
            else:
                return None, ""
            return ws.close_code, ws.close_reason or ""

    async def scenario(seat: str):
        go = asyncio.Event()
        tasks = [asyncio.create_task(call(f"{seat}-{n}", seat, go)) for n in range(2)]
        await asyncio.sleep(0.3)  # both connected, then both start at once
        go.set()
        return await asyncio.gather(*tasks)

    for attempt in range(3):
        seat = f"S-RACE{attempt}"
        closes = asyncio.run(scenario(seat))
        refused = [reason for code, reason in closes if code == 1008]
        assert len(refused) == 1, closes
        assert f"seat {seat} has a call" in refused[0]
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    calls = httpx.get(f"{server.url}/api/calls", params={"seat": "S-RACE0"}, headers=sup).json()
    assert len(calls) == 1


def test_ids_are_taken_as_the_store_keeps_them_and_bad_ones_leave_nothing(server):
    url = f"{server.ws_url}/ingest/audiofork?token={server.ingest_token}"
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}

    async def refusal(call_id: str, seat: str, agent: str | None) -> tuple[int | None, str]:
        async with connect(url) as ws:
            await ws.send(audiofork.start_message(call_id, seat, agent))
            await ws.send(FRAME)
            return await _closed(ws)

    async def scenario():
        async with connect(url) as first:
            await first.send(audiofork.start_message("pad-1", "S-PAD", "A3001"))
            await _paced(first, 10)
            # "S-PAD " is the seat S-PAD: busy, not a second tile filed under S-PAD
            padded = await refusal("pad-2", "S-PAD ", " A3001")
            bad = [await refusal("nl-1", "S-NL\n2026-11-30 WARNING forged", "A3001"),
                   await refusal("nul-1", "S-NUL\x00", "A3001"),
                   await refusal("agent-1", "S-AGENT", "../../etc/passwd"),
                   await refusal("c" * 201, "S-LONG", "A-LONG")]
            return padded, bad

    padded, bad = asyncio.run(scenario())
    assert padded[0] == 1008 and "seat S-PAD has a call in progress" in padded[1]
    for code, reason in bad:
        assert code == 1008 and "cannot record the call" in reason, reason
    seats = {s["seat_id"] for s in httpx.get(f"{server.url}/api/seats", params={"all": 1},
                                              headers=sup).json()["configured"]}
    agents = {a["agent_id"] for a in httpx.get(f"{server.url}/api/agents", headers=sup).json()}
    assert "S-PAD" in seats and not any(s.startswith(("S-PAD ", "S-NL", "S-NUL", "S-AGENT",
                                                      "S-LONG")) for s in seats)
    assert not any(a.startswith(("../", "A-LONG", " ")) for a in agents)
    metrics = httpx.get(f"{server.url}/metrics",
                        headers={"Authorization": f"Bearer {server.ingest_token}"}).text
    assert 'voiceline_ingest_refused_total{reason="call"} 4' in metrics

    async def padded_alone():  # on a free seat, the padded ids are the plain ones
        async with connect(url) as ws:
            await ws.send(audiofork.start_message(" pad-3 ", " S-PAD2 ", " A3001 "))
            await _paced(ws, 10)
            # the seat shows its baseline once the engine has been through a tick (a
            # slow machine may take a while; until then the seat is "starting")
            for _ in range(100):
                seat = await asyncio.to_thread(_seat, server, "S-PAD2")
                if seat.get("state") != "starting":
                    return seat
                await _paced(ws, 5)
            return seat

    seat = asyncio.run(padded_alone())
    assert seat["call_id"] == "pad-3" and seat["agent_id"] == "A3001" and seat["scored"]
    assert seat["baseline"] == "agent"
