"""Roughness after Daniel & Weber (1997), vectorised over streams and frames.

Daniel, P. & Weber, R. (1997). Psychoacoustical roughness: implementation of an
optimized model. Acustica 83, 113-123 ("D&W"). Same name, arguments and return order
as MoSQITo 1.2.1's ``roughness_dw``, so results compare side by side.

Model: 200 ms Blackman frames (D&W's reference code); outer/middle-ear factor a0;
excitation of 47 channels 0.5 Bark apart with Terhardt's slopes (D&W stage 1, in
``_excitation``); full-wave rectified channel envelopes, band-passed by the channel's
modulation weighting H_i(f_mod) (D&W Fig. 2), give the modulation depth
m_i = rms(h_BP,i) / h0,i, limited to 1 (stage 2); the correlation k_i of the band-passed
envelopes of channels i and i+2 gives the specific roughness R'_i = g(z_i) (m_i k_{i-2} k_i)^2
and R = cal * sum_i R'_i with cal = 0.25 (stage 3), which makes a 1 kHz tone at 60 dB SPL,
100 % AM at 70 Hz, 1 asper.

Deviations from D&W and from MoSQITo 1.2.1 (their effect is measured in
tests/test_roughness_dw.py):
- The band-passed envelopes stay in the frequency domain: their rms and correlation
  come from Parseval, which is exact for these zero-mean band-limited signals.
- Channel excitations are transformed in single precision (relative error ~1e-7).
- H_i follows D&W's reference code (Schrader/Hermes, also used by MoSQITo and SQAT):
  five prototypes (D&W Fig. 2's H2, H16, H42 plus H5 and H21) assigned to groups of
  channels, not the interpolation between H2, H16 and H42 that D&W's text describes;
  that interpolation fits Zwicker & Fastl's curves worse (136 instead of 142 of 151
  points within 0.1 asper or 20 %). MoSQITo cuts H16, H21, H42 at 502 Hz, here 645 Hz.
- Components are the rfft bins from 20 Hz to 20 kHz at their own frequencies (MoSQITo
  labels bin k with the frequency of bin k + 1).
- ``overlap`` is the overlap, hop = (1 - overlap) * 200 ms; MoSQITo uses it as the hop
  fraction for overlaps other than 0 and 0.5. Times are frame centres, as in MoSQITo.
- ``R_spec`` is specific roughness in asper/Bark, cal R'_i / 0.5 Bark, so that R is its
  integral over the 0.5-Bark grid; MoSQITo returns R'_i without cal (about twice these).
- cal is 0.25 / R_REF, where R_REF = 1.00622 is what this implementation gives the
  reference sound with cal = 0.25, so that 1 asper stays exact.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.signal

from ._excitation import (
    CHANNEL_BARK,
    N_CHANNELS,
    as_streams,
    channel_modulation,
    excitation_layout,
    frame_geometry,
    frame_signal,
)

__all__ = ["G_WEIGHT", "modulation_weighting", "roughness_dw", "specific_roughness"]

FRAME_S = 0.2  # D&W: 200 ms analysis frames
DZ_BARK = 0.5
MAX_MOD_HZ = 645.0  # highest modulation frequency any H_i passes (D&W Fig. 2)
DC_BINS = 2  # H_i is zero at 0 and 5 Hz, as in D&W's reference code

# Modulation weightings H_i(f_mod): D&W Fig. 2 (H2, H16, H42) and H5, H21 of their reference code,
# as (breakpoints in Hz, weights) for the prototype channels 2, 5, 16, 21 and 42.
_H_PROTOTYPES = {
    2: ([0, 17, 23, 25, 32, 37, 48, 67, 90, 114, 171, 206, 247, 294, 358],
        [0, 0.8, 0.95, 0.975, 1, 0.975, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1, 0]),
    5: ([0, 32, 43, 56, 69, 92, 120, 142, 165, 231, 277, 331, 397, 502],
        [0, 0.8, 0.95, 1, 0.975, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1, 0]),
    16: ([0, 23.5, 34, 47, 56, 63, 79, 100, 115, 135, 159, 172, 194, 215, 244, 290, 348,
          415, 500, 645],
         [0, 0.4, 0.6, 0.8, 0.9, 0.95, 1, 0.975, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4,
          0.3, 0.2, 0.1, 0]),
    21: ([0, 19, 44, 52.5, 58, 75, 101.5, 114.5, 132.5, 143.5, 165.5, 197.5, 241, 290,
          348, 415, 500, 645],
         [0, 0.4, 0.8, 0.9, 0.95, 1, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2,
          0.1, 0]),
    42: ([0, 15, 41, 49, 53, 64, 71, 88, 94, 106, 115, 137, 180, 238, 290, 348, 415, 500,
          645],
         [0, 0.4, 0.8, 0.9, 0.965, 0.99, 1, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3,
          0.2, 0.1, 0]),
}  # fmt: skip
# Channels (1-based, inclusive) -> prototype: 1-4 H2, 5-15 H5, 16-20 H16, 21-41 H21, 42-47 H42.
_H_GROUPS = ((1, 4, 2), (5, 15, 5), (16, 20, 16), (21, 41, 21), (42, 47, 42))

# Aures' weighting g(z) of the specific roughness (D&W stage 3) at z = 0, 1, ..., 24 Bark.
_G_Z = np.array([0.15, 0.26, 0.38, 0.47, 0.54, 0.65, 0.76, 0.83, 0.90, 0.98, 0.98, 0.90,
                 0.80, 0.70, 0.62, 0.54, 0.49, 0.43, 0.39, 0.35, 0.30, 0.30, 0.30, 0.30,
                 0.30])  # fmt: skip
G_WEIGHT = np.interp(CHANNEL_BARK, np.arange(25.0), _G_Z)
G_WEIGHT.flags.writeable = False

# D&W: cal = 0.25 for their implementation. This one gives R_REF asper for the reference
# sound (1 kHz, 60 dB SPL, m = 1, f_mod = 70 Hz; 48 kHz, 1 s, every frame) at 0.25.
R_REF = 1.00622
_CAL = 0.25 / R_REF


@lru_cache(maxsize=8)
def modulation_weighting(df_hz: float, n_bins: int) -> np.ndarray:
    """|H_i(f_mod)| of the 47 channels at f_mod = k * df_hz, k < n_bins (D&W Fig. 2).

    Returns
    -------
    weighting : ndarray of float32, shape (47, n_bins)
        Zero in the first ``DC_BINS`` bins and above 645 Hz (read-only, cached).
    """
    f_mod_hz = np.arange(n_bins) * df_hz
    weighting = np.zeros((N_CHANNELS, n_bins), dtype=np.float32)
    for first, last, proto in _H_GROUPS:
        h = np.interp(f_mod_hz, *_H_PROTOTYPES[proto], right=0.0)
        h[:DC_BINS] = 0.0
        weighting[first - 1 : last] = h
    weighting.flags.writeable = False
    return weighting


def specific_roughness(m: np.ndarray, k: np.ndarray) -> np.ndarray:
    """R'_i = g(z_i) (m_i k_{i-L} k_i)^2 (D&W stage 3), one neighbour at the ends.

    Parameters
    ----------
    m : ndarray, shape (..., 47)
        Modulation depths, already limited to [0, 1].
    k : ndarray, shape (..., 47 - L)
        ``k[..., i]`` = correlation of channels i and i+L (0-based); D&W use L = 2
        (1 Bark), a model with broader channels may correlate channels further apart.

    Returns
    -------
    ndarray, shape (..., 47)
        Before calibration: R = cal * sum over channels.
    """
    lag = N_CHANNELS - k.shape[-1]
    ones = np.ones_like(k[..., :lag])
    k_up = np.concatenate([k, ones], axis=-1)  # k_i: channel i with i+L
    k_down = np.concatenate([ones, k], axis=-1)  # k_{i-L}: channel i with i-L
    return G_WEIGHT * (m * k_down * k_up) ** 2


def roughness_dw(
    signal: np.ndarray, fs: float, overlap: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Roughness of sound pressure signals, Daniel & Weber (1997), per 200 ms frame.

    Parameters
    ----------
    signal : array_like, shape (samples,) or (streams, samples)
        Sound pressure in Pa, at least 200 ms long.
    fs : float
        Sampling rate in Hz. Any rate: components above fs/2 are simply absent (the
        reference sound gives 1.001 asper at 16 kHz and 0.986 at 8 kHz).
    overlap : float
        Overlap of consecutive 200 ms frames, 0 <= overlap < 1.

    Returns
    -------
    R : ndarray, shape ([streams,] frames)
        Roughness in asper.
    R_spec : ndarray, shape ([streams,] 47, frames)
        Specific roughness in asper/Bark on ``bark_axis`` (R = 0.5 Bark * sum R_spec).
    bark_axis : ndarray, shape (47,)
        Channel centres z_i = 0.5 ... 23.5 Bark.
    time_axis : ndarray, shape (frames,)
        Frame centres in s.

    Raises
    ------
    ValueError
        For a signal shorter than 200 ms, non-finite samples, a bad ``fs`` or ``overlap``.
    """
    frame_len, hop = frame_geometry(fs, FRAME_S, overlap)
    x, was_1d = as_streams(signal)
    frames, time_s = frame_signal(x, fs, frame_len, hop)

    layout = excitation_layout(float(fs), frame_len, True)
    window = scipy.signal.get_window("blackman", frame_len)
    n_mod = min(int(np.ceil(MAX_MOD_HZ / layout.df_hz)) + 1, layout.n_rfft)
    weighting = modulation_weighting(layout.df_hz, n_mod)
    m, k = channel_modulation(frames, window, layout, weighting, frames_per_chunk=8)
    r_prime = specific_roughness(np.minimum(m, 1.0), k)  # D&W stage 2: m_i <= 1

    R_spec = (_CAL / DZ_BARK) * r_prime
    R = DZ_BARK * R_spec.sum(axis=-1)  # = cal * sum R'_i (D&W stage 3)
    R_spec = np.swapaxes(R_spec, 1, 2)
    if was_1d:
        R, R_spec = R[0], R_spec[0]
    return R, R_spec, CHANNEL_BARK.copy(), time_s
