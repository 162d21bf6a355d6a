"""Simulated seats streaming to the server in real time, from one asyncio loop.

:class:`Simulation` reads its feed (a :class:`~capture.simulator.Floor`, or recordings)
once per 20 ms tick for all seats, paced by the monotonic clock, and fans the samples out
to the calls in progress. A call gets its own connection when it starts and ends it
(stop / hang-up) when it ends, as a PBX does; an idle seat has no connection. Each call's
frames go through a :class:`~voiceline.sources.streaming.FrameQueue` to a task that sends
them and reconnects with backoff, so a slow or lost connection never holds up the tick.

The run records the ground truth: every call and its scheduled episodes, in samples of
the feed and in wall-clock time (``time.time()``), for the demo and the benchmarks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence

import numpy as np

from capture.simulator import Floor
from voiceline.sources.backoff import Backoff
from voiceline.sources.connections import open_call
from voiceline.sources.endpoints import PROTOCOLS, Endpoints, SourceError
from voiceline.sources.feeds import FloorFeed, ReplayFeed, ReplayFile
from voiceline.sources.streaming import FrameQueue, StreamCounters, stream_call
from voiceline.sources.truth import CallTruth, EpisodeTruth, SimulationResult, SimulationStats

__all__ = [
    "CallTruth",
    "EpisodeTruth",
    "Simulation",
    "SimulationResult",
    "SimulationStats",
    "run_simulation",
]

log = logging.getLogger("voiceline.sources")

MAX_CATCH_UP_S = 0.5
"""Most audio read in one step when the loop fell behind; the rest follows next step."""
DRAIN_TIMEOUT_S = 5.0
"""How long calls in progress get to send what is queued and hang up at the end."""


class _LiveCall:
    """A call in progress: cuts the feed's chunks into frames for its queue."""

    __slots__ = ("carry", "channels", "end_sample", "frame", "queue", "task", "truth")

    def __init__(self, truth: CallTruth, channels: int, frame: int, max_frames: int) -> None:
        self.truth = truth
        self.channels = channels
        self.end_sample = truth.end_sample
        self.frame = frame
        self.queue = FrameQueue(max_frames)
        self.carry: np.ndarray | None = None
        self.task: asyncio.Task | None = None

    def feed(self, chunk: np.ndarray) -> None:
        """Queue ``chunk`` (``(2, n)``) as frames aligned to the call's start."""
        chunk = chunk[: self.channels]
        f = self.frame
        if self.carry is not None:
            need = f - self.carry.shape[1]
            if chunk.shape[1] < need:
                self.carry = np.concatenate((self.carry, chunk), axis=1)
                return
            self.queue.put(np.concatenate((self.carry, chunk[:, :need]), axis=1))
            chunk, self.carry = chunk[:, need:], None
        n = chunk.shape[1]
        k = 0
        while k + f <= n:
            self.queue.put(chunk[:, k : k + f])
            k += f
        if k < n:
            self.carry = chunk[:, k:]

    def finish(self, reason: str | None) -> None:
        """Queue the last, shorter frame and end the call after it."""
        if self.carry is not None:
            self.queue.put(self.carry)
            self.carry = None
        self.queue.finish(reason)


