"""``voiceline simulate``: simulated seats reach a server in each protocol, as the real
parsers of :mod:`capture.ingest` read them.

Each test starts small fake servers on free ports (``websockets.serve`` for the
websocket protocols, ``asyncio.start_server`` for AudioSocket and its HTTP bind
endpoint), parses every connection with the protocol's own parser, and compares the
audio that arrived with the simulator's output, sample for sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from capture.g711 import ulaw_decode, ulaw_encode
from capture.ingest import (
    Audio,
    AudioForkParser,
    AudioSocketParser,
    Binding,
    CallEnded,
    CallStarted,
    ProtocolError,
    TwilioParser,
)
from capture.simulator import Floor
from voiceline.cli import main
from voiceline.sources import Backoff, Simulation, SourceError, audiosocket_uuid

TOKEN = "ingest-secret"
FLOOR = dict(n_timbres=2, n_caller_timbres=2, workers=1)
SHORT_CALLS = dict(FLOOR, call_s=(0.6, 0.9), idle_s=(0.1, 0.3))
LONG_CALLS = dict(FLOOR, call_s=(40.0, 50.0), idle_s=(0.01, 0.02), agitation_every_s=2.0,
                  episode_s=10.0)


@dataclass
class Connection:
    """What one connection delivered, as the protocol's parser saw it."""

    path: str = ""
    headers: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    events: list = field(default_factory=list)

    @property
    def started(self) -> CallStarted:
        assert isinstance(self.events[0], CallStarted), self.events[:1]
        return self.events[0]

    @property
    def ended(self) -> CallEnded | None:
        return self.events[-1] if isinstance(self.events[-1], CallEnded) else None

    def audio(self, channel: str) -> np.ndarray:
        parts = [e.samples for e in self.events if isinstance(e, Audio) and e.channel == channel]
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    @property
    def errors(self) -> list[ProtocolError]:
        return [e for e in self.events if isinstance(e, ProtocolError)]


class WebsocketIngest:
    """A websocket server that feeds every message to a real ingest parser."""

    def __init__(self, parser=AudioForkParser, *, drop_first_after: int | None = None,
                 refuse: bool = False) -> None:
        self.parser, self.drop_first_after, self.refuse = parser, drop_first_after, refuse
        self.connections: list[Connection] = []

    async def _handler(self, ws) -> None:
        conn = Connection(ws.request.path, dict(ws.request.headers))
        self.connections.append(conn)
        parser = self.parser()
        drop = self.drop_first_after if len(self.connections) == 1 else None
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                conn.messages.append(message)
                feed = parser.receive_text if isinstance(message, str) else parser.receive_bytes
                conn.events += feed(message)
                if drop is not None and parser.stats.frames >= drop:
                    await ws.close(1011, "test: server drops the connection")
                    break
        conn.events += parser.eof()

    def _process_request(self, connection, request):
        if self.refuse:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad ingest token\n")
        return None

    @contextlib.asynccontextmanager
    async def running(self):
        async with serve(self._handler, "127.0.0.1", 0,
                         process_request=self._process_request) as server:
            yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def by_call(connections: list[Connection]) -> dict[str, Connection]:
    return {c.started.call_id: c for c in connections}


def reference(n_seats: int, n_samples: int, **options) -> np.ndarray:
    """What the simulator renders for these options: int16 (seats, 2, n)."""
    return Floor(n_seats, **options).read(n_samples)


