"""Fluctuation strength after Osses, García & Kohlrausch (2016), vectorised.

Osses Vecchi, A., García León, R. & Kohlrausch, A. (2016). Modelling the sensation of
fluctuation strength. Proc. Mtgs. Acoust. 28, 050005, doi:10.1121/2.0000410 ("OGK").
OGK adapt the roughness model of Daniel & Weber (1997) to slow modulations; this module
reuses its peripheral stage (``_excitation``). MoSQITo has no fluctuation strength, so
the signature mirrors ``roughness_dw``: ``(F, F_spec, bark_axis, time_axis)`` in vacil.
Chosen over Zwicker & Fastl's F = 0.008 int dL dz / (f_mod/4 Hz + 4 Hz/f_mod) because that
formula needs the depth of the temporal masking pattern and one f_mod, which arbitrary
signals (speech) do not have.

Model, with parameters from OGK's reference code (FluctuationStrength_TUe, distributed
as SQAT's ``FluctuationStrength_Osses2016``): 2 s frames with 50 ms raised-cosine ramps;
a0 without the ear-canal resonance; Terhardt excitation of 47 channels 0.5 Bark apart;
full-wave rectified envelopes; a band-pass modulation filter H(f_mod) (high-pass: pass
band 3.1 Hz, stop band 0.5 Hz; low-pass: pass band 12 Hz, stop band 20 Hz) in place of
D&W's H_i; modulation depth m_i = rms(h_BP,i) / h0,i, compressed above 0.7 and limited
to 1; correlations k of band-passed envelopes 1 Bark apart; specific fluctuation
strength F'_i = g(z_i) m_i^1.7 |k_{i-2} k_i|^1.7 sign(k_{i-2} k_i); F = cal * sum_i F'_i * 0.5 Bark
with cal = 0.498, so that 1 kHz at 60 dB SPL, 100 % AM at 4 Hz gives 1 vacil.

Deviations from OGK's reference code:
- H(f_mod) is applied as the magnitude of the Butterworth filters that meet those
  specifications with the stop-band attenuation met exactly (high-pass order 2, -3 dB
  at 1.36 Hz; low-pass order 4, -3 dB at 13.4 Hz; our reading of the reference code's
  ``designfilt`` call, which reproduces its reported overshoot at 2 Hz), in the
  frequency domain over the whole frame: zero phase and no start-up transient, where
  the reference filters each envelope causally with ``sosfilt``. The phase is common
  to all channels, so correlations keep.
- a0 is applied to the frame's spectrum (the reference uses a 4096-tap FIR filter).
- Rms and correlations of the band-passed envelopes come from Parseval (exact).
- Correlations missing at the ends of the channel range (channels 1, 2, 46, 47) are
  extrapolated linearly from the two nearest correlations and limited to [-1, 1]. The
  reference does the same at the top; at the bottom it extrapolates from the
  correlations two channels further up (and does not limit).
- Signals shorter than one 2 s frame are rejected; the reference then analyses the
  whole signal as one frame.
- cal is 0.498 / F_REF, where F_REF = 1.03805 is what this implementation gives the
  reference sound with cal = 0.498, so that 1 vacil stays exact.

Known limits (measured, see tests/test_fluctuation_strength.py): AM tones at 70 dB are
within the JND of Fastl & Zwicker's data except at 2 Hz (1.17 vs 0.84 vacil); an
unmodulated tone gives 0.013 vacil (the frame's ramps modulate the envelope); AM
broadband noise (60 dB, 4 Hz) gives about 3.9 vacil against Fastl & Zwicker's 1.8, as
F sums over every excited channel and noise excites all 47; speech at 65 dB gives
about 3 vacil. Compare values of broadband sounds with each other, not with tones.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._excitation import (
    CHANNEL_BARK,
    N_CHANNELS,
    as_streams,
    channel_modulation,
    excitation_layout,
    frame_geometry,
    frame_signal,
)

__all__ = ["G_WEIGHT", "fluctuation_strength", "modulation_weighting", "specific_fluctuation"]

FRAME_S = 2.0  # OGK: 2 s analysis frames
RAMP_S = 0.05  # raised-cosine attack and release of each frame
DZ_BARK = 0.5

# Band-pass modulation filter of OGK (reference code Get_Hweight_fluctuation): Butterworth
# high-pass meeting 17.5 dB at 0.5 Hz (pass band 3.1 Hz) and low-pass meeting 14 dB at
# 20 Hz (pass band 12 Hz); orders and -3 dB corners follow from those specifications.
_HP_ORDER, _HP_STOP_HZ, _HP_STOP_DB = 2, 0.5, 17.5
_LP_ORDER, _LP_STOP_HZ, _LP_STOP_DB = 4, 20.0, 14.0
HP_CORNER_HZ = _HP_STOP_HZ * (10 ** (_HP_STOP_DB / 10) - 1) ** (1 / (2 * _HP_ORDER))
LP_CORNER_HZ = _LP_STOP_HZ / (10 ** (_LP_STOP_DB / 10) - 1) ** (1 / (2 * _LP_ORDER))
MAX_MOD_HZ = 200.0  # |H| < 2e-5 above; envelope bins beyond are not needed

# Exponents of m and k, compression knee of m, and OGK's g(z) weighting (z in Bark).
P_M = 1.7
P_K = 1.7
M_KNEE = 0.7
_G_Z_BARK = np.array([0, 1, 2.5, 4.9, 6.5, 8, 9, 10, 11, 11.5, 13, 15, 17.5, 24])
_G_Z = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.9, 0.7, 0.5])
G_WEIGHT = np.interp(CHANNEL_BARK, _G_Z_BARK, _G_Z)
G_WEIGHT.flags.writeable = False

# OGK: cal = 0.498 for their implementation. This one gives F_REF vacil for the reference
# sound (1 kHz, 60 dB SPL, m = 1, f_mod = 4 Hz; 16 kHz, 4 s, every frame) at 0.498.
F_REF = 1.03805
_CAL = 0.498 / F_REF


@lru_cache(maxsize=8)
def modulation_weighting(df_hz: float, n_bins: int) -> np.ndarray:
    """|H(f_mod)| of the OGK band-pass at f_mod = k * df_hz, k < n_bins, all channels.

    Returns
    -------
    weighting : ndarray of float32, shape (47, n_bins)
        The same curve on every channel; zero at DC (read-only, cached).
    """
    f_hz = np.arange(n_bins) * df_hz
    with np.errstate(divide="ignore"):
        hp = 1.0 / np.sqrt(1.0 + (HP_CORNER_HZ / f_hz) ** (2 * _HP_ORDER))
    lp = 1.0 / np.sqrt(1.0 + (f_hz / LP_CORNER_HZ) ** (2 * _LP_ORDER))
    h = (hp * lp).astype(np.float32)
    return np.broadcast_to(h, (N_CHANNELS, n_bins))


def frame_window(frame_len: int, fs_hz: float) -> np.ndarray:
    """Flat window with ``RAMP_S`` raised-cosine ramps at both ends, as in OGK's code."""
    n_ramp = int(np.rint(RAMP_S * fs_hz))
    window = np.ones(frame_len)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_ramp) / n_ramp)
    window[:n_ramp] = ramp
    window[frame_len - n_ramp :] = ramp[::-1]
    return window


