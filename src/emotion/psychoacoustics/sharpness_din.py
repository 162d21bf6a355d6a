"""Sharpness after DIN 45692:2009 from Zwicker specific loudness (ISO 532-1).

S = k · ∫ N'(z) · g(z) · z dz / N, with k = 0.11 acum/sone (DIN 45692 allows
0.105-0.115; 0.11 makes the standard's narrow-band noise at 1 kHz, 60 dB, 1 acum) and
the integral taken as a sum over the 0.1-Bark axis. Weightings g(z):

* ``"din"``: DIN 45692, g = 1 for z ≤ 15.8 Bark, else 0.15 · e^(0.42 (z − 15.8)) + 0.85;
* ``"bismarck"``: von Bismarck (1974), g = 1 for z ≤ 15 Bark, else
  0.2 · e^(0.308 (z − 15)) + 0.8;
* ``"aures"``: Aures (1985), g = 0.078 · e^(0.171 z) / z · N / ln(0.05 N + 1);
* ``"fastl"``: Zwicker & Fastl, *Psychoacoustics*, Fig. 9.2 (digitised, as MoSQITo).

Below N = 0.1 sone the ratio is dominated by threshold effects and S is set to 0, as
MoSQITo does; N = 0 therefore gives S = 0 without a division warning.
"""

from __future__ import annotations

import numpy as np

from ._iso532_tables import BARK_AXIS, DZ_BARK
from .loudness_zwst import loudness_zwst
from .loudness_zwtv import OUTPUT_STEP_S, loudness_zwtv

__all__ = ["sharpness_din_from_loudness", "sharpness_din_st", "sharpness_din_tv"]

#: DIN 45692 constant k, acum/sone.
K_ACUM = 0.11
#: Loudness below which sharpness is reported as 0, sone.
MIN_LOUDNESS_SONE = 0.1
_N_BARK = BARK_AXIS.size

# Zwicker & Fastl weighting, Fig. 9.2 of *Psychoacoustics*, as digitised in MoSQITo
# 1.2.1 (mosqito/sq_metrics/sharpness/sharpness_din/_weighting_fastl.py, Apache-2.0).
_FASTL_Z_BARK = np.array([
    0.0985854, 14.826764, 15.364039, 15.863559, 16.297388, 16.533346, 16.844551, 17.052244,
    17.335314, 17.599474, 17.816587, 18.014925, 18.231972, 18.38313, 18.543644, 18.704224,
    18.883648, 18.978205, 19.167118, 19.346476, 19.441233, 19.554567, 19.668102, 19.762926,
    19.923306, 20.036907, 20.188398, 20.320976, 20.462912, 20.60518, 20.78507, 20.908228,
    21.078962, 21.268276, 21.410543, 21.533966, 21.704834, 21.847036, 21.98957, 22.141394,
    22.312195, 22.464752, 22.62633, 22.759441, 22.89302, 23.054932, 23.236088, 23.38871,
    23.5416, 23.6848, 23.932978,
])
_FASTL_G = np.array([
    0.9783246, 0.99701804, 1.0092967, 1.0169811, 1.0438102, 1.0713409, 1.0891489, 1.1167798,
    1.1441435, 1.1668463, 1.1944437, 1.2268357, 1.2497056, 1.277537, 1.3006072, 1.3284053,
    1.3561363, 1.3794405, 1.411866, 1.4348694, 1.4723566, 1.4908663, 1.523559, 1.5657737,
    1.5793887, 1.6168091, 1.6682787, 1.7150875, 1.7571354, 1.8228214, 1.8836461, 1.9304883,
    2.0102572, 2.0710485, 2.1367345, 2.2024875, 2.2917116, 2.35267, 2.4372666, 2.5123746,
    2.5968711, 2.7239833, 2.8226962, 2.9073262, 3.02505, 3.147401, 3.2980514, 3.429891,
    3.5806417, 3.7125149, 3.9385738,
])


def _weighting(weighting: str, z: np.ndarray, loudness_sone: np.ndarray) -> np.ndarray:
    """g(z) on the Bark axis, broadcast to (..., 240) for the N-dependent Aures weighting."""
    if weighting == "din":  # DIN 45692:2009, weighting function g(z)
        return np.where(z > 15.8, 0.15 * np.exp(0.42 * (z - 15.8)) + 0.85, 1.0)
    if weighting == "bismarck":  # von Bismarck (1974)
        return np.where(z > 15.0, 0.2 * np.exp(0.308 * (z - 15.0)) + 0.8, 1.0)
    if weighting == "fastl":  # Zwicker & Fastl (1990), Fig. 9.2
        return np.interp(z, _FASTL_Z_BARK, _FASTL_G)
    if weighting == "aures":  # Aures (1985): depends on the total loudness N
        n = np.maximum(loudness_sone, MIN_LOUDNESS_SONE)[..., None]
        return 0.078 * (np.exp(0.171 * z) / z) * (n / np.log(0.05 * n + 1.0))
    raise ValueError(
        f"weighting must be 'din', 'aures', 'bismarck' or 'fastl', got {weighting!r}"
    )


