"""Streaming time-varying loudness for 8/16 kHz monitoring (many streams, block by block).

The reference path (:func:`loudness_zwtv`) runs ISO 532-1's 48 kHz filterbank sample by
sample. For monitoring, the third-octave intensities come instead from a short-time
Fourier transform: each 24 ms frame's power spectrum is weighted by the power response
of each ISO band filter (averaged over the bin), which gives that band's mean-square
pressure over the frame. From there the chain is the standard's own, at a 10 ms step:
core loudness (A.4), the nonlinear temporal decay and the temporal weighting (clause 6)
with their state carried from block to block, and the slopes (Table A.8/A.9).

One correction keeps the long frame honest. ISO smooths band intensities over only
2/(3 f_c) (0.7 ms above 1 kHz) before the compressive core loudness, so a fluctuating
band (speech, noise) is compressed moment by moment; a 24 ms mean intensity compresses
its peaks less and reads ~4 % louder on speech (Jensen's inequality). The 8 ms / 2 ms
spectra shared with the roughness path give each band's intensity within the frame;
the frame intensity is scaled by the ratio of their power mean of order
``INTENSITY_MEAN_ORDER`` to their plain mean. The order 0.5 is where steady pink noise
(not speech) reads the same as on the reference path; steady tones are untouched.

Bands above the stream's Nyquist frequency are empty: an 8 kHz stream has no energy
above 4 kHz, exactly as the same audio upsampled to 48 kHz has none.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from emotion.psychoacoustics._framing import ShortTimePower
from emotion.psychoacoustics._iso532_tables import (
    FILTER_A_DIFF,
    FILTER_GAIN,
    FILTER_REF,
    FS_HZ,
    I_REF_PA2,
    THIRD_OCTAVE_CENTRES_HZ,
    TINY_VALUE_PA2,
)
from emotion.psychoacoustics._zwicker_core import (
    N_CORE_BANDS,
    core_loudness_from_third_octave_levels,
    specific_loudness_frame_means,
    specific_loudness_from_core_loudness,
)
from emotion.psychoacoustics.loudness_zwtv import (
    _initial_state,
    nonlinear_temporal_decay,
    temporal_weighting,
)

#: Loudness step of the streaming path, s (the reference path uses 2 ms).
STEP_S = 0.010
#: STFT frame length, s: long enough to resolve third-octave bands from ~250 Hz up.
FRAME_S = 0.024
#: Interpolation points per step in the decay and weighting stages (1 ms inner step).
INNER_ITERATIONS = 10
#: Order of the power mean of within-frame band intensities (module docstring): 0.5,
#: a mean of square roots.
INTENSITY_MEAN_ORDER = 0.5


def iso_band_power_response(f_hz: np.ndarray) -> np.ndarray:
    """Power response |H_b(f)|² of the 28 ISO 532-1 Annex A band filters at 48 kHz.

    Parameters
    ----------
    f_hz : ndarray, shape (n,)

    Returns
    -------
    response : ndarray, shape (n, 28)
    """
    z = np.exp(-2j * np.pi * np.asarray(f_hz, dtype=np.float64) / FS_HZ)[:, None]
    h = np.ones((z.shape[0], THIRD_OCTAVE_CENTRES_HZ.size), dtype=np.complex128)
    for stage in range(3):
        b0, b1, b2, _, a1r, a2r = FILTER_REF[stage]
        a1 = a1r - FILTER_A_DIFF[:, stage, 0]  # Table A.1 minus Table A.2
        a2 = a2r - FILTER_A_DIFF[:, stage, 1]
        h *= (b0 + b1 * z + b2 * z**2) / (1.0 + a1 * z + a2 * z**2)
    return np.abs(h * FILTER_GAIN) ** 2


def band_weights(fs_hz: int, frame_len: int, window: np.ndarray) -> np.ndarray:
    """Matrix turning a one-sided power spectrum into ISO third-octave intensities.

    Each bin's weight for band b is |H_b|² averaged over the bin's width (so narrow
    low-frequency bands get their share of a bin, not a point sample), scaled so that a
    sinusoid's band intensity equals its mean square in Pa².

    Returns
    -------
    weights : ndarray of float32, shape (frame_len // 2 + 1, 28)
    """
    n_bins = frame_len // 2 + 1
    df_hz = fs_hz / frame_len
    sub = 16  # points per bin for the average
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    f_fine = np.clip((np.arange(n_bins)[:, None] + offsets) * df_hz, 0.0, fs_hz / 2)
    response = iso_band_power_response(f_fine.ravel()).reshape(n_bins, sub, -1).mean(axis=1)
    # One-sided power of a Hann-windowed frame: mean square = 2 |X_k|² / (N Σw²)
    # summed over k (DC and Nyquist counted once).
    scale = np.full(n_bins, 2.0 / (frame_len * np.sum(window**2)))
    scale[0] /= 2.0
    if frame_len % 2 == 0:
        scale[-1] /= 2.0
    return (response * scale[:, None]).astype(np.float32)


@lru_cache(maxsize=8)
def _band_weights_read_only(fs_hz: int, frame_len: int, window_bytes: bytes) -> np.ndarray:
    weights = band_weights(fs_hz, frame_len, np.frombuffer(window_bytes, dtype=np.float32))
    weights.flags.writeable = False
    return weights


def _band_weights_cached(fs_hz: int, frame_len: int, window_bytes: bytes) -> np.ndarray:
    """:func:`band_weights` of a float32 window, computed once per rate, length and
    window: evaluating the 28 filters on the fine grid takes ~1.7 ms a matrix, and every
    analyser (``analyse_clips`` builds one per 64 files) needs the same two."""
    return _band_weights_read_only(fs_hz, frame_len, window_bytes).copy()


class StreamingLoudness:
    """ISO 532-1 time-varying loudness of many streams at 8 or 16 kHz, block by block.

    Parameters
    ----------
    n_streams : int
    fs_hz : int
        8000 or 16000 (any rate from 8 kHz works; these are the ones the product uses).
    field_type : {"free", "diffuse"}
    short : ShortTimePower, optional
        The short-time spectra shared with roughness; its frames must tile the loudness
        step (8 ms every 2 ms here). Without it, :meth:`process` computes its own.
    spec_mean_steps : int, optional
        If given, :meth:`process` returns N' averaged over frames of this many steps
        (the frames it completed) instead of N' at every step.
    """

    _STREAM_STATE = (("_inside_tail", 0), ("_nl_state", 0), ("_tw_state", 0), ("_spec_sum", 0))
    _STREAM_CHILDREN = ("_long", "short")

    def __init__(
        self, n_streams: int, fs_hz: int, field_type: str = "free", short=None,
        spec_mean_steps: int | None = None,
    ) -> None:
        self.n_streams = n_streams
        self.fs_hz = int(fs_hz)
        self.field_type = field_type
        self.hop = int(round(STEP_S * fs_hz))
        self.frame_len = int(round(FRAME_S * fs_hz))
        self.window = np.hanning(self.frame_len + 1)[:-1].astype(np.float32)  # periodic
        self.weights = _band_weights_cached(self.fs_hz, self.frame_len, self.window.tobytes())
        # The long frames' power spectra: the same Hann frames, one fused pass each.
        self._long = ShortTimePower(n_streams, self.frame_len, self.hop)
        self.short = short or ShortTimePower(n_streams, int(0.008 * fs_hz), int(0.002 * fs_hz))
        if self.hop % self.short.hop or (self.frame_len - self.short.frame_len) % self.short.hop:
            raise ValueError("the short-time frames must tile the loudness frame")
        self._short_weights = _band_weights_cached(
            self.fs_hz, self.short.frame_len, self.short.window.tobytes()
        )
        # Short frames lying inside each long frame: (long - short) / short_hop + 1 of them,
        # a new long frame every hop / short_hop short frames.
        inside = (self.frame_len - self.short.frame_len) // self.short.hop + 1
        self._inside_hop = self.hop // self.short.hop
        # Band intensities of the short frames not yet used up by a long frame: the
        # (inside - hop) of the latest long frame plus any that do not complete one.
        self._inside_tail = np.zeros(
            (n_streams, inside - self._inside_hop, THIRD_OCTAVE_CENTRES_HZ.size),
            dtype=np.float32,
        )
        taper = np.hanning(inside + 2)[1:-1]
        self._taper = (taper / taper.sum()).astype(np.float32)
        # The decay stages' states as those functions start them (``state=None``), made
        # here so that streams can be advanced apart (emotion._stream_subsets).
        self._nl_state = _initial_state((n_streams,), N_CORE_BANDS)
        self._tw_state = _initial_state((n_streams,), 1)[..., 0]
        self._spec_mean_steps = spec_mean_steps
        self._spec_sum = np.zeros((n_streams, 240))
        self._spec_phase = 0

    @property
    def step_s(self) -> float:
        return self.hop / self.fs_hz

    def _within_frame_means(self, short_power: np.ndarray) -> np.ndarray:
        """Tapered means of the short frames' band intensities and of their square roots,
        one pair per long frame: shape (streams, T, 2 * 28)."""
        bands = np.maximum(short_power @ self._short_weights, np.float32(0))
        held = self._inside_tail
        n_series = held.shape[1] + bands.shape[1]
        n_long = max(n_series - (self._taper.size - self._inside_hop), 0) // self._inside_hop
        out = np.empty((self.n_streams, n_long, 2 * bands.shape[2]), dtype=np.float32)
        self._inside_tail = _tapered_means(held, bands, self._taper, self._inside_hop, out)
        return out

    def third_octave_levels(self, power: np.ndarray, short_power: np.ndarray) -> np.ndarray:
        """Third-octave levels (dB SPL), shape (streams, T, 28), from the power spectra
        ``(streams, T, frame_len // 2 + 1)`` of the Hann-windowed long frames."""
        intensity = power @ self.weights
        within = self._within_frame_means(short_power)  # (S, T, 2 * 28)
        _corrected_intensity_ratio(intensity, within)
        levels = np.log10(intensity, out=intensity)
        levels *= 10.0
        return levels

    def process(
        self, block_pa: np.ndarray, short_power: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Feed ``(streams, samples)`` of sound pressure in Pa.

        Parameters
        ----------
        block_pa : ndarray, shape (streams, samples)
        short_power : ndarray, optional
            ``self.short.process(block_pa)`` when the caller already computed it.

        Returns
        -------
        N : ndarray, shape (streams, T)
            Total loudness in sone for the T steps this block completed.
        N_spec : ndarray, shape (streams, T, 240)
            Specific loudness in sone/Bark; with ``spec_mean_steps``, shape
            (streams, F, 240): its mean over each frame completed.
        """
        if short_power is None:
            short_power = self.short.process(block_pa)
        power = self._long.process(block_pa)
        if power.shape[1] == 0:
            self._within_frame_means(short_power)  # keeps the short frames' history
            return np.zeros((self.n_streams, 0)), np.zeros((self.n_streams, 0, 240))
        levels = self.third_octave_levels(power, short_power)
        core = core_loudness_from_third_octave_levels(levels, self.field_type)
        core, self._nl_state = nonlinear_temporal_decay(
            core, self.step_s, inner_iterations=INNER_ITERATIONS, state=self._nl_state
        )
        if self._spec_mean_steps:
            n_total, n_spec, self._spec_phase = specific_loudness_frame_means(
                core, self._spec_mean_steps, self._spec_sum, self._spec_phase
            )
        else:
            n_total, n_spec = specific_loudness_from_core_loudness(core)
        n_total, self._tw_state = temporal_weighting(
            n_total, self.step_s, inner_iterations=INNER_ITERATIONS, state=self._tw_state
        )
        return n_total, n_spec


@njit(cache=True, nogil=True)
def _corrected_intensity_ratio(intensity, within):  # pragma: no cover - compiled
    """In place, float32: (intensity · power mean / mean + tiny) / I_ref per band.

    ``intensity`` (streams, T, 28); ``within`` (streams, T, 56) holds each band's mean
    intensity, then its mean root (:meth:`StreamingLoudness._within_frame_means`); the
    power mean of order 0.5 is the squared mean root. A band with no mean intensity is
    left as it is. The same float32 operations as the numpy expressions it replaced,
    in one pass.
    """
    n_bands = intensity.shape[2]
    tiny = np.float32(TINY_VALUE_PA2)
    ref = np.float32(I_REF_PA2)
    for s in range(intensity.shape[0]):
        for t in range(intensity.shape[1]):
            for b in range(n_bands):
                v = intensity[s, t, b]
                mean = within[s, t, b]
                if mean > 0.0:
                    root_mean = within[s, t, n_bands + b]
                    v = v * ((root_mean * root_mean) / mean)
                intensity[s, t, b] = (v + tiny) / ref


@njit(cache=True, nogil=True)
def _tapered_means(held, bands, taper, hop, out):  # pragma: no cover - compiled
    """Tapered sums of band intensities and of their square roots over sliding runs.

    The series is ``held`` (streams, H, 28) followed by ``bands`` (streams, T, 28); run
    ``f`` covers its items ``f hop`` … ``f hop + len(taper) - 1``. ``out`` (streams, F, 56)
    receives the intensity sums, then the root sums. Returns the items still needed by
    later runs (the new ``held``). One pass, no framed copy of the series: it replaced a
    concatenation, a sliding view and a strided matmul that together cost more than the
    long frames' transform, band weighting and levels (64 streams, 20 s: 157 against
    111 ms). Each sum is accumulated as that matmul did, in float32 with a fused
    multiply-add per tap in order: the product is exact in float64, the sum rounded to
    float64 and then to float32, which differs from one rounding only at double-rounding
    ties (none on the phone corpora: levels and loudness are the same numbers).
    """
    n_streams, n_held, n_bands = held.shape
    n_runs = out.shape[1]
    n_taps = taper.shape[0]
    n_series = n_held + bands.shape[1]
    acc = np.empty(2 * n_bands, dtype=np.float32)
    for s in range(n_streams):
        for f in range(n_runs):
            acc[:] = 0.0
            for n in range(n_taps):
                i = f * hop + n
                row = held[s, i] if i < n_held else bands[s, i - n_held]
                w = np.float64(taper[n])
                for b in range(n_bands):
                    v = row[b]
                    acc[b] = np.float32(np.float64(v) * w + np.float64(acc[b]))
                    root = np.float64(np.sqrt(v))
                    acc[n_bands + b] = np.float32(root * w + np.float64(acc[n_bands + b]))
            for b in range(2 * n_bands):
                out[s, f, b] = acc[b]
    first = n_runs * hop
    rest = np.empty((n_streams, n_series - first, n_bands), dtype=np.float32)
    for s in range(n_streams):
        for i in range(first, n_series):
            rest[s, i - first] = held[s, i] if i < n_held else bands[s, i - n_held]
    return rest
