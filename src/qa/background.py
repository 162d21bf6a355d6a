"""Voices in the background of a channel (the floor's babble), told from its talker.

An agent's headset hears the contact centre around it: neighbours on their own calls,
some 30-40 dB below the agent's voice at the microphone. The voice activity detector
rightly hears speech there, so on a busy floor the agent's channel "speaks" between the
agent's turns: on qa_bench's seed 0 with four neighbours 30 dB below the agent, dead
air F1 was 0.53, overtalk 0.17 (231 flags for 22 events), low_level 0.37, and clean
calls drew 46 false flags per hour (benchmarks/RESULTS.md, eighteenth round).

The background is told by its level against the channel's own talker, the loud speech
of the channel (:func:`talker_level`: the talker speaks much of the time and far
louder than anyone behind them). A run of speech frames is the talker's only if its
level envelope (the loudest frame within :data:`ENVELOPE_S` either side) stays within
:data:`RANGE_DB` of that level and somewhere comes within :data:`PEAK_RANGE_DB` of
it; everything else is the room. A turn said 20 dB too quietly (what ``low_level``
looks for) peaks 13-23 dB under the talker level and stays, keeping its soft syllables
(each of the talker's runs reaches on over the speech beside it down to ``RANGE_DB``
under its own peak); neighbours 35 dB down peaked 27-41 dB under it. The talker's runs
keep the detector's hangover, so pauses read as long as in a quiet room. Neighbours 30
dB down or louder overlap such turns in level, and their loudest stretches stay: a
centre with headsets that let the floor in that loud is told so by the share of speech
taken (``metrics.background``, ``busy`` from :data:`BUSY_SHARE`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.ndimage import maximum_filter1d

from emotion.vad import HANGOVER_MS
from qa.crosstalk import frames_per_window, own_windows
from qa.segments import runs

#: The channel's talker level: this percentile of the levels of its speech frames.
REFERENCE_PERCENTILE = 95
#: Half-width of the level envelope (s): a frame is as loud as the loudest within it,
#: so that a syllable's quiet consonants and decay stay with its vowel. The detector's
#: own hangover is 0.15 s.
ENVELOPE_S = 0.15
#: The detector's hangover (s), kept around the talker's utterances.
HANGOVER_S = HANGOVER_MS / 1000
#: A speech frame whose envelope is this far below the reference is not the talker's,
#: unless it lies next to one of the talker's runs and within this of that run's peak.
RANGE_DB = 30.0
#: A run of the talker's speech comes this close to the reference somewhere. On
#: qa_bench's calls (seeds 0, 1 and 4) the talker's turns said 20 dB too quietly peaked
#: 13-23 dB under the reference, the neighbours of a floor 35 dB down 27-41 dB under it.
PEAK_RANGE_DB = 26.0
#: A feature window whose speech frames were more than this share the room's is not
#: judged: the analyser measured its features over those frames too.
MAX_WINDOW_SHARE = 0.25
#: Less than this much background (s) in a channel is left as it is. A few frames are
#: enough to matter: a neighbour's syllable in a silence shortens a late reply.
MIN_REMOVED_S = 0.3
#: Share of a channel's speech that was the room's from which the call says so (the run's
#: closing lines, the call page): a clean channel loses at most ~3 % (the ends of its
#: talker's quietest syllables, a turn said much more quietly than the rest).
BUSY_SHARE = 0.05
#: Least speech (s) for a reference; a channel with less is left as it is.
MIN_SPEECH_S = 3.0


def talker_level(speech: np.ndarray, level_dbfs: np.ndarray,
                 clipped: np.ndarray | None = None) -> float | None:
    """The channel's talker level (dBFS, :data:`REFERENCE_PERCENTILE` of its speech
    frames' levels), leaving out clipped frames: their level is the line's overload, and
    a turn driven into clipping would make the rest of the talker's speech read as far
    behind. None without speech."""
    use = np.asarray(speech, dtype=bool) & np.isfinite(level_dbfs)
    if clipped is not None and (use & (np.asarray(clipped) == 0)).any():
        use &= np.asarray(clipped) == 0
    return float(np.percentile(level_dbfs[use], REFERENCE_PERCENTILE)) if use.any() else None


def background_frames(speech: np.ndarray, level_dbfs: np.ndarray, frame_s: float,
                      clipped: np.ndarray | None = None, *,
                      reference: float | None = None) -> np.ndarray:
    """Speech frames of one channel that are voices behind its talker (see the module
    docstring); all False where the channel has under :data:`MIN_SPEECH_S` of speech.
    ``clipped`` (samples at full scale per frame) keeps clipped frames out of the
    talker's level; ``reference`` is that level when the caller has it already."""
    speech = np.asarray(speech, dtype=bool)
    out = np.zeros(speech.shape, dtype=bool)
    if reference is None:
        reference = talker_level(speech, level_dbfs, clipped)
    if speech.sum() * frame_s < MIN_SPEECH_S or reference is None:
        return out
    level = np.where(np.isfinite(level_dbfs), level_dbfs, -np.inf)
    half = max(int(round(ENVELOPE_S / frame_s)), 0)
    envelope = maximum_filter1d(level, size=2 * half + 1, mode="nearest")
    near = speech & (envelope >= reference - RANGE_DB)
    # Runs of near frames; a run is the talker's if its loudest frame is close enough.
    starts, ends = runs(near).T
    if starts.size:
        peaks = _run_peaks(level, starts, ends)
        loud = peaks >= reference - PEAK_RANGE_DB
        for a, b in zip(starts[~loud], ends[~loud], strict=True):
            near[a:b] = False
        # A quiet turn keeps its soft syllables: each of the talker's runs reaches on
        # over the speech beside it down to RANGE_DB below its own peak.
        for a, b, peak in zip(starts[loud], ends[loud], peaks[loud], strict=True):
            floor = peak - RANGE_DB
            while a > 0 and speech[a - 1] and envelope[a - 1] >= floor:
                a -= 1
                near[a] = True
            while b < near.size and speech[b] and envelope[b] >= floor:
                near[b] = True
                b += 1
    # The talker's utterances keep the detector's hangover past their envelope, so that a
    # pause reads as long as it does without a room behind the talker.
    hang = int(round(HANGOVER_S / frame_s))
    if hang:
        near = maximum_filter1d(near.astype(np.int8), size=2 * hang + 1).astype(bool)
    return speech & ~near


