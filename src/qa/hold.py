"""Music on hold, told from speech and from silence.

While a caller is on hold, the recording's channel toward the caller carries music (or a
tone) and nobody speaks. Pre-inspection read that as ``dead_air`` (the voice activity
detector's noise floor rises to steady music, so none of it is speech: on qa_bench's
clean calls with 90 s of synthetic hold music, every hold was one dead-air flag) or,
for music with rests, as fragments of the agent's speech judged against their
baseline. A hold is neither: it is its own event (``long_hold`` when it lasts), not
dead air, not a reply that came late, not the agent's voice.

A stretch of a channel is music when all of this holds:

- it *sounds*: its frames are at least :data:`SOUND_DB` above the channel's floor (the
  :data:`FLOOR_PERCENTILE`-th percentile of its frame levels), with quiet gaps of at
  most :data:`BRIDGE_S`, for at least :data:`MIN_HOLD_S`;
- the other party speaks in at most :data:`OTHER_SPEECH_MAX` of it (a caller may say a
  word to someone beside them during a hold; a conversation is not a hold);
- it is *tonal and steady*: as a running median over :data:`SMOOTH_S`, the share of its
  telephone band's power in spectral peaks held for 240 ms (notes) is at least
  :data:`emotion.held_notes.MIN_PERSISTENT_SHARE` (see that module for the figures:
  real speech stays far below it, synthetic music far above, noise has no peaks).

Only sounding stretches long enough to be a hold are transformed (a 256-point spectrum
per frame), so an ordinary call costs a few frame comparisons. Without real hold music
in the shared data, the threshold was set from synthetic music; see the README.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from emotion.held_notes import MIN_PERSISTENT_SHARE, persistent_share, running_median
from emotion.windows import rhythmless
from qa.crosstalk import frames_per_window, own_windows
from qa.segments import bridge, runs

#: A frame sounds when it is this far above the channel's floor (dB).
SOUND_DB = 12.0
#: The channel's floor: this percentile of its frame levels (both parties pause; a call
#: is on hold for a minority of it).
FLOOR_PERCENTILE = 5
#: Quiet gaps (s) inside a stretch of sound that still make one stretch.
BRIDGE_S = 1.0
#: Shortest hold looked for (s): dead air's own shortest event.
MIN_HOLD_S = 8.0
#: The other party's speech may fill at most this share of a hold.
OTHER_SPEECH_MAX = 0.25
#: Running median of the share (s).
SMOOTH_S = 3.0
#: Music paused for at most this long with no one speaking is one hold (s): the
#: shortest dead air.
HOLD_GAP_S = 8.0


def music_frames(samples: np.ndarray, fs_hz: int, level_dbfs: np.ndarray, frame_s: float,
                 other_speech: np.ndarray | None) -> np.ndarray:
    """Frames of one channel that carry music or a tone while nobody talks (see the
    module docstring); ``samples`` are the channel's, at ``fs_hz``, in any scale."""
    n = level_dbfs.size
    out = np.zeros(n, dtype=bool)
    finite = level_dbfs[np.isfinite(level_dbfs)]
    if finite.size == 0:
        return out
    floor = np.percentile(finite, FLOOR_PERCENTILE)
    sounding = bridge(level_dbfs >= floor + SOUND_DB, int(round(BRIDGE_S / frame_s)))
    shortest = int(round(MIN_HOLD_S / frame_s))
    frame_len = int(round(frame_s * fs_hz))
    width = int(round(SMOOTH_S / frame_s))
    for start, end in runs(sounding):
        if end - start < shortest:
            continue
        if other_speech is not None and other_speech[start:end].mean() > OTHER_SPEECH_MAX:
            continue
        piece = np.asarray(samples[start * frame_len: end * frame_len], dtype=np.float32)
        share = running_median(persistent_share(piece, fs_hz, frame_len), width)
        tonal = bridge(share >= MIN_PERSISTENT_SHARE, int(round(BRIDGE_S / frame_s)))
        for s, e in runs(tonal):
            if e - s >= shortest:
                out[start + s: start + e] = True
    return out


def without_music(analysis):
    """``(analysis, hold)``: the call with each channel's music taken out of its speech
    frames (a copy; feature windows left with too little of the channel's own speech are
    not judged, as for a leak), and the hold frames (music on either channel; None when
    there is none or it was not looked for). Feature windows without a voice's rhythm
    (:func:`emotion.windows.rhythmless`: music too short or too busy to be a hold) are
    not judged either, as live."""
    analysis = _without_rhythmless(analysis)
    tracks = [t for t in (analysis.agent, analysis.caller) if t is not None]
    if not any(t.music is not None and t.music.any() for t in tracks):
        return analysis, None
    n = analysis.agent.speech.size
    hold = np.zeros(n, dtype=bool)
    cleaned = {}
    for role, track in (("agent", analysis.agent), ("caller", analysis.caller)):
        if track is None or track.music is None or not track.music.any():
            continue
        music = track.music[: track.speech.size]
        hold[: music.size] |= music[:n]
        speech = track.speech & ~music
        removed = float((track.speech & music).sum() * track.frame_s)
        features = own_windows(track, speech)
        # measured over music as well as speech
        features[frames_per_window(track, music) > 0] = np.nan
        cleaned[role] = replace(track, speech=speech, features=features,
                                speech_s=max(track.speech_s - removed, 0.0))
    out = replace(analysis, agent=cleaned.get("agent", analysis.agent),
                  caller=cleaned.get("caller", analysis.caller))
    # One hold through a pause of its music (between two pieces, a quiet bar) in which
    # no one spoke: the caller was held throughout.
    spoken = out.agent.speech[:n] | (False if out.caller is None else out.caller.speech[:n])
    for start, end in runs(~hold):
        if (0 < start and end < n and (end - start) * analysis.agent.frame_s <= HOLD_GAP_S
                and not spoken[start:end].any()):
            hold[start:end] = True
    return out, hold


def _without_rhythmless(analysis):
    """The call with its windows that have no voice's rhythm made NaN (a copy)."""
    cleaned = {}
    for role in ("agent", "caller"):
        track = getattr(analysis, role)
        if track is not None:
            tune = rhythmless(track.features)
            if tune.any():
                features = track.features.copy()
                features[tune] = np.nan
                cleaned[role] = replace(track, features=features)
    return replace(analysis, **cleaned) if cleaned else analysis


def hold_spans(analysis, hold: np.ndarray | None) -> list[tuple[int, int, str]]:
    """``(start, end, channel)`` frame runs of the hold; the channel that carried the
    music (``"agent"``, ``"caller"`` or ``"both"``)."""
    if hold is None:
        return []
    out = []
    for start, end in runs(hold):
        carried = [role for role, t in (("agent", analysis.agent), ("caller", analysis.caller))
                   if t is not None and t.music is not None and t.music[start:end].any()]
        out.append((int(start), int(end), carried[0] if len(carried) == 1 else "both"))
    return out
