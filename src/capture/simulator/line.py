"""The last stage of a simulated line: a loop of line noise and G.711 μ-law, per sample.

Calls are mixed in float32 in int16 units (full scale 32768); :func:`to_line_pcm` then
rounds, clips and passes every sample through μ-law encode and decode in one table
lookup, so the output takes only values a G.711 line can carry (|x| ≤ 32124).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from capture.g711 import ulaw_decode, ulaw_encode
from capture.telephone import LINE_FS_HZ, line_noise

__all__ = ["ULAW_MAX", "BlockReader", "add_loop", "noise_loop", "to_line_pcm"]

#: Largest magnitude μ-law decodes to.
ULAW_MAX = 32124
_NOISE_LOOP_SAMPLES = 60013  # 7.5 s, prime so that loops at different offsets never align
# μ-law encode then decode, indexed by an int16 sample's uint16 bit pattern.
_ULAW_ROUND_TRIP = ulaw_decode(ulaw_encode(np.arange(65536, dtype=np.uint16).view(np.int16)))


def to_line_pcm(x: np.ndarray) -> np.ndarray:
    """float32 samples in int16 units, any shape → int16 after G.711 μ-law (``x`` is used up)."""
    np.rint(x, out=x)
    np.clip(x, -32768, 32767, out=x)
    return _ULAW_ROUND_TRIP[x.astype(np.int16).view(np.uint16)]


@functools.lru_cache(maxsize=8)
def noise_loop(noise_dbfs: float) -> np.ndarray:
    """Telephone-band pink noise at RMS ``noise_dbfs``, 7.5 s, float32 in int16 units."""
    noise = line_noise((_NOISE_LOOP_SAMPLES,), LINE_FS_HZ, noise_dbfs, seed=8117) * 32768.0
    noise = noise.astype(np.float32)
    noise.flags.writeable = False
    return noise


def add_loop(out: np.ndarray, loop: np.ndarray, start: int) -> None:
    """Add ``loop`` from position ``start`` (taken modulo its length) into ``out`` (1-D)."""
    i, done = start % loop.size, 0
    while done < out.size:
        take = min(out.size - done, loop.size - i)
        out[done : done + take] += loop[i : i + take]
        done += take
        i = 0


class BlockReader:
    """Reads of any size, served from blocks rendered ahead and put through G.711 whole.

    ``render(out)`` adds the next block into ``out``, float32 zeros shaped
    ``(*lead_shape, block)`` in int16 units; a read of a few samples then costs a slice.
    """

    def __init__(self, lead_shape: tuple, block: int, render: Callable[[np.ndarray], None]):
        self._scratch = np.zeros((*lead_shape, block), dtype=np.float32)
        self._pcm = np.zeros((*lead_shape, 0), dtype=np.int16)
        self._used = 0
        self._render = render

    def read(self, n_samples: int) -> np.ndarray:
        if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
            raise TypeError(f"n_samples must be an int, got {n_samples!r}")
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        out = np.empty((*self._scratch.shape[:-1], n_samples), dtype=np.int16)
        done = 0
        while done < n_samples:
            if self._used == self._pcm.shape[-1]:
                self._scratch.fill(0.0)
                self._render(self._scratch)
                self._pcm, self._used = to_line_pcm(self._scratch), 0
            take = min(n_samples - done, self._pcm.shape[-1] - self._used)
            out[..., done : done + take] = self._pcm[..., self._used : self._used + take]
            done += take
            self._used += take
        return out
