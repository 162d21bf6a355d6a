"""A group of seat slots: one voice analyser, one caller VAD and the per-slot call state.

The live engine keeps its seats in groups of a fixed size so that every stage runs
vectorised over a group's streams (:class:`~emotion.voice.StreamingVoiceAnalyzer` is
cache-friendly at 64) and a group without a playing call costs nothing: it is simply not
advanced. A slot is reused by the next call; what the previous call leaves behind is
dealt with when the new call starts playing (:meth:`SlotGroup.start`):

- state with long memory is reset: both voice-activity detectors (noise floor and
  webrtcvad's adaptation, :meth:`emotion.vad.StreamingVAD.reset`) and the speech-rate
  tracker's slowly decaying peak level (0.5 dB/s), together with the pitch tracker that
  feeds it (low-pass, 50 ms frame tail, continuity), since a frame straddling the two
  calls would set that peak level again. These two have no public reset yet, so their
  rows are set to a fresh tracker's (:func:`reset_prosody`);
- the voice analyser keeps the slot awake for ``SETTLE_S`` (:meth:`StreamingVoiceAnalyzer.wake`):
  a stream sleeps through long silences with its state frozen, and a slot whose
  previous call ended in silence would otherwise carry that call's state into the
  new one's first utterance;
- every other stage forgets within ``SETTLE_S``: framing tails (≤ 0.2 s), loudness
  decay and temporal weighting (time constants ≤ 75 ms, so 1e-12 of a loud call is left
  after 2 s), and fluctuation strength, the longest memory: its 2 s analysis frames
  reach 48 ms further back (envelope spectrum and decimation kernel) and come every
  0.5 s, so its values are free of the previous call 2.55 s after the start at the
  latest.

So a window counts only if it starts ``SETTLE_S`` after the call's first sample or
later: the first scored window ends 5.6-6.6 s into a call, on a reused slot and a fresh
one alike, and equals what a fresh analyser gives (``tests/test_engine.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from emotion._seat_buffers import SeatBuffers
from emotion.baseline import Baseline
from emotion.engine_records import SeatSnapshot
from emotion.explain import POPULATION
from emotion.line_level import ORDINARY_LOGIT, CallLine, scale_factors, sensitivity
from emotion.prosody import StreamingPitch, StreamingSpeechRate
from emotion.scoring import Z_LIMIT
from emotion.vad import StreamingVAD
from emotion.voice import StreamingVoiceAnalyzer
from emotion.windows import F0_REF_HZ, FEATURE_NAMES, rhythmless

#: Seconds after a call's first sample before a window may start (see the module notes).
SETTLE_S = 2.6
#: A party is "speaking" with at least this much speech in the last ``speaking_span_s``.
SPEAKING_MIN_S = 0.1
#: Columns of :attr:`SlotGroup.latest`.
LATEST = ("agitation", "low_energy", "deviation", "loudness_sone", "f0_hz",
          "speech_rate_syl_s")
_LOUDNESS = FEATURE_NAMES.index("loudness_mean_sone")
_F0 = FEATURE_NAMES.index("f0_median_st")
_RATE = FEATURE_NAMES.index("speech_rate_syl_s")
_FRESH_RATE_STATE = StreamingSpeechRate(1)._state[0].copy()
_FRESH_PITCH_STATE = StreamingPitch(1, 8000)._state[0].copy()


def reset_prosody(analyzer: StreamingVoiceAnalyzer, row: int) -> None:
    """Put stream ``row`` of the analyser's pitch and speech-rate trackers in the state of
    fresh ones (their frame clocks are shared and stay)."""
    pitch = analyzer.pitch
    pitch._zi[:, row] = 0.0
    pitch._framer._tail[row] = 0.0
    pitch._state[row] = _FRESH_PITCH_STATE
    analyzer.rate._state[row] = _FRESH_RATE_STATE


@dataclass(frozen=True)
class GroupWindows:
    """The windows a group scored this tick, one row each (``M`` rows).

    ``rows`` are slot indices within the group, ``t_s`` the window ends in call time,
    ``features`` and ``z`` ``(M, F)``, ``speech_s`` the speech seconds in each window.
    """

    rows: np.ndarray
    t_s: np.ndarray
    features: np.ndarray
    z: np.ndarray
    speech_s: np.ndarray


@dataclass(eq=False)
class SeatCall:
    """A call in progress and the slot it occupies (``row`` of ``group``)."""

    seat_id: str
    call_id: str
    agent_id: str | None
    channels: tuple[str, ...]
    baseline: Baseline
    source: str  # "agent" | "population"
    group: SlotGroup
    row: int
    opened_wall_s: float
    origin_s: float | None = None  # engine time of the call's first sample, once playing
    line: CallLine | None = None  # its line's level, on the agent's own baseline only
    label: object = field(init=False)  # whose "usual" the explanations name (explain_drivers)

    def __post_init__(self) -> None:
        self.label = self.agent_id if self.source == "agent" else POPULATION

    @property
    def slot(self) -> int:
        return self.group.offset + self.row


class GroupTick(NamedTuple):
    """One group's part of a tick, taken under the engine's lock: the audio block, which
    slots start and play, which have a caller channel, their calls, and the agent
    channel's accounting (s)."""

    group: SlotGroup
    block: np.ndarray
    started: np.ndarray
    playing: np.ndarray
    has_caller: np.ndarray
    calls: list
    read_s: np.ndarray
    buffered_s: np.ndarray
    underrun_s: np.ndarray
    dropped_s: np.ndarray


