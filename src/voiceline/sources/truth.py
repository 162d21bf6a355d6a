"""What a simulation run reports: the ground truth of its calls and its counters.

Calls and episodes are given in samples of the feed (8 kHz, counted from the run's
first sample) and in wall-clock time (``time.time()``), so that alerts a server raised
can be matched with the episodes that should have caused them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CallTruth", "EpisodeTruth", "SimulationResult", "SimulationStats"]


@dataclass(frozen=True)
class EpisodeTruth:
    """A scheduled episode: ``party`` speaks ``style`` over ``[start, end)``.

    ``start_sample``/``end_sample`` count samples of the seat's feed (8 kHz);
    ``start_s``/``end_s`` are the same instants in wall-clock time (``time.time()``):
    when that audio was due to be spoken, at most one frame before it was sent.
    """

    party: str
    style: str
    start_sample: int
    end_sample: int
    start_s: float
    end_s: float


@dataclass
class CallTruth:
    """One call of the run.

    Attributes
    ----------
    seat, agent : str, str or None
        Where the call was, and who took it.
    call_id : str
        The simulator's (or replay's) id of the call.
    wire_call_ids : list of str
        The call ids the server saw, in order: one, or more after reconnections (each
        reconnection is a new call on the wire, ``<id>-r1``, ``<id>-r2``, …). For
        AudioSocket the server sees :func:`~voiceline.sources.connections.audiosocket_uuid`
        of each.
    start_sample, end_sample : int
        The call's span in samples of the feed; ``end_sample`` is where the audio sent
        stopped when the run stopped mid-call.
    start_s, end_s : float
        The same in wall-clock time.
    episodes : tuple of EpisodeTruth
        The agent's and caller's scheduled episodes (none for a replayed file).
    ended : str or None
        ``"hangup"`` (the call ended), ``"stopped"`` (the run stopped first), or None
        while in progress.
    """

    seat: str
    agent: str | None
    call_id: str
    start_sample: int
    end_sample: int
    start_s: float
    end_s: float
    episodes: tuple[EpisodeTruth, ...] = ()
    wire_call_ids: list[str] = field(default_factory=list)
    ended: str | None = None


@dataclass
class SimulationStats:
    """A snapshot of a run.

    Attributes
    ----------
    seats, seats_in_call : int
        Seats simulated, and those in a call now.
    calls_started, calls_ended : int
        Calls begun and finished (hung up) so far.
    frames_sent, frames_dropped : int
        20 ms frames sent (over all calls), and frames lost to disconnection.
    connections_open, reconnects, errors : int
        Connections open now; attempts after a failure; failures.
    audio_s : float
        Feed time streamed so far (per seat).
    elapsed_s : float
        Wall-clock time since the first tick.
    lag_s, max_lag_s : float
        How far the tick loop trails the clock, now and at worst.
    last_error : str or None
        The latest failure, in words.
    """

    seats: int = 0
    seats_in_call: int = 0
    calls_started: int = 0
    calls_ended: int = 0
    frames_sent: int = 0
    frames_dropped: int = 0
    connections_open: int = 0
    reconnects: int = 0
    errors: int = 0
    audio_s: float = 0.0
    elapsed_s: float = 0.0
    lag_s: float = 0.0
    max_lag_s: float = 0.0
    last_error: str | None = None

    def line(self) -> str:
        """The one-line status the CLI prints."""
        text = (
            f"{self.elapsed_s:7.1f} s  {self.seats_in_call}/{self.seats} seats in call  "
            f"{self.calls_started} calls ({self.calls_ended} ended)  "
            f"{self.frames_sent} frames sent  {self.frames_dropped} dropped  "
            f"{self.connections_open} connections  {self.reconnects} reconnects  "
            f"{self.errors} errors  lag {1000 * self.lag_s:.0f} ms"
        )
        if self.errors and self.last_error:
            text += f"  (last: {self.last_error})"
        return text


@dataclass
class SimulationResult:
    """What a run did: final stats and the ground truth of every call."""

    stats: SimulationStats
    calls: list[CallTruth]
    wall0_s: float
    """Wall-clock time of feed sample 0."""

    def by_seat(self) -> dict[str, list[CallTruth]]:
        """The calls of each seat, in order."""
        out: dict[str, list[CallTruth]] = {}
        for call in self.calls:
            out.setdefault(call.seat, []).append(call)
        return out
