"""ISO 532-1:2017 core: third-octave levels → core loudness → specific loudness N'(z).

Shared by the stationary and time-varying methods and by the streaming engine. The
work is split where the time-varying method needs it: the nonlinear temporal decay
(:func:`.loudness_zwtv.nonlinear_temporal_decay`) acts on the core loudness *between*
the two steps.

* :func:`core_loudness_from_third_octave_levels` - Annex A.4 ``f_corr_third_octave_
  intensities``, ``f_calc_lcbs``, ``f_calc_core_loudness``, ``f_corr_loudness``.
* :func:`specific_loudness_from_core_loudness` - Annex A.4 ``f_calc_slopes``.
* :func:`specific_loudness_from_third_octave_levels` - both in one pass per row, for
  the stationary method and for streaming at many rows per call.

Rows are any leading axes: ``(..., 28)`` levels give ``(..., 21)`` core loudness and
``(...)`` N with ``(..., 240)`` N'. Each row is processed by a compiled loop (the
slope construction is sequential along z), so a call costs about a microsecond per
row whatever the number of rows.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._iso532_tables import (
    A0_DB,
    BARK_AXIS,
    CORE_LOUDNESS_EXPONENT,
    CORE_LOUDNESS_S,
    CORE_LOUDNESS_SCALE,
    DCB_DB,
    DDF_DB,
    DLL_DB,
    LOW_CRITICAL_BAND_SLICES,
    LTQ_DB,
    RAP_DB,
    RNS_SONE_PER_BARK,
    THIRD_OCTAVE_CENTRES_HZ,
    USL,
    ZUP_BARK,
    ZUP_MARGIN_BARK,
)

__all__ = [
    "BARK_AXIS",
    "N_CORE_BANDS",
    "THIRD_OCTAVE_CENTRES_HZ",
    "core_loudness_from_third_octave_levels",
    "field_is_diffuse",
    "specific_loudness_from_core_loudness",
    "specific_loudness_from_third_octave_levels",
]

#: Number of core loudness values: 20 approximated critical bands plus a closing zero.
N_CORE_BANDS = 21
_N_BANDS = THIRD_OCTAVE_CENTRES_HZ.size
_N_LOW = DLL_DB.shape[1]  # 11 third-octave bands 25-250 Hz (Table A.3)
_N_BARK = BARK_AXIS.size

# Compiled-in constants. Level limits RAP − DLL of Table A.3, shape (8, 11).
_LIMITS_DB = np.ascontiguousarray(RAP_DB[:, None] - DLL_DB)
_DLL = np.ascontiguousarray(DLL_DB)
# Critical band (0, 1, 2) of each of the 11 low third-octave bands (A.4 f_calc_lcbs).
_LCB_OF_BAND = np.zeros(_N_LOW, dtype=np.int64)
for _k, (_start, _stop) in enumerate(LOW_CRITICAL_BAND_SLICES):
    _LCB_OF_BAND[_start:_stop] = _k
_A0 = np.ascontiguousarray(A0_DB)
_DDF = np.ascontiguousarray(DDF_DB)
_LTQ = np.ascontiguousarray(LTQ_DB)
_DCB = np.ascontiguousarray(DCB_DB)
_CORE_SCALE = np.ascontiguousarray(CORE_LOUDNESS_SCALE * 10.0 ** (0.025 * LTQ_DB))
_S = CORE_LOUDNESS_S
assert CORE_LOUDNESS_EXPONENT == 0.25  # evaluated as two square roots
_LN10_OVER_10 = np.log(10.0) / 10.0
# Slope constants: the 0.1-Bark grid and ZUP with the reference program's margin
# (A.4 f_calc_slopes: _ZUP = ZUP + .0001).
_Z_GRID = np.ascontiguousarray(BARK_AXIS, dtype=np.float64)
_ZUP_CMP = np.ascontiguousarray(ZUP_BARK + ZUP_MARGIN_BARK)
_RNS = np.ascontiguousarray(RNS_SONE_PER_BARK)
_USL = np.ascontiguousarray(USL)


def field_is_diffuse(field_type: str) -> bool:
    """Return True for ``"diffuse"``, False for ``"free"``; raise for anything else."""
    if field_type == "free":
        return False
    if field_type == "diffuse":
        return True
    raise ValueError(f"field_type must be 'free' or 'diffuse', got {field_type!r}")


@njit(cache=True, nogil=True, inline="always")
def _core_row(levels, diffuse, core, lcb_intensity):  # pragma: no cover - compiled
    """Core loudness of one row: levels (28,) dB → core (21,) sone/Bark (A.4).
    ``lcb_intensity`` (3,) is scratch, passed in so that no row allocates."""
    lcb_intensity[:] = 0.0
    for i in range(_N_LOW):
        # f_corr_third_octave_intensities: step through the RAP ranges while
        # L > RAP(j) − DLL(j), at most to the last range (Table A.3).
        j = 0
        while j < _LIMITS_DB.shape[0] - 1 and levels[i] > _LIMITS_DB[j, i]:
            j += 1
        # f_calc_lcbs: intensities of the corrected levels summed per critical band.
        lcb_intensity[_LCB_OF_BAND[i]] += np.exp((levels[i] + _DLL[j, i]) * _LN10_OVER_10)
    for k in range(N_CORE_BANDS - 1):
        if k < 3:
            le = 10.0 * np.log10(lcb_intensity[k]) if lcb_intensity[k] > 0.0 else 0.0
        else:
            le = levels[k + _N_LOW - 3]  # third-octave bands from 315 Hz up
        # f_calc_core_loudness: ear transmission a0 (Table A.4), diffuse field ΔL_DF
        # (Table A.5), threshold in quiet L_TQ (Table A.6), third-octave → critical
        # band ΔL_CB (Table A.7), then Zwicker's law with s = 0.25:
        # N'_core = 0.0635 · 10^(0.025 L_TQ) · ((1 − s + s · 10^((L_E − L_TQ)/10))^0.25 − 1)
        le -= _A0[k]
        if diffuse:
            le += _DDF[k]
        value = 0.0
        if le > _LTQ[k]:
            le -= _DCB[k]
            base = 1.0 - _S + _S * np.exp((le - _LTQ[k]) * _LN10_OVER_10)
            value = max(_CORE_SCALE[k] * (np.sqrt(np.sqrt(base)) - 1.0), 0.0)
        core[k] = value
    core[N_CORE_BANDS - 1] = 0.0  # the closing critical band is zero
    # f_corr_loudness: threshold run within the lowest critical band.
    correction = 0.4 + 0.32 * core[0] ** 0.2
    if correction < 1.0:
        core[0] *= correction


@njit(cache=True, nogil=True, inline="always")
def _grid_end(z2, start):  # pragma: no cover - compiled
    """First index from ``start`` on whose grid z exceeds ``z2`` (the grid rises by 0.1
    Bark, so z2 · 10 is a guess that the two scans correct by a step at most)."""
    n_bark = _Z_GRID.shape[0]
    guess = z2 * 10.0
    if not guess >= start:  # also NaN
        k = start
    elif guess >= n_bark:
        k = n_bark
    else:
        k = int(guess)
    while k < n_bark and _Z_GRID[k] <= z2:
        k += 1
    while k > start and not _Z_GRID[k - 1] <= z2:
        k -= 1
    return k


@njit(cache=True, nogil=True, inline="always")
def _slopes_row(core, ns, accumulate):  # pragma: no cover - compiled
    """A.4 ``f_calc_slopes`` for one row: core (21,) → N' into ns (240,), or added to
    ns when ``accumulate``; returns N.

    The grid points of each segment are found first and then filled in a counted loop,
    the same values as the reference program's point-by-point scan.
    """
    n_rns = _RNS.shape[0]
    n1 = 0.0
    z1 = 0.0
    i_rns = 0
    i_ns = 0  # next 0.1-Bark grid index to fill
    total = 0.0
    # Past the last nonzero core band, once N' has fallen to zero, every band adds zero
    # to N and to the sums of N' (bands above an 8 kHz stream's Nyquist frequency).
    last = core.shape[0] - 1
    while last >= 0 and core[last] == 0.0:
        last -= 1
    for i_cl in range(core.shape[0]):
        if accumulate and i_cl > last and n1 == 0.0:
            break
        core_l = core[i_cl]
        zup = _ZUP_CMP[i_cl]
        i_cbn = min(max(i_cl - 1, 0), _USL.shape[1] - 1)
        next_band = False
        n2 = 0.0
        while not next_band:
            if n1 > core_l:
                # Upper slope: N' falls from n1 with steepness USL (Table A.9) to the
                # next RNS range, to the core loudness, or to the end of the band.
                usl = _USL[i_rns, i_cbn]
                n2 = max(_RNS[i_rns], core_l)
                dz = (n1 - n2) / usl
                z2 = z1 + dz
                if z2 > zup:
                    next_band = True
                    z2 = zup
                    dz = z2 - z1
                    n2 = n1 - dz * usl
                total += dz * (n1 + n2) / 2.0
                end = _grid_end(z2, i_ns)
                if accumulate:
                    for i in range(i_ns, end):
                        ns[i] += n1 - (_Z_GRID[i] - z1) * usl
                else:
                    for i in range(i_ns, end):
                        ns[i] = n1 - (_Z_GRID[i] - z1) * usl
                i_ns = end
            else:
                # Unmasked band: N' equals the core loudness up to ZUP (Table A.8).
                if n1 < core_l:
                    i_rns = 0
                    while i_rns < n_rns and _RNS[i_rns] >= core_l:
                        i_rns += 1
                next_band = True
                z2 = zup
                n2 = core_l
                total += n2 * (z2 - z1)
                end = _grid_end(z2, i_ns)
                if not accumulate:
                    ns[i_ns:end] = n2
                elif n2 != 0.0:  # adding zero leaves a sum of N' values unchanged
                    for i in range(i_ns, end):
                        ns[i] += n2
                i_ns = end
            while i_rns < n_rns - 1 and n2 <= _RNS[i_rns]:
                i_rns += 1
            z1 = z2
            n1 = n2
        total = max(total, 0.0)
    return total


@njit(cache=True, nogil=True)
def _core_kernel(levels, diffuse, core_out):  # pragma: no cover - compiled
    lcb_intensity = np.empty(3)
    for row in range(levels.shape[0]):
        _core_row(levels[row], diffuse, core_out[row], lcb_intensity)


@njit(cache=True, nogil=True)
def _slopes_kernel(core, n_out, spec_out, spec_step):  # pragma: no cover - compiled
    scratch = np.zeros(_Z_GRID.shape[0])
    for row in range(core.shape[0]):
        # N' goes straight into the output row when this row is kept.
        ns = spec_out[row // spec_step] if row % spec_step == 0 else scratch
        n_out[row] = _slopes_row(core[row], ns, False)


@njit(cache=True, nogil=True)
def _slopes_mean_kernel(core, n_out, acc, phase, steps, mean_out):  # pragma: no cover
    """N per row and N' summed over runs of ``steps`` rows: core (S, T, 21), n_out (S, T),
    acc (S, 240) the sums of the ``phase`` rows already seen, mean_out (S, F, 240)."""
    n_bark = _Z_GRID.shape[0]
    for s in range(core.shape[0]):
        p = phase
        f = 0
        for t in range(core.shape[1]):
            n_out[s, t] = _slopes_row(core[s, t], acc[s], True)
            p += 1
            if p == steps:
                for i in range(n_bark):
                    mean_out[s, f, i] = acc[s, i] / steps
                    acc[s, i] = 0.0
                f += 1
                p = 0


def specific_loudness_frame_means(
    core_loudness: np.ndarray, steps: int, acc: np.ndarray, phase: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Total loudness N of every step and N'(z) averaged over frames of ``steps`` steps.

    For a streaming consumer that needs only frame means of N' (Table A.8, A.9 per
    step): the per-step N' is never stored.

    Parameters
    ----------
    core_loudness : ndarray, shape (streams, T, 21)
    steps : int
        Steps per frame.
    acc : ndarray, shape (streams, 240)
        Sums of N' over the ``phase`` steps of the current frame seen so far; updated.
    phase : int
        Steps of the current frame before this call.

    Returns
    -------
    N : ndarray, shape (streams, T)
    N_spec_mean : ndarray, shape (streams, F, 240)
        Mean N' of each frame completed by this call, sone/Bark.
    phase : int
        Steps of the next frame already summed in ``acc``.
    """
    core = np.ascontiguousarray(core_loudness, dtype=np.float64)
    n_streams, n_t = core.shape[:2]
    n_frames = (phase + n_t) // steps
    n_total = np.empty((n_streams, n_t))
    mean = np.empty((n_streams, n_frames, _N_BARK))
    _slopes_mean_kernel(core, n_total, acc, phase, steps, mean)
    return n_total, mean, (phase + n_t) % steps


