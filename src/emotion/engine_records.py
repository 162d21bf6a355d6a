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
           "TickResult", "UnknownCallError", "WindowRecord", "open_call_for_push",
           "push_samples"]

BaselineProvider = Callable[[str | None], tuple[Baseline, str]]
"""agent_id (None if unknown) → (baseline, "agent" or "population")."""


class UnknownCallError(KeyError):
    """A call id the engine does not have in progress (never opened, or already closed)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown call"


class ChannelError(ValueError):
    """Audio for a channel the call did not declare when it was opened."""


def push_samples(samples, t_s: float | None, fs_hz: int) -> tuple[np.ndarray, int | None]:
    """A push's audio as int16 PCM and its start sample (None: after the last one).

    Float samples in ±1.0 are scaled, rounded and clipped; the engine and its stand-in
    in another process (``voiceline.server.engine_process``) accept the same input.

    Raises
    ------
    ValueError
        Samples that are not one-dimensional int16 or float, or a negative ``t_s``.
    """
    pcm = np.asarray(samples)
    if pcm.ndim != 1:
        raise ValueError(f"samples must be one channel, shape (samples,), got {pcm.shape}")
    if pcm.dtype != np.int16:
        if not np.issubdtype(pcm.dtype, np.floating):
            raise ValueError(f"samples must be int16 PCM or float in ±1.0, got {pcm.dtype}")
        pcm = np.clip(np.rint(np.nan_to_num(pcm) * 32768.0), -32768, 32767).astype(np.int16)
    if t_s is None:
        return pcm, None
    if not t_s >= 0:
        raise ValueError(f"t_s must be >= 0 s since the call started, got {t_s!r}")
    return pcm, round(t_s * fs_hz)


def open_call_for_push(calls: dict, call_id: str, channel: str):
    """``calls[call_id]`` (anything with ``channels``), checked to take ``channel``.

    Raises
    ------
    UnknownCallError
        No such call in progress.
    ChannelError
        A channel the call did not declare.
    """
    call = calls.get(call_id)
    if call is None:
        raise UnknownCallError(f"no call {call_id!r} in progress (never opened or "
                               "already closed); open it with open_call first")
    if channel not in call.channels:
        raise ChannelError(f"call {call_id} declared channels {call.channels}, not "
                           f"{channel!r}; open it with that channel to send its audio")
    return call


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
    baseline_updated: str = ""  # the agent's baseline's "updated" time ("" on the population)


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
    # emotion.line_level, on an agent's own baseline (None on a population one): the
    # call's level read from its calm speech against the calibration (dB; None until
    # read), and the correction in force (dB; 0 within ±2.5 dB, or the seat's last call's)
    line_read_db: float | None = None
    line_db: float | None = None


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
