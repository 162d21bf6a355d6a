"""ISO 532-1:2017 time-varying Zwicker loudness (clause 6), with N5 and Nmax.

Pipeline (clause 6, Annex A.4 ``f_loudness_from_signal``): 48 kHz third-octave
filterbank, squaring and smoothing → levels every 0.5 ms → core loudness →
nonlinear temporal decay → specific loudness slopes → temporal weighting of total
loudness → every 4th value, i.e. one output every 2 ms.

The two temporal stages are public and take the step size, so that a streaming
engine can run them at another frame rate (e.g. 8 ms) and carry their state from one
chunk to the next: :func:`nonlinear_temporal_decay`, :func:`temporal_weighting`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from emotion._subnormal import flushed

from ._iso532_filterbank import third_octave_levels_time
from ._iso532_tables import (
    BARK_AXIS,
    INNER_RATE_HZ,
    LEVEL_RATE_HZ,
    LOUDNESS_RATE_HZ,
    NL_TAU_LONG_S,
    NL_TAU_SHORT_S,
    NL_TAU_VAR_S,
    TW_TAU_LONG_S,
    TW_TAU_SHORT_S,
    TW_WEIGHT_LONG,
    TW_WEIGHT_SHORT,
)
from ._zwicker_core import (
    core_loudness_from_third_octave_levels,
    field_is_diffuse,
    specific_loudness_from_core_loudness,
)
from .loudness_zwst import resample_to_48k

__all__ = [
    "LEVEL_STEP_S",
    "OUTPUT_STEP_S",
    "loudness_n5",
    "loudness_nmax",
    "loudness_zwtv",
    "nonlinear_temporal_decay",
    "temporal_weighting",
]

#: Step of third-octave levels and core loudness, s (A.4 ``SR_LEVEL`` = 2 kHz).
LEVEL_STEP_S = 1.0 / LEVEL_RATE_HZ
#: Step of the time-varying loudness output, s (A.4 ``SR_LOUDNESS`` = 500 Hz).
OUTPUT_STEP_S = 1.0 / LOUDNESS_RATE_HZ
_OUTPUT_DECIMATION = round(LEVEL_RATE_HZ / LOUDNESS_RATE_HZ)


def _inner_iterations(step_s: float, inner_iterations: int | None) -> int:
    if step_s <= 0:
        raise ValueError(f"step_s must be positive, got {step_s}")
    if inner_iterations is None:
        # A.4 NL_ITER = LP_ITER = 24 at 0.5 ms: an inner rate of 48 kHz.
        return max(1, round(step_s * INNER_RATE_HZ))
    if inner_iterations < 1:
        raise ValueError(f"inner_iterations must be >= 1, got {inner_iterations}")
    return int(inner_iterations)


def _nl_coefficients(delta_t_s: float) -> np.ndarray:
    """B(0…5) of the two-capacitor decay network for inner step Δt (A.4 ``f_init_nl_lp``)."""
    t_short, t_long, t_var = NL_TAU_SHORT_S, NL_TAU_LONG_S, NL_TAU_VAR_S
    p = (t_var + t_long) / (t_var * t_short)
    q = 1.0 / (t_short * t_var)
    lambda_1 = -p / 2.0 + math.sqrt(p * p / 4.0 - q)
    lambda_2 = -p / 2.0 - math.sqrt(p * p / 4.0 - q)
    den = t_var * (lambda_1 - lambda_2)
    e1 = math.exp(lambda_1 * delta_t_s)
    e2 = math.exp(lambda_2 * delta_t_s)
    return np.array([
        (e1 - e2) / den,
        ((t_var * lambda_2 + 1.0) * e1 - (t_var * lambda_1 + 1.0) * e2) / den,
        ((t_var * lambda_1 + 1.0) * e1 - (t_var * lambda_2 + 1.0) * e2) / den,
        (t_var * lambda_1 + 1.0) * (t_var * lambda_2 + 1.0) * (e1 - e2) / den,
        math.exp(-delta_t_s / t_long),
        math.exp(-delta_t_s / t_var),
    ])


@njit(cache=True, nogil=True)
def _nl_kernel(x, c, n_iter, state, out):  # pragma: no cover - compiled
    """A.4 ``f_nl`` on x (T, M), carrying state (3, M) = (Uo, U2, previous input).

    Each step is A.4 ``f_nl_lp`` (cases 1.1, 1.2, 2 and 3) written with selects and no
    branches, lanes innermost, so that the compiler runs the lanes in SIMD (8x faster
    than a branchy step per lane). States below ``TINY`` become zero
    (:mod:`emotion._subnormal`).
    """
    n_t, n_m = x.shape
    uo = state[0].copy()
    u2 = state[1].copy()
    prev = state[2].copy()
    c0, c1, c2, c3, c4, c5 = c[0], c[1], c[2], c[3], c[4], c[5]
    delta = np.empty(n_m)
    ui = np.empty(n_m)
    started = np.empty(n_m)
    for t in range(n_t):
        # Inner iterations on the line from the previous input to this one; a lane
        # without a previous input (its first sample) has none, as in the standard.
        for m in range(n_m):
            p = prev[m]
            has_prev = p == p  # not NaN
            started[m] = 1.0 if has_prev else 0.0
            delta[m] = (x[t, m] - p) / n_iter if has_prev else 0.0
            ui[m] = p + delta[m] if has_prev else 0.0
        for it in range(n_iter):
            last = it == n_iter - 1
            for m in range(n_m):
                u = x[t, m] if last else ui[m]
                uo_last = uo[m]
                u2_last = u2[m]
                falling = u < uo_last
                charged = uo_last > u2_last
                uo_fall = max(uo_last * c2 - u2_last * c3 if charged else uo_last * c4, u)
                u2_fall = min(uo_last * c0 - u2_last * c1, uo_fall) if charged else uo_fall
                u2_rise = (u2_last - u) * c5 + u
                if abs(u - uo_last) < 1e-5 and not u > u2_last:
                    u2_rise = u
                keep = last or started[m] > 0.0
                uo[m] = (uo_fall if falling else u) if keep else uo_last
                u2[m] = (u2_fall if falling else u2_rise) if keep else u2_last
                ui[m] += delta[m]
        for m in range(n_m):
            # Decays on silence end at zero, not among subnormal numbers.
            uo[m] = flushed(uo[m])
            u2[m] = flushed(u2[m])
            out[t, m] = uo[m]
            prev[m] = x[t, m]
    state[0] = uo
    state[1] = u2
    state[2] = prev


@njit(cache=True, nogil=True)
def _lowpass_pair_kernel(x, a, n_iter, w, state, out):  # pragma: no cover - compiled
    """A.4 ``f_lowpass_intp`` twice and the weighted sum, on x (T, M).

    ``a`` holds A1 of the two low-passes, ``w`` their weights; state (3, M) is
    (Y1 of filter 1, Y1 of filter 2, previous input).
    """
    n_t, n_m = x.shape
    y1 = state[0].copy()
    y2 = state[1].copy()
    prev = state[2].copy()
    b1 = 1.0 - a[0]
    b2 = 1.0 - a[1]
    for t in range(n_t):
        for m in range(n_m):
            if not np.isnan(prev[m]):
                xd = (x[t, m] - prev[m]) / n_iter
                x0 = prev[m]
                for _ in range(1, n_iter):
                    x0 += xd
                    y1[m] = b1 * x0 + a[0] * y1[m]
                    y2[m] = b2 * x0 + a[1] * y2[m]
            y1[m] = b1 * x[t, m] + a[0] * y1[m]
            y2[m] = b2 * x[t, m] + a[1] * y2[m]
            # Decays on silence end at zero, not among subnormal numbers.
            y1[m] = flushed(y1[m])
            y2[m] = flushed(y2[m])
            out[t, m] = w[0] * y1[m] + w[1] * y2[m]
            prev[m] = x[t, m]
    state[0] = y1
    state[1] = y2
    state[2] = prev


def _initial_state(lead: tuple[int, ...], n_m: int) -> np.ndarray:
    state = np.zeros((*lead, 3, n_m))
    state[..., 2, :] = np.nan  # no previous input yet: start without inner iterations
    return state


def nonlinear_temporal_decay(
    core_loudness: np.ndarray,
    step_s: float = LEVEL_STEP_S,
    *,
    inner_iterations: int | None = None,
    state: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nonlinear temporal decay of the core loudness (ISO 532-1 clause 6, A.4 ``f_nl``).

    Fast rise, decay whose speed depends on how long the loudness lasted: a network of
    two capacitors with τ_short = 5 ms, τ_long = 15 ms, τ_var = 75 ms, evaluated on the
    linear interpolation of the input at ``inner_iterations`` points per step.

    Parameters
    ----------
    core_loudness : array_like, shape (..., T, bands)
        Core loudness series (sone/Bark), time on the second-to-last axis, e.g.
        (streams, T, 21).
    step_s : float
        Time step between rows, s; the standard uses 0.5 ms.
    inner_iterations : int, optional
        Interpolation points per step; default gives a 48 kHz inner rate (24 at
        0.5 ms, as the standard).
    state : ndarray, shape (..., 3, bands), optional
        State returned by the previous call on the preceding chunk; None starts from
        discharged capacitors, as the standard does.

    Returns
    -------
    core_loudness_decayed : ndarray, shape (..., T, bands)
        Core loudness after the decay stage.
    state : ndarray, shape (..., 3, bands)
        State to pass with the next chunk (chunked calls equal one whole call).
    """
    x = np.asarray(core_loudness, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"core_loudness must be (..., T, bands), got shape {x.shape}")
    n_iter = _inner_iterations(step_s, inner_iterations)
    coefficients = _nl_coefficients(step_s / n_iter)
    lead, (n_t, n_b) = x.shape[:-2], x.shape[-2:]
    if state is None:
        state = _initial_state(lead, n_b)
    # Bands of all series side by side: (T, series · bands) for SIMD across them.
    flat = np.ascontiguousarray(np.moveaxis(x.reshape(-1, n_t, n_b), 0, 1).reshape(n_t, -1))
    flat_state = np.ascontiguousarray(
        np.moveaxis(np.asarray(state, dtype=np.float64).reshape(-1, 3, n_b), 0, 1).reshape(3, -1)
    )
    out = np.empty_like(flat)
    _nl_kernel(flat, coefficients, n_iter, flat_state, out)
    decayed = np.moveaxis(out.reshape(n_t, -1, n_b), 1, 0).reshape(x.shape)
    new_state = np.moveaxis(flat_state.reshape(3, -1, n_b), 1, 0).reshape((*lead, 3, n_b))
    return decayed, new_state