_OPEN_KINDS = [(), ("agitation",), ("low_energy",), ("agitation", "low_energy")]


class SlotGroup:
    """``size`` seat slots analysed together.

    Parameters
    ----------
    index, size : int
        The group's place (its slots are ``index * size + row``) and its slot count.
    fs_hz : int
    tick_s : float
        Audio each processed tick advances the group by.
    speaking_span_s : float
        Span over which :meth:`speaking` judges each party.
    buffers : SeatBuffers
        The group's audio, filled by the engine.
    """

    def __init__(self, index: int, size: int, fs_hz: int, tick_s: float,
                 speaking_span_s: float, buffers: SeatBuffers,
                 agitation_weights: np.ndarray | None = None) -> None:
        self.index, self.size, self.fs_hz, self.tick_s = index, size, fs_hz, tick_s
        self.offset = index * size
        self.buffers = buffers
        self.calls: list = [None] * size
        self.analyzer: StreamingVoiceAnalyzer | None = None
        self.caller_vad: StreamingVAD | None = None
        self.ticks_done = 0
        self.start_s = np.zeros(size)
        n_hist = max(1, round(speaking_span_s / tick_s))
        self._speech = np.zeros((2, size, n_hist))  # agent, caller; seconds per tick
        self._hist_pos = 0
        self._median = np.zeros((size, len(FEATURE_NAMES)))
        self._sigma = np.ones((size, len(FEATURE_NAMES)))
        self._base_median = np.zeros((size, len(FEATURE_NAMES)))
        self._base_sigma = np.ones((size, len(FEATURE_NAMES)))
        self._lines: list[CallLine | None] = [None] * size
        # the agitation head's weights on the level-free features (emotion.line_level)
        free = sensitivity(FEATURE_NAMES) == 0
        self._free_weights = (np.zeros(len(FEATURE_NAMES)) if agitation_weights is None
                              else np.where(free, agitation_weights, 0.0))
        self.latest = np.full((size, len(LATEST)), np.nan)
        #: Windows not scored because they had no voice's rhythm (music on hold).
        self.rhythmless = 0

    @property
    def time_s(self) -> float:
        """Audio time of the group's analyser, s."""
        return self.ticks_done * self.tick_s

    def take(self, tick_now: int) -> GroupTick:
        """This tick's audio and accounting (call with the engine's lock held)."""
        b, fs = self.buffers, self.fs_hz
        block, started, playing = b.take(tick_now)
        return GroupTick(self, block, started, playing, b.declared[:, 1].copy(),
                         list(self.calls), b.read / fs,
                         b.buffered()[:, 0] / fs, b.underrun[:, 0] / fs,
                         (b.dropped[:, 0] + b.late[:, 0]) / fs)

    def start(self, row: int, median: np.ndarray, sigma: np.ndarray,
              line: CallLine | None = None) -> None:
        """A call starts playing in ``row`` with this tick's block: forget the last one.
        ``line``: follow the call's line level (agent's own baseline), starting from its
        correction."""
        self._ensure_analysis()
        self.analyzer.vad.reset(row)
        self.caller_vad.reset(row)
        if self.analyzer.echo is not None:
            self.analyzer.echo.reset(row)
        reset_prosody(self.analyzer, row)
        self.analyzer.wake(row, SETTLE_S)
        self.start_s[row] = self.time_s
        self._speech[:, row] = 0.0
        self.latest[row] = np.nan
        self._base_median[row], self._base_sigma[row] = median, sigma
        self._lines[row] = line
        self._relevel(row)

    def analyse(self, part: GroupTick, window_s: float) -> GroupWindows | None:
        """Advance the group by one tick: ``part.block`` is int16 ``(slots, channels, n)``.

        Returns the windows completed for playing calls that count (settled, enough
        speech), with their z against each call's baseline; None if no window completed.
        """
        self._ensure_analysis()
        analyzer, block, playing = self.analyzer, part.block, part.playing
        before = analyzer.speech_s.copy()
        # The caller's voice activity first: the agent's frames that are the caller's
        # echo are not the agent's speech (emotion.echo). While no playing call of the
        # group has a caller channel, its detector's clock only moves on (a call resets
        # its row when it starts), which saves ~70 µs a seat-second of silence.
        self._hist_pos = (self._hist_pos + 1) % self._speech.shape[2]
        if (playing & part.has_caller).any():
            caller = self.caller_vad.process(block[:, 1, :])
            self._speech[1, :, self._hist_pos] = caller.speech.sum(axis=1) * self.caller_vad.frame_s
        else:
            self.caller_vad.skip(block.shape[2])
            caller = None
            self._speech[1, :, self._hist_pos] = 0.0
        windows = analyzer.process(block[:, 0, :] * (1.0 / 32768.0), caller)
        self._speech[0, :, self._hist_pos] = analyzer.speech_s - before
        self.ticks_done += 1
        if windows.end_s.size == 0:
            return None
        settled = windows.end_s[None, :] - self.start_s[:, None] >= SETTLE_S + window_s - 1e-9
        counted = windows.valid & settled & playing[:, None]
        # Music a caller on hold hears on the agent's side passes the voice detector in
        # bursts and reads as a tired voice; a window without a voice's rhythm is no voice.
        tune = counted & rhythmless(windows.features)
        self.rhythmless += int(tune.sum())
        rows, k = np.nonzero(counted & ~tune)
        features = windows.features[rows, k]
        z = np.clip((features - self._median[rows]) / self._sigma[rows], -Z_LIMIT, Z_LIMIT)
        if self._follow_lines(rows, features, z):
            z = np.clip((features - self._median[rows]) / self._sigma[rows], -Z_LIMIT, Z_LIMIT)
        return GroupWindows(rows=rows, t_s=windows.end_s[k] - self.start_s[rows],
                            features=features, z=z, speech_s=windows.speech_s[rows, k])

    def _follow_lines(self, rows: np.ndarray, features: np.ndarray, z: np.ndarray) -> bool:
        """Give each call's line tracker its new ordinary windows (level-free cues calm,
        :mod:`emotion.line_level`); True if a baseline was re-levelled."""
        ordinary = (z @ self._free_weights <= ORDINARY_LOGIT).tolist()  # level-free only
        loudness = features[:, _LOUDNESS].tolist()
        changed = False
        for i, row in enumerate(rows.tolist()):
            line = self._lines[row]
            if line is not None and ordinary[i] and line.add_one(loudness[i]):
                self._relevel(row)
                changed = True
        return changed

    def _relevel(self, row: int) -> None:
        """``row``'s baseline as its line reads it (see :func:`emotion.line_level.through_line`)."""
        line = self._lines[row]
        s = scale_factors(FEATURE_NAMES, line.correction_db) if line is not None else 1.0
        self._median[row] = self._base_median[row] * s
        self._sigma[row] = self._base_sigma[row] * s

    def record(self, rows: np.ndarray, probabilities: np.ndarray, features: np.ndarray,
               z: np.ndarray) -> None:
        """Keep each slot's latest scored window for the snapshots."""
        latest = np.column_stack([
            probabilities, np.sqrt(np.mean(z**2, axis=1)), features[:, _LOUDNESS],
            F0_REF_HZ * 2.0 ** (features[:, _F0] / 12.0), features[:, _RATE],
        ])
        self.latest[rows] = latest

    def speaking(self) -> np.ndarray:
        """``(2, slots)`` bool: agent and caller spoke at least ``SPEAKING_MIN_S`` lately."""
        return self._speech.sum(axis=2) >= SPEAKING_MIN_S - 1e-9

    def snapshots(self, part: GroupTick, open_alerts: np.ndarray) -> list[SeatSnapshot]:
        """One snapshot per call of ``part``; ``open_alerts`` ``(slots, kinds)`` bool."""
        speaking = self.speaking().T.tolist()
        latest = np.where(np.isnan(self.latest), None, self.latest).tolist()
        code = (open_alerts @ np.array([1, 2])).tolist()
        playing, read_s = part.playing.tolist(), part.read_s.tolist()
        buffered, underrun, dropped = (part.buffered_s.tolist(), part.underrun_s.tolist(),
                                       part.dropped_s.tolist())
        out = []
        for row, call in enumerate(part.calls):
            if call is None:
                continue
            if playing[row]:
                values, (agent, caller), kinds = latest[row], speaking[row], _OPEN_KINDS[code[row]]
            else:
                values, agent, caller, kinds = [None] * len(LATEST), False, False, ()
            line = call.line
            out.append(SeatSnapshot(
                call.seat_id, call.call_id, call.agent_id, agent, caller, *values, call.source,
                kinds, buffered[row], underrun[row], dropped[row], read_s[row],
                "playing" if playing[row] else "waiting",
                None if line is None or line.level is None else line.level.measured_db,
                None if line is None else line.correction_db))
        return out

    def _ensure_analysis(self) -> None:
        """Build the analysers on first use (in the engine's worker thread)."""
        if self.analyzer is None:
            self.analyzer = StreamingVoiceAnalyzer(self.size, self.fs_hz)
            self.caller_vad = StreamingVAD(self.size, self.fs_hz)
