"""``voiceline seat``: a headset microphone streamed in the audio-fork protocol.

The machine has no sound card, so a fake input stream (the ``sounddevice.InputStream``
interface, fed by a thread) stands in for the microphone; a local websockets server
parses what arrives with the real :class:`~capture.ingest.AudioForkParser`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from typing import ClassVar

import numpy as np
import pytest
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from capture.ingest import Audio, AudioForkParser, CallEnded, CallStarted
from voiceline.cli import main
from voiceline.sources import Backoff, Endpoints, SourceError, stream_seat

TOKEN = "seat-token"


class FakeInputStream:
    """A microphone: ``callback(indata, frames, time, status)`` with a sample counter.

    Sample ``k`` of the stream is ``k % 30011 - 15005``, so any lost, repeated or
    reordered block shows. Blocks come every ``blocksize / samplerate / speed`` s.
    """

    instances: ClassVar[list[FakeInputStream]] = []

    def __init__(self, *, samplerate, blocksize, channels, dtype, device, callback, speed=4.0):
        assert (channels, dtype) == (1, "int16")
        self.samplerate, self.blocksize, self.device = samplerate, blocksize, device
        self.callback, self.speed = callback, speed
        self.produced = 0
        self.started = self.closed = False
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        FakeInputStream.instances.append(self)

    @staticmethod
    def samples(start: int, n: int) -> np.ndarray:
        return ((np.arange(start, start + n) % 30011) - 15005).astype(np.int16)

    def _run(self) -> None:
        period_s = self.blocksize / self.samplerate / self.speed
        while not self._halt.wait(period_s):
            block = self.samples(self.produced, self.blocksize)[:, np.newaxis]
            self.callback(block, self.blocksize, None, None)
            self.produced += self.blocksize

    def start(self) -> None:
        self.started = True
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        self._thread.join()

    def close(self) -> None:
        self.closed = True


class Recorder:
    """A websocket ingest server parsing with the real audio-fork parser."""

    def __init__(self, *, drop_first_after: int | None = None) -> None:
        self.drop_first_after = drop_first_after
        self.connections: list[tuple[dict, list, list]] = []  # headers, messages, events
        self.frames = 0

    async def _handler(self, ws) -> None:
        messages, events = [], []
        self.connections.append((dict(ws.request.headers), messages, events))
        parser = AudioForkParser()
        drop = self.drop_first_after if len(self.connections) == 1 else None
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                messages.append(message)
                feed = parser.receive_text if isinstance(message, str) else parser.receive_bytes
                events += feed(message)
                self.frames += isinstance(message, bytes)
                if drop is not None and parser.stats.frames >= drop:
                    await ws.close(1011, "test: server drops the connection")
                    break
        events += parser.eof()

    @contextlib.asynccontextmanager
    async def running(self):
        async with serve(self._handler, "127.0.0.1", 0) as server:
            yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    async def wait_frames(self, n: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.frames < n:
            assert time.monotonic() < deadline, f"only {self.frames} of {n} frames arrived"
            await asyncio.sleep(0.01)


def agent_audio(events) -> np.ndarray:
    return np.concatenate([e.samples for e in events if isinstance(e, Audio)])


@pytest.mark.parametrize("fs_hz", [8000, 16000])
def test_seat_streams_the_microphone_in_20_ms_frames_and_stops_cleanly(fs_hz):
    recorder = Recorder()
    FakeInputStream.instances = []

    async def scenario():
        async with recorder.running() as url:
            stop = asyncio.Event()
            task = asyncio.create_task(stream_seat(
                url, "A1001", seat="S042", device=3, token=TOKEN, fs_hz=fs_hz, stop=stop,
                stream_factory=FakeInputStream,
            ))
            await recorder.wait_frames(25)
            stop.set()
            return await asyncio.wait_for(task, 5)

    result = asyncio.run(scenario())
    (mic,) = FakeInputStream.instances
    assert mic.device == 3 and mic.closed
    assert mic.blocksize == fs_hz // 50  # 20 ms
    ((headers, messages, events),) = recorder.connections
    assert headers["authorization"] == f"Bearer {TOKEN}"
    metadata = json.loads(messages[0])
    assert metadata["call_id"] == result.call_ids[0]
    started = events[0]
    assert isinstance(started, CallStarted)
    assert (started.seat, started.agent, started.fs_hz) == ("S042", "A1001", fs_hz)
    assert started.channels == ("agent",)
    pcm = [m for m in messages if isinstance(m, bytes)]
    assert {len(m) for m in pcm} == {2 * mic.blocksize}  # mono int16, 20 ms each
    # every block the microphone gave, in order, none lost or repeated
    np.testing.assert_array_equal(agent_audio(events), FakeInputStream.samples(0, mic.produced))
    assert json.loads(messages[-1]) == {"event": "stop"}
    assert events[-1] == CallEnded(result.call_ids[0], "stop")
    assert result.counters.frames_sent == len(pcm) and result.counters.frames_dropped == 0


def test_seat_reconnects_after_the_server_drops_it_with_a_new_call_id(caplog):
    recorder = Recorder(drop_first_after=5)
    FakeInputStream.instances = []

    async def scenario():
        async with recorder.running() as url:
            stop = asyncio.Event()
            task = asyncio.create_task(stream_seat(
                url, "A1001", seat="S042", stop=stop, stream_factory=FakeInputStream,
                backoff=Backoff(0.05, 1.0, rng=random.Random(1)),
            ))
            await recorder.wait_frames(20)
            stop.set()
            return await asyncio.wait_for(task, 5)

    with caplog.at_level(logging.INFO, logger="voiceline.sources"):
        result = asyncio.run(scenario())
    first, second = recorder.connections
    assert len(result.call_ids) == 2 and result.call_ids[0] != result.call_ids[1]
    assert first[2][0].call_id == result.call_ids[0]
    assert first[2][-1].reason.startswith("connection closed")
    assert second[2][0].call_id == result.call_ids[1]
    assert second[2][-1] == CallEnded(result.call_ids[1], "stop")
    assert result.counters.reconnects == 1 and result.counters.errors == 1
    assert "reconnecting in 0.0" in caplog.text and "with a new call id" in caplog.text
    # the new call continues the microphone's audio without a repeat
    tail = agent_audio(second[2])
    (mic,) = FakeInputStream.instances
    start = int(tail[0]) + 15005
    np.testing.assert_array_equal(tail, FakeInputStream.samples(start, tail.size))
    assert start + tail.size == mic.produced


def test_seat_without_a_server_keeps_retrying_until_stopped():
    delays = []

    class Recording(Backoff):
        def next_delay(self):
            delays.append(super().next_delay())
            return delays[-1]

    async def scenario():
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.6, stop.set)
        return await stream_seat("http://127.0.0.1:9", "A1", seat="S1", stop=stop,
                                 stream_factory=FakeInputStream,
                                 backoff=Recording(0.05, 0.2, jitter=0.0))

    result = asyncio.run(asyncio.wait_for(scenario(), 5))
    assert result.call_ids == [] and result.counters.frames_sent == 0
    assert delays[:4] == [0.05, 0.1, 0.2, 0.2]  # doubling, capped
    assert result.counters.reconnects >= 3


def test_seat_refused_token_is_an_error_not_a_retry():
    async def refuse(connection, request):
        return connection.respond(401, "no\n")

    async def scenario():
        async with serve(lambda ws: None, "127.0.0.1", 0, process_request=refuse) as server:
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            await stream_seat(url, "A1", stop=asyncio.Event(), token="wrong",
                              stream_factory=FakeInputStream)

    with pytest.raises(SourceError, match="refused the ingest token"):
        asyncio.run(asyncio.wait_for(scenario(), 5))


def test_cli_seat_without_a_sound_card_says_how_to_pick_a_device(monkeypatch, capsys):
    import sounddevice

    def no_device(**kwargs):
        raise sounddevice.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sounddevice, "InputStream", no_device)
    code = main(["seat", "--agent", "A1", "--server", "http://127.0.0.1:9", "--device", "2"])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot open input device 2" in err and "python -m sounddevice" in err


# --- backoff and endpoints --------------------------------------------------------------


def test_backoff_doubles_from_half_a_second_to_thirty_with_jitter():
    backoff = Backoff(rng=random.Random(0))
    nominal = [0.5, 1, 2, 4, 8, 16, 30, 30]
    delays = [backoff.next_delay() for _ in nominal]
    for delay, d in zip(delays, nominal, strict=True):
        assert 0.75 * d <= delay <= d
    assert len(set(delays)) == len(delays)  # jittered, not the same instant for every seat


def test_backoff_starts_over_after_a_connection_that_held():
    backoff = Backoff(1.0, 30.0, jitter=0.0, stable_s=0.05)
    assert [backoff.next_delay() for _ in range(3)] == [1.0, 2.0, 4.0]
    backoff.connected()
    assert backoff.next_delay() == 8.0  # dropped at once: keep escalating
    backoff.connected()
    time.sleep(0.06)
    assert backoff.next_delay() == 1.0  # held for stable_s: start over


@pytest.mark.parametrize(
    ("server", "ws", "bind"),
    [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/ingest/audiofork",
         "http://127.0.0.1:8080/api/audiosocket/bind"),
        ("127.0.0.1:8080/", "ws://127.0.0.1:8080/ingest/audiofork",
         "http://127.0.0.1:8080/api/audiosocket/bind"),
        ("wss://vl.example/ingest/twilio", "wss://vl.example/ingest/audiofork",
         "https://vl.example/api/audiosocket/bind"),
        ("https://example.org/voiceline", "wss://example.org/voiceline/ingest/audiofork",
         "https://example.org/voiceline/api/audiosocket/bind"),
    ],
)
def test_endpoints_follow_from_the_server_url(server, ws, bind):
    endpoints = Endpoints.from_server(server)
    assert endpoints.ingest_url("audiofork") == ws
    assert endpoints.bind_url == bind
    assert endpoints.audiosocket_port == 9092


def test_endpoints_audiosocket_address_and_bad_urls():
    endpoints = Endpoints.from_server("http://10.0.0.5:8080", audiosocket="9999")
    assert (endpoints.audiosocket_host, endpoints.audiosocket_port) == ("10.0.0.5", 9999)
    endpoints = Endpoints.from_server("http://10.0.0.5:8080", audiosocket="pbx-gw:9093")
    assert (endpoints.audiosocket_host, endpoints.audiosocket_port) == ("pbx-gw", 9093)
    with pytest.raises(SourceError, match="HOST:PORT"):
        Endpoints.from_server("http://h:1", audiosocket="h:port")
    with pytest.raises(SourceError, match="not a server URL"):
        Endpoints.from_server("ftp://h")
