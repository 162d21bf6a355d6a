"""Audio waiting to be analysed: one ring buffer per seat slot and channel, played in lockstep.

Each call in a slot has a timeline in samples from its start. Pushed audio lands on it
(at its ``t_s``, or after what came before); the engine plays every playing slot by the
same ``tick`` of samples per tick. Per slot and channel this keeps

- ``write``: the end of the audio received (or filled in) so far;
- ``read``: the play position, shared by a call's channels (they advance together).

A call starts playing once ``jitter`` samples are buffered on its agent channel, or
``jitter_ticks`` ticks after its first audio arrived, whichever comes first (a jitter
buffer: the call then runs up to ``jitter`` behind its audio, so packets late by less
than that cost nothing). Once it plays:

- **underrun**: samples a tick needs that have not arrived are zeros, counted; audio
  for that stretch arriving later is *late* and dropped (with ``t_s``), or, pushed
  without ``t_s``, continues the timeline from where play is;
- **gap**: audio whose ``t_s`` lies beyond ``write`` leaves a gap that is filled with
  zeros, counted as underrun;
- **backlog**: when more than the ring's capacity (``max_backlog``) is buffered, the
  oldest audio is dropped, counted.

Everything is per group of slots in ``(slots, channels)`` arrays; :meth:`SeatBuffers.take`
reads one tick for all slots in one vectorised step (a gather of contiguous slices, and
an index gather for the few rings whose tick wraps around). Not thread-safe: the engine
holds its lock around every call.
"""

from __future__ import annotations

import numpy as np


