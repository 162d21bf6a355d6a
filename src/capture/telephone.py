"""A telephone line in software: 300-3400 Hz, 8 kHz, G.711, line noise.

Used to train and test on audio that sounds like the hotline's (the product's main
case), from wideband recordings: the augmentation of the model training, the phone
condition of the benchmarks, and the call simulator.
"""

from __future__ import annotations

import numpy as np
import scipy.signal
from numpy.typing import ArrayLike

from capture.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from capture.resample import resample
from capture.synth import pink_noise

LINE_FS_HZ = 8000
#: Pass band of a telephone channel (ITU-T G.712 / G.711 transmission plan).
TELEPHONE_BAND_HZ = (300.0, 3400.0)
_CODECS = {"ulaw": (ulaw_encode, ulaw_decode), "alaw": (alaw_encode, alaw_decode)}


def band_limit(x: ArrayLike, fs_hz: float, band_hz=TELEPHONE_BAND_HZ) -> np.ndarray:
    """Band-pass along the last axis: 6th-order Butterworth, causal as a real line is."""
    sos = scipy.signal.butter(6, band_hz, btype="bandpass", fs=fs_hz, output="sos")
    return scipy.signal.sosfilt(sos, np.asarray(x, dtype=np.float64), axis=-1)


def g711_round_trip(x: ArrayLike, law: str = "ulaw") -> np.ndarray:
    """Encode and decode digital full-scale samples with G.711 (clipping at full scale)."""
    if law not in _CODECS:
        raise ValueError(f"law must be 'ulaw' or 'alaw', got {law!r}")
    encode, decode = _CODECS[law]
    pcm = np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767)
    return decode(encode(pcm.astype(np.int16))).astype(np.float64) / 32768.0


def line_noise(shape, fs_hz: float, level_dbfs: float, *, seed: int = 0) -> np.ndarray:
    """Telephone-band pink noise (a hissy analogue tail) at an RMS level in dBFS.

    ``shape`` is ``(samples,)`` or ``(streams, samples)``; stream i uses ``seed + i``.
    """
    rows = int(np.prod(shape[:-1], dtype=int)) if len(shape) > 1 else 1
    pink = np.stack([pink_noise(0.0, shape[-1] / fs_hz, fs_hz, seed=seed + i)[: shape[-1]]
                     for i in range(rows)])
    noise = band_limit(pink, fs_hz)
    rms = np.sqrt(np.mean(noise**2, axis=-1, keepdims=True))
    noise = noise / np.where(rms > 0, rms, 1.0) * 10 ** (level_dbfs / 20)
    return noise.reshape(shape)


def telephone_channel(
    x: ArrayLike,
    fs_hz: float,
    *,
    law: str | None = "ulaw",
    noise_dbfs: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Pass digital audio through a simulated telephone line; returns 8 kHz samples.

    Parameters
    ----------
    x : array_like, shape (samples,) or (streams, samples)
        Digital samples, full scale ±1.0, at ``fs_hz``.
    fs_hz : float
        Rate of ``x`` (8-48 kHz).
    law : {"ulaw", "alaw", None}
        G.711 companding, or None for linear 16-bit.
    noise_dbfs : float, optional
        RMS level of added line noise (e.g. -60 for a good line, -45 for a poor one).
    seed : int
        Noise seed.

    Returns
    -------
    ndarray, same leading shape, at 8 kHz, full scale ±1.0.
    """
    y = resample(band_limit(x, fs_hz), fs_hz, LINE_FS_HZ)
    if noise_dbfs is not None:
        y = y + line_noise(y.shape, LINE_FS_HZ, noise_dbfs, seed=seed)
    return g711_round_trip(y, law) if law else np.clip(y, -1.0, 32767 / 32768)
