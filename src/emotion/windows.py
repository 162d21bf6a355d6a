"""Feature windows: per-stream voice features over sliding windows of speech.

Every analysis stage (psychoacoustics, VAD, pitch, syllable nuclei) reports on a common
10 ms grid; a :class:`FeatureWindower` keeps the last ``window_s`` of that grid per
stream and, every ``hop_s``, turns the *speech* frames in it into one feature vector
(:data:`FEATURE_NAMES`). A window with less than ``min_speech_s`` of speech, or with a
feature that could not be measured, yields no features (its row is NaN and ``valid`` is
False): pauses say nothing about a voice.

The windower is fed block by block like the engines before it, so a file and a live
stream give the same windows; it never looks at audio itself.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit

from emotion.psychoacoustics._framing import StreamFramer

GRID_S = 0.01
#: Reference of the semitone scale (eGeMAPS uses 27.5 Hz, the note A0).
F0_REF_HZ = 27.5
#: Bark above which specific loudness counts as "high" in the spectral balance.
BALANCE_SPLIT_BARK = 10.0

FEATURE_NAMES = (
    "loudness_n5_sone",  # 95th percentile of N over the window's speech frames
    "loudness_mean_sone",
    "sharpness_acum",  # DIN 45692, mean over speech
    "roughness_asper",
    "fluctuation_vacil",
    "f0_median_st",  # semitones re 27.5 Hz, voiced frames
    "f0_range_st",  # 90th - 10th percentile, semitones
    "speech_rate_syl_s",  # syllable nuclei per second of speech
    "pause_ratio",  # share of the window without speech
    "spectral_balance",  # share of specific loudness above 10 Bark (~1.3 kHz)
    "aperiodicity",  # median YIN aperiodicity of voiced frames (~ 1 / HNR)
    "f0_movement_st",  # median |ΔF0| between voiced 10 ms frames, semitones
    "vowel_centroid_hz",  # median centroid of 300-2000 Hz on voiced frames (F1/F2 region)
    "vowel_tilt_db",  # median level of 300-1000 over 1000-2000 Hz on voiced frames
    "loudness_slope_sone_s",  # mean |dN/dt| within speech (20 ms steps): how fast N moves
    "syllable_rate_syl_s",  # loudness peaks (syllables) per second of speech, 10 ms grid
)

#: Features that follow the line's gain as much as the voice (sone-based: loudness, its
#: movement, and roughness and fluctuation strength, which grow with the specific
#: loudness they modulate). Where the level is a fault of the line (a clipped turn, a
#: turn too quiet for the line) they say nothing about the voice; see
#: :meth:`emotion.scoring.VoiceModel.score`'s ``level_unknown``.
LEVEL_BOUND_FEATURES = ("loudness_n5_sone", "loudness_mean_sone", "roughness_asper",
                        "fluctuation_vacil", "loudness_slope_sone_s")

#: Smallest robust sigma a baseline may have per feature: about the resolution below
#: which a change is not audible or not meaningful (1 JND of loudness is ~5-10 %, of
#: pitch ~0.3 semitone), so a very steady agent is not alarmed by trifles.
FEATURE_SIGMA_FLOOR = (0.3, 0.2, 0.02, 0.02, 0.05, 0.3, 0.3, 0.2, 0.02, 0.01,
                       0.01, 0.02, 10.0, 0.5, 1.0, 0.2)

#: Per-grid-frame inputs, in this order, as the windower stores them.
CHANNELS = ("loudness", "speech", "voiced", "f0_hz", "nuclei", "sharpness", "roughness",
            "fluctuation", "balance", "aperiodicity", "centroid", "tilt")


@dataclass(frozen=True)
class FeatureWindows:
    """Windows completed by one :meth:`FeatureWindower.push`.

    Attributes
    ----------
    end_s : ndarray, shape (W,)
        End time of each window, s.
    features : ndarray, shape (streams, W, F)
        :data:`FEATURE_NAMES` per window; NaN rows where ``valid`` is False.
    valid : ndarray of bool, shape (streams, W)
    speech_s : ndarray, shape (streams, W)
        Seconds of speech in each window.
    """

    end_s: np.ndarray
    features: np.ndarray
    valid: np.ndarray
    speech_s: np.ndarray


class FeatureWindower:
    """Sliding feature windows over many streams' 10 ms analysis frames.

    Parameters
    ----------
    n_streams : int
    window_s, hop_s : float
        Window length and step (defaults 3 s and 1 s), multiples of 10 ms.
    min_speech_s : float
        Least speech in a window for it to count.
    """

    def __init__(
        self, n_streams: int, *, window_s: float = 3.0, hop_s: float = 1.0,
        min_speech_s: float = 1.0,
    ) -> None:
        self.n_streams = n_streams
        self.window = int(round(window_s / GRID_S))
        self.hop = int(round(hop_s / GRID_S))
        self.min_speech_frames = int(round(min_speech_s / GRID_S))
        self._framer = StreamFramer(
            n_streams, self.window, self.hop, np.float64, feature_shape=(len(CHANNELS),)
        )

    def push(self, **grid) -> FeatureWindows:
        """Add ``(streams, T)`` arrays on the 10 ms grid, one per name in :data:`CHANNELS`.

        ``loudness`` (sone), ``speech`` and ``voiced`` (bool), ``f0_hz`` (NaN when
        unvoiced), ``nuclei`` (syllable nuclei starting in the frame), and the per-frame
        values of ``sharpness``, ``roughness``, ``fluctuation`` and ``balance``.
        """
        missing = set(CHANNELS) - set(grid)
        if missing:
            raise ValueError(f"missing inputs: {', '.join(sorted(missing))}")
        stacked = np.stack([np.asarray(grid[name], dtype=np.float64) for name in CHANNELS],
                           axis=-1)
        if stacked.ndim != 3 or stacked.shape[0] != self.n_streams:
            raise ValueError(f"inputs must be (streams={self.n_streams}, T) arrays")
        first = self._framer.frames_emitted
        frames = self._framer.push(stacked)  # (streams, W, channels, window)
        n_windows = frames.shape[1]
        end_s = (np.arange(first, first + n_windows) + 1) * self.hop * GRID_S
        features, valid, speech_s = window_features(frames, self.min_speech_frames)
        return FeatureWindows(end_s, features, valid, speech_s)


def _masked(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask, values, np.nan)


def _nanquantiles(values: np.ndarray, qs) -> list[np.ndarray]:
    """``np.nanquantile(values, q, axis=-1)`` for each q (linear interpolation), sharing
    one sort: NaNs sort last, so each row's finite values lead. NaN for an all-NaN row."""
    ordered = np.sort(values, axis=-1)
    count = np.isfinite(ordered).sum(axis=-1)
    last = np.maximum(count - 1, 0)
    out = []
    for q in qs:
        position = q * last
        low = np.floor(position).astype(np.intp)
        high = np.minimum(low + 1, last)
        frac = position - low
        a = np.take_along_axis(ordered, low[..., None], axis=-1)[..., 0]
        b = np.take_along_axis(ordered, high[..., None], axis=-1)[..., 0]
        out.append(np.where(count > 0, a + (b - a) * frac, np.nan))
    return out


