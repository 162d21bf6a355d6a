"""A seat's headset microphone streamed to the server (``voiceline seat``).

The microphone is opened once with ``sounddevice`` (mono, int16, 20 ms blocks) and stays
open; its callback, on PortAudio's thread, hands each block to the event loop, which
sends it in the audio-fork protocol. One connection is one call: when the connection is
lost, the client reconnects with backoff (0.5 s doubling to 30 s, with jitter) and
starts a new call with a new call id. Stopping sends ``{"event": "stop"}`` and closes.

``sounddevice`` is imported only when the real microphone is used; tests inject a
stream factory (the test machine has no sound card).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from voiceline.sources.backoff import Backoff
from voiceline.sources.connections import open_call
from voiceline.sources.endpoints import Endpoints, SourceError
from voiceline.sources.streaming import FrameQueue, StreamCounters, stream_call

__all__ = ["SEAT_RATES_HZ", "SeatResult", "default_seat_name", "sounddevice_stream", "stream_seat"]

log = logging.getLogger("voiceline.sources")

SEAT_RATES_HZ = (8000, 16000)

StreamFactory = Callable[..., object]
"""``factory(samplerate=, blocksize=, channels=, dtype=, device=, callback=)`` → a stream
with ``start()``, ``stop()`` and ``close()``, calling ``callback(indata, frames, time,
status)`` with ``indata`` int16 ``(frames, channels)`` — the ``sounddevice.InputStream``
interface."""


@dataclass
class SeatResult:
    """What a seat session did.

    Attributes
    ----------
    call_ids : list of str
        The calls started, one per connection, in order.
    counters : StreamCounters
        Frames sent and dropped, reconnects, errors.
    overflows : int
        Blocks the sound device reported as overflowed (audio lost before us).
    """

    call_ids: list[str] = field(default_factory=list)
    counters: StreamCounters = field(default_factory=StreamCounters)
    overflows: int = 0


def default_seat_name() -> str:
    """The seat name used when none is given: this computer's host name."""
    return socket.gethostname().split(".")[0] or "seat"


def sounddevice_stream(**kwargs) -> object:
    """A ``sounddevice.InputStream`` (imported here: it needs PortAudio)."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise SourceError(f"cannot use the sound system: {exc}; install PortAudio") from None
    try:
        return sounddevice.InputStream(**kwargs)
    except (sounddevice.PortAudioError, ValueError) as exc:
        device = kwargs.get("device")
        which = "the default input device" if device is None else f"input device {device!r}"
        raise SourceError(
            f"cannot open {which} at {kwargs.get('samplerate')} Hz: {exc}; list the devices "
            "with `python -m sounddevice` and pick one with --device"
        ) from None


async def stream_seat(
    server: str,
    agent: str,
    *,
    seat: str | None = None,
    device: int | str | None = None,
    token: str | None = None,
    fs_hz: int = 8000,
    frame_ms: int = 20,
    stop: asyncio.Event | None = None,
    stream_factory: StreamFactory | None = None,
    backoff: Backoff | None = None,
    max_backlog_s: float = 1.0,
    open_timeout_s: float = 10.0,
) -> SeatResult:
    """Stream a microphone to the server until ``stop`` is set.

    Parameters
    ----------
    server : str
        The server, e.g. ``http://127.0.0.1:8080``; audio goes to ``/ingest/audiofork``.
    agent : str
        The agent wearing the headset.
    seat : str, optional
        The seat; default this computer's host name.
    device : int or str, optional
        ``sounddevice`` input device (index or name); default the system's default.
    token : str, optional
        The ingest token.
    fs_hz : {8000, 16000}
        Sample rate to capture and send.
    frame_ms : int
        Block length, ms (default 20).
    stop : asyncio.Event, optional
        Set it to end the session cleanly; without one the session runs until cancelled.
    stream_factory : callable, optional
        Opens the input stream (default :func:`sounddevice_stream`); see ``StreamFactory``.
    backoff : Backoff, optional
        Reconnection delays (default 0.5 s doubling to 30 s, jitter).
    max_backlog_s : float
        Audio kept while disconnected; older audio is dropped.
    open_timeout_s : float
        Give up a connection attempt after this long (then back off and retry).

    Returns
    -------
    SeatResult

    Raises
    ------
    SourceError
        The microphone cannot be opened, or the server refuses the token.
    """
    if fs_hz not in SEAT_RATES_HZ:
        raise SourceError(f"--rate {fs_hz} is not supported; use 8000 or 16000")
    endpoints = Endpoints.from_server(server)
    seat = seat or default_seat_name()
    stop = stop or asyncio.Event()
    backoff = backoff or Backoff()
    factory = stream_factory or sounddevice_stream
    loop = asyncio.get_running_loop()
    blocksize = fs_hz * frame_ms // 1000
    frames = FrameQueue(max(1, round(max_backlog_s * 1000 / frame_ms)))
    result = SeatResult()

    def callback(indata, n_frames, time_info, status) -> None:  # PortAudio's thread
        if status:
            result.overflows += 1
        frame = np.array(indata[:, 0], dtype=np.int16)[np.newaxis, :]
        with contextlib.suppress(RuntimeError):  # the loop has closed: we are stopping
            loop.call_soon_threadsafe(frames.put, frame)

    async def connect(call_id: str):
        conn = await open_call("audiofork", endpoints, call_id=call_id, seat=seat, agent=agent,
                               channels=1, fs_hz=fs_hz, token=token,
                               open_timeout_s=open_timeout_s)
        result.call_ids.append(call_id)
        return conn

    stream = factory(samplerate=fs_hz, blocksize=blocksize, channels=1, dtype="int16",
                     device=device, callback=callback)
    log.info("seat %s, agent %s: streaming the microphone at %d Hz to %s", seat, agent, fs_hz,
             endpoints.ingest_url("audiofork"))
    pump = asyncio.create_task(stream_call(
        frames, call_id=lambda k: str(uuid.uuid4()), open_connection=connect,
        backoff=backoff, counters=result.counters, label=f"seat {seat}", verbose=True,
    ))
    stopping = asyncio.create_task(stop.wait())
    stream.start()
    try:
        await asyncio.wait({pump, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stream.stop()
        stream.close()
        stopping.cancel()
        # The microphone's last blocks were handed to the loop (call_soon_threadsafe)
        # before stop() returned; finishing after them keeps them (finish() at once
        # dropped the last 20 ms now and then).
        loop.call_soon(frames.finish)
        if not pump.done():
            done, _ = await asyncio.wait({pump}, timeout=5.0)
            if not done:
                pump.cancel()
                await asyncio.wait({pump})
    result.counters.frames_dropped += frames.dropped
    if not pump.cancelled():
        pump.result()  # raises the SourceError that ended the session, if one did
    log.info("seat %s: stopped after %d frames (%d calls, %d reconnects)", seat,
             result.counters.frames_sent, len(result.call_ids), result.counters.reconnects)
    return result