@njit(cache=True, nogil=True)
def _levels_kernel(levels, diffuse, n_out, spec_out):  # pragma: no cover - compiled
    core = np.zeros(N_CORE_BANDS)
    lcb_intensity = np.empty(3)
    for row in range(levels.shape[0]):
        _core_row(levels[row], diffuse, core, lcb_intensity)
        n_out[row] = _slopes_row(core, spec_out[row], False)


def _rows(array, width: int, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
    values = np.asarray(array, dtype=np.float64)
    if values.shape[-1:] != (width,):
        raise ValueError(f"{name} must have {width} values on its last axis, got {values.shape}")
    return np.ascontiguousarray(values.reshape(-1, width)), values.shape[:-1]


def core_loudness_from_third_octave_levels(
    levels_db: np.ndarray, field_type: str = "free"
) -> np.ndarray:
    """Core loudness of the 20 approximated critical bands (+ a closing zero band).

    Parameters
    ----------
    levels_db : array_like, shape (..., 28)
        Third-octave band levels 25 Hz-12.5 kHz in dB SPL. Bands a signal cannot
        contain (above its Nyquist frequency) may be given as very low levels, e.g.
        -60 dB; they then contribute nothing.
    field_type : {"free", "diffuse"}
        Sound field of the levels.

    Returns
    -------
    core_loudness : ndarray, shape (..., 21)
        Core loudness N'_core per critical band in sone/Bark; the last value is 0.
    """
    diffuse = field_is_diffuse(field_type)
    rows, lead = _rows(levels_db, _N_BANDS, "levels_db (25 Hz-12.5 kHz)")
    core = np.empty((rows.shape[0], N_CORE_BANDS))
    _core_kernel(rows, diffuse, core)
    return core.reshape((*lead, N_CORE_BANDS))


def specific_loudness_from_core_loudness(
    core_loudness: np.ndarray, *, spec_step: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Total loudness N and specific loudness N'(z) from core loudness (Table A.8, A.9).

    Parameters
    ----------
    core_loudness : array_like, shape (..., 21)
        Core loudness per critical band, sone/Bark, e.g. from
        :func:`core_loudness_from_third_octave_levels`, possibly after the nonlinear
        temporal decay.
    spec_step : int, optional
        For a time series (..., T, 21), keep N' only every ``spec_step``-th time step
        (N is returned for every step); 1 keeps all.

    Returns
    -------
    N : ndarray, shape (...)
        Total loudness in sone, the integral of N' over z.
    N_spec : ndarray, shape (..., 240), or (..., ceil(T / spec_step), 240)
        Specific loudness in sone/Bark on :data:`BARK_AXIS`.
    """
    if spec_step < 1:
        raise ValueError(f"spec_step must be a positive integer, got {spec_step}")
    core, lead = _rows(core_loudness, N_CORE_BANDS, "core_loudness")
    if spec_step == 1:
        n_total = np.empty(core.shape[0])
        n_spec = np.empty((core.shape[0], _N_BARK))
        _slopes_kernel(core, n_total, n_spec, 1)
        return n_total.reshape(lead), n_spec.reshape((*lead, _N_BARK))
    if not lead:
        raise ValueError("spec_step > 1 needs a time axis: core_loudness (..., T, 21)")
    n_time = lead[-1]
    series = core.reshape(-1, n_time, N_CORE_BANDS)
    n_kept = -(-n_time // spec_step)
    n_total = np.empty((series.shape[0], n_time))
    n_spec = np.empty((series.shape[0], n_kept, _N_BARK))
    for i in range(series.shape[0]):
        _slopes_kernel(series[i], n_total[i], n_spec[i], spec_step)
    return n_total.reshape(lead), n_spec.reshape((*lead[:-1], n_kept, _N_BARK))


def specific_loudness_from_third_octave_levels(
    levels_db: np.ndarray, field_type: str = "free"
) -> tuple[np.ndarray, np.ndarray]:
    """Total and specific loudness (ISO 532-1 stationary core) from third-octave levels.

    Parameters
    ----------
    levels_db : array_like, shape (..., 28)
        Third-octave band levels 25 Hz-12.5 kHz in dB SPL; bands above a signal's
        Nyquist frequency may be passed as very low levels (e.g. -60 dB).
    field_type : {"free", "diffuse"}
        Sound field of the levels.

    Returns
    -------
    N : ndarray, shape (...)
        Total loudness in sone.
    N_spec : ndarray, shape (..., 240)
        Specific loudness N'(z) in sone/Bark on :data:`BARK_AXIS` (0.1 … 24 Bark).
    """
    diffuse = field_is_diffuse(field_type)
    rows, lead = _rows(levels_db, _N_BANDS, "levels_db (25 Hz-12.5 kHz)")
    n_total = np.empty(rows.shape[0])
    n_spec = np.empty((rows.shape[0], _N_BARK))
    _levels_kernel(rows, diffuse, n_total, n_spec)
    return n_total.reshape(lead), n_spec.reshape((*lead, _N_BARK))
