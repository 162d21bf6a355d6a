"""Seats that stream simulated calls, one after another, and a floor of many seats.

A :class:`Seat` is idle for a while, then in a call, then idle again, forever; every
call's length, episodes and caller are drawn from the seat's own random stream, so a
seat's audio and its ground truth depend only on the seed and the seat id, never on
how it is read. Audio is assembled from the voices' utterance banks a block at a time
(0.5 s by default): line noise from a loop, then the utterances that overlap the block
at their speakers' gains, then G.711 for all channels at once. A :class:`Floor` renders
all its seats' blocks into one array and encodes them in one vectorised step, so its
cost is a few microseconds of Python per seat and block plus a few nanoseconds per
sample.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from capture.telephone import LINE_FS_HZ

from .banks import prepare_banks
from .calls import CallScript, EpisodeSpan, Utterance, mix_sources, mix_utterances, plan_call
from .line import BlockReader, add_loop, noise_loop
from .voices import AgentVoice, stable_int, timbre_pool

__all__ = ["CallRecord", "Floor", "Schedule", "Seat"]

_FIRST_EPISODE_S = 10.0  # no episode during the greeting
_LAST_EPISODE_END_S = 2.0  # …and none running into the hang-up


def _check_range(name: str, value: tuple[float, float]) -> None:
    low, high = value
    if not 0 < low <= high or not math.isfinite(high):
        raise ValueError(f"{name} must be a range (low, high) of seconds with 0 < low <= high, "
                         f"got {value!r}")


def _check_every(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")


@dataclass(frozen=True)
class Schedule:
    """How a seat's calls and episodes are drawn.

    Attributes
    ----------
    call_s : tuple of float
        Range of call lengths, s (uniform).
    idle_s : tuple of float
        Range of the idle gap between calls, s (uniform).
    agitation_every_s, low_energy_every_s : float or None
        Mean interval between the starts of the agent's agitated / low-energy episodes,
        in call time (a Poisson process); None for never.
    caller_agitation_every_s : float or None
        The same for the caller's agitation.
    episode_s : float
        Length of an agitated episode, the agent's or the caller's (shortened to end 2 s
        before the call does; none starts in a call's first 10 s, and an episode that
        would overlap an earlier one is dropped).
    low_energy_episode_s : float
        Length of a low-energy episode, likewise. A tired voice is a state of minutes,
        and the live low-energy alert asks for 25 of the last 30 s of the agent's speech
        windows (``emotion.alerts``): a 30 s episode, of which the agent speaks 8-15 s
        between the caller's turns, never opened one (``benchmarks/capacity.py``'s
        detection section measures it).
    """

    call_s: tuple[float, float] = (120.0, 420.0)
    idle_s: tuple[float, float] = (5.0, 60.0)
    agitation_every_s: float | None = 300.0
    low_energy_every_s: float | None = 900.0
    caller_agitation_every_s: float | None = 300.0
    episode_s: float = 30.0
    low_energy_episode_s: float = 120.0

    def __post_init__(self) -> None:
        _check_range("call_s", self.call_s)
        _check_range("idle_s", self.idle_s)
        for name in ("agitation_every_s", "low_energy_every_s", "caller_agitation_every_s"):
            _check_every(name, getattr(self, name))
        for name in ("episode_s", "low_energy_episode_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")

    def script(self, rng: np.random.Generator) -> CallScript:
        """The next call's script, drawn from ``rng``."""
        duration_s = float(rng.uniform(*self.call_s))
        agent = self._episodes(rng, duration_s,
                               (("agitated", self.agitation_every_s, self.episode_s),
                                ("low_energy", self.low_energy_every_s,
                                 self.low_energy_episode_s)))
        caller = self._episodes(rng, duration_s,
                                (("agitated", self.caller_agitation_every_s, self.episode_s),))
        return CallScript(duration_s, agent, caller, seed=int(rng.integers(2**31)))

    def _episodes(self, rng: np.random.Generator, duration_s: float, processes) -> list:
        candidates = []
        for style, every_s, length_s in processes:
            if every_s is None:
                continue
            t_s = float(rng.exponential(every_s))
            while t_s < duration_s:
                end_s = min(t_s + length_s, duration_s - _LAST_EPISODE_END_S)
                if t_s >= _FIRST_EPISODE_S and end_s - t_s >= min(10.0, length_s):
                    candidates.append((t_s, end_s, style))
                t_s += length_s + float(rng.exponential(every_s))
        kept: list = []
        for episode in sorted(candidates):
            if not kept or episode[0] >= kept[-1][1]:
                kept.append(episode)
        return kept


