"""What the live engine reports: alert events, seat snapshots, scored windows, ticks.

These are the records :class:`emotion.engine.LiveEngine` hands to the server (which
stores and broadcasts them), and the errors a caller of the engine can cause. Times
named ``t_s`` are call time, seconds since the call's first sample; ``wall_s`` is the
engine's clock (unix seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from emotion.baseline import Baseline

__all__ = ["BaselineProvider", "CallInfo", "ChannelError", "EngineAlert", "SeatSnapshot",
           "TickResult", "UnknownCallError", "WindowRecord"]

BaselineProvider = Callable[[str | None], tuple[Baseline, str]]
"""agent_id (None if unknown) → (baseline, "agent" or "population")."""


class UnknownCallError(KeyError):
    """A call id the engine does not have in progress (never opened, or already closed)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown call"


class ChannelError(ValueError):
    """Audio for a channel the call did not declare when it was opened."""


@dataclass(frozen=True)
class EngineAlert:
    """One event in an alert's life (times in call time, s since the call started)."""

    type: str  # "opened" | "updated" | "closed"
    seat_id: str
    call_id: str
    agent_id: str | None
    kind: str  # "agitation" | "low_energy"
    severity: str  # "warning" | "critical"
    opened_t_s: float
    t_s: float  # end of the audio the decision was made on
    wall_s: float  # engine clock (unix s) when decided
    duration_s: float
    peak: float
    drivers: tuple[tuple[str, float], ...]  # (feature, mean z), strongest first
    explanation: str
    explanation_zh: str
    baseline: str  # "agent" | "population"
    reason: str


@dataclass(frozen=True)
class SeatSnapshot:
    """A seat's state after a tick, for the live wall."""

    seat_id: str
    call_id: str
    agent_id: str | None
    agent_speaking: bool  # VAD over the last ~0.5 s
    caller_speaking: bool
    agitation: float | None  # latest scored window; None before the first
    low_energy: float | None
    deviation: float | None  # RMS of the latest window's z
    loudness_sone: float | None
    f0_hz: float | None
    speech_rate_syl_s: float | None
    baseline: str  # "agent" | "population"
    open_alerts: tuple[str, ...]
    buffered_s: float  # agent-channel audio waiting
    underrun_s: float  # agent-channel silence filled in (underruns and gaps)
    dropped_s: float  # agent-channel audio dropped (backlog, late, duplicate)
    t_s: float = 0.0  # call time analysed so far
    state: str = "playing"  # "waiting" (jitter buffer filling) | "playing"


@dataclass(frozen=True, eq=False)
class WindowRecord:
    """One scored window of a call (every one, for per-call summaries)."""

    seat_id: str
    call_id: str
    agent_id: str | None
    t_s: float  # window end, call time
    features: np.ndarray  # (F,) emotion.windows.FEATURE_NAMES
    z: np.ndarray  # (F,) against the call's baseline, limited to ±Z_LIMIT
    agitation: float
    low_energy: float
    speech_s: float = 0.0  # speech in the window


@dataclass(frozen=True)
class TickResult:
    """What one :meth:`LiveEngine.tick` produced."""

    events: list[EngineAlert]
    snapshots: list[SeatSnapshot]
    windows: list[WindowRecord]
    wall_s: float
    audio_s: float  # audio advanced per playing seat
    compute_s: float  # wall time the tick took
    seats: int  # calls in progress
    cpu_s: float = 0.0  # CPU time of the ticking thread


@dataclass(frozen=True)
class CallInfo:
    """A call in progress, as :attr:`LiveEngine.calls` reports it."""

    seat_id: str
    call_id: str
    agent_id: str | None
    channels: tuple[str, ...]
    baseline: str
    slot: int
    state: str  # "waiting" | "playing"
    opened_wall_s: float
