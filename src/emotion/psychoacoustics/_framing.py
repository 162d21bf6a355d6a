"""Causal, chunk-invariant framing of many streams at once, and short-time power spectra.

A :class:`StreamFramer` turns blocks of ``(streams, samples, ...)`` into complete
analysis frames ``(streams, frames, ..., frame_len)``. Frame ``j`` ends at sample ``(j + 1) * hop``
and reaches back ``frame_len`` samples (zeros before the stream's start), so frames do
not depend on how the input was cut into blocks.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft
from numpy.lib.stride_tricks import sliding_window_view


def check_stream_count(n_streams) -> int:
    """``n_streams`` as an int; a clear ValueError unless it is a positive whole number."""
    if isinstance(n_streams, bool) or int(n_streams) != n_streams or n_streams < 1:
        raise ValueError(f"n_streams must be a positive whole number, got {n_streams!r}")
    return int(n_streams)


class StreamFramer:
    """Sliding frames of length ``frame_len`` every ``hop`` samples, fed block by block.

    Parameters
    ----------
    n_streams : int
        Number of parallel streams (the leading axis of every block).
    frame_len : int
        Samples per frame.
    hop : int
        Samples between the ends of consecutive frames.
    dtype : numpy dtype
        Working precision of the frames.
    feature_shape : tuple of int
        Trailing axes of each sample (e.g. ``(channels,)`` for an envelope series).
    """

    def __init__(
        self, n_streams: int, frame_len: int, hop: int, dtype=np.float64, feature_shape=()
    ) -> None:
        if not 0 < hop <= frame_len:
            raise ValueError("need 0 < hop <= frame_len")
        self.n_streams = n_streams
        self.frame_len = frame_len
        self.hop = hop
        self.dtype = np.dtype(dtype)
        # Samples kept from earlier blocks: the last (frame_len - hop) samples of the
        # previous frame plus any samples not yet making up a full hop.
        self.feature_shape = tuple(feature_shape)
        self._tail = np.zeros((n_streams, frame_len - hop, *self.feature_shape), dtype=self.dtype)
        self.frames_emitted = 0

    def push(self, block: np.ndarray) -> np.ndarray:
        """Append a block ``(streams, samples, ...)``; return the frames it completes.

        Returns
        -------
        frames : ndarray, shape (streams, n_new_frames, ..., frame_len)
            A view when possible; copy it if you keep it beyond the next ``push``.
        """
        block = np.asarray(block, dtype=self.dtype)
        expected = (self.n_streams, block.shape[1] if block.ndim > 1 else -1, *self.feature_shape)
        if block.shape != expected:
            raise ValueError(
                f"block must be shaped (streams={self.n_streams}, samples, "
                f"*{self.feature_shape}), got {block.shape}"
            )
        buf = np.concatenate([self._tail, block], axis=1)
        n_frames = max(buf.shape[1] - (self.frame_len - self.hop), 0) // self.hop
        if n_frames:
            windows = sliding_window_view(buf, self.frame_len, axis=1)
            frames = windows[:, : n_frames * self.hop : self.hop]
            consumed = n_frames * self.hop
        else:
            frames = np.empty(
                (self.n_streams, 0, *self.feature_shape, self.frame_len), dtype=self.dtype
            )
            consumed = 0
        self._tail = buf[:, consumed:].copy()
        self.frames_emitted += n_frames
        return frames


class ShortTimePower:
    """Power spectra ``|X_k|²`` of Hann-windowed frames, many streams, block by block.

    One instance (8 ms frames every 2 ms in the streaming engine) feeds both the
    roughness/fluctuation channel envelopes and the loudness path's within-frame
    intensity statistics, so the transform is paid once.
    """

    def __init__(self, n_streams: int, frame_len: int, hop: int) -> None:
        self.frame_len = frame_len
        self.hop = hop
        self.window = np.hanning(frame_len + 1)[:-1].astype(np.float32)  # periodic Hann
        self._framer = StreamFramer(n_streams, frame_len, hop, np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        """``(streams, T, frame_len // 2 + 1)`` power spectra of the frames completed."""
        spectrum = sfft.rfft(self._framer.push(block) * self.window, axis=-1)
        return spectrum.real**2 + spectrum.imag**2