class Simulation:
    """Simulated seats (or replayed recordings) streaming to a Voiceline server.

    Parameters
    ----------
    server : str
        The server, e.g. ``http://127.0.0.1:8080`` (see :mod:`~voiceline.sources.endpoints`).
    seats : int
        Number of simulated seats (ignored with ``replay``).
    protocol : {"audiofork", "twilio", "audiosocket"}
        How calls reach the server.
    token : str, optional
        The ingest token.
    seed : int
        Seed of the simulated floor: voices, calls and episodes follow from it.
    duration_s : float, optional
        Stop after this much audio; default: until :meth:`stop` (or, replaying, until
        every file has been sent).
    agitation_every_s, low_energy_every_s : float or None
        Mean interval between an agent's agitated / low-energy episodes, in call time
        (None: never).
    replay : sequence of str, os.PathLike or ReplayFile, optional
        Stream these recordings instead, one seat each, all starting at once.
    agents : sequence of str, optional
        Agent ids of the seats (default ``A1001, …`` simulated; unknown when replaying).
    floor : capture.simulator.Floor, optional
        A floor to stream (its seats and agents are used; ``seats``, ``seed`` and the
        episode options are then ignored). It must not have been read from elsewhere.
    floor_options : dict, optional
        Further keyword arguments of :class:`~capture.simulator.Floor` (``call_s``,
        ``idle_s``, ``episode_s``, ``n_timbres``, ``workers``, …).
    audiosocket : str, optional
        ``HOST:PORT`` of the AudioSocket listener (default the server's host, port 9092).
    frame_ms : int
        Frame length, ms (default 20, as telephony sends).
    run_id : str, optional
        Prefix of the wire call ids, so that runs do not reuse ids (default: 6 random
        hex digits; ``""`` for none).
    backoff : callable, optional
        Makes each call's :class:`~voiceline.sources.backoff.Backoff` (default 0.5 s
        doubling to 30 s).
    max_backlog_s : float
        Audio a call keeps queued while it has no connection (the oldest is dropped).
    open_timeout_s : float
        Give up a connection attempt after this long (then back off and retry).
    on_status : callable, optional
        ``on_status(stats)`` every ``status_every_s`` seconds and at the end.
    status_every_s : float
        Interval of ``on_status``.
    """

    def __init__(
        self,
        server: str,
        *,
        seats: int = 300,
        protocol: str = "audiofork",
        token: str | None = None,
        seed: int = 0,
        duration_s: float | None = None,
        agitation_every_s: float | None = 300.0,
        low_energy_every_s: float | None = 900.0,
        replay: Sequence[ReplayFile | str | os.PathLike] | None = None,
        agents: Sequence[str] | None = None,
        floor: Floor | None = None,
        floor_options: dict | None = None,
        audiosocket: str | None = None,
        frame_ms: int = 20,
        run_id: str | None = None,
        backoff: Callable[[], Backoff] = Backoff,
        max_backlog_s: float = 5.0,
        open_timeout_s: float = 10.0,
        on_status: Callable[[SimulationStats], None] | None = None,
        status_every_s: float = 5.0,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
        if floor is None and not replay and (isinstance(seats, bool) or seats < 1):
            raise ValueError(f"seats must be a positive number, got {seats!r}")
        if agents is not None and floor is None and not replay and len(agents) != seats:
            raise ValueError(f"give {seats} agent ids for {seats} seats, got {len(agents)}")
        if agents is not None and replay and len(agents) != len(replay):
            raise ValueError(f"give {len(replay)} agent ids for {len(replay)} files, got "
                             f"{len(agents)}")
        if duration_s is not None and not duration_s > 0:
            raise ValueError(f"duration_s must be positive, got {duration_s!r}")
        if not 5 <= frame_ms <= 100:
            raise ValueError(f"frame_ms must be 5-100 ms, got {frame_ms!r}")
        self.endpoints = Endpoints.from_server(server, audiosocket=audiosocket)
        self.protocol, self.token = protocol, token
        self.duration_s = duration_s
        self.run_id = secrets.token_hex(3) if run_id is None else run_id
        self._floor, self._replay = floor, list(replay) if replay else None
        self._n_seats, self._agents = seats, list(agents) if agents is not None else None
        self._floor_options = dict(floor_options or {})
        self._floor_options.setdefault("seed", seed)
        self._floor_options.setdefault("agitation_every_s", agitation_every_s)
        self._floor_options.setdefault("low_energy_every_s", low_energy_every_s)
        self.frame_ms = int(frame_ms)
        self._backoff = backoff
        self._max_frames = max(1, round(max_backlog_s * 1000 / frame_ms))
        self._open_timeout_s = open_timeout_s
        self._on_status, self._status_every_s = on_status, status_every_s
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._counters = StreamCounters()
        self._calls: list[CallTruth] = []
        self._live: list[_LiveCall | None] = []
        self._tasks: set[asyncio.Task] = set()
        self._fatal: BaseException | None = None
        self._seat_ids: list[str] = []
        self._agent_ids: list[str | None] = []
        self._channels: list[int] = []
        self._position = 0
        self._fs_hz = 8000
        self._t0: float | None = None
        self._wall0 = 0.0
        self._lag_s = self._max_lag_s = 0.0
        self._calls_ended = 0
        self._dropped_done = 0

    # -- control ---------------------------------------------------------------------

    def stop(self) -> None:
        """End the run: calls in progress hang up. Safe from any thread."""
        if self._loop is None:
            self._stop.set()
        else:
            self._loop.call_soon_threadsafe(self._stop.set)

    @property
    def stats(self) -> SimulationStats:
        """A snapshot of the counters."""
        c = self._counters
        live = [call for call in self._live if call is not None]
        return SimulationStats(
            seats=len(self._seat_ids),
            seats_in_call=len(live),
            calls_started=len(self._calls),
            calls_ended=self._calls_ended,
            frames_sent=c.frames_sent,
            frames_dropped=self._dropped_done + sum(call.queue.dropped for call in live),
            connections_open=c.connections_open,
            reconnects=c.reconnects,
            errors=c.errors,
            audio_s=self._position / self._fs_hz,
            elapsed_s=0.0 if self._t0 is None else time.monotonic() - self._t0,
            lag_s=self._lag_s,
            max_lag_s=self._max_lag_s,
            last_error=c.last_error,
        )

    @property
    def calls(self) -> list[CallTruth]:
        """Ground truth of the calls begun so far (live objects: they fill in as calls end)."""
        return list(self._calls)

    @property
    def wall0_s(self) -> float:
        """Wall-clock time of feed sample 0 (0 before the run starts)."""
        return self._wall0

    # -- the run -----------------------------------------------------------------------

    async def run(self) -> SimulationResult:
        """Stream until ``duration_s``, :meth:`stop`, or the end of the replayed files.

        Returns
        -------
        SimulationResult

        Raises
        ------
        SourceError
            The server refused the token or has no such endpoint (the run stops).
        capture.audio.AudioError
            A replayed file cannot be read.
        """
        self._loop = asyncio.get_running_loop()
        feed = await asyncio.to_thread(self._make_feed)
        self._seat_ids, self._agent_ids = feed.seat_ids, feed.agent_ids
        self._channels = feed.channels
        self._fs_hz = fs = feed.fs_hz
        self._live = [None] * len(self._seat_ids)
        tick = fs * self.frame_ms // 1000
        end = None if self.duration_s is None else round(self.duration_s * fs)
        max_step = max(tick, int(MAX_CATCH_UP_S * fs) // tick * tick)
        log.info("simulating %d seats over %s to %s (run id %r)", len(self._seat_ids),
                 self.protocol, self.endpoints.http_base, self.run_id)
        self._t0 = t0 = time.monotonic()
        self._wall0 = time.time()
        next_status = t0 + self._status_every_s
        try:
            while not self._stop.is_set():
                if end is not None and self._position >= end:
                    break
                if feed.exhausted(self._position) and not any(self._live):
                    break
                now = time.monotonic()
                due = int((now - t0) * fs) // tick * tick
                if end is not None:
                    due = min(due, end)
                if due <= self._position:
                    await asyncio.sleep(max(0.0, t0 + (self._position + tick) / fs - now))
                    continue
                n = min(due - self._position, max_step)
                self._fan_out(feed, feed.read(n), self._position, self._position + n)
                self._position += n
                self._lag_s = max(0.0, time.monotonic() - (t0 + self._position / fs))
                self._max_lag_s = max(self._max_lag_s, self._lag_s)
                if self._on_status is not None and time.monotonic() >= next_status:
                    next_status += self._status_every_s
                    self._on_status(self.stats)
                await asyncio.sleep(0)
        finally:
            await self._hang_up_all()
        if self._on_status is not None:
            self._on_status(self.stats)
        if self._fatal is not None:
            raise self._fatal
        return SimulationResult(self.stats, list(self._calls), self._wall0)

    def _make_feed(self) -> FloorFeed | ReplayFeed:
        if self._replay:
            items = [f if isinstance(f, ReplayFile) else ReplayFile(f) for f in self._replay]
            if self._agents is not None:
                items = [ReplayFile(f.path, f.seat, f.agent or a, f.call_id)
                         for f, a in zip(items, self._agents, strict=True)]
            return ReplayFeed(items)
        if self._floor is None:
            log.info("preparing %d simulated voices (banks are rendered once per process)",
                     self._n_seats)
            self._floor = Floor(self._n_seats, agent_ids=self._agents, **self._floor_options)
        return FloorFeed(self._floor)

    def _fan_out(self, feed, pcm: np.ndarray, t0: int, t1: int) -> None:
        """Hand samples ``[t0, t1)`` of every seat to its call; start and end calls."""
        live_calls = self._live
        for i in range(len(live_calls)):
            live = live_calls[i]
            if live is not None:
                if live.end_sample >= t1:
                    live.feed(pcm[i])
                    continue
                live.feed(pcm[i, :, : live.end_sample - t0])
                self._end_call(i, "hangup")
            call = feed.call_at(i, t1 - 1)
            if call is None:
                continue
            live = self._start_call(i, call)
            a = max(call.start_sample, t0) - t0
            b = min(call.end_sample, t1) - t0
            live.feed(pcm[i, :, a:b])
            if call.end_sample < t1:
                self._end_call(i, "hangup")

    def _wall(self, sample: int) -> float:
        return self._wall0 + sample / self._fs_hz

    def _start_call(self, index: int, call) -> _LiveCall:
        seat, agent = self._seat_ids[index], self._agent_ids[index]
        episodes = tuple(
            EpisodeTruth(e.party, e.style, e.start_sample, e.end_sample,
                         self._wall(e.start_sample), self._wall(e.end_sample))
            for e in call.episodes
        )
        truth = CallTruth(seat, agent, call.call_id, call.start_sample, call.end_sample,
                          self._wall(call.start_sample), self._wall(call.end_sample), episodes)
        self._calls.append(truth)
        channels = self._channels[index]
        live = _LiveCall(truth, channels, self._fs_hz * self.frame_ms // 1000, self._max_frames)
        base = f"{self.run_id}-{call.call_id}" if self.run_id else call.call_id

        def wire_id(k: int) -> str:
            return base if k == 0 else f"{base}-r{k}"

        async def connect(call_id: str):
            conn = await open_call(self.protocol, self.endpoints, call_id=call_id, seat=seat,
                                   agent=agent, channels=channels, fs_hz=self._fs_hz,
                                   token=self.token, open_timeout_s=self._open_timeout_s)
            truth.wire_call_ids.append(call_id)
            return conn

        live.task = asyncio.create_task(stream_call(
            live.queue, call_id=wire_id, open_connection=connect, backoff=self._backoff(),
            counters=self._counters, label=f"seat {seat}",
        ))
        self._tasks.add(live.task)
        live.task.add_done_callback(lambda task, live=live: self._call_done(task, live))
        self._live[index] = live
        return live

    def _end_call(self, index: int, how: str) -> None:
        live = self._live[index]
        assert live is not None
        self._live[index] = None
        live.truth.ended = how
        if how == "hangup":
            self._calls_ended += 1
            live.finish(None)
        else:
            live.truth.end_sample = self._position
            live.truth.end_s = self._wall(self._position)
            live.finish("simulation stopped")

    def _call_done(self, task: asyncio.Task, live: _LiveCall) -> None:
        self._tasks.discard(task)
        self._dropped_done += live.queue.dropped
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, SourceError):
            if self._fatal is None:
                self._fatal = exc
                log.error("%s", exc)
            self._stop.set()
        elif exc is not None:
            self._counters.errors += 1
            self._counters.last_error = f"seat {live.truth.seat}: {exc!r}"
            log.error("seat %s: call %s failed", live.truth.seat, live.truth.call_id,
                      exc_info=exc)

    async def _hang_up_all(self) -> None:
        for i, live in enumerate(self._live):
            if live is not None:
                self._end_call(i, "stopped")
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=DRAIN_TIMEOUT_S)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


async def run_simulation(server: str, **options) -> SimulationResult:
    """Run a :class:`Simulation` to its end (``duration_s``, replay end, or cancellation).

    Takes the keyword arguments of :class:`Simulation`. Cancelling the awaiting task
    stops the run abruptly; for a clean stop use a :class:`Simulation` and its
    :meth:`~Simulation.stop`.

    Returns
    -------
    SimulationResult
    """
    return await Simulation(server, **options).run()