def _sharpness(n_sone: np.ndarray, n_spec_bark_last: np.ndarray, weighting: str) -> np.ndarray:
    g = _weighting(weighting, BARK_AXIS, n_sone)
    # DIN 45692: S = k ∫ N'(z) g(z) z dz / N, the integral as a sum over Δz = 0.1 Bark.
    moment = np.sum(n_spec_bark_last * g * BARK_AXIS, axis=-1) * DZ_BARK
    audible = n_sone >= MIN_LOUDNESS_SONE
    return np.where(audible, K_ACUM * moment / np.where(audible, n_sone, 1.0), 0.0)


def sharpness_din_from_loudness(N, N_spec, weighting="din", skip=0):
    """Sharpness from total and specific loudness (DIN 45692:2009).

    Parameters
    ----------
    N : float or array_like, shape (...) or (..., T)
        Total loudness, sone: from :func:`loudness_zwst` (scalar or (streams,)) or
        :func:`loudness_zwtv` ((T,) or (streams, T)).
    N_spec : array_like, shape (..., 240) or (..., 240, T)
        Specific loudness, sone/Bark, in the layout returned with ``N``: Bark last for
        stationary loudness, Bark then time for time-varying loudness. When both
        readings fit (240 time steps and 240 streams), the time-varying one is used.
    weighting : {"din", "aures", "bismarck", "fastl"}
        Weighting function g(z).
    skip : float
        Seconds cut from the start of a time-varying series (2 ms steps) to drop the
        loudness model's start-up transient; must be 0 for stationary loudness.

    Returns
    -------
    S : float or ndarray, shape (...) or (..., T − cut)
        Sharpness, acum; 0 where N < 0.1 sone.
    """
    n = np.asarray(N, dtype=np.float64)
    spec = np.asarray(N_spec, dtype=np.float64)
    if n.ndim >= 1 and spec.shape == (*n.shape[:-1], _N_BARK, n.shape[-1]):
        spec = np.moveaxis(spec, -2, -1)  # time-varying: (..., 240, T) → (..., T, 240)
        cut = round(skip / OUTPUT_STEP_S)
        if cut < 0 or cut >= n.shape[-1]:
            raise ValueError(f"skip={skip} s must leave part of the {n.shape[-1]}-step series")
        n, spec = n[..., cut:], spec[..., cut:, :]
    elif spec.shape == (*n.shape, _N_BARK):
        if skip:
            raise ValueError("skip applies to time-varying loudness only; pass skip=0")
    else:
        raise ValueError(
            f"N_spec of shape {spec.shape} does not match N of shape {n.shape}: expected "
            f"N.shape + (240,) (stationary) or (..., 240, T) for N (..., T) (time-varying)"
        )
    S = _sharpness(n, spec, weighting)
    return S[()] if S.ndim == 0 else S


def sharpness_din_st(signal, fs, weighting="din", field_type="free"):
    """Sharpness of a stationary sound (DIN 45692:2009 on ISO 532-1 stationary loudness).

    Parameters
    ----------
    signal : array_like, shape (samples,) or (streams, samples)
        Sound pressure in Pa; resampled to 48 kHz if needed.
    fs : float
        Sampling rate, Hz.
    weighting : {"din", "aures", "bismarck", "fastl"}
        Weighting function g(z).
    field_type : {"free", "diffuse"}
        Sound field of the loudness model.

    Returns
    -------
    S : float or ndarray, shape (streams,)
        Sharpness, acum.
    """
    N, N_spec, _ = loudness_zwst(signal, fs, field_type=field_type)
    return sharpness_din_from_loudness(N, N_spec, weighting=weighting)


def sharpness_din_tv(signal, fs, weighting="din", field_type="free", skip=0):
    """Sharpness over time (DIN 45692:2009 on ISO 532-1 time-varying loudness).

    Parameters
    ----------
    signal : array_like, shape (samples,) or (streams, samples)
        Sound pressure in Pa; resampled to 48 kHz if needed.
    fs : float
        Sampling rate, Hz.
    weighting : {"din", "aures", "bismarck", "fastl"}
        Weighting function g(z).
    field_type : {"free", "diffuse"}
        Sound field of the loudness model.
    skip : float
        Seconds cut from the start (the loudness model's start-up transient).

    Returns
    -------
    S : ndarray, shape (T,) or (streams, T)
        Sharpness every 2 ms, acum. The denominator is ∫ N'(z) dz of each instant
        (DIN 45692), not the temporally weighted N(t) that MoSQITo 1.2.1 uses, which
        makes S jump at every onset of a fluctuating sound.
    time_axis : ndarray, shape (T,)
        Times of S, s.
    """
    _, N_spec, _, time_axis = loudness_zwtv(signal, fs, field_type=field_type)
    # DIN 45692 divides by N = ∫ N' dz of the same instant. The time-varying N of
    # ISO 532-1 is temporally weighted (it lags N' by tens of ms), so it is not used.
    N_instant = N_spec.sum(axis=-2) * DZ_BARK
    S = sharpness_din_from_loudness(N_instant, N_spec, weighting=weighting, skip=skip)
    return S, time_axis[time_axis.size - S.shape[-1]:]
