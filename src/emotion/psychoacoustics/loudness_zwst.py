"""ISO 532-1:2017 stationary Zwicker loudness (clause 5), from a signal or from levels.

From a signal: resample to 48 kHz, Annex A third-octave filterbank, mean band
intensity over the signal, then the core model (A.4 ``f_loudness_from_signal`` with
the stationary method). From 28 third-octave levels: the core model only (the input of
the standard's test signal 1, Annex B.2).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from ._iso532_filterbank import third_octave_levels_mean
from ._iso532_tables import BARK_AXIS, FS_HZ, THIRD_OCTAVE_CENTRES_HZ
from ._zwicker_core import specific_loudness_from_third_octave_levels

__all__ = ["loudness_zwst", "loudness_zwst_third_octave", "resample_to_48k"]


def resample_to_48k(signal_pa, fs_hz: float) -> np.ndarray:
    """Resample sound pressure to 48 kHz, the rate of the Annex A filterbank.

    Parameters
    ----------
    signal_pa : array_like, shape (samples,) or (streams, samples)
        Sound pressure in Pa.
    fs_hz : float
        Its sampling rate; 48000 returns the signal unchanged (as float64).

    Returns
    -------
    signal_48k : ndarray, shape (samples', ) or (streams, samples')
        The signal at 48 kHz (polyphase FIR resampling, scipy's Kaiser window).
    """
    x = np.asarray(signal_pa, dtype=np.float64)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(
            f"signal must be (samples,) or (streams, samples) sound pressure in Pa, "
            f"got shape {x.shape}"
        )
    if not fs_hz > 0:
        raise ValueError(f"fs must be a positive sampling rate in Hz, got {fs_hz}")
    if fs_hz == FS_HZ:
        return x
    ratio = Fraction(FS_HZ / fs_hz).limit_denominator(10000)
    if abs(float(ratio) - FS_HZ / fs_hz) > 1e-9 * FS_HZ / fs_hz:
        raise ValueError(f"cannot resample {fs_hz} Hz to 48 kHz by a rational factor")
    return resample_poly(x, ratio.numerator, ratio.denominator, axis=-1)


def loudness_zwst(signal, fs, field_type="free", *, time_skip_s=0.0):
    """Stationary loudness after ISO 532-1:2017 clause 5 (Zwicker method).

    Parameters
    ----------
    signal : array_like, shape (samples,) or (streams, samples)
        Sound pressure in Pa; resampled to 48 kHz if needed.
    fs : float
        Sampling rate of ``signal``, Hz.
    field_type : {"free", "diffuse"}
        Sound field.
    time_skip_s : float, keyword-only
        Start of the intensity averaging, s (the reference program's "time skip",
        which hides the filters' start-up transient). Default 0, as MoSQITo.

    Returns
    -------
    N : float or ndarray, shape (streams,)
        Total loudness, sone.
    N_spec : ndarray, shape (240,) or (streams, 240)
        Specific loudness N'(z), sone/Bark.
    bark_axis : ndarray, shape (240,)
        Critical band rate z = 0.1 … 24 Bark.
    """
    x48 = resample_to_48k(signal, fs)
    levels_db = third_octave_levels_mean(x48, time_skip_s)  # clause 5, A.4 stationary branch
    N, N_spec = specific_loudness_from_third_octave_levels(levels_db, field_type)
    return N[()] if N.ndim == 0 else N, N_spec, BARK_AXIS.copy()


def loudness_zwst_third_octave(third_octave_levels_db, field_type="free"):
    """Stationary loudness from 28 third-octave band levels (ISO 532-1 clause 5, Annex B.2).

    Parameters
    ----------
    third_octave_levels_db : array_like, shape (28,) or (streams, 28)
        Band levels in dB SPL at :data:`THIRD_OCTAVE_CENTRES_HZ` (25 Hz-12.5 kHz).
    field_type : {"free", "diffuse"}
        Sound field.

    Returns
    -------
    N : float or ndarray, shape (streams,)
        Total loudness, sone.
    N_spec : ndarray, shape (240,) or (streams, 240)
        Specific loudness N'(z), sone/Bark.
    bark_axis : ndarray, shape (240,)
        Critical band rate z = 0.1 … 24 Bark.
    """
    levels = np.asarray(third_octave_levels_db, dtype=np.float64)
    if levels.ndim not in (1, 2) or levels.shape[-1] != THIRD_OCTAVE_CENTRES_HZ.size:
        raise ValueError(
            f"third_octave_levels_db must be (28,) or (streams, 28) levels in dB SPL for "
            f"25 Hz-12.5 kHz, got shape {levels.shape}"
        )
    N, N_spec = specific_loudness_from_third_octave_levels(levels, field_type)
    return N[()] if N.ndim == 0 else N, N_spec, BARK_AXIS.copy()
