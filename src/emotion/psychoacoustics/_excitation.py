"""Peripheral stage shared by the Daniel & Weber family of modulation models.

Roughness (Daniel & Weber 1997) and fluctuation strength (Osses, García & Kohlrausch
2016) start alike: a windowed frame is weighted by the outer- and middle-ear transfer
factor a0, every audible spectral component is spread over 47 overlapping 1-Bark-wide
channels (centres z_i = 0.5 i Bark) with Terhardt's excitation slopes, and each channel's
excitation is returned to the time domain and full-wave rectified; the envelope's
fluctuation, band-passed by a model-specific modulation weighting H_i(f_mod), gives a
modulation depth m_i per channel and a correlation k between channels 1 Bark apart.
The two models differ only in frame length, window, a0 variant, H_i and what they do
with m and k, so everything here takes ``fs_hz`` and ``frame_len`` as parameters: a
streaming implementation at 8 or 16 kHz reuses it with its own frame lengths.

"D&W stage n" refers to the three stages of D&W's model as MoSQITo's implementation
labels them (1: specific excitations; 2: modulation depths; 3: correlation and
specific roughness); the paper's equation numbers were not at hand to cite.

References
----------
Daniel, P. & Weber, R. (1997). Psychoacoustical roughness: implementation of an
    optimized model. Acustica 83, 113-123.  ("D&W")
Terhardt, E. (1979). Calculating virtual pitch. Hearing Research 1, 155-182.
Zwicker, E. & Fastl, H. (1990). Psychoacoustics: Facts and Models. Springer.  ("Z&F")
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft as sfft
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view

P_REF_PA = 2e-5
N_CHANNELS = 47
CHANNEL_BARK = 0.5 * np.arange(1, N_CHANNELS + 1)  # D&W stage 1: z_i = 0.5 i Bark
CHANNEL_BARK.flags.writeable = False

# Z&F Table 6.1: critical-band edges and centres (Hz) against critical-band rate (Bark),
# interpolated linearly in between.
_BARK_TABLE_HZ = np.array(
    [0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 510, 570, 630, 700, 770, 840, 920,
     1000, 1080, 1170, 1270, 1370, 1480, 1600, 1720, 1850, 2000, 2150, 2320, 2500, 2700,
     2900, 3150, 3400, 3700, 4000, 4400, 4800, 5300, 5800, 6400, 7000, 7700, 8500, 9500,
     10500, 12000, 13500, 15500, 20000], dtype=float)  # fmt: skip
_BARK_TABLE_Z = 0.5 * np.arange(_BARK_TABLE_HZ.size)

# Z&F Fig. 8.18, transmission factor a0 (dB) of the free-field outer and middle ear
# against z (Bark), as tabulated in D&W's reference code (flat below 10 Bark).
_A0_Z = np.array([0, 10, 12, 13, 14, 15, 16, 16.5, 17, 18, 18.5, 19, 20, 21, 21.5, 22,
                  22.5, 23, 23.5, 24, 25, 26])  # fmt: skip
_A0_DB = np.array([0, 0, 1.15, 2.31, 3.85, 5.62, 6.92, 7.38, 6.92, 4.23, 2.31, 0, -1.43,
                   -2.59, -3.57, -5.19, -7.41, -11.3, -20, -40, -130, -999])  # fmt: skip
# Osses et al. (2016) use a0 without the ear-canal resonance (flat up to 19 Bark).
_A0_NO_RESONANCE_DB = np.where(_A0_Z < 19, 0.0, _A0_DB)

# Threshold in quiet (dB SPL) against z (Bark) as used in D&W's reference code to decide
# which components are audible and how far their excitation reaches.
_THRESHOLD_Z = np.array([0, 0.01, 0.17, 0.8, 1, 1.5, 2, 3.3, 4, 5, 6, 8, 10, 12, 13.3, 15,
                         16, 17, 18, 19, 20, 21, 22, 23, 24, 24.5, 25])  # fmt: skip
_THRESHOLD_DB = np.array([130, 70, 60, 30, 25, 20, 15, 10, 8.1, 6.3, 5, 3.5, 2.5, 1.7, 0,
                          -2.5, -4, -3.7, -1.5, 1.4, 3.8, 5, 7.5, 15, 48, 60, 130])  # fmt: skip

LOWER_SLOPE_DB_PER_BARK = 27.0  # Terhardt (1979): excitation slope towards low z
AUDIBLE_RANGE_HZ = (20.0, 20000.0)


def bark_from_hz(f_hz: np.ndarray) -> np.ndarray:
    """Critical-band rate z (Bark) of frequencies in Hz, Z&F Table 6.1 interpolated."""
    return np.interp(f_hz, _BARK_TABLE_HZ, _BARK_TABLE_Z)


def hz_from_bark(z_bark: np.ndarray) -> np.ndarray:
    """Frequency (Hz) at critical-band rate z (Bark), inverse of :func:`bark_from_hz`."""
    return np.interp(z_bark, _BARK_TABLE_Z, _BARK_TABLE_HZ)


def outer_ear_gain_db(z_bark: np.ndarray, resonance: bool = True) -> np.ndarray:
    """Outer- and middle-ear transmission a0 (dB) at z (Bark), Z&F Fig. 8.18.

    ``resonance=False`` gives the variant of Osses et al. (2016), flat up to 19 Bark.
    """
    return np.interp(z_bark, _A0_Z, _A0_DB if resonance else _A0_NO_RESONANCE_DB)


def threshold_db_spl(z_bark: np.ndarray) -> np.ndarray:
    """Threshold in quiet (dB SPL) at z (Bark) as used by D&W for audibility."""
    return np.interp(z_bark, _THRESHOLD_Z, _THRESHOLD_DB)


@dataclass(frozen=True, eq=False)
class ExcitationLayout:
    """Fixed geometry of the excitation stage for one ``(fs_hz, frame_len)``.

    Attributes
    ----------
    fs_hz, frame_len : float, int
        Sampling rate and analysis-frame length (samples); bins are ``fs_hz/frame_len`` apart.
    bins : slice
        The contiguous rfft bins considered: 20 Hz up to min(20 kHz, below fs/2).
    freq_hz, bark : ndarray, shape (n_bins,)
        Their frequencies and critical-band rates.
    a0 : ndarray, shape (n_bins,)
        Outer/middle-ear amplitude factor at each bin.
    threshold_db : ndarray, shape (n_bins,)
        Threshold in quiet at each bin: a component is audible above it.
    dz_bark : ndarray of float32, shape (47, n_bins)
        Distance from each component to the nearest edge of each 1-Bark-wide channel
        (0 when the component lies inside the channel).
    above : ndarray of bool, shape (47, n_bins)
        The component lies above the channel (the lower slope reaches down to it).
    edge_threshold_db : ndarray of float32, shape (47, n_bins)
        Threshold in quiet at that nearest channel edge.
    """

    fs_hz: float
    frame_len: int
    bins: slice
    freq_hz: np.ndarray
    bark: np.ndarray
    a0: np.ndarray
    threshold_db: np.ndarray
    dz_bark: np.ndarray
    above: np.ndarray
    edge_threshold_db: np.ndarray

    @property
    def n_rfft(self) -> int:
        return self.frame_len // 2 + 1

    @property
    def df_hz(self) -> float:
        return self.fs_hz / self.frame_len


@lru_cache(maxsize=6)
def excitation_layout(fs_hz: float, frame_len: int, resonance: bool = True) -> ExcitationLayout:
    """Build (and cache) the :class:`ExcitationLayout` for a sampling rate and frame length.

    Parameters
    ----------
    fs_hz : float
        Sampling rate of the frames.
    frame_len : int
        Frame length in samples (200 ms for roughness, 2 s for fluctuation strength).
    resonance : bool
        Include the ear-canal resonance in a0 (D&W) or not (Osses et al. 2016).
    """
    df_hz = fs_hz / frame_len
    first = int(np.ceil(AUDIBLE_RANGE_HZ[0] / df_hz))
    stop = min(int(np.floor(AUDIBLE_RANGE_HZ[1] / df_hz)) + 1, (frame_len + 1) // 2)
    freq_hz = np.arange(first, stop) * df_hz
    bark = bark_from_hz(freq_hz)
    # D&W stage 1: channel i spans z_i +- 0.5 Bark; a component adds its own amplitude
    # inside the channel and its slope-attenuated amplitude at the channel's nearest
    # edge outside it.
    dist = bark[None, :] - CHANNEL_BARK[:, None]
    above = dist > 0
    edge_bark = CHANNEL_BARK[:, None] + np.where(above, 0.5, -0.5)
    layout = ExcitationLayout(
        fs_hz=float(fs_hz),
        frame_len=int(frame_len),
        bins=slice(first, stop),
        freq_hz=freq_hz,
        bark=bark,
        a0=10.0 ** (outer_ear_gain_db(bark, resonance) / 20.0),
        threshold_db=threshold_db_spl(bark),
        dz_bark=np.maximum(np.abs(dist) - 0.5, 0.0).astype(np.float32),
        above=above,
        edge_threshold_db=threshold_db_spl(edge_bark).astype(np.float32),
    )
    for name in ("freq_hz", "bark", "a0", "threshold_db", "dz_bark", "above", "edge_threshold_db"):
        getattr(layout, name).flags.writeable = False
    return layout


def as_streams(signal: np.ndarray) -> tuple[np.ndarray, bool]:
    """Validate sound pressure input; return it as ``(streams, samples)`` and if it was 1-D."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(f"signal must be (samples,) or (streams, samples), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("signal contains NaN or inf; pass finite sound pressure in Pa")
    return np.atleast_2d(x), x.ndim == 1