def temporal_weighting(
    loudness: np.ndarray,
    step_s: float = LEVEL_STEP_S,
    *,
    inner_iterations: int | None = None,
    state: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Temporal weighting of total loudness (ISO 532-1 clause 6, A.4).

    N_w = 0.47 · LP_3.5ms(N) + 0.53 · LP_70ms(N): two first-order low-passes on the
    linearly interpolated N, modelling the duration dependence of loudness of short
    sounds.

    Parameters
    ----------
    loudness : array_like, shape (..., T)
        Total loudness series N in sone, time on the last axis.
    step_s : float
        Time step of the series, s; the standard uses 0.5 ms.
    inner_iterations : int, optional
        Interpolation points per step; default gives a 48 kHz inner rate.
    state : ndarray, shape (..., 3), optional
        State from the previous chunk; None starts from zero, as the standard does.

    Returns
    -------
    loudness_weighted : ndarray, shape (..., T)
        Temporally weighted total loudness, sone.
    state : ndarray, shape (..., 3)
        State to pass with the next chunk.
    """
    x = np.asarray(loudness, dtype=np.float64)
    if x.ndim < 1:
        raise ValueError("loudness must have a time axis")
    n_iter = _inner_iterations(step_s, inner_iterations)
    dt = step_s / n_iter
    a = np.exp(-dt / np.array([TW_TAU_SHORT_S, TW_TAU_LONG_S]))
    weights = np.array([TW_WEIGHT_SHORT, TW_WEIGHT_LONG])
    lead, n_t = x.shape[:-1], x.shape[-1]
    if state is None:
        state = _initial_state(lead, 1)[..., 0]
    flat = np.ascontiguousarray(x.reshape(-1, n_t).T)
    flat_state = np.ascontiguousarray(np.asarray(state, dtype=np.float64).reshape(-1, 3).T)
    out = np.empty_like(flat)
    _lowpass_pair_kernel(flat, a, n_iter, weights, flat_state, out)
    return out.T.reshape(x.shape), flat_state.T.reshape((*lead, 3))


def loudness_zwtv(signal, fs, field_type="free"):
    """Time-varying loudness after ISO 532-1:2017 clause 6 (Zwicker method).

    Parameters
    ----------
    signal : array_like, shape (samples,) or (streams, samples)
        Sound pressure in Pa. Rates other than 48 kHz are resampled to 48 kHz, the
        only rate of the standard's filterbank.
    fs : float
        Sampling rate of ``signal``, Hz.
    field_type : {"free", "diffuse"}
        Sound field.

    Returns
    -------
    N : ndarray, shape (T,) or (streams, T)
        Total loudness every 2 ms, sone.
    N_spec : ndarray, shape (240, T) or (streams, 240, T)
        Specific loudness every 2 ms, sone/Bark (MoSQITo's layout: Bark, then time).
    bark_axis : ndarray, shape (240,)
        Critical band rate z = 0.1 … 24 Bark.
    time_axis : ndarray, shape (T,)
        Time of each output, s: k · 2 ms (T = samples at 48 kHz // 96).
    """
    field_is_diffuse(field_type)  # validate before the filterbank runs
    x48 = resample_to_48k(signal, fs)
    levels = third_octave_levels_time(np.atleast_2d(x48))  # (S, T_level, 28), 6.3
    n_out = levels.shape[1] // _OUTPUT_DECIMATION  # A.4 NumSamplesLevel / DecFactorLoudness
    core = core_loudness_from_third_octave_levels(levels, field_type)
    core, _ = nonlinear_temporal_decay(core, LEVEL_STEP_S)
    n_level, n_spec = specific_loudness_from_core_loudness(core, spec_step=_OUTPUT_DECIMATION)
    n_weighted, _ = temporal_weighting(n_level, LEVEL_STEP_S)
    N = n_weighted[:, : n_out * _OUTPUT_DECIMATION : _OUTPUT_DECIMATION]
    N_spec = np.swapaxes(n_spec[:, :n_out], 1, 2)
    time_axis = np.arange(n_out) * OUTPUT_STEP_S
    if np.ndim(signal) == 1:
        N, N_spec = N[0], N_spec[0]
    return N, N_spec, BARK_AXIS.copy(), time_axis


def loudness_nmax(N):
    """Maximum loudness Nmax over time (ISO 532-1, A.4 ``f_max_of_buffer``).

    Parameters
    ----------
    N : array_like, shape (T,) or (streams, T)
        Time-varying loudness, sone.

    Returns
    -------
    N_max : float or ndarray, shape (streams,)
        Largest value of N (at least 0, as the reference program starts from 0), sone.
    """
    n = np.asarray(N, dtype=np.float64)
    if n.shape[-1:] == (0,) or n.ndim == 0:
        raise ValueError("N must be a non-empty loudness series")
    n_max = np.maximum(n.max(axis=-1), 0.0)
    return n_max[()] if n_max.ndim == 0 else n_max


def loudness_n5(N, time_axis=None):
    """Percentile loudness N5, the loudness reached or exceeded 5 % of the time.

    Implements the reference program's estimator (ISO 532-1, A.4 ``f_calc_percentile``
    with P = 5): sort the 2 ms series ascending, k = ⌊(1 − 5/100) · n⌋, and average
    the values at positions k − 1 and k. The whole series is used, with no start-up
    skip; this differs from ``np.percentile(N, 95)`` by up to a few percent on short
    series.

    Parameters
    ----------
    N : array_like, shape (T,) or (streams, T)
        Time-varying loudness on a uniform time grid (2 ms in the standard), sone.
    time_axis : array_like, shape (T,), optional
        Times of N, s; if given, it is checked to be uniform and as long as N, since
        the estimator weighs every sample equally.

    Returns
    -------
    N5 : float or ndarray, shape (streams,)
        Percentile loudness, sone.
    """
    n = np.asarray(N, dtype=np.float64)
    if n.ndim == 0 or n.shape[-1] < 2:
        raise ValueError("N5 needs a loudness series of at least 2 values")
    if time_axis is not None:
        t = np.asarray(time_axis, dtype=np.float64)
        if t.shape != n.shape[-1:]:
            raise ValueError(f"time_axis has shape {t.shape}, N has {n.shape[-1]} times")
        steps = np.diff(t)
        if not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9):
            raise ValueError("N5 needs N on a uniform time grid; resample N first")
    ordered = np.sort(n, axis=-1)
    k = int((1.0 - 5.0 / 100.0) * n.shape[-1])  # A.4: Np = (int)((1 - P/100) · n)
    n5 = (ordered[..., k - 1] + ordered[..., k]) / 2.0
    return n5[()] if n5.ndim == 0 else n5