def window_features(
    frames: np.ndarray, min_speech_frames: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of framed grid data ``(streams, W, channels, window)``.

    Only windows with enough speech are measured (the others are NaN whatever their
    frames hold): most windows of a call are silence or the other party's turn.
    """
    n, n_windows = frames.shape[:2]
    if n_windows == 0:
        return np.zeros((n, 0, len(FEATURE_NAMES))), np.zeros((n, 0), bool), np.zeros((n, 0))
    n_speech = (frames[..., CHANNELS.index("speech"), :] > 0.5).sum(axis=-1)
    valid = n_speech >= max(min_speech_frames, 1)
    features = np.full((n, n_windows, len(FEATURE_NAMES)), np.nan)
    if valid.any():
        features[valid] = _measured(frames[valid], n_speech[valid])
    # A feature that could not be measured (no voiced frame for pitch, fluctuation
    # strength before 2 s of signal) makes the window unusable as a whole.
    valid &= np.all(np.isfinite(features), axis=-1)
    features[~valid] = np.nan
    return features, valid, n_speech * GRID_S


def _measured(frames: np.ndarray, n_speech: np.ndarray) -> np.ndarray:
    """:data:`FEATURE_NAMES` of windows ``(W, channels, window)`` with speech."""
    c = {name: frames[..., i, :] for i, name in enumerate(CHANNELS)}
    speech = c["speech"] > 0.5
    voiced = speech & (c["voiced"] > 0.5) & np.isfinite(c["f0_hz"]) & (c["f0_hz"] > 0)
    # All-NaN slices (windows without voiced frames) warn; those windows are invalid.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        loud = _masked(c["loudness"], speech)
        (n5,) = _nanquantiles(loud, [0.95])
        f0_st = fold_octave_errors(12.0 * np.log2(_masked(c["f0_hz"], voiced) / F0_REF_HZ))
        f0_p10, f0_med, f0_p90 = _nanquantiles(f0_st, [0.1, 0.5, 0.9])
        speech_s = n_speech * GRID_S
        return np.stack([
            n5,
            np.nanmean(loud, axis=-1),
            np.nanmean(_masked(c["sharpness"], speech), axis=-1),
            np.nanmean(_masked(c["roughness"], speech), axis=-1),
            np.nanmean(_masked(c["fluctuation"], speech), axis=-1),
            f0_med,
            f0_p90 - f0_p10,
            np.where(speech_s > 0, c["nuclei"].sum(axis=-1) / np.maximum(speech_s, GRID_S),
                     np.nan),
            1.0 - n_speech / speech.shape[-1],
            np.nanmean(_masked(c["balance"], speech), axis=-1),
            _nanquantiles(_masked(c["aperiodicity"], voiced), [0.5])[0],
            _nanquantiles(np.abs(np.diff(f0_st, axis=-1)), [0.5])[0],
            _nanquantiles(_masked(c["centroid"], voiced), [0.5])[0],
            _nanquantiles(_masked(c["tilt"], voiced), [0.5])[0],
            np.nanmean(np.abs(loud[..., 2:] - loud[..., :-2]), axis=-1) / (2 * GRID_S),
            np.where(speech_s > 0, loudness_peaks(c["loudness"], speech)
                     / np.maximum(speech_s, GRID_S), np.nan),
        ], axis=-1)


#: Rise and fall around a syllable's loudness peak, in loudness level steps (10 per
#: doubling of loudness, ~phon), and the least time between two peaks (grid frames).
SYLLABLE_DIP = 3.0
SYLLABLE_GAP_FRAMES = 6


#: A window whose fluctuation strength is below this (vacil) and whose syllable rate is
#: below :data:`RHYTHMLESS_SYLLABLE_RATE` has no voice's rhythm (see :func:`rhythmless`).
RHYTHMLESS_FLUCTUATION_VACIL = 0.6
#: Syllables (loudness peaks) per second of "speech" below which a window has none.
RHYTHMLESS_SYLLABLE_RATE = 1.0
_FLUCTUATION = FEATURE_NAMES.index("fluctuation_vacil")
_SYLLABLES = FEATURE_NAMES.index("syllable_rate_syl_s")


def rhythmless(features: np.ndarray) -> np.ndarray:
    """Per window (rows of :data:`FEATURE_NAMES`, any leading shape): True where the
    "speech" has no voice's rhythm, no syllabic modulation and no syllables: music or a
    tone that passed the voice detector (a caller on hold hears it on the agent's side),
    not a voice to judge. Speech always has both: over the 5,231 telephone windows of the
    detection benchmark (every emotion, sadness and boredom included), fluctuation
    strength was at least 0.77 vacil and no window fell under both limits; over the
    simulator's voices, at least 1.39 vacil and 2.4 syllables/s. Synthetic hold music's
    windows: 0.05-0.24 vacil, 0-0.8 syllables/s. NaN rows are False."""
    features = np.asarray(features)
    return ((features[..., _FLUCTUATION] < RHYTHMLESS_FLUCTUATION_VACIL)
            & (features[..., _SYLLABLES] < RHYTHMLESS_SYLLABLE_RATE))


def loudness_peaks(loudness_sone: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Syllables of windows ``(..., frames)``: peaks of the loudness contour on speech.

    de Jong & Wempe's peak picking (a peak stands :data:`SYLLABLE_DIP` above the dips on
    both sides and comes :data:`SYLLABLE_GAP_FRAMES` or more after the last counted one)
    on the time-varying loudness N(t) of the 10 ms grid, in loudness level
    (``10 log2 N``); being a level *ratio*, the count does not follow the line's gain.
    RAVDESS's 7-syllable sentences read 7.3 on the telephone line. Syllables of fast
    speech still merge (a sentence played 1.6x faster counts ~1.36x as many per second
    of the original, as the nuclei of ``speech_rate_syl_s`` do), but per window the
    count varies less within a speaker: on qa_bench's calls an agent turn's rate
    against the call's median separates fast turns from ordinary ones with AUC 0.994
    (nuclei: 0.908; benchmarks/RESULTS.md, seventh round).
    """
    lead, n = loudness_sone.shape[:-1], int(np.prod(loudness_sone.shape[:-1]))
    level = 10.0 * np.log2(np.nan_to_num(loudness_sone, nan=0.0) + 0.05)
    flat_level = np.ascontiguousarray(level.reshape(n, level.shape[-1]))
    flat_speech = np.ascontiguousarray(speech.reshape(n, speech.shape[-1]))
    out = np.zeros(flat_level.shape[0])
    _peaks_kernel(flat_level, flat_speech, SYLLABLE_DIP, SYLLABLE_GAP_FRAMES, out)
    return out.reshape(lead)


@njit(cache=True, nogil=True)
def _peaks_kernel(level, speech, min_dip, min_gap, out):  # pragma: no cover - compiled
    for w in range(level.shape[0]):
        if level.shape[1] == 0:
            continue
        rising, peak, peak_at, dip, last, count = False, -np.inf, -1, level[w, 0], -min_gap, 0
        for t in range(level.shape[1]):
            x = level[w, t]
            if rising:  # follow the peak until the level falls min_dip below it
                if x > peak:
                    peak, peak_at = x, t
                elif x < peak - min_dip:
                    if speech[w, peak_at] and peak_at - last >= min_gap:
                        count += 1
                        last = peak_at
                    rising, dip = False, x
            elif x < dip:  # follow the dip until the level rises min_dip above it
                dip = x
            elif x > dip + min_dip:
                rising, peak, peak_at = True, x, t
        out[w] = count


def fold_octave_errors(f0_st: np.ndarray, tolerance_st: float = 9.0) -> np.ndarray:
    """Move pitch values more than ``tolerance_st`` from their window's median by whole
    octaves towards it, shape ``(..., frames)`` in semitones.

    A tracker's octave jumps (halving or doubling on a strong harmonic, common on the
    telephone line) would otherwise dominate a percentile range; no voice moves 9
    semitones from its median within a 3 s window often enough to matter.
    """
    median = _nanquantiles(f0_st, [0.5])[0][..., None]
    offset = f0_st - median
    shift = np.where(np.abs(offset) > tolerance_st, 12.0 * np.round(offset / 12.0), 0.0)
    return f0_st - shift


def spectral_balance(specific_loudness: np.ndarray, bark_axis: np.ndarray) -> np.ndarray:
    """Share of specific loudness above :data:`BALANCE_SPLIT_BARK`, per frame (0..1)."""
    total = specific_loudness.sum(axis=-1)
    high = specific_loudness[..., bark_axis > BALANCE_SPLIT_BARK].sum(axis=-1)
    return np.where(total > 0, high / np.where(total > 0, total, 1.0), 0.0)
