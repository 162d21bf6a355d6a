"""The live multi-seat engine: calls in, alerts, seat snapshots and scored windows out.

:class:`LiveEngine` is sans-I/O and has no event loop: the server's event-loop thread
calls :meth:`~LiveEngine.open_call`, :meth:`~LiveEngine.push` and
:meth:`~LiveEngine.close_call` (quick, under a lock: push only copies samples into the
call's buffer), and one worker thread calls :meth:`~LiveEngine.tick` every ``tick_s``.

Each tick advances every playing call by exactly ``tick_s`` of audio, all seats in
lockstep, group by group (``group_size`` seats share one
:class:`~emotion.voice.StreamingVoiceAnalyzer`; a group without a playing call is not
advanced, so idle capacity costs nothing). Audio accounting — the jitter buffer,
underruns filled with silence, backlog dropped — is :mod:`emotion._seat_buffers`; slot
reuse without leaking the previous call is :mod:`emotion._slot_groups`. Per scored
window: robust z against the agent's baseline (fetched once per call, at open, and
re-levelled to the call's line once its ordinary windows show the line hotter or quieter
than at calibration, :mod:`emotion.line_level`), the
scoring model's two probabilities for all seats in one call, then one
:meth:`AlertRules.step <emotion.alerts.AlertRules.step>` for all seats on every tick that
completed windows (windows come every second; seats without a new window this tick step
as "no evidence", which the rules count by time only).

Times: a call's time starts at its first sample. Windows end on the whole seconds of
their group's analyser, so at call times offset by the call's start within a second
(a multiple of ``tick_s``); the first scored window ends 5.6-6.6 s into the call
(:data:`SETTLE_S`). An alert event's ``t_s`` is the call time analysed when it was
decided (the end of that tick, up to one tick after the window that decided it).

The engine runs at one sample rate (``fs_hz``); a call at another rate is refused by
:meth:`~LiveEngine.open_call` and should be resampled by the server
(:func:`capture.resample.resample`) before :meth:`~LiveEngine.push`.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from emotion._seat_buffers import SeatBuffers
from emotion._slot_groups import SETTLE_S, SeatCall, SlotGroup
from emotion.alerts import KINDS, AlertConfig, AlertEvent, AlertRules
from emotion.baseline import BaselineError
from emotion.engine_records import (
    BaselineProvider,
    CallInfo,
    ChannelError,
    EngineAlert,
    SeatSnapshot,
    TickResult,
    UnknownCallError,
    WindowRecord,
    open_call_for_push,
    push_samples,
)
from emotion.explain import explain_drivers
from emotion.line_level import CallLine
from emotion.scoring import VoiceModel
from emotion.voice import ENGINE_RATES_HZ, channel_type

__all__ = ["DEFAULT_MODEL", "SETTLE_S", "BaselineProvider", "CallInfo", "ChannelError",
           "EngineAlert", "LiveEngine", "SeatSnapshot", "TickResult", "UnknownCallError",
           "WindowRecord"]

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "voice_scoring.onnx"
CHANNELS = ("agent", "caller")
#: Span over which a snapshot says a party is speaking, s.
SPEAKING_SPAN_S = 0.5
#: Window length the engine's analysers use, s (FeatureWindower's default).
WINDOW_S = 3.0


class LiveEngine:
    """Live analysis of many calls in lockstep; see the module notes.

    Parameters
    ----------
    baselines : BaselineProvider
        ``agent_id → (baseline, source)``, called once per call by :meth:`open_call`
        (keep it quick, e.g. cached; it decides the population fallback itself).
    model : VoiceModel, optional
        Default :data:`DEFAULT_MODEL`.
    alert_config : AlertConfig, optional
    fs_hz : int
        8000 or 16000: the rate of every call's audio.
    tick_s : float
        Audio each tick advances every playing call by (a whole number of samples).
    jitter_s : float
        Jitter buffer: a call starts playing once this much agent audio is buffered, or
        this long (in ticks) after its first audio; it then runs up to ``jitter_s``
        behind its audio, and only audio later than that is filled with silence.
    max_backlog_s : float
        Audio buffered beyond this is dropped, oldest first (at least
        ``jitter_s + tick_s``).
    group_size : int
        Seats per analyser group.
    clock : callable
        Wall clock (unix s) for ``wall_s`` stamps and rates.
    """

    def __init__(self, *, baselines: BaselineProvider, model: VoiceModel | None = None,
                 alert_config: AlertConfig | None = None, fs_hz: int = 8000,
                 tick_s: float = 0.25, jitter_s: float = 0.5, max_backlog_s: float = 2.0,
                 group_size: int = 64, clock: Callable[[], float] = time.time) -> None:
        if fs_hz not in ENGINE_RATES_HZ:
            raise ValueError(f"the engine runs at 8000 or 16000 Hz, got fs_hz={fs_hz!r}")
        tick = round(tick_s * fs_hz)
        if tick < 1 or abs(tick - tick_s * fs_hz) > 1e-6:
            raise ValueError(f"tick_s must be a positive whole number of samples at {fs_hz} Hz,"
                             f" got {tick_s!r}")
        if not jitter_s >= 0 or not max_backlog_s >= jitter_s + tick_s:
            raise ValueError(f"need jitter_s >= 0 and max_backlog_s >= jitter_s + tick_s, got "
                             f"jitter_s={jitter_s!r}, max_backlog_s={max_backlog_s!r}")
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"group_size must be a positive int, got {group_size!r}")
        self.fs_hz, self.tick_s, self.group_size = int(fs_hz), tick / fs_hz, group_size
        self.jitter_s, self.max_backlog_s = float(jitter_s), float(max_backlog_s)
        self.channel_type = channel_type(self.fs_hz)
        self._baselines = baselines
        # (seat, agent, baseline's date) -> the line correction that seat's last call ended
        # with (dB; emotion.line_level): the next call starts from it
        self._line_memory: dict[tuple, float] = {}
        self.model = model if model is not None else VoiceModel(DEFAULT_MODEL)
        self._rules = AlertRules(0, alert_config, weights=self.model.weights,
                                 feature_names=self.model.feature_names, agent=lambda s: None)
        self._clock = clock
        self._buffer_args = dict(
            tick=tick, jitter=round(jitter_s * fs_hz),
            jitter_ticks=int(np.ceil(jitter_s / self.tick_s - 1e-9)),
            max_backlog=round(max_backlog_s * fs_hz))
        self._lock = threading.Lock()
        self._ticking = threading.Lock()  # ticks never overlap, whoever calls them
        self._groups: list[SlotGroup] = []
        self._free: list[int] = []
        self._calls: dict[str, SeatCall] = {}
        self._by_seat: dict[str, SeatCall] = {}
        self._closing: list[tuple[SeatCall, str]] = []
        self._ticks = 0
        self._counters = {"pushes": 0, "audio_s": 0.0, "group_ticks": 0, "windows": 0,
                          "events": 0, "groups_processed_last_tick": 0}
        self._recent: deque[tuple[float, float, float, int]] = deque(maxlen=1000)

    # --- the event-loop side -------------------------------------------------------------

    def warm_up(self) -> None:
        """Compile or load every compiled kernel a tick runs, before the first call.

        A private analyser and caller VAD, like a slot group's, take 3 s of synthetic
        speech on one stream and silence on the other (so that sleeping streams are
        exercised too), and the model scores once. Without it, the first ticks with audio
        compiled what the cache lacked (a fresh install, or new code): one such tick took
        seconds, and at 300 seats the calls' backlogs overflowed and dropped ~3 s of audio
        each (benchmarks/RESULTS.md, fifth round). The server runs it before it takes
        audio.
        """
        from capture.synth import speech_like
        from emotion.vad import StreamingVAD
        from emotion.voice import StreamingVoiceAnalyzer

        fs_hz, tick = self.fs_hz, round(self.tick_s * self.fs_hz)
        n = tick * int(np.ceil(3.0 / self.tick_s))
        voice = np.ravel(speech_like(n / fs_hz, fs_hz, seed=0))[:n]
        block = np.zeros((2, 2, n), dtype=np.int16)  # (slots, channels, samples), as a tick's
        block[0, :, : voice.size] = np.clip(voice * 32768.0, -32768, 32767).astype(np.int16)
        analyzer, caller = StreamingVoiceAnalyzer(2, fs_hz), StreamingVAD(2, fs_hz)
        for i in range(0, n, tick):
            analyzer.process(block[:, 0, i : i + tick] * (1.0 / 32768.0))
            caller.process(block[:, 1, i : i + tick])
        self.model.probabilities(np.zeros((1, len(self.model.feature_names))))

    def open_call(self, seat_id: str, call_id: str, agent_id: str | None,
                  channels: tuple[str, ...] = ("agent",), *, fs_hz: int | None = None) -> None:
        """Start monitoring a call on a seat; a call already on that seat is closed first
        ("replaced by a new call").

        Parameters
        ----------
        channels : tuple of str
            The roles :meth:`push` will send, ``"agent"`` (required) and ``"caller"``.
        fs_hz : int, optional
            The call's sample rate, if the caller wants it checked.

        Raises
        ------
        ValueError
            A rate other than the engine's, bad channels, or a call id already open.
        emotion.baseline.BaselineError
            The provider's baseline does not fit the model or this channel type (and
            whatever the provider itself raises).
        """
        if fs_hz is not None and fs_hz != self.fs_hz:
            raise ValueError(
                f"call {call_id} is at {fs_hz} Hz but this engine runs at {self.fs_hz} Hz; "
                f"resample before pushing (capture.resample.resample(x, {fs_hz}, "
                f"{self.fs_hz})) or run an engine at that rate (8000 or 16000 Hz)")
        channels = tuple(channels)
        if ("agent" not in channels or len(set(channels)) != len(channels)
                or not set(channels) <= set(CHANNELS)):
            raise ValueError(f"channels must hold 'agent' and optionally 'caller', each once; "
                             f"got {channels!r}")
        baseline, source = self._baselines(agent_id)
        if tuple(baseline.feature_names) != self.model.feature_names:
            raise BaselineError(f"the baseline for {agent_id} has features "
                                f"{baseline.feature_names}, the model expects "
                                f"{self.model.feature_names}; recalibrate with this Voiceline")
        if baseline.channel_type != self.channel_type:
            raise BaselineError(f"the baseline for {agent_id} is for {baseline.channel_type} "
                                f"audio, this engine analyses {self.channel_type}")
        with self._lock:
            if call_id in self._calls:
                raise ValueError(f"call {call_id} is already open (seat "
                                 f"{self._calls[call_id].seat_id}); close it first")
            old = self._by_seat.get(seat_id)
            if old is not None:
                self._close_locked(old, "replaced by a new call")
            slot = heapq.heappop(self._free) if self._free else self._add_group()
            group = self._groups[slot // self.group_size]
            row = slot % self.group_size
            call = SeatCall(seat_id, call_id, agent_id, channels, baseline, source, group, row,
                         self._clock())
            if source == "agent":  # a headset stays: start from this seat's last reading
                call.line = CallLine(baseline, self._line_memory.get(
                    (seat_id, agent_id, baseline.updated), 0.0))
            group.buffers.open(row, tuple(CHANNELS.index(c) for c in channels))
            group.calls[row] = call
            self._calls[call_id] = call
            self._by_seat[seat_id] = call

    def push(self, call_id: str, channel: str, samples: np.ndarray,
             t_s: float | None = None) -> None:
        """Queue one channel's samples (int16, or float in ±1.0) for the call.

        ``t_s`` places them on the call's timeline (s since its first sample): audio
        for a stretch already played is dropped as late, a jump forward leaves a gap
        that is filled with silence; without ``t_s`` they follow the previous samples.

        Raises
        ------
        UnknownCallError
            No such call in progress (a KeyError; other calls are unaffected).
        ChannelError
            A channel the call did not declare.
        ValueError
            Samples that are not one-dimensional int16 or float, or a negative ``t_s``.
        """
        pcm, start = push_samples(samples, t_s, self.fs_hz)
        with self._lock:
            call = open_call_for_push(self._calls, call_id, channel)
            call.group.buffers.write_audio(call.row, CHANNELS.index(channel), pcm, start,
                                           self._ticks)
            self._counters["pushes"] += 1

    def line_correction_db(self, call_id: str) -> float | None:
        """The gain (dB) an open call's line is corrected by (:mod:`emotion.line_level`):
        0 within the dead zone; None for a call on a population baseline."""
        with self._lock:
            call = self._calls.get(call_id)
            if call is None:
                raise KeyError(f"no open call {call_id}")
            return None if call.line is None else call.line.correction_db

    def close_call(self, call_id: str, reason: str = "call ended") -> None:
        """Stop monitoring a call; its open alerts close with ``reason`` on the next tick.

        Its slot is free at once; audio still buffered is discarded.

        Raises
        ------
        UnknownCallError
            No such call in progress.
        """
        with self._lock:
            call = self._calls.get(call_id)
            if call is None:
                raise UnknownCallError(f"no call {call_id!r} in progress to close (never "
                                       "opened or already closed)")
            self._close_locked(call, reason)

    @property
    def calls(self) -> dict[str, CallInfo]:
        """The calls in progress by call id."""
        with self._lock:
            return {c.call_id: CallInfo(
                c.seat_id, c.call_id, c.agent_id, c.channels, c.source, c.slot,
                "playing" if c.group.buffers.playing[c.row] else "waiting", c.opened_wall_s)
                for c in self._calls.values()}

    # --- the worker side ------------------------------------------------------------------

    def tick(self) -> TickResult:
        """Advance every playing call by ``tick_s`` of audio and judge what completed.

        In order: alerts of calls closed since the last tick close (with their reason);
        calls whose jitter buffer is ready start playing; every group with a playing
        call is analysed; completed windows are scored, all at once; the alert rules
        step once. Meant for one worker thread; calls from others wait their turn.

        Returns
        -------
        TickResult
            Alert events, one snapshot per call in progress (waiting ones included), and
            the scored windows of this tick.
        """
        with self._ticking:
            return self._tick()

    def _tick(self) -> TickResult:
        t0, cpu0 = time.perf_counter(), time.thread_time()
        with self._lock:
            closing, self._closing = self._closing, []
            now = self._ticks
            self._ticks += 1
            work = [g.take(now) for g in self._groups if g.buffers.in_use.any()]
            n_calls = len(self._calls)
        while self._rules.n_seats < len(self._groups) * self.group_size:
            self._rules.add_seat()
        wall_s = self._clock()
        events: list[EngineAlert] = []
        for call, reason in closing:
            if call.origin_s is not None:
                raw = self._rules.reset_seat(call.slot, reason, now * self.tick_s)
                events += self._convert(raw, call, wall_s)
        for w in work:
            for row in np.flatnonzero(w.started):
                call = w.calls[row]
                call.origin_s = now * self.tick_s
                w.group.start(row, call.baseline.median, call.baseline.sigma, call.line)
                self._rules.reset_seat(call.slot, "new call")
        scored = []
        for w in work:
            if w.playing.any():
                found = w.group.analyse(w, WINDOW_S)
                self._counters["group_ticks"] += 1
                if found is not None:
                    scored.append((w, found))
        records = self._score(scored, work, events, wall_s, (now + 1) * self.tick_s)
        open_now = self._rules.open
        snapshots = [snapshot for w in work for snapshot in
                     w.group.snapshots(w, open_now[w.group.offset : w.group.offset + w.group.size])]
        compute_s, cpu_s = time.perf_counter() - t0, time.thread_time() - cpu0
        self._counters["audio_s"] += sum(int(w.playing.sum()) for w in work) * self.tick_s
        self._counters["groups_processed_last_tick"] = sum(bool(w.playing.any()) for w in work)
        self._counters["windows"] += len(records)
        self._counters["events"] += len(events)
        with self._lock:
            self._recent.append((wall_s, compute_s, cpu_s, self._counters["pushes"]))
        return TickResult(events=events, snapshots=snapshots, windows=records, wall_s=wall_s,
                          audio_s=self.tick_s, compute_s=compute_s, seats=n_calls, cpu_s=cpu_s)

    @property
    def stats(self) -> dict:
        """Counters: calls, slots, ticks, audio and pushes, windows scored and those left
        unscored for want of a voice's rhythm (``rhythmless_windows``: music on hold,
        :func:`emotion.windows.rhythmless`), the agent's frames taken for the caller's
        echo (``echo_speech_s``, :mod:`emotion.echo`), accounting totals (s, all channels), push
        rate over the last ticks, tick time p50/p99 (s)."""
        with self._lock:
            totals = {name: sum(int(g.buffers.total[name].sum()) for g in self._groups)
                      / self.fs_hz for name in ("received", "underrun", "dropped", "late")}
            out = {"calls": len(self._calls), "slots": len(self._groups) * self.group_size,
                   "groups": len(self._groups), "ticks": self._ticks, **self._counters,
                   "rhythmless_windows": sum(g.rhythmless for g in self._groups),
                   "echo_speech_s": sum(g.analyzer.echo_s for g in self._groups
                                        if g.analyzer is not None)}
            recent = list(self._recent)
        out |= {f"{name}_s": value for name, value in totals.items()}
        if recent:
            compute = np.array([r[1] for r in recent])
            cpu = np.array([r[2] for r in recent])
            out |= {"tick_compute_s_p50": float(np.percentile(compute, 50)),
                    "tick_compute_s_p99": float(np.percentile(compute, 99)),
                    "tick_cpu_s_p50": float(np.percentile(cpu, 50))}
            span = recent[-1][0] - recent[0][0]
            if span > 0:
                out["pushes_per_s"] = (recent[-1][3] - recent[0][3]) / span
        return out

    # --- internals ------------------------------------------------------------------------

    def _add_group(self) -> int:
        """A new group of free slots (its analysers are built by the first tick it plays)."""
        index = len(self._groups)
        buffers = SeatBuffers(self.group_size, len(CHANNELS), **self._buffer_args)
        self._groups.append(SlotGroup(index, self.group_size, self.fs_hz, self.tick_s,
                                      SPEAKING_SPAN_S, buffers, self.model.weights[0]))
        first = index * self.group_size
        for slot in range(first + 1, first + self.group_size):
            heapq.heappush(self._free, slot)
        return first

    def _close_locked(self, call: SeatCall, reason: str) -> None:
        if call.line is not None and call.line.level is not None:
            self._line_memory[(call.seat_id, call.agent_id, call.baseline.updated)] = (
                call.line.correction_db)
        del self._calls[call.call_id]
        del self._by_seat[call.seat_id]
        call.group.buffers.release(call.row)
        call.group.calls[call.row] = None
        heapq.heappush(self._free, call.slot)
        self._closing.append((call, reason))

    def _score(self, scored, work, events: list, wall_s: float,
               t_s: float) -> list[WindowRecord]:
        """Model probabilities of every scored window at once, then one alert step."""
        if not scored:
            return []
        z = np.concatenate([found.z for _, found in scored])
        probabilities = (self.model.probabilities(z) if len(z)
                         else np.zeros((0, len(KINDS))))
        n = self._rules.n_seats
        p_all = np.full((n, len(KINDS)), np.nan)
        z_all = np.zeros((n, len(self.model.feature_names)))
        valid = np.zeros(n, dtype=bool)
        records, at = [], 0
        for w, found in scored:
            p = probabilities[at : at + len(found.rows)]
            at += len(found.rows)
            w.group.record(found.rows, p, found.features, found.z)
            slots = w.group.offset + found.rows
            p_all[slots], z_all[slots], valid[slots] = p, found.z, True
            for i, row in enumerate(found.rows.tolist()):
                call = w.calls[row]
                records.append(WindowRecord(
                    call.seat_id, call.call_id, call.agent_id, float(found.t_s[i]),
                    found.features[i], found.z[i], float(p[i, 0]), float(p[i, 1]),
                    float(found.speech_s[i])))
        raw = self._rules.step(t_s, p_all[:, 0], p_all[:, 1], z_all, valid)
        if raw:
            by_slot = {c.slot: c for w in work for c in w.calls if c is not None}
            for event in raw:
                if event.seat in by_slot:
                    events += self._convert([event], by_slot[event.seat], wall_s)
        return records

    def _convert(self, raw: list[AlertEvent], call: SeatCall, wall_s: float) -> list[EngineAlert]:
        origin = call.origin_s if call.origin_s is not None else 0.0
        return [EngineAlert(
            type=e.type, seat_id=call.seat_id, call_id=call.call_id, agent_id=call.agent_id,
            kind=e.kind, severity=e.severity, opened_t_s=e.opened_t_s - origin,
            t_s=e.t_s - origin, wall_s=wall_s, duration_s=e.duration_s, peak=e.peak,
            drivers=e.drivers,
            explanation=explain_drivers(e.drivers, call.label, e.duration_s, "en"),
            explanation_zh=explain_drivers(e.drivers, call.label, e.duration_s, "zh"),
            baseline=call.source, reason=e.reason,
            baseline_updated=call.baseline.updated if call.source == "agent" else "")
            for e in raw]
