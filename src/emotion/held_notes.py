"""Held notes: how much of a stretch of audio is music rather than a voice.

Music holds its notes; a voice moves its harmonics with its pitch and its formants with
its vowels, and noise has no spectral peaks. :func:`persistent_share` gives, per frame,
the share of the telephone band's power in spectral peaks held for
:data:`PERSIST_FRAMES` frames (240 ms at 30 ms frames): over real speech of both shared
corpora on the telephone line, its running median over 3 s has a 99th percentile of 0
and a largest value of 0.18; over synthetic hold music
(:func:`capture.synth.hold_music`), a 5th percentile of 0.23-0.53. A stretch whose
running median reaches :data:`MIN_PERSISTENT_SHARE` is music. Pre-inspection finds
holds with it (:mod:`qa.hold`). The live engine, which would need each seat's recent
audio for it, tells the music that reaches it by the window's rhythm instead
(:func:`emotion.windows.rhythmless`; README, *Design decisions*).
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

#: Frames a spectral peak must be held for (at 30 ms frames, 240 ms: a note, not a
#: vowel's glide; at 90 ms, real speech reached the music's share 5 % of the time).
PERSIST_FRAMES = 8
#: A peak stands this far above the frame's median band power (power ratio).
PEAK_OVER_MEDIAN = 10.0
#: Least share of the band's power in held peaks, as a running median, for music.
MIN_PERSISTENT_SHARE = 0.1
#: The band looked at (Hz): the telephone band.
BAND_HZ = (300.0, 3400.0)


def persistent_share(samples: np.ndarray, fs_hz: int, frame_len: int) -> np.ndarray:
    """Per frame of ``frame_len`` samples: the share of the band's power in spectral
    peaks held for :data:`PERSIST_FRAMES` frames (the frame and the ones before it,
    within a bin either way)."""
    n_frames = samples.size // frame_len
    size = 1 << int(np.ceil(np.log2(max(frame_len, 32))))
    frames = np.zeros((n_frames, size), dtype=np.float32)
    frames[:, :frame_len] = samples[: n_frames * frame_len].reshape(n_frames, frame_len)
    frames[:, :frame_len] *= np.hanning(frame_len).astype(np.float32)
    power = np.abs(sfft.rfft(frames, axis=1)) ** 2
    low, high = (int(round(f * size / fs_hz)) for f in BAND_HZ)
    band = power[:, low: high + 1] + 1e-20
    inner = band[:, 1:-1]
    peak = ((inner > band[:, :-2]) & (inner >= band[:, 2:])
            & (inner > PEAK_OVER_MEDIAN * np.median(band, axis=1, keepdims=True)))
    near = peak.copy()
    near[:, 1:] |= peak[:, :-1]
    near[:, :-1] |= peak[:, 1:]
    held = peak.copy()
    for k in range(1, PERSIST_FRAMES):
        held[k:] &= near[:-k]
        held[:k] = False
    return (inner * held).sum(axis=1) / band.sum(axis=1)


def running_median(values: np.ndarray, width: int) -> np.ndarray:
    """Median of ``values`` over ``width`` samples centred on each (edges repeated)."""
    if width <= 1 or values.size == 0:
        return values
    half = width // 2
    padded = np.pad(values, half, mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.median(view, axis=1)
