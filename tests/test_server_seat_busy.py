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
    frame = audiofork.pcm_message(np.zeros(160, dtype=np.int16))

    async def scenario():
        async with connect(url) as first:
            await first.send(audiofork.start_message("real-1", "S-BUSY", "A3001"))
            for _ in range(25):
                await first.send(frame)
                await asyncio.sleep(0.02)
            async with connect(url) as intruder:
                await intruder.send(audiofork.start_message("intruder-1", "S-BUSY", "A3001"))
                code, reason = await _closed(intruder)
            for _ in range(25):  # the first call still streams, and is still scored
                await first.send(frame)
                await asyncio.sleep(0.02)
            seat = await asyncio.to_thread(_seat, server, "S-BUSY")
            # the same call coming back on a new connection takes its seat over
            async with connect(url) as again:
                await again.send(audiofork.start_message("real-1", "S-BUSY", "A3001"))
                await again.send(frame)
                await asyncio.sleep(0.3)
                resumed = await asyncio.to_thread(_seat, server, "S-BUSY")
            return code, reason, seat, resumed

    code, reason, seat, resumed = asyncio.run(scenario())
    assert code == 1008 and "seat S-BUSY has a call in progress" in reason
    assert seat["call_id"] == "real-1" and seat["scored"] and seat["state"] != "unscored"
    assert resumed["call_id"].startswith("real-1#") and resumed["scored"]