def frame_geometry(fs_hz: float, frame_s: float, overlap: float) -> tuple[int, int]:
    """Frame length and hop in samples for frames of ``frame_s`` overlapping by ``overlap``."""
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if not fs_hz > 0:
        raise ValueError(f"sampling rate must be positive, got {fs_hz} Hz")
    frame_len = int(np.rint(frame_s * fs_hz))
    return frame_len, max(frame_len - int(np.rint(overlap * frame_len)), 1)


def frame_signal(
    signal_pa: np.ndarray, fs_hz: float, frame_len: int, hop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``(streams, samples)`` into frames ``(streams, frames, frame_len)`` (a view).

    Frames start at sample 0 and every ``hop`` samples after, as long as they fit; the
    time of a frame is its centre, as in MoSQITo's ``time_segmentation``.
    """
    n_samples = signal_pa.shape[-1]
    if n_samples < frame_len:
        raise ValueError(
            f"signal has {n_samples} samples ({n_samples / fs_hz:.3f} s) but one analysis "
            f"frame needs {frame_len} ({frame_len / fs_hz:.3f} s); pass a longer signal"
        )
    frames = sliding_window_view(signal_pa, frame_len, axis=-1)[..., ::hop, :]
    time_s = (np.arange(frames.shape[-2]) * hop + (frame_len - 1) / 2) / fs_hz
    return frames, time_s


def component_spectrum(
    frames_pa: np.ndarray, window: np.ndarray, layout: ExcitationLayout
) -> tuple[np.ndarray, np.ndarray]:
    """Spectrum of the considered components after a0, and their levels (dB SPL).

    Parameters
    ----------
    frames_pa : ndarray, shape (..., frame_len)
        Sound pressure frames in Pa.
    window : ndarray, shape (frame_len,)
    layout : ExcitationLayout

    Returns
    -------
    spectrum : ndarray of complex, shape (..., n_bins)
        Scaled so that a sinusoid of amplitude A Pa centred on a bin has magnitude A.
    level_db : ndarray, shape (..., n_bins)
        Level of each component after a0, 20 log10(|X| / (sqrt(2) p0)).
    """
    spec = sfft.rfft(frames_pa * window, axis=-1)[..., layout.bins]
    spec *= layout.a0 * (2.0 / window.sum())  # a0: Z&F Fig. 8.18
    with np.errstate(divide="ignore"):
        level_db = 20.0 * np.log10(np.abs(spec) / (np.sqrt(2.0) * P_REF_PA))
    return spec, level_db


@njit(cache=True, nogil=True)
def _fill_channel_spectra(spec, level_db, threshold_db, freq_hz, dz, above, edge_thr, k0, out):
    """Write each component's share in each channel into ``out[f, i, k0 + b]`` (zeroed)."""
    ln10_20 = np.log(10.0) / 20.0
    n_frames, n_bins = level_db.shape
    s2 = np.empty(n_bins)
    for f in range(n_frames):
        for b in range(n_bins):
            # Terhardt (1979) upper slope S2 = -24 - 230 Hz/f + 0.2 L dB/Bark, at most 0
            s2[b] = min(-24.0 - 230.0 / freq_hz[b] + 0.2 * level_db[f, b], 0.0)
        for i in range(dz.shape[0]):
            for b in range(n_bins):
                level = level_db[f, b]
                if not level > threshold_db[b]:
                    continue  # inaudible component
                d = dz[i, b]
                if d == 0.0:
                    gain_db = 0.0  # the component lies in channel i
                else:
                    # lower slope -27 dB/Bark reaches channels below, S2 those above
                    gain_db = -LOWER_SLOPE_DB_PER_BARK * d if above[i, b] else s2[b] * d
                    if not level + gain_db > edge_thr[i, b]:
                        continue  # below the threshold in quiet at the channel edge
                out[f, i, k0 + b] = spec[f, b] * np.float32(np.exp(gain_db * ln10_20))


def channel_envelope_spectra(
    spectrum: np.ndarray, level_db: np.ndarray, layout: ExcitationLayout, n_mod_bins: int
) -> np.ndarray:
    """Low-frequency spectra of the rectified channel excitations (D&W stages 1-2).

    The component spectrum weighted by each channel's Terhardt gains is returned to a
    time function e_i(t), full-wave rectified, and transformed again; only the first
    ``n_mod_bins`` bins (DC and modulation frequencies up to ``(n_mod_bins-1) * df``)
    are kept. Memory is about ``frames * 47 * frame_len * 8`` bytes: pass few frames.

    Parameters
    ----------
    spectrum, level_db : ndarray, shape (frames, n_bins)
        From :func:`component_spectrum`.
    layout : ExcitationLayout
    n_mod_bins : int

    Returns
    -------
    ndarray of complex64, shape (frames, 47, n_mod_bins)
        Bin 0 is proportional to the mean envelope h0 (one scale for all channels).
    """
    buf = np.zeros((spectrum.shape[0], N_CHANNELS, layout.n_rfft), dtype=np.complex64)
    _fill_channel_spectra(
        np.ascontiguousarray(spectrum, dtype=np.complex64),
        np.ascontiguousarray(level_db, dtype=np.float64),
        layout.threshold_db, layout.freq_hz, layout.dz_bark, layout.above,
        layout.edge_threshold_db, layout.bins.start, buf,
    )  # fmt: skip
    e_t = sfft.irfft(buf, n=layout.frame_len, axis=-1, overwrite_x=True)  # e_i(t)
    np.abs(e_t, out=e_t)  # full-wave rectified envelope
    return sfft.rfft(e_t, axis=-1, overwrite_x=True)[..., :n_mod_bins]


def modulation_depth(
    envelope_spectra: np.ndarray, weighting: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Modulation depth m_i = rms(h_BP,i) / h0_i and the weighted envelope spectra.

    h_BP,i is the envelope fluctuation band-passed by the modulation weighting H_i (D&W
    stage 2). Its rms follows from Parseval on the positive bins, so the band-passed
    envelope never returns to the time domain.

    Parameters
    ----------
    envelope_spectra : ndarray, shape (..., 47, n_mod_bins)
    weighting : ndarray, shape (47, n_mod_bins)
        |H_i(f_mod)| on the same bins; bin 0 (DC) must be 0.

    Returns
    -------
    m : ndarray, shape (..., 47)
        Modulation depth (0 for silent channels), not yet limited.
    weighted : ndarray, shape (..., 47, n_mod_bins)
        The band-passed envelope spectra, for :func:`envelope_correlation`.
    """
    weighted = envelope_spectra * weighting
    power = np.sum(weighted.real**2 + weighted.imag**2, axis=-1, dtype=np.float64)
    h0 = envelope_spectra[..., 0].real.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(h0 > 0, np.sqrt(2.0 * power) / h0, 0.0)
    return m, weighted


def envelope_correlation(weighted: np.ndarray, lag: int = 2) -> np.ndarray:
    """Correlation of band-passed envelopes ``lag`` channels apart (D&W stage 3).

    The band-passed envelopes have zero mean, so Pearson's coefficient is their
    normalised inner product, computed on their spectra (Parseval).

    Returns
    -------
    k : ndarray, shape (..., 47 - lag)
        ``k[..., i]`` correlates channels ``i`` and ``i + lag``; 0 where either is silent.
    """
    w = weighted.astype(np.complex128)
    a, b = w[..., :-lag, :], w[..., lag:, :]
    cross = np.sum((a * b.conj()).real, axis=-1)
    norm = np.sqrt(np.sum(np.abs(a) ** 2, axis=-1) * np.sum(np.abs(b) ** 2, axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norm > 0, cross / norm, 0.0)


def channel_modulation(
    frames_pa: np.ndarray,
    window: np.ndarray,
    layout: ExcitationLayout,
    weighting: np.ndarray,
    frames_per_chunk: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Modulation depths and 1-Bark envelope correlations of frames, chunk by chunk.

    Parameters
    ----------
    frames_pa : ndarray, shape (streams, frames, frame_len)
        Sound pressure frames in Pa (a strided view is fine: chunks are copied one at
        a time, across streams, so many short streams batch as well as one long one).
    window : ndarray, shape (frame_len,)
    layout : ExcitationLayout
    weighting : ndarray, shape (47, n_mod_bins)
        Modulation weighting |H_i(f_mod)| on bins ``k * layout.df_hz``.
    frames_per_chunk : int
        Frames analysed together (memory about ``frames_per_chunk * 47 * frame_len * 8`` B).

    Returns
    -------
    m : ndarray, shape (streams, frames, 47)
        Modulation depths, not yet limited.
    k : ndarray, shape (streams, frames, 45)
        ``k[..., i]`` correlates channels i and i+2 (0-based).
    """
    n_streams, n_frames = frames_pa.shape[:2]
    total = n_streams * n_frames
    m = np.empty((total, N_CHANNELS))
    k = np.empty((total, N_CHANNELS - 2))
    for start in range(0, total, frames_per_chunk):
        flat = np.arange(start, min(start + frames_per_chunk, total))
        chunk = frames_pa[flat // n_frames, flat % n_frames]
        spec, level_db = component_spectrum(chunk, window, layout)
        env = channel_envelope_spectra(spec, level_db, layout, weighting.shape[-1])
        m[flat], weighted = modulation_depth(env, weighting)
        k[flat] = envelope_correlation(weighted, lag=2)
    return m.reshape(n_streams, n_frames, -1), k.reshape(n_streams, n_frames, -1)
