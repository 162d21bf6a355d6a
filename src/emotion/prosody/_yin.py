"""YIN on a batch of frames: FFT cross-correlation, then one compiled pass per stream.

de Cheveigné & Kawahara (2002), "YIN, a fundamental frequency estimator for speech and
music", JASA 111(4), 1917–1930 — cited as "YIN" with the equation or step.

Two departures from the paper, tuned on the benchmark's synthetic voices and a quarter
of RAVDESS/EmoDB over a telephone line (``benchmarks/prosody.py``):

- Step 4's absolute threshold is joined by a relative one: the first trough below the
  threshold is taken only if it lies within ``STEP4_MARGIN`` of the deepest trough. On
  telephone speech with a missing fundamental a strong second harmonic often dips
  below the threshold at half the period while the true period dips far deeper.
- Step 6 (best local estimate, which looks ahead) is replaced by causal continuity:
  while a stream has had a reliable period within ``MAX_AGE_S``, the trough nearest it
  (within a quarter octave) is taken if it is at most ``CONTINUITY_MARGIN`` shallower
  than step 4's choice. Jitter and noise deepen the troughs at multiples of the period,
  so without this YIN falls an octave low in rough voicing. On the telephone versions
  it cut gross errors against pYIN from 6.1 % to 3.6 % of frames, and on the
  synthetic voices from 1.7 % to 0.9 %.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft
from numba import njit

#: Step 4's relative limit: the first trough below the threshold is taken only if it is
#: within this of the deepest trough.
STEP4_MARGIN = 0.05
#: Continuity takes the trough nearest the reference if it is at most this shallower.
CONTINUITY_MARGIN = 0.1
#: A period becomes the continuity reference when its dip is below this.
RELIABLE_DIP = 0.15
#: Continuity holds for this long after the last reliable period (bridges consonants).
MAX_AGE_S = 0.2
#: The trough nearest the reference must lie within this many octaves of it.
MAX_JUMP_OCT = 0.25


def yin_frames(
    frames: np.ndarray,
    state: np.ndarray,
    window_len: int,
    tau_min: int,
    tau_max: int,
    threshold: float,
    max_age_frames: float,
    band_bins: tuple[int, int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Period, dip depth and band power of frames ``(streams, T, L)``, ``L = W + tau_max``.

    ``state`` ``(streams, 2)`` holds each stream's continuity reference period (samples)
    and its age (frames); it is updated in place, so consecutive calls continue the
    streams. Continuity lapses ``max_age_frames`` after the last reliable period.

    Returns
    -------
    period : ndarray, shape (streams, T)
        Interpolated period in samples (YIN steps 4–5); NaN if the frame has no trough.
    aperiodicity : ndarray, shape (streams, T)
        The normalised difference d' at the chosen lag (1 for silence or no trough).
    band_power : ndarray, shape (streams, T)
        Mean square of the Hann-windowed frame within FFT bins ``band_bins[0]`` to
        ``band_bins[2] - 1``.
    centroid_bin : ndarray, shape (streams, T)
        Power-weighted mean FFT bin within that band (NaN for a silent frame).
    low_share : ndarray, shape (streams, T)
        Share of the band's power below bin ``band_bins[1]`` (NaN for a silent frame).
    """
    n_streams, n_frames, n_fft = frames.shape
    if n_frames == 0:
        empty = np.empty((n_streams, 0))
        return empty, empty.copy(), empty.copy(), empty.copy(), empty.copy()
    # The frame and its zero-padded head (first W samples) side by side: one transform.
    pair = np.zeros((n_streams, n_frames, 2, n_fft), dtype=frames.dtype)
    pair[:, :, 0] = frames
    pair[:, :, 1, :window_len] = frames[..., :window_len]
    frames = pair[:, :, 0]
    spectra = sfft.rfft(pair, axis=-1)
    spectrum, head = spectra[:, :, 0], spectra[:, :, 1]
    # YIN Eq. (1): r_t(τ) = Σ_{j<W} x_j x_{j+τ}. The frame holds W + τ_max samples, so the
    # circular correlation of length L has no wrap-around for τ <= τ_max.
    np.conjugate(head, out=head)
    head *= spectrum
    acf = sfft.irfft(head, n_fft, axis=-1)
    period = np.empty((n_streams, n_frames))
    dip = np.empty((n_streams, n_frames))
    _yin_kernel(frames, acf, window_len, tau_min, tau_max, threshold, STEP4_MARGIN,
                CONTINUITY_MARGIN, RELIABLE_DIP, max_age_frames, MAX_JUMP_OCT, state,
                period, dip)
    power = np.empty((n_streams, n_frames))
    centroid = np.empty((n_streams, n_frames))
    low_share = np.empty((n_streams, n_frames))
    _hann_band_power(spectrum, band_bins[0], band_bins[1], band_bins[2], power, centroid,
                     low_share)
    power *= 16.0 / (3.0 * n_fft**2)
    return period, dip, power, centroid, low_share


