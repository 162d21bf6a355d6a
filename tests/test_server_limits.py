"""Connection budgets and waiting limits on every port (voiceline.server.limits)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from capture.ingest import audiofork, audiosocket
from test_server_support import add_users, calibrate, cheap_hasher, login
from voiceline.server import ServerConfig
from voiceline.server.config import ConfigError
from voiceline.server.limits import SPARE_DESCRIPTORS, raise_descriptor_limit
from voiceline.server.testing import ServerThread

HANDSHAKE_S = 0.6
IDLE_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("limits")
    ingest_token = add_users(data)
    calibrate(data, "A5001")
    config = ServerConfig(data_dir=data, audiosocket_port=0, password_hasher=cheap_hasher(),
                          handshake_timeout_s=HANDSHAKE_S, ingest_idle_timeout_s=IDLE_S)
    with ServerThread(config) as server:
        server.ingest_token = ingest_token
        yield server


def _closed_after(port: int, send: bytes = b"", wait_s: float = 5.0) -> float:
    """Seconds until the server closes a TCP connection to ``port`` after ``send``."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        t0 = time.monotonic()
        if send:
            sock.sendall(send)
        try:
            while sock.recv(4096):
                pass
        except ConnectionResetError:
            pass
        return time.monotonic() - t0


def _metrics(server, token: str) -> str:
    return httpx.get(f"{server.url}/metrics",
                     headers={"Authorization": f"Bearer {token}"}).text


def _calls(server, seat: str) -> list[dict]:
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    return httpx.get(f"{server.url}/api/calls", params={"seat": seat}, headers=sup).json()


async def _close_of(ws) -> tuple[int | None, str | None]:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10.0)
    return ws.close_code, ws.close_reason


def test_sockets_that_send_nothing_are_closed_on_every_port(server):
    ports = {"http": server.config.port, "ingest": server.config.ingest_port,
             "audiosocket": server.config.audiosocket_port}
    for name, port in ports.items():
        waited = _closed_after(port)
        assert HANDSHAKE_S - 0.1 < waited < HANDSHAKE_S + 3.0, (name, waited)
    # half a request line is no request either (a slow sender holds nothing for long)
    assert _closed_after(server.config.port, b"GET /healthz HT") < HANDSHAKE_S + 3.0
    # a whole request is answered as ever
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    metrics = _metrics(server, server.ingest_token)
    for name in ports:
        line = f'voiceline_connections_cut_total{{port="{name}",reason="handshake_timeout"}}'
        assert line in metrics, name
    assert 'port="http",reason="handshake_timeout"} 2' in metrics