def _extrapolate_ends(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correlations with the channel L above and L below, extrapolated at the ends.

    ``k`` has 47 - L values (L = 2 in OGK); the L missing at each end continue the
    straight line through the two nearest correlations.
    """
    lag = N_CHANNELS - k.shape[-1]
    steps = np.arange(1, lag + 1)
    up = k[..., -1:] + (k[..., -1:] - k[..., -2:-1]) * steps  # channels 47-L+1 .. 47
    down = k[..., :1] + (k[..., :1] - k[..., 1:2]) * steps[::-1]  # channels 1 .. L
    k_up = np.concatenate([k, up], axis=-1)
    k_down = np.concatenate([down, k], axis=-1)
    return np.clip(k_up, -1.0, 1.0), np.clip(k_down, -1.0, 1.0)


def specific_fluctuation(m: np.ndarray, k: np.ndarray) -> np.ndarray:
    """OGK's specific fluctuation strength F'_i before calibration, from m and k.

    Parameters
    ----------
    m : ndarray, shape (..., 47)
        Modulation depths (not yet compressed).
    k : ndarray, shape (..., 45)
        ``k[..., i]`` = correlation of channels i and i+2 (0-based).
    """
    m = np.where(m > M_KNEE, M_KNEE + (1.0 - M_KNEE) * (m - M_KNEE), m)
    m = np.minimum(m, 1.0)
    k_up, k_down = _extrapolate_ends(k)
    kp = k_down * k_up
    return G_WEIGHT * m**P_M * np.abs(kp) ** P_K * np.sign(kp)


def fluctuation_strength(
    signal: np.ndarray, fs: float, overlap: float = 0.9
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fluctuation strength of sound pressure signals, Osses et al. (2016), per 2 s frame.

    Parameters
    ----------
    signal : array_like, shape (samples,) or (streams, samples)
        Sound pressure in Pa, at least 2 s long.
    fs : float
        Sampling rate in Hz.
    overlap : float
        Overlap of consecutive 2 s frames, 0 <= overlap < 1 (0.9 as in the reference
        code; 0.5 halves the work).

    Returns
    -------
    F : ndarray, shape ([streams,] frames)
        Fluctuation strength in vacil.
    F_spec : ndarray, shape ([streams,] 47, frames)
        Specific fluctuation strength in vacil/Bark (F = 0.5 Bark * sum F_spec).
    bark_axis : ndarray, shape (47,)
        Channel centres z_i = 0.5 ... 23.5 Bark.
    time_axis : ndarray, shape (frames,)
        Frame centres in s.

    Raises
    ------
    ValueError
        For a signal shorter than 2 s, non-finite samples, a bad ``fs`` or ``overlap``.
    """
    frame_len, hop = frame_geometry(fs, FRAME_S, overlap)
    x, was_1d = as_streams(signal)
    frames, time_s = frame_signal(x, fs, frame_len, hop)

    layout = excitation_layout(float(fs), frame_len, False)
    n_mod = min(int(np.ceil(MAX_MOD_HZ / layout.df_hz)) + 1, layout.n_rfft)
    weighting = modulation_weighting(layout.df_hz, n_mod)
    window = frame_window(frame_len, fs)
    m, k = channel_modulation(frames, window, layout, weighting, frames_per_chunk=1)

    F_spec = _CAL * specific_fluctuation(m, k)  # vacil/Bark
    F = DZ_BARK * F_spec.sum(axis=-1)
    F_spec = np.swapaxes(F_spec, 1, 2)
    if was_1d:
        F, F_spec = F[0], F_spec[0]
    return F, F_spec, CHANNEL_BARK.copy(), time_s