class SeatBuffers:
    """Ring buffers, play positions and audio accounting of one group of seat slots.

    Parameters
    ----------
    n_slots, n_channels : int
        Slots of the group; channels per slot (0 is the agent).
    tick : int
        Samples each playing slot advances per :meth:`take`.
    jitter : int
        Agent samples buffered that start a call playing.
    jitter_ticks : int
        Ticks after its first audio after which a call plays anyway.
    max_backlog : int
        Most samples buffered per channel; the ring's length.
    """

    def __init__(self, n_slots: int, n_channels: int, *, tick: int, jitter: int,
                 jitter_ticks: int, max_backlog: int) -> None:
        if not 0 < tick <= max_backlog or jitter > max_backlog:
            raise ValueError(f"need 0 < tick ({tick}) <= max_backlog ({max_backlog}) and "
                             f"jitter ({jitter}) <= max_backlog")
        self.tick, self.jitter, self.jitter_ticks = tick, jitter, jitter_ticks
        self.capacity = max_backlog
        shape = (n_slots, n_channels)
        self.ring = np.zeros((n_slots * n_channels, max_backlog), dtype=np.int16)
        self.read = np.zeros(n_slots, dtype=np.int64)
        self.write = np.zeros(shape, dtype=np.int64)
        self.declared = np.zeros(shape, dtype=bool)
        self.in_use = np.zeros(n_slots, dtype=bool)
        self.playing = np.zeros(n_slots, dtype=bool)
        self.first_tick = np.full(n_slots, -1, dtype=np.int64)
        #: Per slot and channel, since the slot's call opened: samples filled with zeros
        #: (underruns and gaps), dropped for backlog, and dropped as late or duplicate.
        self.underrun = np.zeros(shape, dtype=np.int64)
        self.dropped = np.zeros(shape, dtype=np.int64)
        self.late = np.zeros(shape, dtype=np.int64)
        #: Per channel, over the group's life: the same three, and samples received.
        self.total = {name: np.zeros(n_channels, dtype=np.int64)
                      for name in ("underrun", "dropped", "late", "received")}
        self._arange = np.arange(tick)
        self._rows = np.arange(n_slots * n_channels)
        self._windows = np.lib.stride_tricks.sliding_window_view(self.ring, tick, axis=1)

    @property
    def n_slots(self) -> int:
        return self.read.shape[0]

    @property
    def n_channels(self) -> int:
        return self.write.shape[1]

    def open(self, slot: int, channels: tuple[int, ...]) -> None:
        """Give ``slot`` to a new call with the given channel indices; forget the last one."""
        self.in_use[slot] = True
        self.playing[slot] = False
        self.first_tick[slot] = -1
        self.read[slot] = 0
        for array in (self.write, self.underrun, self.dropped, self.late):
            array[slot] = 0
        self.declared[slot] = False
        self.declared[slot, list(channels)] = True

    def release(self, slot: int) -> None:
        """The slot's call ended: nothing of it is played any more."""
        self.in_use[slot] = False
        self.playing[slot] = False

    def buffered(self) -> np.ndarray:
        """Samples waiting per slot and channel, ``(slots, channels)``."""
        return np.maximum(self.write - self.read[:, None], 0)

    def write_audio(self, slot: int, channel: int, pcm: np.ndarray, start: int | None,
                    tick_now: int) -> None:
        """Put int16 ``pcm`` on the slot's channel at sample ``start`` of its timeline
        (None: right after the audio before it); see the module notes for what is counted."""
        n = pcm.shape[0]
        if n == 0:
            return
        if self.first_tick[slot] < 0:
            self.first_tick[slot] = tick_now
        self.total["received"][channel] += n
        r, w = int(self.read[slot]), int(self.write[slot, channel])
        start = w if start is None else start
        end = start + n
        if start < w:  # late or duplicate
            late = min(end, w) - start
            self.late[slot, channel] += late
            self.total["late"][channel] += late
            if end <= w:
                return
            pcm, start = pcm[late:], w
        new_read = max(r, end - self.capacity)
        if new_read > r:
            for c in range(self.n_channels):
                lost = min(int(self.write[slot, c]), new_read) - r
                if c == channel:
                    lost = min(w, new_read) - r + max(min(end, new_read) - start, 0)
                if lost > 0:
                    self.dropped[slot, c] += lost
                    self.total["dropped"][c] += lost
            self.read[slot] = new_read
            np.maximum(self.write[slot], new_read, out=self.write[slot])
        gap_from = max(w, new_read)
        if start > gap_from:
            self.underrun[slot, channel] += start - gap_from
            self.total["underrun"][channel] += start - gap_from
            self._put(slot, channel, gap_from, np.zeros(start - gap_from, dtype=np.int16))
        skip = max(new_read - start, 0)
        self._put(slot, channel, start + skip, pcm[skip:])
        self.write[slot, channel] = end

    def take(self, tick_now: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One tick of audio for every slot, starting the calls that are ready.

        Returns
        -------
        block : ndarray of int16, shape (slots, channels, tick)
            Zeros for slots not playing, for undeclared channels and where audio is missing.
        started : ndarray of bool, shape (slots,)
            Slots whose call starts playing with this block (its first sample).
        playing : ndarray of bool, shape (slots,)
            Slots whose call this block belongs to.
        """
        agent_buffered = self.write[:, 0] - self.read
        waited = (self.first_tick >= 0) & (tick_now - self.first_tick >= self.jitter_ticks)
        started = (self.in_use & ~self.playing & (self.first_tick >= 0)
                   & ((agent_buffered >= self.jitter) | waited))
        self.playing |= started
        playing = self.playing.copy()
        n, n_ch = self.tick, self.n_channels
        starts = np.repeat(self.read % self.capacity, n_ch)  # ring row = slot * channels + ch
        wraps = starts > self.capacity - n
        flat = self._windows[self._rows, np.where(wraps, 0, starts)]
        if wraps.any():
            rows = np.flatnonzero(wraps)
            flat[rows] = np.take_along_axis(
                self.ring[rows], (starts[rows, None] + self._arange) % self.capacity, axis=1)
        block = flat.reshape(self.n_slots, n_ch, n)
        block[~playing] = 0
        available = np.clip(self.write - self.read[:, None], 0, n)
        short = playing[:, None] & (available < n)
        if short.any():
            slots, channels = np.nonzero(short)
            part = block[slots, channels]
            part[self._arange >= available[slots, channels, None]] = 0
            block[slots, channels] = part
            filled = np.where(short & self.declared, n - available, 0)
            self.underrun += filled
            self.total["underrun"] += filled.sum(axis=0)
        self.read[playing] += n
        np.maximum(self.write, self.read[:, None], out=self.write)
        return block, started, playing

    def _put(self, slot: int, channel: int, position: int, data: np.ndarray) -> None:
        """Copy ``data`` to the ring from timeline ``position`` (it fits: ≤ capacity)."""
        row = self.ring[slot * self.n_channels + channel]
        i, n = position % self.capacity, data.shape[0]
        first = min(n, self.capacity - i)
        row[i : i + first] = data[:first]
        if first < n:
            row[: n - first] = data[first:]