@dataclass(frozen=True)
class CallRecord:
    """Ground truth of one call on a seat, in samples of the seat's stream (8 kHz)."""

    call_id: str
    start_sample: int
    end_sample: int
    caller: AgentVoice
    episodes: tuple[EpisodeSpan, ...]
    utterances: tuple[Utterance, ...] = field(repr=False)  # from the call's start


@dataclass
class _LiveCall:
    record: CallRecord
    sources: dict
    cursor: int = 0


class Seat:
    """One agent's position: an endless stream of calls, with the ground truth.

    Parameters
    ----------
    seat_id, agent_id : str
        Names; the seat's random stream is drawn from ``seed`` and ``seat_id``.
    voice : AgentVoice, optional
        The agent's voice; default ``AgentVoice.draw(agent_id, seed=seed)``.
    seed : int
        The simulation's seed.
    schedule : Schedule, optional
        Calls and episodes (default :class:`Schedule`).
    noise_dbfs : float or None
        Line noise on each channel, dBFS RMS (None for digital silence).
    n_caller_timbres : int, optional
        Size of the callers' timbre pool (default 12).
    block_s : float
        Audio is rendered this far ahead.
    keep_calls : int
        Finished calls kept in :attr:`calls` (about 10 KB each); older ones are forgotten.

    Notes
    -----
    "Now", for the ground-truth properties, is the last sample read. The first call
    starts after an idle gap of up to ``schedule.idle_s[1]``. A caller's bank that is not
    cached yet is rendered when their call is planned (about 0.4 s): a :class:`Floor`
    prepares all banks when it is made, so its reads never wait for one.
    """

    def __init__(
        self,
        seat_id: str,
        agent_id: str,
        voice: AgentVoice | None = None,
        *,
        seed: int = 0,
        schedule: Schedule | None = None,
        noise_dbfs: float | None = -60.0,
        n_caller_timbres: int | None = None,
        block_s: float = 0.5,
        keep_calls: int = 10,
    ) -> None:
        self.seat_id, self.agent_id = str(seat_id), str(agent_id)
        self._keep_calls = max(int(keep_calls), 1)
        self.voice = AgentVoice.draw(self.agent_id, seed=seed) if voice is None else voice
        self.schedule = Schedule() if schedule is None else schedule
        self._seed, self._n_caller_timbres = seed, n_caller_timbres
        self._rng = np.random.default_rng(stable_int("seat", seed, self.seat_id))
        self._noise = None if noise_dbfs is None else noise_loop(float(noise_dbfs))
        self._noise_offsets = [int(o) for o in self._rng.integers(2**31, size=2)]
        self._next_start = round(self._rng.uniform(0.0, self.schedule.idle_s[1]) * LINE_FS_HZ)
        self._records: list[CallRecord] = []
        self._starts: list[int] = []
        self._n_calls = 0
        self._live: list[_LiveCall] = []
        self._rendered = 0
        self._position = 0
        self._in_floor = False
        block = round(block_s * LINE_FS_HZ)
        if block < 1:
            raise ValueError(f"block_s must be at least one sample, got {block_s!r}")
        self._reader = BlockReader((2,), block, self._render)

    def read(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` of the seat: int16 (2, n), channel 0 agent, 1 caller."""
        if self._in_floor:
            raise RuntimeError(f"seat {self.seat_id} belongs to a Floor: read the Floor")
        pcm = self._reader.read(n_samples)
        self._position += n_samples
        return pcm

    # --- ground truth, at the last sample read ------------------------------------------

    @property
    def position(self) -> int:
        """Samples read so far."""
        return self._position

    @property
    def call(self) -> CallRecord | None:
        """The call the last sample read belongs to, or None when idle."""
        return self.call_at(self._position - 1)

    @property
    def in_call(self) -> bool:
        return self.call is not None

    @property
    def state(self) -> str:
        """``'in_call'`` or ``'idle'``."""
        return "in_call" if self.in_call else "idle"

    @property
    def call_id(self) -> str | None:
        call = self.call
        return None if call is None else call.call_id

    @property
    def active_style(self) -> str:
        """The agent's scheduled style now: ``'calm'`` outside episodes (and when idle)."""
        return self.style_at(self._position - 1)

    @property
    def caller_style(self) -> str:
        return self.style_at(self._position - 1, "caller")

    @property
    def calls(self) -> tuple[CallRecord, ...]:
        """The calls begun by the last sample read, oldest first (the last ``keep_calls``
        finished ones and the current one)."""
        return tuple(self._records[: bisect.bisect_right(self._starts, self._position - 1)])

    @property
    def episodes(self) -> tuple[EpisodeSpan, ...]:
        """Every scheduled episode of the calls begun so far (the current one's included)."""
        return tuple(e for call in self.calls for e in call.episodes)

    def call_at(self, sample: int) -> CallRecord | None:
        """The call that sample ``sample`` of the stream belongs to, if any."""
        if sample < 0:
            return None
        self._plan_until(sample + 1)
        k = bisect.bisect_right(self._starts, sample) - 1
        if k >= 0 and sample < self._records[k].end_sample:
            return self._records[k]
        return None

    def style_at(self, sample: int, party: str = "agent") -> str:
        """The style ``party`` is scheduled to speak in at ``sample``; ``'calm'`` if none."""
        call = self.call_at(sample)
        for e in () if call is None else call.episodes:
            if e.party == party and e.start_sample <= sample < e.end_sample:
                return e.style
        return "calm"

    # --- rendering ----------------------------------------------------------------------

    def _plan_until(self, sample: int) -> None:
        """Plan calls until one starts at or after ``sample``."""
        while self._next_start < sample:
            start = self._next_start
            number = self._n_calls
            self._n_calls += 1
            script = self.schedule.script(self._rng)
            caller = AgentVoice.draw(f"{self.seat_id}/{number}", seed=self._seed, role="caller",
                                     n_timbres=self._n_caller_timbres)
            call_id = f"{self.seat_id}-{number + 1:05d}"
            record = CallRecord(call_id, start, start + script.n_samples, caller,
                                script.spans(start, call_id),
                                plan_call(script, self.voice, caller))
            self._records.append(record)
            self._starts.append(start)
            self._live.append(_LiveCall(record, mix_sources(self.voice, caller)))
            idle_s = float(self._rng.uniform(*self.schedule.idle_s))
            self._next_start = record.end_sample + round(idle_s * LINE_FS_HZ)

    def _render(self, out: np.ndarray) -> None:
        """Add the next ``out.shape[-1]`` samples into ``out`` (2, n) float32, int16 units."""
        t0 = self._rendered
        t1 = t0 + out.shape[-1]
        if self._noise is not None:
            for channel in range(2):
                add_loop(out[channel], self._noise, self._noise_offsets[channel] + t0)
        self._plan_until(t1)
        for live in self._live:
            call = live.record
            a, b = max(t0, call.start_sample), min(t1, call.end_sample)
            if a < b:
                live.cursor = mix_utterances(out[:, a - t0 : b - t0], a - call.start_sample,
                                             call.utterances, live.cursor, live.sources)
        self._live = [live for live in self._live if live.record.end_sample > t1]
        self._rendered = t1
        # The reader is at most a block behind: the last finished call is never dropped.
        finished = bisect.bisect_right([r.end_sample for r in self._records], t0)
        if finished > self._keep_calls:
            del self._records[: finished - self._keep_calls]
            del self._starts[: finished - self._keep_calls]


class Floor:
    """N seats read together: ``read(n)`` gives int16 (N, 2, n).

    Parameters
    ----------
    n_seats : int
    seed : int
        Everything (voices, calls, episodes, noise) follows from it.
    agent_ids, seat_ids : sequence of str, optional
        Default ``A1001, A1002, …`` and ``S001, S002, …``.
    agitation_every_s, low_energy_every_s, caller_agitation_every_s
        As for :class:`Schedule` (defaults 300 s, 900 s, 300 s).
    episode_s, low_energy_episode_s, call_s, idle_s
        As for :class:`Schedule` (defaults 30 s, 120 s, 120–420 s, 5–60 s).
    noise_dbfs : float or None
        Line noise, dBFS RMS.
    n_timbres, n_caller_timbres : int, optional
        Sizes of the agents' and callers' timbre pools (24 and 12).
    block_s : float
        Rendering block.
    keep_calls : int
        Finished calls each seat remembers (see :class:`Seat`).
    workers : int
        Processes rendering the banks on construction (see :func:`prepare_banks`).
    """

    def __init__(
        self,
        n_seats: int,
        *,
        seed: int = 0,
        agent_ids: Sequence[str] | None = None,
        seat_ids: Sequence[str] | None = None,
        agitation_every_s: float | None = 300.0,
        low_energy_every_s: float | None = 900.0,
        caller_agitation_every_s: float | None = 300.0,
        episode_s: float = 30.0,
        low_energy_episode_s: float = 120.0,
        call_s: tuple[float, float] = (120.0, 420.0),
        idle_s: tuple[float, float] = (5.0, 60.0),
        noise_dbfs: float | None = -60.0,
        n_timbres: int | None = None,
        n_caller_timbres: int | None = None,
        block_s: float = 0.5,
        keep_calls: int = 10,
        workers: int = 2,
    ) -> None:
        if isinstance(n_seats, bool) or not isinstance(n_seats, int) or n_seats < 1:
            raise ValueError(f"n_seats must be a positive int, got {n_seats!r}")
        agent_ids = [f"A{1001 + i}" for i in range(n_seats)] if agent_ids is None else agent_ids
        seat_ids = [f"S{i + 1:03d}" for i in range(n_seats)] if seat_ids is None else seat_ids
        if len(agent_ids) != n_seats or len(seat_ids) != n_seats:
            raise ValueError(f"give {n_seats} agent_ids and seat_ids, got {len(agent_ids)} and "
                             f"{len(seat_ids)}")
        schedule = Schedule(call_s, idle_s, agitation_every_s, low_energy_every_s,
                            caller_agitation_every_s, episode_s, low_energy_episode_s)
        self.seats = [
            Seat(seat_id, agent_id, AgentVoice.draw(agent_id, seed=seed, n_timbres=n_timbres),
                 seed=seed, schedule=schedule, noise_dbfs=noise_dbfs,
                 n_caller_timbres=n_caller_timbres, block_s=block_s, keep_calls=keep_calls)
            for seat_id, agent_id in zip(seat_ids, agent_ids, strict=True)
        ]
        for seat in self.seats:
            seat._in_floor = True
        callers = [AgentVoice(f"caller-timbre-{t.index}", t)
                   for t in timbre_pool("caller", n_caller_timbres)]
        prepare_banks([seat.voice for seat in self.seats] + callers, workers=workers)
        self._reader = BlockReader((n_seats, 2), round(block_s * LINE_FS_HZ), self._render)
        self._position = 0

    def __len__(self) -> int:
        return len(self.seats)

    def __getitem__(self, index: int) -> Seat:
        return self.seats[index]

    @property
    def position(self) -> int:
        """Samples read so far (per seat)."""
        return self._position

    def read(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` of every seat: int16 (seats, 2, n), channel 0 the agent."""
        pcm = self._reader.read(n_samples)
        self._position += n_samples
        for seat in self.seats:
            seat._position += n_samples
        return pcm

    def _render(self, out: np.ndarray) -> None:
        for seat, rows in zip(self.seats, out, strict=True):
            seat._render(rows)
