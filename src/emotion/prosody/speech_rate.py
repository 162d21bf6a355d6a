"""Speaking rate of many streams: syllable nuclei, speech and articulation rate, pauses.

After de Jong & Wempe (2009), "Praat script to detect syllable nuclei and measure
speech rate automatically", Behavior Research Methods 41(2), 385–390 — cited as
"dJW" — with every step made causal so that a live stream and a whole recording give
the same nuclei:

- the intensity contour is the pitch tracker's band level (300–2000 Hz, 50 ms Hann
  frames every 10 ms), so wideband and telephone audio see the same vowels;
- dJW's silence threshold (25 dB below the utterance's 99th-percentile intensity)
  becomes 25 dB below a peak-hold of the voiced frames' level that decays slowly
  (0.5 dB/s), since a live stream has no "utterance";
- a nucleus is an intensity peak that rises at least ``min_dip_db`` (dJW: 2 dB; 3 dB
  here, see the class) above the dip before it and falls at least as much into the
  dip after it — the peak is confirmed when that fall arrives, usually within a few
  frames — that lies above the silence threshold and is voiced (dJW: "pitch must be
  defined"; here a voiced frame within ``min_dip_db`` of the peak suffices, as voicing
  flickers on a noisy line), and that comes at least ``min_gap_s`` after the previous
  nucleus;
- a pause is a silent stretch of at least ``min_pause_s`` (dJW: 0.3 s).

Speech rate is nuclei per second of total time, articulation rate nuclei per second of
speech (total time less pauses; dJW's phonation time), pause ratio the fraction of time
in pauses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from emotion.prosody.pitch import PitchFrames, StreamingPitch
from emotion.psychoacoustics._framing import check_stream_count

__all__ = [
    "SpeakingRate",
    "StreamingSpeechRate",
    "SyllableFrames",
    "speaking_rate",
    "summarise_rate",
]


@dataclass(frozen=True)
class SyllableFrames:
    """Per-frame output of :meth:`StreamingSpeechRate.update`, on the pitch frames' clock.

    Attributes
    ----------
    first_frame : int
        Index of the first frame here.
    frame_time_s : ndarray, shape (T,)
        Frame centres, s (as :attr:`PitchFrames.frame_time_s`).
    sounding : ndarray of bool, shape (streams, T)
        Above the silence threshold (not silent).
    nucleus_time_s : ndarray, shape (streams, T)
        Time of the syllable nucleus confirmed at this frame (its intensity peak, a few
        frames earlier), s; NaN where none was confirmed.
    """

    first_frame: int
    frame_time_s: np.ndarray
    sounding: np.ndarray
    nucleus_time_s: np.ndarray


@dataclass(frozen=True)
class SpeakingRate:
    """Rates over a stretch of time, one value per stream.

    Attributes
    ----------
    nucleus_time_s : tuple of ndarray
        Times of the syllable nuclei of each stream, s.
    duration_s : float
        Length of the stretch, s.
    nuclei : ndarray of int, shape (streams,)
        Number of syllable nuclei.
    speech_s : ndarray, shape (streams,)
        Time not in pauses, s.
    pause_ratio : ndarray, shape (streams,)
        Fraction of the stretch in pauses (silences of at least ``min_pause_s``).
    speech_rate_per_s : ndarray, shape (streams,)
        Nuclei per second of total time.
    articulation_rate_per_s : ndarray, shape (streams,)
        Nuclei per second of speech; NaN where there was no speech.
    """

    nucleus_time_s: tuple
    duration_s: float
    nuclei: np.ndarray
    speech_s: np.ndarray
    pause_ratio: np.ndarray
    speech_rate_per_s: np.ndarray
    articulation_rate_per_s: np.ndarray


class StreamingSpeechRate:
    """Syllable nuclei and pauses of many streams, fed the pitch tracker's frames.

    Parameters
    ----------
    n_streams : int
        Streams advanced together.
    hop_s : float
        Frame step of the :class:`~emotion.prosody.pitch.StreamingPitch` feeding it.
    min_dip_db : float
        Rise before and fall after a nucleus's peak, dB. dJW use 2 dB on Praat's
        intensity (a 64 ms window over the whole band); our narrower-band, shorter-window
        contour ripples more, and 3 dB brought the mean absolute syllable-count error on
        RAVDESS from 1.06 to 0.82 (clean) and 0.92 to 0.76 (telephone) on files not used
        to choose it.
    silence_db : float
        Silence threshold relative to the decaying peak of voiced level, dB (dJW: -25).
    min_gap_s : float
        Shortest time between two nuclei, s.
    min_pause_s : float
        Shortest silence that counts as a pause, s (dJW: 0.3 s).
    decay_db_per_s : float
        How fast the reference peak level forgets a loud stretch.
    history_s : float
        How much is kept for :meth:`window`, s.
    """

    def __init__(
        self,
        n_streams: int,
        *,
        hop_s: float = 0.01,
        min_dip_db: float = 3.0,
        silence_db: float = -25.0,
        min_gap_s: float = 0.1,
        min_pause_s: float = 0.3,
        decay_db_per_s: float = 0.5,
        history_s: float = 10.0,
    ) -> None:
        check_stream_count(n_streams)
        if not hop_s > 0 or not min_dip_db > 0 or not silence_db < 0:
            raise ValueError(
                f"need hop_s > 0, min_dip_db > 0 and silence_db < 0, got hop_s={hop_s!r}, "
                f"min_dip_db={min_dip_db!r}, silence_db={silence_db!r}"
            )
        if min_gap_s < 0 or min_pause_s < 0 or decay_db_per_s < 0 or history_s <= 0:
            raise ValueError("min_gap_s, min_pause_s, decay_db_per_s must be >= 0, history_s > 0")
        self.n_streams = int(n_streams)
        self.hop_s = float(hop_s)
        self.min_dip_db = float(min_dip_db)
        self.silence_db = float(silence_db)
        self.min_gap_frames = min_gap_s / hop_s
        self.min_pause_frames = round(min_pause_s / hop_s)
        self.decay_db = decay_db_per_s * hop_s
        # Per stream: reference dB, mode (0 rising, 1 falling), peak dB, peak frame,
        # highest voiced and sounding level since the last dip, dip dB, last nucleus frame.
        self._state = np.tile([-np.inf, 1.0, -np.inf, -1.0, -np.inf, np.inf, -1e9],
                              (self.n_streams, 1))
        self._frames = 0
        self._offset_s = None  # centre of frame j is j * hop_s + offset
        self._history = round(history_s / hop_s)
        self._sounding = np.zeros((self.n_streams, 0), dtype=bool)
        self._is_peak = np.zeros((self.n_streams, 0), dtype=bool)

    def update(self, frames: PitchFrames) -> SyllableFrames:
        """Advance every stream by the pitch frames of one block."""
        level = np.asarray(frames.band_level_db, dtype=np.float64)
        voiced = np.asarray(frames.voiced, dtype=bool)
        if level.ndim != 2 or level.shape[0] != self.n_streams or voiced.shape != level.shape:
            raise ValueError(
                f"expected pitch frames of {self.n_streams} streams shaped (streams, T), got "
                f"band_level_db {level.shape} and voiced {voiced.shape}"
            )
        if frames.first_frame != self._frames:
            raise ValueError(
                f"pitch frames must arrive in order: expected frame {self._frames} next, got "
                f"{frames.first_frame}"
            )
        n_new = level.shape[1]
        if n_new > 1 and abs(frames.frame_time_s[1] - frames.frame_time_s[0] - self.hop_s) > 1e-9:
            raise ValueError(
                f"pitch frames come every {frames.frame_time_s[1] - frames.frame_time_s[0]:g} s "
                f"but this tracker was built with hop_s={self.hop_s:g}; pass the pitch "
                "tracker's hop_s"
            )
        if n_new and self._offset_s is None:
            self._offset_s = float(frames.frame_time_s[0]) - self._frames * self.hop_s
        sounding = np.zeros(level.shape, dtype=bool)
        peak_frame = np.full(level.shape, -1, dtype=np.int64)
        _nuclei_kernel(level, voiced, self._frames, self.min_dip_db, self.silence_db,
                       self.decay_db, self.min_gap_frames, self._state, sounding, peak_frame)
        first = self._frames
        self._frames += n_new
        self._sounding = np.concatenate([self._sounding, sounding], axis=1)
        self._is_peak = np.concatenate([self._is_peak, np.zeros_like(sounding)], axis=1)
        streams, when = np.nonzero(peak_frame >= 0)
        back = self._frames - peak_frame[streams, when]  # frames before the end
        kept = back <= self._is_peak.shape[1]
        self._is_peak[streams[kept], self._is_peak.shape[1] - back[kept]] = True
        self._sounding = self._sounding[:, -self._history :]
        self._is_peak = self._is_peak[:, -self._history :]
        nucleus_time_s = np.where(peak_frame >= 0,
                                  peak_frame * self.hop_s + (self._offset_s or 0.0), np.nan)
        return SyllableFrames(first, frames.frame_time_s, sounding, nucleus_time_s)

    def window(self, window_s: float) -> SpeakingRate:
        """Rates over the last ``window_s`` of frames seen (at most ``history_s``).

        Nuclei count where their peak lies; a peak in the last few frames may not be
        confirmed yet. Pauses are judged on the whole history, so a pause that began
        before the window counts within it in full.
        """
        n = min(round(window_s / self.hop_s), self._sounding.shape[1])
        if n < 1:
            raise ValueError(f"window_s={window_s!r} holds no frame yet")
        start = self._sounding.shape[1] - n
        first_frame = self._frames - n
        peaks = tuple((np.flatnonzero(row[start:]) + first_frame) * self.hop_s
                      + (self._offset_s or 0.0) for row in self._is_peak)
        return _summarise(self._sounding, peaks, self.hop_s, self.min_pause_frames, start)


def summarise_rate(frames: SyllableFrames, *, hop_s: float = 0.01,
                   min_pause_s: float = 0.3) -> SpeakingRate:
    """Rates over all of ``frames`` (e.g. the concatenated frames of a whole call).

    Every nucleus confirmed within ``frames`` counts.
    """
    times = tuple(np.sort(row[np.isfinite(row)]) for row in frames.nucleus_time_s)
    return _summarise(frames.sounding, times, hop_s, round(min_pause_s / hop_s), 0)


def speaking_rate(signal: np.ndarray, fs_hz: int, *, pitch: dict | None = None,
                  **kwargs) -> SpeakingRate:
    """Syllable nuclei, speech and articulation rate and pause ratio of whole signals.

    Parameters
    ----------
    signal : array_like
        ``(samples,)`` or ``(streams, samples)``, digital or Pa.
    fs_hz : int
        Sample rate, 8000 Hz or a multiple of it.
    pitch : dict, optional
        Options for :class:`~emotion.prosody.pitch.StreamingPitch`.
    **kwargs
        Options for :class:`StreamingSpeechRate` (``min_dip_db``, ``silence_db``, …).

    Returns
    -------
    SpeakingRate
        Over the whole signal; the same nuclei a live stream of it gives.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(16000 * 3) / 16000
    >>> voice = sum(np.sin(2 * np.pi * k * 120 * t) for k in range(1, 15))
    >>> syllables = np.sin(np.pi * 4 * t) ** 2  # 4 per second, 12 in all
    >>> int(speaking_rate(voice * syllables, 16000).nuclei[0])
    12
    """
    x = np.asarray(signal)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(
            f"signal must be shaped (samples,) or (streams, samples) with samples, got {x.shape}"
        )
    x = np.atleast_2d(x)
    pitch_tracker = StreamingPitch(x.shape[0], fs_hz, **(pitch or {}))
    tracker = StreamingSpeechRate(x.shape[0], hop_s=pitch_tracker.hop_s, **kwargs)
    frames = tracker.update(pitch_tracker.process(x))
    return summarise_rate(frames, hop_s=tracker.hop_s,
                          min_pause_s=tracker.min_pause_frames * tracker.hop_s)


def _summarise(sounding, times, hop_s, min_pause_frames, first):
    """Rates over frames ``first:`` of ``sounding``, with the nuclei ``times``."""
    pause = np.zeros(sounding.shape, dtype=bool)
    _pause_kernel(sounding, min_pause_frames, pause)
    pause = pause[:, first:]
    duration_s = pause.shape[1] * hop_s
    nuclei = np.array([t.size for t in times])
    speech_s = (~pause).sum(axis=1) * hop_s
    with np.errstate(invalid="ignore", divide="ignore"):
        articulation = np.where(speech_s > 0, nuclei / speech_s, np.nan)
        per_s = nuclei / duration_s if duration_s else np.full(nuclei.shape, np.nan)
    return SpeakingRate(
        nucleus_time_s=times,
        duration_s=duration_s,
        nuclei=nuclei,
        speech_s=speech_s,
        pause_ratio=pause.mean(axis=1) if duration_s else np.full(nuclei.shape, np.nan),
        speech_rate_per_s=per_s,
        articulation_rate_per_s=articulation,
    )


@njit(cache=True, nogil=True)
def _nuclei_kernel(level, voiced, first, min_dip, silence_db, decay, min_gap, state,
                   sounding, peak_frame):
    for s in range(level.shape[0]):
        ref, mode, peak, peak_at, voiced_peak, dip, last = state[s]
        for t in range(level.shape[1]):
            x = level[s, t]
            frame = first + t
            # dJW silence threshold, against a decaying peak-hold of voiced level.
            ref -= decay
            if voiced[s, t] and x > ref:
                ref = x
            loud = ref > -np.inf and x >= ref + silence_db
            sounding[s, t] = loud
            ok = loud and voiced[s, t]
            if mode == 0.0:  # rising: follow the peak until the level falls min_dip below
                if ok and x > voiced_peak:
                    voiced_peak = x
                if x > peak:
                    peak, peak_at = x, frame
                elif x < peak - min_dip:
                    # dJW: a peak standing out by min_dip from the dips on both sides,
                    # above the silence threshold, with pitch defined — here anywhere
                    # within min_dip of the peak, as voicing flickers on the line.
                    if voiced_peak >= peak - min_dip and peak_at - last >= min_gap:
                        peak_frame[s, t] = peak_at
                        last = peak_at
                    mode, dip = 1.0, x
            else:  # falling: follow the dip until the level rises min_dip above
                if x < dip:
                    dip = x
                elif x > dip + min_dip:
                    mode, peak, peak_at = 0.0, x, frame
                    voiced_peak = x if ok else -np.inf
        state[s, 0], state[s, 1], state[s, 2], state[s, 3] = ref, mode, peak, peak_at
        state[s, 4], state[s, 5], state[s, 6] = voiced_peak, dip, last


@njit(cache=True, nogil=True)
def _pause_kernel(sounding, min_frames, pause):
    """Mark silent runs of at least ``min_frames`` (runs still open at the end too)."""
    for s in range(sounding.shape[0]):
        run = 0
        for t in range(sounding.shape[1] + 1):
            if t < sounding.shape[1] and not sounding[s, t]:
                run += 1
                continue
            if run >= min_frames:
                for k in range(t - run, t):
                    pause[s, k] = True
            run = 0
