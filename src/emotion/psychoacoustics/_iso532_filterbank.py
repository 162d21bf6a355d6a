"""ISO 532-1:2017 Annex A third-octave filterbank at 48 kHz, squaring and smoothing.

The 28 band filters are each three biquads in direct form II with the standard's
reference coefficients (Tables A.1, A.2). The squared band signal is either smoothed by
three first-order low-passes with a band-dependent time constant and sampled every
0.5 ms (time-varying method, 6.3), or averaged over the whole signal (stationary
method, clause 5 via A.4 ``f_square_and_smooth``).

One compiled loop runs over samples and, inside it, over the 28 bands, so the band
recursions (independent of each other) are evaluated side by side in SIMD registers;
filtering, squaring, smoothing and decimation are fused, nothing of full-rate length
is stored. Everything is float64, as in the reference program.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from emotion._subnormal import flushed

from ._iso532_tables import (
    FILTER_A_DIFF,
    FILTER_GAIN,
    FILTER_REF,
    FS_HZ,
    I_REF_PA2,
    LEVEL_RATE_HZ,
    SMOOTHING_TAU_S,
    THIRD_OCTAVE_CENTRES_HZ,
    TINY_VALUE_PA2,
)

__all__ = [
    "DECIMATION",
    "third_octave_levels_mean",
    "third_octave_levels_time",
]

_N_BANDS = THIRD_OCTAVE_CENTRES_HZ.size
#: Samples of the 48 kHz signal per 0.5 ms level step (A.4 ``DecFactorLevel``).
DECIMATION = int(FS_HZ / LEVEL_RATE_HZ)

# Table A.1 minus Table A.2: a1 = a1r − a1d, a2 = a2r − a2d per (stage, band).
_A1 = np.ascontiguousarray(FILTER_REF[:, 4][:, None] - FILTER_A_DIFF[:, :, 0].T)
_A2 = np.ascontiguousarray(FILTER_REF[:, 5][:, None] - FILTER_A_DIFF[:, :, 1].T)
_GAIN = np.ascontiguousarray(FILTER_GAIN)
# b coefficients are the same for every band (Table A.1): (1, 2, 1), (1, 0, −1), (1, −2, 1).
assert np.all(FILTER_REF[:, :3] == [[1, 2, 1], [1, 0, -1], [1, -2, 1]])
# Smoothing low-pass y = B0 x + A1 y[−1], A1 = exp(−1/(fs τ)) (A.4 ``f_lowpass``).
_LP_A = np.ascontiguousarray(np.exp(-1.0 / (FS_HZ * SMOOTHING_TAU_S)))
_LP_B = np.ascontiguousarray(1.0 - _LP_A)


@njit(cache=True, nogil=True, inline="always")
def _band_filters_squared(x_n, w, out):  # pragma: no cover - compiled
    """One input sample through the 28 three-stage band filters; squared outputs to out.

    ``w`` holds the direct-form-II states, shape (6, 28): rows (w1, w2) of stage 1, 2, 3
    (A.4 ``f_filter_2ndOrder``: Wn0 = x·gain − a1·Wn1 − a2·Wn2, y = b·(Wn0, Wn1, Wn2)).
    """
    for b in range(_GAIN.shape[0]):
        w1 = w[0, b]
        w2 = w[1, b]
        w0 = x_n * _GAIN[b] - _A1[0, b] * w1 - _A2[0, b] * w2
        v = w0 + 2.0 * w1 + w2
        w[1, b] = w1
        w[0, b] = w0
        w1 = w[2, b]
        w2 = w[3, b]
        w0 = v - _A1[1, b] * w1 - _A2[1, b] * w2
        v = w0 - w2
        w[3, b] = w1
        w[2, b] = w0
        w1 = w[4, b]
        w2 = w[5, b]
        w0 = v - _A1[2, b] * w1 - _A2[2, b] * w2
        v = w0 - 2.0 * w1 + w2
        w[5, b] = w1
        w[4, b] = w0
        out[b] = v * v


@njit(cache=True, nogil=True, inline="always")
def _flush(states):  # pragma: no cover - compiled
    """States below TINY become zero (:mod:`emotion._subnormal`): a band filter's
    fastest decay over :data:`DECIMATION` samples is to 0.02 (pole radius 0.85), so no
    state falls from TINY into the subnormal range between two flushes."""
    flat = states.reshape(-1)
    for i in range(flat.size):
        flat[i] = flushed(flat[i])


@njit(cache=True, nogil=True)
def _smoothed_kernel(x, intensity_out):  # pragma: no cover - compiled
    """Filter, square, smooth (3 × first-order low-pass) and keep every 24th sample."""
    n_bands = _GAIN.shape[0]
    w = np.zeros((6, n_bands))
    p = np.zeros(n_bands)
    s = np.zeros((3, n_bands))
    n_out = intensity_out.shape[0]
    for n in range(n_out * DECIMATION):
        if n % DECIMATION == 0:  # silence decays to zero, not to subnormal numbers
            _flush(w)
            _flush(s)
        _band_filters_squared(x[n], w, p)
        for b in range(n_bands):
            s0 = _LP_B[b] * p[b] + _LP_A[b] * s[0, b]
            s1 = _LP_B[b] * s0 + _LP_A[b] * s[1, b]
            s2 = _LP_B[b] * s1 + _LP_A[b] * s[2, b]
            s[0, b] = s0
            s[1, b] = s1
            s[2, b] = s2
        if n % DECIMATION == 0:
            for b in range(n_bands):
                intensity_out[n // DECIMATION, b] = s[2, b]


@njit(cache=True, nogil=True)
def _mean_square_kernel(x, n_skip, mean_out):  # pragma: no cover - compiled
    """Filter and square; mean over samples n_skip … end (A.4, stationary branch)."""
    n_bands = _GAIN.shape[0]
    w = np.zeros((6, n_bands))
    p = np.zeros(n_bands)
    acc = np.zeros(n_bands)
    for n in range(x.shape[0]):
        if n % DECIMATION == 0:  # silence decays to zero, not to subnormal numbers
            _flush(w)
        _band_filters_squared(x[n], w, p)
        if n >= n_skip:
            for b in range(n_bands):
                acc[b] += p[b]
    for b in range(n_bands):
        mean_out[b] = acc[b] / (x.shape[0] - n_skip)


def _as_streams(signal_pa: np.ndarray) -> np.ndarray:
    x = np.asarray(signal_pa, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(
            f"signal must be (samples,) or (streams, samples) sound pressure in Pa, "
            f"got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("signal contains NaN or infinite samples; clean or drop them first")
    return np.atleast_2d(x)


def _level_db(intensity_pa2: np.ndarray) -> np.ndarray:
    # A.4 f_calc_third_octave_levels: L = 10 lg((I + TINY_VALUE) / I_REF).
    return 10.0 * np.log10((intensity_pa2 + TINY_VALUE_PA2) / I_REF_PA2)


def third_octave_levels_time(signal_pa: np.ndarray) -> np.ndarray:
    """Third-octave levels over time at 0.5 ms steps (ISO 532-1 6.3, Annex A).

    Parameters
    ----------
    signal_pa : array_like, shape (samples,) or (streams, samples)
        Sound pressure in Pa sampled at 48 kHz.

    Returns
    -------
    levels_db : ndarray, shape (samples // 24, 28) or (streams, samples // 24, 28)
        Band levels in dB SPL; row k is the smoothed intensity at sample 24·k.
    """
    x = _as_streams(signal_pa)
    n_steps = x.shape[1] // DECIMATION
    intensity = np.empty((x.shape[0], n_steps, _N_BANDS))
    for i in range(x.shape[0]):
        _smoothed_kernel(np.ascontiguousarray(x[i]), intensity[i])
    levels = _level_db(intensity)
    return levels[0] if np.ndim(signal_pa) == 1 else levels


def third_octave_levels_mean(signal_pa: np.ndarray, time_skip_s: float = 0.0) -> np.ndarray:
    """Third-octave levels of the whole signal from the mean squared band signals.

    This is the stationary method's level computation of the reference program
    (A.4 ``f_square_and_smooth``, stationary branch): band intensity averaged from
    ``time_skip_s`` to the end.

    Parameters
    ----------
    signal_pa : array_like, shape (samples,) or (streams, samples)
        Sound pressure in Pa sampled at 48 kHz.
    time_skip_s : float
        Start of the averaging, s (skips the filters' start-up transient).

    Returns
    -------
    levels_db : ndarray, shape (28,) or (streams, 28)
        Band levels in dB SPL.
    """
    x = _as_streams(signal_pa)
    n_skip = int(np.floor(time_skip_s * FS_HZ))
    if time_skip_s < 0 or n_skip >= x.shape[1]:
        raise ValueError(
            f"time_skip_s={time_skip_s} s leaves nothing of a {x.shape[1] / FS_HZ:.3f} s "
            "signal to average; use a smaller skip or a longer signal"
        )
    mean = np.empty((x.shape[0], _N_BANDS))
    for i in range(x.shape[0]):
        _mean_square_kernel(np.ascontiguousarray(x[i]), n_skip, mean[i])
    levels = _level_db(mean)
    return levels[0] if np.ndim(signal_pa) == 1 else levels