def test_a_request_whose_body_never_ends_is_closed_and_whole_ones_are_answered(server):
    # headers in time, then one byte of a 1,000-byte body: the socket was held, with
    # no sign-in needed, for as long as the client liked (five such held a port whose
    # budget was five, and every dashboard with it)
    head = (b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{")
    waited = _closed_after(server.config.port, head)
    assert HANDSHAKE_S - 0.1 < waited < HANDSHAKE_S + 3.0
    # a body trickled a byte at a time is cut at the same deadline
    with socket.create_connection(("127.0.0.1", server.config.port), timeout=5.0) as sock:
        sock.sendall(head)
        t0 = time.monotonic()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            while time.monotonic() - t0 < HANDSHAKE_S + 3.0:
                sock.sendall(b" ")
                time.sleep(0.1)
        assert time.monotonic() - t0 < HANDSHAKE_S + 3.0
    # a body sent slowly but within the deadline is answered as ever
    with socket.create_connection(("127.0.0.1", server.config.port), timeout=5.0) as sock:
        body = b'{"name": "sup", "password": "wrong password"}'
        sock.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        time.sleep(HANDSHAKE_S / 3)
        sock.sendall(body[:10])
        time.sleep(HANDSHAKE_S / 3)
        sock.sendall(body[10:])
        assert sock.recv(4096).startswith(b"HTTP/1.1 401")
    metrics = _metrics(server, server.ingest_token)
    assert 'voiceline_connections_cut_total{port="http",reason="body_timeout"} 2' in metrics


def test_a_socket_that_starts_no_call_is_closed_with_the_reason(server):
    query = f"/ingest/audiofork?token={server.ingest_token}"

    async def scenario():
        closes = []
        for base in (server.ingest_url, server.ws_url):  # the lean port and the HTTP port
            async with connect(base + query) as ws:
                t0 = time.monotonic()
                closes.append((*await _close_of(ws), time.monotonic() - t0))
        return closes

    for code, reason, waited in asyncio.run(scenario()):
        assert code == 1008 and reason == f"no call started within {HANDSHAKE_S:g} s"
        assert HANDSHAKE_S - 0.1 < waited < HANDSHAKE_S + 3.0


def test_a_socket_left_open_after_its_call_ended_is_closed(server):
    query = f"/ingest/audiofork?token={server.ingest_token}"
    frame = audiofork.pcm_message(np.zeros(160, dtype=np.int16))

    async def scenario(base: str, call_id: str):
        async with connect(base + query) as ws:
            await ws.send(audiofork.start_message(call_id, f"S-{call_id}", "A5001"))
            for _ in range(5):
                await ws.send(frame)
            await ws.send(audiofork.stop_message("hung up"))
            t0 = time.monotonic()
            return (*await _close_of(ws), time.monotonic() - t0)

    for base, call_id in ((server.ingest_url, "after-lean"), (server.ws_url, "after-http")):
        code, reason, waited = asyncio.run(scenario(base, call_id))
        assert code == 1008 and reason == f"no call started within {HANDSHAKE_S:g} s"
        assert waited < HANDSHAKE_S + 3.0
        [call] = _calls(server, f"S-{call_id}")
        assert call["end_reason"] == "hung up"


def test_a_call_gone_silent_is_ended_and_the_seat_beside_it_streams_on(server):
    query = f"/ingest/audiofork?token={server.ingest_token}"
    frame = audiofork.pcm_message(np.zeros(160, dtype=np.int16))
    call_uuid = str(uuid.uuid4())
    bound = httpx.post(f"{server.url}/api/audiosocket/bind",
                       headers={"Authorization": f"Bearer {server.ingest_token}"},
                       json={"uuid": call_uuid, "seat": "S-QUIET-AS", "agent": "A5001"})
    assert bound.status_code == 201

    async def quiet(base: str, call_id: str, seat: str):
        async with connect(base + query) as ws:
            await ws.send(audiofork.start_message(call_id, seat, "A5001"))
            for _ in range(10):
                await ws.send(frame)
                await asyncio.sleep(0.02)
            t0 = time.monotonic()
            return (*await _close_of(ws), time.monotonic() - t0)

    async def quiet_audiosocket():
        reader, writer = await asyncio.open_connection("127.0.0.1",
                                                       server.config.audiosocket_port)
        writer.write(audiosocket.uuid_message(call_uuid))
        for _ in range(10):
            writer.write(audiosocket.audio_message(np.zeros(160, dtype=np.int16)))
        await writer.drain()
        t0 = time.monotonic()
        ended = await asyncio.wait_for(reader.read(), 10.0)
        writer.close()
        return ended, time.monotonic() - t0

    async def steady():
        async with connect(server.ingest_url + query) as ws:
            await ws.send(audiofork.start_message("steady-1", "S-STEADY", "A5001"))
            t0 = time.monotonic()
            while time.monotonic() - t0 < IDLE_S + 2.5:
                await ws.send(frame)
                await asyncio.sleep(0.02)
            await ws.send(audiofork.stop_message("hung up"))
            return ws.close_code

    async def scenario():
        return await asyncio.gather(quiet(server.ingest_url, "quiet-lean", "S-QUIET-LEAN"),
                                    quiet(server.ws_url, "quiet-http", "S-QUIET-HTTP"),
                                    quiet_audiosocket(), steady())

    lean, http, audio_socket, steady_code = asyncio.run(scenario())
    for code, reason, waited in (lean, http):
        assert code == 1008 and reason == f"no data for {IDLE_S:g} s"
        assert IDLE_S - 0.1 < waited < IDLE_S + 3.0
    assert audio_socket[0] == b"" and IDLE_S - 0.1 < audio_socket[1] < IDLE_S + 3.0
    assert steady_code is None  # never closed by the server while it streamed
    time.sleep(0.5)  # the calls' ends reach the store
    for seat in ("S-QUIET-LEAN", "S-QUIET-HTTP", "S-QUIET-AS"):
        [call] = _calls(server, seat)
        assert call["end_reason"] == f"no data for {IDLE_S:g} s", seat
    [call] = _calls(server, "S-STEADY")
    assert call["end_reason"] == "hung up"
    metrics = _metrics(server, server.ingest_token)
    for port in ("ingest", "http", "audiosocket"):
        assert f'voiceline_connections_cut_total{{port="{port}",reason="idle_timeout"}} 1' \
            in metrics, port


def test_connections_past_the_budget_are_closed_as_they_arrive(tmp_path):
    token = add_users(tmp_path)
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=0, engine_mode="thread",
                          password_hasher=cheap_hasher(), max_connections=3,
                          handshake_timeout_s=2.0)
    with ServerThread(config) as server:
        ports = {"http": server.config.port, "ingest": server.config.ingest_port,
                 "audiosocket": server.config.audiosocket_port}
        for name, port in ports.items():
            held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
            try:
                time.sleep(0.2)  # accepted
                assert _closed_after(port) < 1.0, name  # the fourth: at once
            finally:
                for sock in held:
                    sock.close()
        time.sleep(0.3)
        # room again once connections have gone: the port answers as ever
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        metrics = _metrics(server, token)
    for name in ports:
        assert f'voiceline_connections_cut_total{{port="{name}",reason="limit"}} 1' \
            in metrics, name


@pytest.mark.parametrize("setting", [{"max_connections": 0}, {"handshake_timeout_s": 0.0},
                                     {"ingest_idle_timeout_s": float("nan")},
                                     {"handshake_timeout_s": float("inf")}])
def test_limits_out_of_range_are_refused(tmp_path, setting):
    with pytest.raises(ConfigError, match=next(iter(setting))):
        ServerConfig(data_dir=tmp_path, **setting)


def test_the_descriptor_limit_is_raised_toward_the_budgets_or_the_shortfall_said():
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        modest = ServerConfig(max_connections=10)
        assert raise_descriptor_limit(modest) is None
        huge = ServerConfig(max_connections=10**9)
        warning = raise_descriptor_limit(huge)
        if hard == resource.RLIM_INFINITY:
            assert warning is None
        else:
            assert warning is not None and "max_connections = 1000000000" in warning
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
            assert str(3 * 10**9 + SPARE_DESCRIPTORS) in warning
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
