"""One party's voice heard on the other's channel (echo, crosstalk), told from speech.

A stereo call recording often carries each party faintly on the other's channel: the
caller from the agent's earpiece into the headset microphone, the agent as line echo
on the caller's side. The voice activity detector rightly hears speech there, and a
call then reads as double talk on every turn (on qa_bench's clean calls, the other party
mixed in at -30 dB gave 133 ``overtalk`` and 32 ``low_level`` flags in 10 calls).

The leak is told by its level: frame by frame it follows the other channel's level at a
fixed offset (the coupling's gain) and a fixed delay. Over the frames in which the other
party speaks and clearly dominates (this channel at least :data:`DOMINANT_DB` below), a
channel with a leak has its level correlated with the other's (r ≥
:data:`MIN_CORRELATION`; measured 0.81-0.99 with the other party at -30…-12 dB, and at
most 0.09 without: there the level is the line's own floor, whatever the other says).
The gain is the median level difference over the loudest half of those frames, at the
delay (0 to :data:`MAX_LAG_S`, a whole number of frames) that correlates best. A frame
of this channel is the other party's leak, not speech, when the other party speaks
then and this channel is no louder than the leak predicts plus :data:`MARGIN_DB`.
Speech of one's own over the other party is many decibels above its leak, and stays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

#: The other channel must be at least this much louder for a frame to show the leak.
DOMINANT_DB = 6.0
#: Least such frames (s of audio) for an estimate.
MIN_DOMINANT_S = 3.0
#: Correlation of the two levels over those frames from which a leak is taken as real.
MIN_CORRELATION = 0.6
#: Longest delay of the leak looked for (s): acoustic leakage takes a few ms, line
#: echo tens of ms.
MAX_LAG_S = 0.1
#: How far above the predicted leak a frame may be and still be the leak (dB).
MARGIN_DB = 6.0
#: A channel's floor: this percentile of its frame levels (a call is mostly pauses on
#: either side).
FLOOR_PERCENTILE = 10
#: A feature window keeps its features only with this much of the channel's own
#: speech left in it (s; what the analyser asks of a window): a window of the other
#: party's leak is quiet, and would drag the call's level and the baseline leaning on
#: it down, so that ordinary turns read as loud.
MIN_OWN_SPEECH_S = 1.0


@dataclass(frozen=True)
class Leak:
    """The other party's voice on a channel: its level offset, its delay and how
    closely this channel's level followed the other's (r)."""

    gain_db: float
    lag_frames: int
    r: float

    def to_json(self, frame_s: float, removed_s: float) -> dict:
        return {"gain_db": round(self.gain_db, 1), "lag_ms": round(1000 * self.lag_frames *
                                                                  frame_s),
                "r": round(self.r, 2), "speech_removed_s": round(removed_s, 1)}


def _delayed(values: np.ndarray, lag: int, fill) -> np.ndarray:
    """``values`` ``lag`` frames later (the first ``lag`` frames ``fill``)."""
    if lag == 0:
        return values
    return np.concatenate([np.full(lag, fill, dtype=values.dtype), values[:-lag]])


def estimate_leak(own_level: np.ndarray, other_level: np.ndarray, other_speech: np.ndarray,
                  frame_s: float) -> Leak | None:
    """The other party's leak into this channel from per-frame levels (dBFS) and the
    other's speech frames; None when there is none to see (see the module docstring)."""
    best: Leak | None = None
    for lag in range(int(round(MAX_LAG_S / frame_s)) + 1):
        other = _delayed(other_level, lag, -np.inf)
        speaks = _delayed(other_speech, lag, False)
        shown = speaks & np.isfinite(other) & np.isfinite(own_level) & (
            own_level <= other - DOMINANT_DB)
        if shown.sum() * frame_s < MIN_DOMINANT_S:
            continue
        x, y = other[shown], own_level[shown]
        if np.std(x) == 0 or np.std(y) == 0:
            continue
        r = float(np.corrcoef(x, y)[0, 1])
        if best is None or r > best.r:
            loud = x >= np.median(x)  # well above the floor: the leak, not the line's noise
            best = Leak(float(np.median(y[loud] - x[loud])), lag, r)
    return best if best is not None and best.r >= MIN_CORRELATION else None


def leak_frames(own_speech: np.ndarray, own_level: np.ndarray, other_speech: np.ndarray,
                other_level: np.ndarray, leak: Leak) -> np.ndarray:
    """Speech frames of this channel that are the other party's leak: the other party
    speaks, and this channel is no louder than the leak, or than its own floor (where
    a faint leak sinks into the line's noise: the detector's hangover after the leak's
    louder frames), by more than :data:`MARGIN_DB`."""
    other = _delayed(other_level, leak.lag_frames, -np.inf)
    speaks = _delayed(other_speech, leak.lag_frames, False)
    finite = own_level[np.isfinite(own_level)]
    floor = np.percentile(finite, FLOOR_PERCENTILE) if finite.size else -np.inf
    return own_speech & speaks & (own_level <= np.maximum(other + leak.gain_db, floor)
                                  + MARGIN_DB)


def without_leaks(analysis):
    """``(analysis, report)``: the call with each channel's leak of the other party taken
    out of its speech frames (a copy; the input is unchanged), and per channel with a
    leak, what was found and taken out (:meth:`Leak.to_json`). A mono call is as it is."""
    a, c = analysis.agent, analysis.caller
    if c is None:
        return analysis, {}
    n = min(a.speech.size, c.speech.size)
    report, cleaned = {}, {}
    for role, own, other in (("agent", a, c), ("caller", c, a)):
        leak = estimate_leak(own.level_dbfs[:n], other.level_dbfs[:n], other.speech[:n],
                             own.frame_s)
        if leak is None:
            continue
        drop = leak_frames(own.speech[:n], own.level_dbfs[:n], other.speech[:n],
                           other.level_dbfs[:n], leak)
        speech = own.speech.copy()
        speech[:n] &= ~drop
        cleaned[role] = replace(own, speech=speech, features=own_windows(own, speech),
                                speech_s=max(own.speech_s - drop.sum() * own.frame_s, 0.0))
        report[role] = leak.to_json(own.frame_s, float(drop.sum() * own.frame_s))
    if not cleaned:
        return analysis, {}
    return replace(analysis, agent=cleaned.get("agent", a), caller=cleaned.get("caller", c)
                   ), report


def frames_per_window(track, frames: np.ndarray) -> np.ndarray:
    """Per feature window of ``track``: how many of its frames are set in ``frames``."""
    counts = np.concatenate([[0], np.cumsum(frames)])
    last = np.clip(np.floor(track.end_s / track.frame_s + 1e-9).astype(int), 0, frames.size)
    first = np.clip(last - int(round(track.window_s / track.frame_s)), 0, frames.size)
    return counts[last] - counts[first]


def own_windows(track, speech: np.ndarray) -> np.ndarray:
    """The track's feature windows, NaN where under :data:`MIN_OWN_SPEECH_S` of
    ``speech`` is left in the window."""
    own_s = frames_per_window(track, speech) * track.frame_s
    features = track.features.copy()
    features[own_s < MIN_OWN_SPEECH_S] = np.nan
    return features