def test_audiofork_calls_carry_the_simulators_audio_from_start_to_hang_up():
    ingest = WebsocketIngest(AudioForkParser)

    async def scenario():
        async with ingest.running() as url:
            return await Simulation(url, seats=2, token=TOKEN, seed=3, duration_s=2.0,
                                    run_id="t1", floor_options=SHORT_CALLS).run()

    result = asyncio.run(scenario())
    ref = reference(2, 16000, seed=3, **SHORT_CALLS)
    received = by_call(ingest.connections)
    assert len(result.calls) >= 4  # calls of 0.6-0.9 s with short idle gaps, over 2 s
    assert sum(c.ended == "hangup" for c in result.calls) >= 2
    assert result.stats.calls_started == len(result.calls) == len(ingest.connections)
    for truth in result.calls:
        assert truth.wire_call_ids == [f"t1-{truth.call_id}"]
        conn = received[truth.wire_call_ids[0]]
        assert conn.path == "/ingest/audiofork"
        assert conn.headers["authorization"] == f"Bearer {TOKEN}"
        seat = int(truth.seat[1:]) - 1
        assert (conn.started.seat, conn.started.agent) == (truth.seat, f"A{1001 + seat}")
        assert (conn.started.fs_hz, conn.started.channels) == (8000, ("agent", "caller"))
        span = slice(truth.start_sample, truth.end_sample)
        np.testing.assert_array_equal(conn.audio("agent"), ref[seat, 0, span])
        np.testing.assert_array_equal(conn.audio("caller"), ref[seat, 1, span])
        # 20 ms of interleaved stereo per message (640 bytes), the last one shorter
        sizes = [len(m) for m in conn.messages if isinstance(m, bytes)]
        assert set(sizes[:-1]) == {640} and 0 < sizes[-1] <= 640
        expected_reason = "stop" if truth.ended == "hangup" else "simulation stopped"
        assert conn.ended.reason == expected_reason
        assert conn.errors == []
        assert truth.start_s == pytest.approx(result.wall0_s + truth.start_sample / 8000)
    assert max(c.end_sample for c in result.calls) == 16000  # the run stopped at 2 s


def test_twilio_streams_both_tracks_in_real_time_with_the_episode_ground_truth():
    ingest = WebsocketIngest(TwilioParser)

    async def scenario():
        async with ingest.running() as url:
            simulation = Simulation(url, seats=3, protocol="twilio", token=TOKEN, seed=5,
                                    run_id="", floor_options=LONG_CALLS)
            task = asyncio.create_task(simulation.run())
            while simulation.wall0_s == 0:  # the floor is being prepared
                await asyncio.sleep(0.01)
            started = time.monotonic()
            await asyncio.sleep(2.0)
            simulation.stop()
            result = await task
            return result, time.monotonic() - started

    result, elapsed_s = asyncio.run(scenario())
    assert len(result.calls) == 3 and all(c.ended == "stopped" for c in result.calls)
    n = max(c.end_sample for c in result.calls)
    ref = reference(3, n, seed=5, **LONG_CALLS)
    line = ulaw_decode(ulaw_encode(ref))  # what survives μ-law
    floor = Floor(3, seed=5, **LONG_CALLS)
    floor.read(n)
    received = by_call(ingest.connections)
    for truth in result.calls:
        conn = received[truth.call_id]
        seat = int(truth.seat[1:]) - 1
        assert conn.path == "/ingest/twilio"
        assert conn.started.params["agent_track"] == "outbound"
        assert conn.started.params["tracks"] == ["inbound", "outbound"]
        span = slice(truth.start_sample, truth.end_sample)
        np.testing.assert_array_equal(conn.audio("agent"), line[seat, 0, span])  # outbound
        np.testing.assert_array_equal(conn.audio("caller"), line[seat, 1, span])  # inbound
        assert conn.ended.reason == "stop" and conn.errors == []
        media = [json.loads(m)["media"] for m in conn.messages if '"media"' in m]
        outbound = [m for m in media if m["track"] == "outbound"]
        assert [int(m["chunk"]) for m in outbound] == list(range(1, len(outbound) + 1))
        assert [int(m["timestamp"]) for m in outbound[:3]] == [0, 20, 40]
        # pacing: about as much audio as wall-clock time went by (±20 %)
        audio_s = conn.audio("agent").size / 8000
        assert 0.8 * elapsed_s <= audio_s <= 1.2 * elapsed_s
        # ground truth: the call's scheduled episodes, in feed samples and wall-clock time
        scheduled = floor.seats[seat].calls[0].episodes
        assert scheduled and len(truth.episodes) == len(scheduled)
        for got, want in zip(truth.episodes, scheduled, strict=True):
            assert (got.party, got.style) == (want.party, want.style)
            assert (got.start_sample, got.end_sample) == (want.start_sample, want.end_sample)
            assert got.start_s == pytest.approx(result.wall0_s + want.start_sample / 8000)
    assert 0.8 * elapsed_s <= result.stats.audio_s <= 1.2 * elapsed_s


