"""What the simulator streams: a floor of simulated seats, or recordings replayed.

A feed is read like a :class:`capture.simulator.Floor` — ``read(n)`` gives the next ``n``
samples of every seat, int16 ``(seats, 2, n)``, channel 0 the agent — and says which
call each seat is in: ``call_at(i, sample)`` returns the call (``call_id``,
``start_sample``, ``end_sample``, ``episodes``) that seat ``i``'s sample belongs to, or
None when the seat is idle. Samples count from the start of the feed, at 8 kHz.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from capture.audio import AudioError, read_audio
from capture.simulator import Floor
from capture.telephone import LINE_FS_HZ

__all__ = ["FloorFeed", "ReplayFeed", "ReplayFile", "default_seat_ids"]


def default_seat_ids(n: int) -> list[str]:
    """``S001, S002, …``, as :class:`~capture.simulator.Floor` names seats."""
    return [f"S{i + 1:03d}" for i in range(n)]


class FloorFeed:
    """Seats of a :class:`~capture.simulator.Floor`: endless calls with scheduled episodes."""

    fs_hz = LINE_FS_HZ

    def __init__(self, floor: Floor) -> None:
        self.floor = floor
        self.seat_ids = [seat.seat_id for seat in floor.seats]
        self.agent_ids: list[str | None] = [seat.agent_id for seat in floor.seats]
        self.channels = [2] * len(floor.seats)

    def read(self, n_samples: int) -> np.ndarray:
        return self.floor.read(n_samples)

    def call_at(self, index: int, sample: int):
        return self.floor.seats[index].call_at(sample)

    def exhausted(self, sample: int) -> bool:
        """Never: a floor's seats take calls forever."""
        return False


class _ReplayCall(NamedTuple):
    call_id: str
    start_sample: int
    end_sample: int
    episodes: tuple = ()


@dataclass(frozen=True)
class ReplayFile:
    """A recording to replay as one call on one seat.

    Attributes
    ----------
    path : str or os.PathLike
        WAV or FLAC; stereo with the agent on channel 0 and the caller on channel 1, or
        mono (the agent alone).
    seat : str, optional
        Default ``S001, S002, …`` in the order given.
    agent : str, optional
        The agent's id; default None (unknown: the server uses the population baseline).
    call_id : str, optional
        Default ``<seat>-<file stem>``.
    """

    path: str | os.PathLike
    seat: str | None = None
    agent: str | None = None
    call_id: str | None = None


class ReplayFeed:
    """Recordings, one per seat, all starting at sample 0; a seat is idle after its file.

    Files are read whole (and resampled to 8 kHz) when the feed is made.

    Raises
    ------
    capture.audio.AudioError
        A file cannot be read, or has more than two channels.
    """

    fs_hz = LINE_FS_HZ

    def __init__(self, files: Sequence[ReplayFile | str | os.PathLike]) -> None:
        if not files:
            raise ValueError("give at least one file to replay")
        items = [f if isinstance(f, ReplayFile) else ReplayFile(f) for f in files]
        self.seat_ids = [f.seat or sid for f, sid in zip(items, default_seat_ids(len(items)),
                                                         strict=True)]
        if len(set(self.seat_ids)) != len(self.seat_ids):
            raise ValueError(f"replayed files need distinct seats, got {self.seat_ids}")
        self.agent_ids = [f.agent for f in items]
        self._audio: list[np.ndarray] = []
        self._calls: list[_ReplayCall] = []
        self.channels: list[int] = []
        for item, seat in zip(items, self.seat_ids, strict=True):
            pcm = _read_pcm(item.path)
            self._audio.append(pcm)
            self.channels.append(pcm.shape[0])
            call_id = item.call_id or f"{seat}-{Path(item.path).stem}"
            self._calls.append(_ReplayCall(call_id, 0, pcm.shape[1]))
        self._end = max(call.end_sample for call in self._calls)
        self._position = 0

    def read(self, n_samples: int) -> np.ndarray:
        a, b = self._position, self._position + n_samples
        out = np.zeros((len(self._audio), 2, n_samples), dtype=np.int16)
        for row, pcm in zip(out, self._audio, strict=True):
            if a < pcm.shape[1]:
                take = pcm[:, a:b]
                row[: take.shape[0], : take.shape[1]] = take
        self._position = b
        return out

    def call_at(self, index: int, sample: int) -> _ReplayCall | None:
        call = self._calls[index]
        return call if 0 <= sample < call.end_sample else None

    def exhausted(self, sample: int) -> bool:
        """True once every file has been read to its end."""
        return sample >= self._end


def _read_pcm(path: str | os.PathLike) -> np.ndarray:
    """A recording as int16 ``(channels, samples)`` at 8 kHz."""
    clip = read_audio(path, target_fs_hz=LINE_FS_HZ)
    if clip.n_channels > 2:
        raise AudioError(
            f"{path}: {clip.n_channels} channels; replay takes stereo recordings (agent on "
            "channel 0, caller on channel 1) or mono (the agent)"
        )
    pcm = np.clip(np.round(clip.samples * 32768.0), -32768, 32767)
    return pcm.astype(np.int16)