def _run_peaks(level: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The loudest frame of each run ``[starts[i], ends[i])``."""
    bounds = np.ravel(np.column_stack([starts, ends]))
    # reduceat over [start, end) of each run; the appended frame lets a run end the call
    return np.maximum.reduceat(np.append(level, -np.inf), bounds)[::2]


def without_background(analysis):
    """``(analysis, report)``: the call with voices behind each channel's talker taken
    out of its speech frames (a copy; the input is unchanged), and per channel where
    any were (:data:`MIN_REMOVED_S` or more), the seconds taken out, their share of the
    channel's speech, whether that share is a room to speak of (:data:`BUSY_SHARE`) and
    the talker's reference level (dBFS)."""
    report, cleaned = {}, {}
    for role in ("agent", "caller"):
        track = getattr(analysis, role)
        if track is None:
            continue
        reference = talker_level(track.speech, track.level_dbfs, track.clipped)
        drop = background_frames(track.speech, track.level_dbfs, track.frame_s,
                                 reference=reference)
        if drop.sum() * track.frame_s < MIN_REMOVED_S:
            continue
        speech = track.speech & ~drop
        removed_s = float(drop.sum() * track.frame_s)
        features = own_windows(track, speech)
        # a window whose "speech" was much the room's: its features are the room's too
        behind = frames_per_window(track, drop)
        said = np.maximum(frames_per_window(track, track.speech), 1)
        features[behind > MAX_WINDOW_SHARE * said] = np.nan
        cleaned[role] = replace(track, speech=speech, features=features,
                                speech_s=max(track.speech_s - removed_s, 0.0))
        share = removed_s / max(float(track.speech.sum()) * track.frame_s, track.frame_s)
        report[role] = {
            "speech_removed_s": round(removed_s, 1), "share_of_speech": round(share, 3),
            "busy": bool(share >= BUSY_SHARE),
            "talker_level_dbfs": round(reference, 1),
        }
    if not cleaned:
        return analysis, {}
    return replace(analysis, **cleaned), report