class AudioSocketIngest:
    """An HTTP bind endpoint and an AudioSocket listener, logging what happens in order."""

    def __init__(self) -> None:
        self.bindings: dict[str, Binding] = {}
        self.bind_requests: list[tuple[str, str, dict, dict]] = []
        self.order: list[tuple[str, str]] = []
        self.connections: list[Connection] = []

    async def _http(self, reader, writer) -> None:
        method, path, _ = (await reader.readline()).decode().split(" ", 2)
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        body = json.loads(await reader.readexactly(int(headers["content-length"])))
        self.bind_requests.append((method, path, headers, body))
        self.bindings[body["uuid"]] = Binding(body["seat"], body["agent"], body["channel"])
        self.order.append(("bind", body["uuid"]))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 11\r\nConnection: close\r\n\r\n{\"ok\": true}")
        await writer.drain()
        writer.close()

    async def _audiosocket(self, reader, writer) -> None:
        conn = Connection()
        self.connections.append(conn)
        parser = AudioSocketParser(resolve=self.bindings.get)
        while data := await reader.read(4096):
            conn.messages.append(data)
            for event in parser.receive_bytes(data):
                if isinstance(event, CallStarted):
                    self.order.append(("tcp", event.call_id))
                conn.events.append(event)
        conn.events += parser.eof()
        writer.close()

    @contextlib.asynccontextmanager
    async def running(self):
        http = await asyncio.start_server(self._http, "127.0.0.1", 0)
        tcp = await asyncio.start_server(self._audiosocket, "127.0.0.1", 0)
        async with http, tcp:
            yield (f"http://127.0.0.1:{http.sockets[0].getsockname()[1]}",
                   f"127.0.0.1:{tcp.sockets[0].getsockname()[1]}")


def test_audiosocket_binds_each_call_then_streams_the_agent_channel():
    ingest = AudioSocketIngest()

    async def scenario():
        async with ingest.running() as (url, audiosocket):
            return await Simulation(url, seats=2, protocol="audiosocket", token=TOKEN, seed=3,
                                    duration_s=2.0, run_id="t3", audiosocket=audiosocket,
                                    floor_options=SHORT_CALLS).run()

    result = asyncio.run(scenario())
    ref = reference(2, 16000, seed=3, **SHORT_CALLS)
    received = by_call(ingest.connections)
    assert len(result.calls) >= 4 and len(ingest.connections) == len(result.calls)
    for method, path, headers, _ in ingest.bind_requests:
        assert (method, path) == ("POST", "/api/audiosocket/bind")
        assert headers["authorization"] == f"Bearer {TOKEN}"
    for truth in result.calls:
        call_uuid = audiosocket_uuid(truth.wire_call_ids[0])
        # the UUID is bound before its TCP connection says it
        assert ingest.order.index(("bind", call_uuid)) < ingest.order.index(("tcp", call_uuid))
        conn = received[call_uuid]
        seat = int(truth.seat[1:]) - 1
        assert conn.started.params["bound"] is True
        assert (conn.started.seat, conn.started.agent) == (truth.seat, f"A{1001 + seat}")
        assert conn.started.channels == ("agent",)
        agent = conn.audio("agent")
        np.testing.assert_array_equal(agent, ref[seat, 0, truth.start_sample:truth.end_sample])
        sizes = [e.samples.size for e in conn.events if isinstance(e, Audio)]
        assert set(sizes[:-1]) == {160}  # 20 ms slin messages
        if truth.ended == "hangup":
            assert conn.ended.reason == "hangup"
        assert conn.errors == []


