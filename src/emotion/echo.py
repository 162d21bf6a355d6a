"""The other party heard on a live channel (headset echo, crosstalk), told from its own speech.

An agent's headset microphone hears the caller from the earpiece: the caller's voice
arrives on the agent's channel some 25-40 dB down and up to ~0.1 s late. The voice
detector rightly takes it for speech, and a live call in which the agent listens to a
long complaint was scored as the agent's voice: a quiet voice, so the low-energy alert
came on a minute into a call in which the agent had not said a word (three synthetic
voices, the caller mixed in at -35 to -25 dB, no agent speech: a low-energy alert in 7 of
9 calls; see benchmarks/RESULTS.md, nineteenth round).

Pre-inspection sees the whole recording and learns the leak's gain and delay
(:mod:`qa.crosstalk`). Live, a fixed rule decides frame by frame as the frames come: a
frame of this channel is the other party's when the other party is speaking and, at
some moment of the last :data:`REACH_S`, was at least :data:`MARGIN_DB` louder than this
channel has been at any moment of its last :data:`OWN_REACH_S`. Speech of one's own
over the other party is within a few decibels of it on lines at their nominal levels, so
it stays; a leak far down is dropped.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from emotion.vad import LEVEL_FLOOR_DBFS, VadFrames

#: How much louder than this channel the other party must have been (dB) for a frame to
#: be its echo. A headset's acoustic echo sits 25-40 dB down; two voices talking over
#: each other on lines at their nominal levels differ by a few dB, and a quiet headset
#: (-12 dB) against a loud caller (+6 dB) by 18.
MARGIN_DB = 20.0
#: How far back the other party's level is looked at (s): the echo's delay (acoustic
#: leakage a few ms, a softphone's round trip tens of ms; :data:`qa.crosstalk.MAX_LAG_S`
#: searches to 0.1 s) and the fall of their last syllable.
REACH_S = 0.3
#: This channel is judged by its loudest frame over this long (s): a syllable's valley
#: or a soft consonant of one's own speech is not taken for an echo while its syllables'
#: peaks stand clear of the other party. Chosen with REACH_S among 0-0.5 s
#: (tests/test_echo.py's signals): echoes 35-22 dB down at 10-120 ms are dropped on
#: 96-100 % of their speech frames; one's own speech over the other party loses 1 % of
#: its frames at the same level, 5.5 % 6 dB under it and 24 % 18 dB under it (0.15 s
#: for both: 2 %, 10 % and 29 %, and echoes 22 dB down only 76 % dropped).
OWN_REACH_S = 0.3


class _LevelTrail:
    """Per stream, the latest frame levels of one channel on a frame clock, for the
    loudest over the last ``reach`` frames (the current one included)."""

    def __init__(self, n_streams: int, reach: int) -> None:
        self.n_streams, self.reach = n_streams, reach
        self._restart(0)

    def _restart(self, first_frame: int) -> None:
        self.first = first_frame - (self.reach - 1)  # frame index of column 0 of levels
        self.levels = np.full((self.n_streams, self.reach - 1), LEVEL_FLOOR_DBFS)

    def extend(self, first_frame: int, levels: np.ndarray) -> None:
        """Frames ``first_frame…``; not the next ones (a clock restarted): afresh."""
        if first_frame != self.first + self.levels.shape[1]:
            self._restart(first_frame)
        self.levels = np.concatenate([self.levels, levels], axis=1)

    def loudest(self, first_frame: int, t: int) -> np.ndarray | None:
        """``(streams, t)``: the loudest of each of frames ``first_frame…`` and the
        ``reach - 1`` before it; None if those frames are not all held. What later
        frames will not look back at is let go."""
        start = first_frame - (self.reach - 1) - self.first
        if start < 0 or start + t + self.reach - 1 > self.levels.shape[1]:
            return None
        seg = self.levels[:, start : start + t + self.reach - 1]
        out = sliding_window_view(seg, self.reach, axis=1).max(axis=-1)
        self.levels = self.levels[:, start + t :]
        self.first += start + t
        return out

    def reset(self, rows) -> None:
        self.levels[rows] = LEVEL_FLOOR_DBFS


class EchoGate:
    """Frames of one channel of ``n_streams`` that are the other party's voice.

    Feed the other party's :class:`~emotion.vad.VadFrames` with :meth:`add` before asking
    :meth:`heard` about this channel's frames of the same clock (the same frame length,
    started together). Fed in blocks of any size, it decides the same.
    """

    def __init__(self, n_streams: int, frame_ms: int, *, margin_db: float = MARGIN_DB,
                 reach_s: float = REACH_S, own_reach_s: float = OWN_REACH_S) -> None:
        self.n_streams = n_streams
        self.margin_db = float(margin_db)
        self._other = _LevelTrail(n_streams, int(round(reach_s * 1000 / frame_ms)) + 1)
        self._own = _LevelTrail(n_streams, int(round(own_reach_s * 1000 / frame_ms)) + 1)

    def add(self, other: VadFrames) -> None:
        """The other party's frames: their level where they speak, the floor elsewhere."""
        self._other.extend(other.first_frame,
                           np.where(other.speech, other.level_dbfs, LEVEL_FLOOR_DBFS))

    def heard(self, own: VadFrames) -> np.ndarray:
        """``(streams, T)`` bool: ``own``'s frames that are the other party's echo.

        Frames the other party's were not fed for read as not echo (nothing is dropped
        on a guess)."""
        t = own.speech.shape[1]
        loudest = self._other.loudest(own.first_frame, t) if t else None
        if loudest is None:
            return np.zeros((self.n_streams, t), dtype=bool)
        self._own.extend(own.first_frame, own.level_dbfs)
        return self._own.loudest(own.first_frame, t) < loudest - self.margin_db

    def reset(self, rows) -> None:
        """Streams ``rows`` start a new call: forget both channels' recent levels."""
        self._other.reset(rows)
        self._own.reset(rows)