@njit(cache=True, nogil=True)
def _hann_band_power(spectrum, low, split, high, out, centroid, low_share):
    # A periodic Hann window is the 3-tap convolution 0.5 X_k − 0.25 (X_{k−1} + X_{k+1})
    # of the spectrum; with Σw² = 3L/8 and Parseval, the windowed band mean square is
    # 16 / (3 L²) · Σ_band |H_k|² (the caller scales).
    for s in range(spectrum.shape[0]):
        for t in range(spectrum.shape[1]):
            total = 0.0
            moment = 0.0
            below = 0.0
            for k in range(low, high):
                h = 0.5 * spectrum[s, t, k] - 0.25 * (spectrum[s, t, k - 1] + spectrum[s, t, k + 1])
                p = h.real * h.real + h.imag * h.imag
                total += p
                moment += k * p
                if k < split:
                    below += p
            out[s, t] = total
            centroid[s, t] = moment / total if total > 0.0 else np.nan
            low_share[s, t] = below / total if total > 0.0 else np.nan


@njit(cache=True, nogil=True)
def _normalised_difference(x, acf, window_len, tau_max, diff, cmnd):
    """Fill d(τ) (YIN Eq. 7) and d'(τ) (YIN Eq. 8) for one frame."""
    energy_t = 0.0
    for j in range(window_len):
        energy_t += float(x[j]) * float(x[j])
    energy_lag = energy_t
    running = 0.0
    diff[0] = 0.0
    cmnd[0] = 1.0
    floor = 1e-6 * energy_t + 1e-30
    for tau in range(1, tau_max + 1):
        # Sliding r_{t+τ}(0) = Σ_{j<W} x_{j+τ}².
        energy_lag += float(x[tau + window_len - 1]) ** 2 - float(x[tau - 1]) ** 2
        # YIN Eq. (7): d_t(τ) = r_t(0) + r_{t+τ}(0) − 2 r_t(τ).
        d = energy_t + energy_lag - 2.0 * acf[tau]
        d = d if d > 0.0 else 0.0
        diff[tau] = d
        running += d
        # YIN Eq. (8): d'_t(τ) = d_t(τ) / [(1/τ) Σ_{j=1..τ} d_t(j)]. A frame whose mean
        # difference is negligible next to its energy (silence, DC) counts as aperiodic.
        cmnd[tau] = d * tau / running if running > floor * tau else 1.0


@njit(cache=True, nogil=True)
def _yin_kernel(frames, acf, window_len, tau_min, tau_max, threshold, step4_margin,
                continuity_margin, reliable_dip, max_age, max_jump_oct, state, period, dip):
    diff = np.empty(tau_max + 1)
    cmnd = np.empty(tau_max + 1)
    trough_tau = np.empty(tau_max, dtype=np.int64)
    trough_dip = np.empty(tau_max)
    for s in range(frames.shape[0]):
        reference, age = state[s, 0], state[s, 1]
        for t in range(frames.shape[1]):
            _normalised_difference(frames[s, t], acf[s, t], window_len, tau_max, diff, cmnd)
            n_troughs = 0
            deepest = -1
            for tau in range(tau_min, tau_max):
                c = cmnd[tau]
                if c < cmnd[tau - 1] and c <= cmnd[tau + 1]:
                    trough_tau[n_troughs] = tau
                    trough_dip[n_troughs] = c
                    if deepest < 0 or c < trough_dip[deepest]:
                        deepest = n_troughs
                    n_troughs += 1
            age += 1.0
            if n_troughs == 0:
                period[s, t] = np.nan
                dip[s, t] = 1.0
                continue
            # YIN step 4, with the relative limit (module docstring).
            chosen = deepest
            for k in range(n_troughs):
                if trough_dip[k] < threshold and (
                    trough_dip[k] <= trough_dip[deepest] + step4_margin
                ):
                    chosen = k
                    break
            # Continuity in place of YIN step 6 (module docstring).
            if age <= max_age:
                nearest, distance = -1, max_jump_oct
                for k in range(n_troughs):
                    octaves = abs(np.log2(trough_tau[k] / reference))
                    if octaves < distance:
                        nearest, distance = k, octaves
                if nearest >= 0 and trough_dip[nearest] <= trough_dip[chosen] + continuity_margin:
                    chosen = nearest
            tau = trough_tau[chosen]
            # YIN step 5: parabolic interpolation of d around the chosen lag.
            before, at, after = diff[tau - 1], diff[tau], diff[tau + 1]
            curvature = before - 2.0 * at + after
            shift = 0.5 * (before - after) / curvature if curvature > 0.0 else 0.0
            period[s, t] = tau + min(max(shift, -1.0), 1.0)
            dip[s, t] = min(trough_dip[chosen], 1.0)
            if dip[s, t] < reliable_dip:
                reference, age = period[s, t], 0.0
        state[s, 0], state[s, 1] = reference, age