class RecordingBackoff(Backoff):
    delays: ClassVar[list[float]] = []

    def next_delay(self) -> float:
        delay = super().next_delay()
        self.delays.append(delay)
        return delay


def test_a_dropped_call_reconnects_with_backoff_as_a_new_call_on_the_wire():
    ingest = WebsocketIngest(AudioForkParser, drop_first_after=10)
    RecordingBackoff.delays = []
    options = dict(FLOOR, call_s=(1.5, 1.6), idle_s=(0.05, 0.1))

    async def scenario():
        async with ingest.running() as url:
            return await Simulation(url, seats=1, seed=2, duration_s=2.0, run_id="t4",
                                    backoff=lambda: RecordingBackoff(0.05, 1.0),
                                    floor_options=options).run()

    result = asyncio.run(scenario())
    first = result.calls[0]
    assert first.ended == "hangup"
    assert first.wire_call_ids == ["t4-S001-00001", "t4-S001-00001-r1"]
    dropped, resumed = ingest.connections[:2]
    assert dropped.started.call_id == "t4-S001-00001" and dropped.ended.reason.startswith(
        "connection closed")
    assert resumed.started.call_id == "t4-S001-00001-r1" and resumed.ended.reason == "stop"
    assert 0.0375 <= RecordingBackoff.delays[0] <= 0.05  # 0.05 s nominal, jitter 25 %
    assert result.stats.reconnects == 1 and result.stats.errors == 1
    # the resumed call carries the rest of the call, up to its hang-up
    ref = reference(1, 16000, seed=2, **options)[0, 0]
    tail = resumed.audio("agent")
    assert tail.size > 0.5 * 8000
    np.testing.assert_array_equal(tail, ref[first.end_sample - tail.size:first.end_sample])


def test_a_refused_token_stops_the_run_with_a_message_saying_what_to_do():
    ingest = WebsocketIngest(refuse=True)

    async def scenario():
        async with ingest.running() as url:
            return await Simulation(url, seats=1, seed=3, token="wrong",
                                    floor_options=dict(FLOOR, idle_s=(0.01, 0.02))).run()

    with pytest.raises(SourceError, match=r"refused the ingest token.*--token"):
        asyncio.run(asyncio.wait_for(scenario(), 20))


def write_replay_files(tmp_path):
    t = np.arange(3200)
    stereo = np.stack([(t * 7 % 2001 - 1000), 3000 * np.sin(2 * np.pi * 440 * t / 8000)], 1)
    sf.write(tmp_path / "call-a.wav", stereo.astype(np.int16), 8000, subtype="PCM_16")
    mono = 0.2 * np.sin(2 * np.pi * 300 * np.arange(4800) / 16000)
    sf.write(tmp_path / "call-b.flac", mono, 16000, subtype="PCM_16")
    return stereo.T.astype(np.int16), [tmp_path / "call-a.wav", tmp_path / "call-b.flac"]


def test_replay_sends_each_recordings_channels_then_ends(tmp_path):
    channels, files = write_replay_files(tmp_path)
    ingest = WebsocketIngest(AudioForkParser)

    async def scenario():
        async with ingest.running() as url:
            return await Simulation(url, replay=files, agents=["A7", "A8"], run_id="").run()

    result = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert [c.call_id for c in result.calls] == ["S001-call-a", "S002-call-b"]
    assert all(c.ended == "hangup" for c in result.calls)
    received = by_call(ingest.connections)
    stereo, mono = received["S001-call-a"], received["S002-call-b"]
    assert (stereo.started.agent, stereo.started.channels) == ("A7", ("agent", "caller"))
    np.testing.assert_array_equal(stereo.audio("agent"), channels[0])
    np.testing.assert_array_equal(stereo.audio("caller"), channels[1])
    assert mono.started.channels == ("agent",)  # mono: the agent alone
    assert mono.audio("agent").size == 2400  # 0.3 s resampled from 16 to 8 kHz
    assert stereo.ended.reason == mono.ended.reason == "stop"


