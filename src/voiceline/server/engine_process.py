"""The live engine in a process of its own, so that ingest and analysis use two cores.

Why: at 300 seats with 20 ms frames the event loop (ingest parsing, websockets,
dashboards) needs about 62 % of a core and the engine's ticks about 45 %; in one process
they share one interpreter lock, and the server drops frames beyond ~200 seats. Here the
:class:`~emotion.engine.LiveEngine` lives in a child process, a fresh interpreter
(``python -m voiceline.server.engine_child``: the server has threads, whose locks a
``fork`` would copy in whatever state they are in, and ``multiprocessing``'s spawn
would run the parent's main script again) that talks over a socket pair in
:mod:`multiprocessing.connection`'s framing. It ticks the engine with
:class:`~voiceline.server.engine_runner.EngineRunner` exactly as the server's own
thread does.

:class:`ProcessEngine` stands in for both the engine (``open_call``, ``push``,
``close_call``, ``stats``, ``tick_s``) and its runner (``start``, ``stop``,
``overruns``, ``failures``):

- ``open_call`` checks in the server what the engine would (rate, channels, a call id
  already open, the baseline against the model), so a refusal is still an exception
  for the caller; ``push`` only appends to the channel's pending audio, ``close_call``
  drops it. A sender thread ships the calls opened and closed, then all pending audio
  (contiguous pieces joined), as one message every :data:`SEND_PERIOD_S`.
- The child sends back every tick's ``TickResult`` with its latency and the engine's
  ``stats``; a reader thread hands each result to the loop with
  ``call_soon_threadsafe``, as the engine thread does, so alerts, snapshots, summaries
  and ``/metrics`` see no difference.
- Backpressure: audio waiting to be sent is bounded per channel by the engine's
  ``max_backlog_s``, oldest dropped first and counted in ``dropped_s`` (``/metrics``),
  as the engine bounds its own backlog. A child that falls behind or stops reading
  costs the server at most that much memory per channel.
- A child that dies, or sends nothing for :data:`WATCHDOG_S`, is logged, counted
  (``restarts``) and replaced; the calls in progress are opened again in the new one,
  where their analysis starts afresh from the audio that comes next (call time, jitter
  buffer, windows and alert state); ``on_restart`` lets the server close the alerts the
  old process had open on them. The server waits for the child only at start and stop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from emotion.baseline import BaselineError
from emotion.engine_records import UnknownCallError, open_call_for_push, push_samples
from voiceline.server.config import ENGINE_FS_HZ, ServerConfig
from voiceline.server.engine_messages import PendingAudio, batch_message

log = logging.getLogger("voiceline.server")

SEND_PERIOD_S = 0.05
"""Period of the messages to the engine process. Audio waits up to this much longer
than in one process, on top of the ingest's 0.1 s batches: well inside the engine's
0.5 s jitter allowance."""
START_TIMEOUT_S = 180.0
"""How long a new engine process may take to import its libraries and build the engine.
The first start after an install compiles the kernels (39 s on 2 cores at rest, measured
by an outside audit), and a loaded machine took more than the 60 s this once was."""
WATCHDOG_S = 30.0
"""An engine process that sends no tick for this long is killed and replaced (a tick
at 300 seats takes about 0.1 s; the first ones may compile the VAD's kernels)."""
STOP_TIMEOUT_S = 10.0
RESTART_PAUSE_S = 1.0
"""Between attempts to start a replacement that failed to start."""
CHANNELS = ("agent", "caller")
#: Counters of ``LiveEngine.stats`` and the runner that continue across restarts.
COUNTERS = ("received_s", "underrun_s", "dropped_s", "late_s", "ticks", "pushes", "audio_s",
            "group_ticks", "windows", "events", "overruns", "failures", "rhythmless_windows",
            "echo_speech_s")


@dataclasses.dataclass
class _Call:
    """A call the engine process has (or is about to have) open."""

    seat_id: str
    call_id: str
    agent_id: str | None
    channels: tuple[str, ...]
    origin: int | None = 0
    """Sample of the call's timeline that is sample 0 in the engine process: moves on
    when a new process takes the call over (None: at the next push that says where)."""

    def open_op(self) -> tuple:
        return ("open", self.seat_id, self.call_id, self.agent_id, self.channels)


class ProcessEngine:
    """The engine in a child process, behind the interface the server uses.

    Parameters
    ----------
    config : ServerConfig
        The child builds its engine from it (``[engine]``, ``[alerts]`` and the
        baselines in ``data_dir``), as :func:`~voiceline.server.engine_runner.build_engine`
        does in one process.
    baselines : callable
        The server's baseline provider, to check a call's baseline before it is sent.
    on_result : callable
        ``on_result(result, latency_s)`` after every tick, on ``loop``.
    loop : asyncio.AbstractEventLoop or None
        None: ``on_result`` is called in the reader thread.
    period_s : float, optional
        Wall time between ticks (default ``tick_s``, real time). Shorter plays buffered
        audio faster than real time, as a replay or a test may want.
    on_restart : callable, optional
        ``on_restart(call_ids)`` after a new engine process has taken over the calls in
        progress (on ``loop``, like ``on_result``): the alerts the old process had open
        on them are no longer its to close.
    """

    def __init__(self, config: ServerConfig, baselines: Callable, on_result: Callable,
                 loop: asyncio.AbstractEventLoop | None = None, *,
                 period_s: float | None = None,
                 on_restart: Callable[[list[str]], None] | None = None) -> None:
        e = config.engine
        self.config = dataclasses.replace(config, password_hasher=None)  # stays here
        self.fs_hz = ENGINE_FS_HZ
        self.tick_s = round(e.tick_s * ENGINE_FS_HZ) / ENGINE_FS_HZ
        self.period_s = self.tick_s if period_s is None else float(period_s)
        self._max_backlog = round(e.max_backlog_s * ENGINE_FS_HZ)
        self._baselines = baselines
        self._on_result = on_result
        self._on_restart = on_restart
        self._loop = loop
        self._lock = threading.Lock()  # the calls, pending audio and ops, the connection
        self._send_lock = threading.Lock()  # one writer on the pipe at a time
        self._calls: dict[str, _Call] = {}
        self._by_seat: dict[str, str] = {}
        self._ops: list[tuple] = []
        self._audio: dict[tuple[str, str], PendingAudio] = {}
        self._dropped = 0  # samples dropped on this side: backlog, or sent to a dead child
        self._stats: dict = {}
        self._before = dict.fromkeys(COUNTERS, 0)  # the replaced processes' counters
        self._info: dict = {}
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._stopping = threading.Event()
        self.restarts = 0
        self._sender = threading.Thread(target=self._send_loop, name="voiceline-engine-send",
                                        daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name="voiceline-engine-read",
                                        daemon=True)

    # -- the runner's side: start and stop ---------------------------------------------

    @property
    def pid(self) -> int | None:
        """The engine process's id (None before :meth:`launch`)."""
        process = self._process
        return None if process is None else process.pid

    @property
    def overruns(self) -> int:
        """Ticks that overran their period, all engine processes so far."""
        return int(self._before["overruns"] + self._stats.get("overruns", 0))

    @property
    def failures(self) -> int:
        """Ticks that raised (and were skipped), all engine processes so far."""
        return int(self._before["failures"] + self._stats.get("failures", 0))

    def launch(self) -> None:
        """Start the engine process without waiting for it (its imports take seconds:
        the server starts its other parts meanwhile)."""
        if self._process is None:
            self._process, self._conn = self._spawn()

    def start(self) -> None:
        """Wait until the engine process is ready, then start sending and reading.

        Raises
        ------
        RuntimeError
            The process failed to build the engine (the message says why) or did not
            start within :data:`START_TIMEOUT_S`.
        """
        self.launch()
        try:
            self._info = self._wait_ready(self._process, self._conn)
        except RuntimeError:
            self.stop()
            raise
        self._sender.start()
        self._reader.start()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the engine process (after its tick in progress) and the threads; a process
        that does not stop in ``timeout_s`` is killed. Safe to call more than once."""
        self._stopping.set()
        if self._sender.is_alive():  # it sends what is pending (calls closed) and returns
            self._sender.join(1.0)
        process, conn = self._process, self._conn
        if process is None:
            return
        if self._send_lock.acquire(timeout=1.0):  # else the sender is stuck on a full pipe
            try:
                conn.send(("stop",))
            except (OSError, ValueError):
                pass
            finally:
                self._send_lock.release()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("engine process %d did not stop in %.0f s; killing it", process.pid,
                        timeout_s)
            _end(process)
        for thread in (self._sender, self._reader):  # both see the end of the socket
            if thread.is_alive():
                thread.join(timeout_s)
        conn.close()

    def _spawn(self) -> tuple[subprocess.Popen, Connection]:
        ours, theirs = socket.socketpair()
        src = str(Path(__file__).resolve().parents[2])  # the child imports this very code
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": src + (os.pathsep + path if path else "")}
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "voiceline.server.engine_child",
                 str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, env=env)
        finally:
            theirs.close()  # the child's end lives in the child only: its exit is our EOF
        conn = Connection(ours.detach())
        conn.send((self.config, self.period_s))
        return process, conn

    @staticmethod
    def _wait_ready(process: subprocess.Popen, conn: Connection) -> dict:
        try:
            message = conn.recv() if conn.poll(START_TIMEOUT_S) else None
        except (EOFError, OSError):
            message = None
        if message is not None and message[0] == "ready":
            return message[1]
        _end(process)
        conn.close()
        if message is not None and message[0] == "failed":
            raise RuntimeError(f"the engine process could not build the engine: {message[1]}")
        raise RuntimeError(f"the engine process did not start within {START_TIMEOUT_S:.0f} s "
                           f"(exit code {process.returncode}); the first start after an "
                           "install compiles its kernels, which a busy machine makes slow: "
                           "try again when it is quieter")

    # -- the engine's side: calls and audio (event loop and executor threads) -----------

    def open_call(self, seat_id: str, call_id: str, agent_id: str | None,
                  channels: tuple[str, ...] = ("agent",), *, fs_hz: int | None = None) -> None:
        """Start monitoring a call, as :meth:`LiveEngine.open_call` (same checks, same
        exceptions); the engine process opens it with the next message."""
        if fs_hz is not None and fs_hz != self.fs_hz:
            raise ValueError(f"call {call_id} is at {fs_hz} Hz but this engine runs at "
                             f"{self.fs_hz} Hz; resample before pushing")
        channels = tuple(channels)
        if ("agent" not in channels or len(set(channels)) != len(channels)
                or not set(channels) <= set(CHANNELS)):
            raise ValueError(f"channels must hold 'agent' and optionally 'caller', each once; "
                             f"got {channels!r}")
        baseline, _ = self._baselines(agent_id)
        if tuple(baseline.feature_names) != tuple(self._info["feature_names"]):
            raise BaselineError(f"the baseline for {agent_id} has features "
                                f"{baseline.feature_names}, the model expects "
                                f"{self._info['feature_names']}; recalibrate with this "
                                "Voiceline")
        if baseline.channel_type != self._info["channel_type"]:
            raise BaselineError(f"the baseline for {agent_id} is for {baseline.channel_type} "
                                f"audio, this engine analyses {self._info['channel_type']}")
        with self._lock:
            if call_id in self._calls:
                raise ValueError(f"call {call_id} is already open (seat "
                                 f"{self._calls[call_id].seat_id}); close it first")
            old = self._by_seat.get(seat_id)
            if old is not None:  # the engine process replaces it when it opens this one
                self._forget(old)
            call = _Call(seat_id, call_id, agent_id, channels)
            self._calls[call_id] = call
            self._by_seat[seat_id] = call_id
            self._ops.append(call.open_op())

    def push(self, call_id: str, channel: str, samples: np.ndarray,
             t_s: float | None = None) -> None:
        """Queue one channel's samples for the call, as :meth:`LiveEngine.push`."""
        pcm, start = push_samples(samples, t_s, self.fs_hz)
        with self._lock:
            call = open_call_for_push(self._calls, call_id, channel)
            if start is not None:
                if call.origin is None:
                    call.origin = start
                start = max(0, start - call.origin)
            pending = self._audio.get((call_id, channel))
            if pending is None:
                pending = self._audio[(call_id, channel)] = PendingAudio(self._max_backlog)
            self._dropped += pending.add(start, pcm)

    def close_call(self, call_id: str, reason: str = "call ended") -> None:
        """Stop monitoring a call, as :meth:`LiveEngine.close_call`; its audio not yet
        sent is discarded."""
        with self._lock:
            if call_id not in self._calls:
                raise UnknownCallError(f"no call {call_id!r} in progress to close (never "
                                       "opened or already closed)")
            self._forget(call_id)
            self._ops.append(("close", call_id, reason))

    @property
    def stats(self) -> dict:
        """:attr:`LiveEngine.stats` of the engine process as of its last tick, counters
        summed over the processes replaced so far; ``dropped_s`` includes the audio
        dropped before it reached the process (``server_dropped_s``), ``restarts``
        counts replaced processes."""
        with self._lock:
            out = dict(self._stats)
            dropped_s = self._dropped / self.fs_hz
        for name, before in self._before.items():
            out[name] = out.get(name, 0) + before
        out["dropped_s"] += dropped_s
        out |= {"server_dropped_s": dropped_s, "restarts": self.restarts}
        return out

    def _forget(self, call_id: str) -> None:
        """Drop a call and its pending audio (under the lock)."""
        call = self._calls.pop(call_id)
        if self._by_seat.get(call.seat_id) == call_id:
            del self._by_seat[call.seat_id]
        for channel in call.channels:
            self._audio.pop((call_id, channel), None)

    def _restart_timelines(self) -> None:
        """Each call's timeline starts again at its first pending sample (under the lock):
        a new engine process would otherwise fill the call's past with silence."""
        for call in self._calls.values():
            pending = [self._audio[key] for key in ((call.call_id, c) for c in call.channels)
                       if key in self._audio]
            starts = [start for p in pending for start, _ in p.pieces if start is not None]
            if not starts:
                call.origin = None
                continue
            shift = min(starts)
            call.origin = (call.origin or 0) + shift
            for p in pending:
                p.pieces = [(None if start is None else start - shift, pcm)
                            for start, pcm in p.pieces]

    # -- the threads ---------------------------------------------------------------------

    def _send_loop(self) -> None:
        stopping = False
        while not stopping:
            stopping = self._stopping.wait(SEND_PERIOD_S)  # then one last message
            with self._lock:
                ops, audio, self._ops, self._audio = self._ops, self._audio, [], {}
                conn = self._conn
            if not ops and not audio:
                continue
            message, samples = batch_message(ops, audio)
            try:
                with self._send_lock:
                    conn.send(message)
            except (OSError, ValueError):  # the process has gone; the reader replaces it
                with self._lock:
                    self._dropped += samples

    def _read_loop(self) -> None:
        while True:
            with self._lock:
                process, conn = self._process, self._conn
            try:
                message = conn.recv() if conn.poll(WATCHDOG_S) else "silent"
            except (EOFError, OSError):
                message = None
            if self._stopping.is_set():
                return
            if message is None or message == "silent":
                self._replace(process, f"sent nothing for {WATCHDOG_S:.0f} s"
                              if message == "silent" else "ended")
            elif message[0] == "tick":
                _, result, latency_s, stats = message
                with self._lock:
                    self._stats = stats
                self._deliver(result, latency_s)
            elif message[0] == "refused":
                _, call_id, reason = message
                with self._lock:
                    if call_id in self._calls:
                        self._forget(call_id)
                log.warning("engine process refused call %s: %s", call_id, reason)

    def _deliver(self, result: Any, latency_s: float) -> None:
        self._call(self._on_result, result, latency_s)

    def _call(self, function: Callable, *args: Any) -> None:
        """``function(*args)`` on the loop (or here, without one)."""
        if self._loop is None:
            function(*args)
            return
        try:
            self._loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # the loop has closed: the server is stopping
            pass

    def _replace(self, old: subprocess.Popen, what: str) -> None:
        """A new engine process for one that ended or hangs; the calls opened again."""
        _end(old)
        self.restarts += 1
        with self._lock:
            for name in COUNTERS:
                self._before[name] += self._stats.get(name, 0)
            self._stats = {}
        log.error("engine process %d %s (exit code %s); starting a new one", old.pid, what,
                  old.returncode)
        while True:
            try:
                process, conn = self._spawn()
                info = self._wait_ready(process, conn)
                break
            except (RuntimeError, OSError) as exc:
                log.error("a new engine process did not start: %s; trying again", exc)
                if self._stopping.wait(RESTART_PAUSE_S):
                    return
        if self._stopping.is_set():  # stop() came meanwhile and knows only the old one
            _end(process)
            conn.close()
            return
        with self._lock:
            old_conn = self._conn
            self._process, self._conn, self._info = process, conn, info
            # The calls as they stand now: opens and closes not yet sent are in them.
            self._ops = [call.open_op() for call in self._calls.values()]
            self._restart_timelines()
            call_ids = list(self._calls)
        with self._send_lock:
            old_conn.close()
        log.warning("engine process %d replaces %d: %d call(s) in progress opened again, "
                    "their analysis restarts from now", process.pid, old.pid, len(call_ids))
        if self._on_restart is not None and call_ids:
            self._call(self._on_restart, call_ids)


def _end(process: subprocess.Popen) -> None:
    """Kill ``process`` unless it has ended, and reap it."""
    if process.poll() is None:
        process.kill()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:  # unkillable (stopped by a debugger?): leave it
        log.error("engine process %d does not end even when killed", process.pid)
