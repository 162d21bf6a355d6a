"""The messages from the server to the engine process, both ends.

The server keeps each channel's audio in a :class:`PendingAudio` until the next message;
:func:`batch_message` packs the calls opened and closed and all pending audio into one
message, and :func:`apply_batch` unpacks it into the engine in the engine process
(:mod:`voiceline.server.engine_process`, :mod:`voiceline.server.engine_child`).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class PendingAudio:
    """One channel's audio waiting for the next message, at most ``max_samples`` of it.

    ``pieces`` are ``(start sample or None, int16 pcm)`` in arrival order, ``start`` as
    :meth:`LiveEngine.push` takes ``t_s`` (None: after the previous samples).
    """

    def __init__(self, max_samples: int) -> None:
        self.max_samples = max_samples
        self.pieces: list[tuple[int | None, np.ndarray]] = []
        self.samples = 0

    def add(self, start: int | None, pcm: np.ndarray) -> int:
        """Keep ``pcm``; returns the samples dropped to stay within ``max_samples``
        (whole pieces, oldest first; the newest piece is always kept)."""
        self.pieces.append((start, pcm))
        self.samples += pcm.shape[0]
        dropped = 0
        while self.samples > self.max_samples and len(self.pieces) > 1:
            _, oldest = self.pieces.pop(0)
            self.samples -= oldest.shape[0]
            dropped += oldest.shape[0]
        return dropped


def batch_message(ops: list[tuple], audio: dict[tuple[str, str], PendingAudio]
                  ) -> tuple[tuple, int]:
    """One message for the engine process, and the samples it carries.

    ``("batch", ops, index, pcm)``: ``ops`` in order (``("open", seat, call, agent,
    channels)``, ``("close", call, reason)``), then the audio, all channels in one int16
    array, ``index`` rows ``(call_id, channel, start sample or -1, samples)`` in array
    order. Pieces that continue each other on the channel's timeline are one row (one
    push in the engine process).
    """
    index: list[tuple[str, str, int, int]] = []
    arrays: list[np.ndarray] = []
    for (call_id, channel), pending in audio.items():
        run: list[np.ndarray] = []
        run_start: int | None = None
        run_n = 0
        for start, pcm in pending.pieces:
            follows = start is None or (run_start is not None and start == run_start + run_n)
            if run and not follows:
                index.append((call_id, channel, -1 if run_start is None else run_start, run_n))
                arrays += run
                run, run_n = [], 0
            if not run:
                run_start = start
            run.append(pcm)
            run_n += pcm.shape[0]
        if run:
            index.append((call_id, channel, -1 if run_start is None else run_start, run_n))
            arrays += run
    pcm = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int16)
    return ("batch", ops, index, pcm), int(pcm.shape[0])


def apply_batch(engine: Any, message: tuple) -> list[tuple]:
    """Apply a :func:`batch_message` to ``engine``;
    returns ``("refused", call_id, reason)`` for each call it would not open."""
    _, ops, index, pcm = message
    refused = []
    for op in ops:
        if op[0] == "open":
            _, seat_id, call_id, agent_id, channels = op
            try:
                engine.open_call(seat_id, call_id, agent_id, channels)
            except (ValueError, KeyError) as exc:  # e.g. its baseline changed meanwhile
                refused.append(("refused", call_id, str(exc)))
        else:
            _, call_id, reason = op
            try:
                engine.close_call(call_id, reason)
            except KeyError:  # refused at open: the server has forgotten it already
                pass
    at = 0
    for call_id, channel, start, n in index:
        try:
            engine.push(call_id, channel, pcm[at : at + n],
                        t_s=None if start < 0 else start / engine.fs_hz)
        except (KeyError, ValueError):  # a call refused above
            pass
        at += n
    return refused