@contextlib.contextmanager
def server_thread(ingest):
    """Run ``ingest``'s server on an event loop in another thread; yields its URL."""
    loop = asyncio.new_event_loop()
    running = ingest.running()
    url = loop.run_until_complete(running.__aenter__())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(running.__aexit__(None, None, None))
        loop.close()


def test_cli_simulate_replays_a_file_and_prints_a_status_line(tmp_path, capsys, monkeypatch):
    channels, files = write_replay_files(tmp_path)
    ingest = WebsocketIngest(AudioForkParser)
    monkeypatch.setenv("VOICELINE_INGEST_TOKEN", TOKEN)
    with server_thread(ingest) as url:  # the CLI runs its own event loop in this thread
        code = main(["simulate", "--server", url, "--replay", str(files[0]),
                     "--status-every", "0.1", "--run-id", "cli"])
    assert code == 0
    err = capsys.readouterr().err
    assert "0/1 seats in call" in err and "1 calls streamed" in err
    (conn,) = ingest.connections
    assert conn.started.call_id == "cli-S001-call-a"
    assert conn.headers["authorization"] == f"Bearer {TOKEN}"
    np.testing.assert_array_equal(conn.audio("agent"), channels[0])


def test_cli_simulate_rejects_a_bad_server_url(capsys):
    assert main(["simulate", "--server", "ftp://example.org", "--seats", "1"]) == 2
    assert "is not a server URL" in capsys.readouterr().err


def _gone(pid: int) -> bool:
    """The process has ended (a zombie, not yet reaped by whoever adopted it, counts)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.split()[1:2] == ["Z"] for line in status if line.startswith("State:"))
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_simulator_whose_starter_dies_hangs_up_and_stops():
    """The demo starts the simulator in a session of its own; if the demo is killed (a
    SIGKILL it cannot pass on), the simulator must not stream to nobody for ever."""
    ingest = WebsocketIngest(AudioForkParser)
    with server_thread(ingest) as url:
        starter = subprocess.Popen(
            [sys.executable, "-c", (
                "import os, subprocess, sys, time\n"
                "env = {**os.environ, 'VOICELINE_INGEST_TOKEN': 't',\n"
                "       'VOICELINE_STOP_WITH_PARENT': str(os.getpid())}\n"
                "sim = subprocess.Popen([sys.executable, '-m', 'voiceline', 'simulate',\n"
                f"    '--server', '{url}', '--seats', '1', '--frame-ms', '100'],\n"
                "    env=env, start_new_session=True)\n"
                "print(sim.pid, flush=True)\n"
                "time.sleep(600)\n")],
            stdout=subprocess.PIPE, text=True)
        sim_pid = int(starter.stdout.readline())
        try:
            deadline = time.monotonic() + 120
            while not ingest.connections or len(ingest.connections[0].events) < 20:
                assert time.monotonic() < deadline, "the simulator never streamed"
                time.sleep(0.2)
            starter.kill()  # SIGKILL: nothing is passed on
            starter.wait()
            deadline = time.monotonic() + 30
            while not _gone(sim_pid):
                assert time.monotonic() < deadline, "the simulator outlived its starter"
                time.sleep(0.2)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(sim_pid, signal.SIGKILL)
            starter.kill()
        time.sleep(0.5)  # the server's parser sees the close
    (conn,) = ingest.connections
    assert conn.ended is not None, conn.events[-3:]  # hung up the protocol's way
