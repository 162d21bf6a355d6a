"""Causal, chunk-invariant framing of many streams at once.

A :class:`StreamFramer` turns blocks of ``(streams, samples, ...)`` into complete
analysis frames ``(streams, frames, ..., frame_len)``. Frame ``j`` ends at sample ``(j + 1) * hop``
and reaches back ``frame_len`` samples (zeros before the stream's start), so frames do
not depend on how the input was cut into blocks.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


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
