"""Live calls: each parser's call recorded in the store and opened in the engine.

A call is recorded before anything else happens on it (seat and agent registered if
new, then ``start_call``), all in the store thread, so that every alert the engine
raises finds its call. A call id the store already holds (a stream that reconnects
after a server restart, or a sender that reuses ids) continues as ``<id>#2``, ``#3``...
up to :data:`MAX_REUSE` times (then the sender is told to give each stream its own id),
and the first call's record stays as it was.

Audio at 16 kHz is resampled to the engine's 8 kHz on arrival with libsoxr's streaming
resampler (HQ, the library behind :func:`capture.resample.resample`), one stream per
channel: resampling every 20 ms message on its own would leave a click at each message
boundary. It adds about 0.1 s of delay; the engine's jitter buffer absorbs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soxr

from capture.ingest import Audio, CallStarted
from emotion.baseline import check_agent_id
from voiceline.server.config import ENGINE_FS_HZ
from voiceline.store import ConflictError, NotFoundError, values
from voiceline.store.alerts import CALL_ENDED, SERVER_STOPPED

log = logging.getLogger("voiceline.server")
MAX_REUSE = 100
SHUTDOWN_REASON = "server shutdown"
"""End reason of the calls the server's own shutdown cuts (their ingest closed with
1012, or still live when the service stops); their open alerts close as
:data:`~voiceline.store.alerts.SERVER_STOPPED`."""
#: Longest call id a sender may give: the store's limit less room for ``#n``.
MAX_CALL_ID_CHARS = values.MAX_TEXT_CHARS - 1 - len(str(MAX_REUSE + 1))


def checked_ids(started: CallStarted) -> CallStarted:
    """The call with its ids as the store keeps them (stripped), or ``ValueError``.

    Checked before anything is registered or any seat is looked at, so that a refused
    call leaves nothing behind and ``"S001 "`` is the seat ``S001`` is: ids are
    printable text (:func:`values.identifier`) and an agent id is one a baseline can be
    named after, the rule of ``voiceline calibrate`` and the admin API.
    """
    return dataclasses.replace(
        started,
        call_id=values.identifier(started.call_id, "call_id", max_chars=MAX_CALL_ID_CHARS),
        seat=values.identifier(started.seat, "seat"),
        agent=checked_agent(started.agent),
    )


def checked_agent(agent: str | None) -> str | None:
    """A call's agent id, stripped (None when blank: unknown), or ``ValueError``."""
    agent = agent.strip() if agent is not None else ""
    return check_agent_id(values.identifier(agent, "agent")) if agent else None


class _Downsampler:
    """One channel's 16 kHz → 8 kHz stream, keeping the timeline of the input."""

    def __init__(self, fs_in_hz: int) -> None:
        self.fs_in_hz = fs_in_hz
        self._stream = soxr.ResampleStream(fs_in_hz, ENGINE_FS_HZ, 1, dtype="int16",
                                           quality="HQ")
        self._in_next_s = 0.0
        self._out_samples = 0
        self._jump_s = 0.0

    def __call__(self, audio: Audio) -> tuple[np.ndarray, float]:
        if audio.t_s > self._in_next_s + 1e-6:  # a long gap the parser did not fill
            self._jump_s += audio.t_s - self._in_next_s
        self._in_next_s = audio.t_s + audio.duration_s
        t_s = self._jump_s + self._out_samples / ENGINE_FS_HZ
        out = self._stream.resample_chunk(audio.samples)
        self._out_samples += out.shape[0]
        return out, t_s


@dataclass
class LiveCall:
    """A call in progress on one ingest connection."""

    call_id: str
    seat_id: str
    agent_id: str | None
    protocol: str
    fs_hz: int
    channels: tuple[str, ...]
    started_s: float
    scored: bool = False
    baseline: str | None = None
    unscored_reason: str | None = None
    resamplers: dict[str, _Downsampler] = field(default_factory=dict)
    #: The id the platform gave the call (``call_id`` may carry a ``#n`` the store added).
    source_id: str = ""
    #: ``time.monotonic()`` of the call's start or latest audio: is the seat still busy?
    heard_s: float = field(default_factory=time.monotonic)


class CallRecorder:
    """Store side of calls; runs in the store thread only (no locking needed)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._seats: set[str] | None = None
        self._agents: set[str] | None = None

    def start(self, started: CallStarted, now_s: float) -> str:
        """Register seat and agent if new, record the call; returns the id it got.

        Only unknown seats and agents are added (``ensure_*``), never changed: a name,
        team or label an administrator gave them stays.
        """
        if self._seats is None or self._agents is None:
            self._seats = {s["seat_id"] for s in self.store.list_seats(retired=True)}
            self._agents = {a["agent_id"] for a in self.store.list_agents()}
        if started.seat not in self._seats:
            self.store.ensure_seat(started.seat, now_s=now_s)
            self._seats.add(started.seat)
        if started.agent is not None and started.agent not in self._agents:
            self.store.ensure_agent(started.agent, now_s=now_s)
            self._agents.add(started.agent)
        call_id = started.call_id
        for n in range(2, MAX_REUSE + 2):
            try:
                self.store.start_call(call_id, started.seat, started.agent, started.protocol,
                                      started_s=now_s)
                return call_id
            except ConflictError:
                call_id = f"{started.call_id}#{n}"
        raise ConflictError(f"call id {started.call_id!r} was used {MAX_REUSE} times already; "
                            "give each stream its own call id")

    def end(self, call_id: str, reason: str, now_s: float,
            alerts_reason: str = CALL_ENDED,
            alert_explanations: dict[int, str] | None = None) -> None:
        try:
            self.store.end_call(call_id, reason, ended_s=now_s, alerts_reason=alerts_reason,
                                alert_explanations=alert_explanations)
        except (ConflictError, NotFoundError) as exc:
            log.debug("end of call %s not recorded: %s", call_id, exc)

    def end_all_open(self, reason: str, now_s: float) -> int:
        """End every call the store still shows live (after a crash, or at shutdown);
        their open alerts close as ``"server stopped"``."""
        calls = self.store.list_calls(active=True, limit=10_000)
        for call in calls:
            self.end(call["call_id"], reason, max(now_s, call["started_s"]), SERVER_STOPPED)
        return len(calls)


#: A seat whose call started or sent audio this recently (s) is busy: a second call for
#: it is refused rather than taking the seat over, which stopped the scoring of the call
#: in progress for the rest of it. A call silent for longer (its hang-up lost with the
#: connection) is replaced, and so is the same call coming back on a new connection.
SEAT_BUSY_S = 5.0


class SeatBusyError(ValueError):
    """A call was started for a seat whose call is still streaming."""


class CallBook:
    """The live calls of the process, in the store and in the engine."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.recorder = CallRecorder(service.store)
        self.live: dict[str, LiveCall] = {}
        #: Seats whose call is being recorded and opened (the call's source id): while
        #: ``start`` awaits the store, a second call for the seat must find it busy.
        self._starting: dict[str, str] = {}

    async def start(self, started: CallStarted) -> LiveCall:
        """Record and open a call; raises ``ValueError`` (the store's, a bad id, a busy
        seat) if it cannot be."""
        service = self.service
        started = checked_ids(started)
        self._check_seat_free(started)
        self._starting[started.seat] = started.call_id
        try:
            now_s = time.time()
            call_id = await service.worker.call(self.recorder.start, started, now_s)
        finally:
            self._starting.pop(started.seat, None)
        call = LiveCall(call_id, started.seat, started.agent, started.protocol,
                        started.fs_hz, started.channels, now_s, source_id=started.call_id)
        if started.fs_hz != ENGINE_FS_HZ:
            call.resamplers = {ch: _Downsampler(started.fs_hz) for ch in started.channels}
        self.live[call_id] = call
        try:
            call.baseline = await asyncio.to_thread(self._open_in_engine, call)
            call.scored = True
        except ValueError as exc:  # BaselineError, or the engine's refusal
            call.unscored_reason = str(exc)
        self._count()
        return call

    def _check_seat_free(self, started: CallStarted) -> None:
        """Refuse a second call for a seat whose call is still streaming (SEAT_BUSY_S)."""
        starting = self._starting.get(started.seat)
        if starting is not None and starting != started.call_id:
            self.service.metrics.connections_refused["seat_busy"] += 1
            raise SeatBusyError(
                f"seat {started.seat} has a call starting ({starting}); a seat carries one "
                "call at a time: end that call first, or give this one its own seat")
        now = time.monotonic()
        for other in self.live.values():
            if (other.seat_id == started.seat and other.source_id != started.call_id
                    and now - other.heard_s < SEAT_BUSY_S):
                self.service.metrics.connections_refused["seat_busy"] += 1
                raise SeatBusyError(
                    f"seat {started.seat} has a call in progress ({other.call_id}, heard "
                    f"{now - other.heard_s:.1f} s ago); a seat carries one call at a time: "
                    "end that call first, or give this one its own seat")

    def _open_in_engine(self, call: LiveCall) -> str:
        _, source = self.service.baselines(call.agent_id)
        self.service.engine.open_call(call.seat_id, call.call_id, call.agent_id,
                                      channels=call.channels)
        return source

    def push(self, call: LiveCall, audio: Audio) -> None:
        """Hand one channel's samples to the engine (resampled to 8 kHz if needed)."""
        call.heard_s = time.monotonic()
        if not call.scored:
            return
        if call.resamplers:
            samples, t_s = call.resamplers[audio.channel](audio)
            if samples.shape[0] == 0:
                return
        else:
            samples, t_s = audio.samples, audio.t_s
        try:
            self.service.engine.push(call.call_id, audio.channel, samples, t_s=t_s)
        except (KeyError, ValueError) as exc:  # e.g. another call took over the seat
            call.scored = False
            call.unscored_reason = f"the engine stopped taking its audio: {exc}"
            log.warning("call %s: %s", call.call_id, call.unscored_reason)
            self._count()

    async def end(self, call: LiveCall, reason: str) -> None:
        """Close the call in the engine and the store (its open alerts close with it:
        "server stopped" when the server's shutdown cut it, else "call ended")."""
        if self.live.pop(call.call_id, None) is None:
            return
        self._count()
        service = self.service
        cut = reason == SHUTDOWN_REASON or service.stopping
        alerts_reason = SERVER_STOPPED if cut else CALL_ENDED
        if call.scored:
            try:  # quick: it only frees the call's slot, under the engine's lock
                service.engine.close_call(call.call_id, alerts_reason)
            except (KeyError, ValueError) as exc:
                log.debug("engine close of %s: %s", call.call_id, exc)
        ended_s = time.time()

        def end_in_store() -> None:  # in the store thread, as the alert recorder runs
            try:
                words = service.alert_recorder.closing_explanations(call.call_id, ended_s)
            except Exception:  # the words are a nicety; the call's end must be recorded
                log.exception("final words of call %s's alerts", call.call_id)
                words = None
            self.recorder.end(call.call_id, reason[:200], ended_s, alerts_reason, words)

        await service.worker.call(end_in_store)
        service.worker.submit(service.summaries.store, service.store, service.baselines,
                              call.call_id, call.agent_id, call.started_s,
                              ended_s - call.started_s, service.summaries.pop(call.call_id))
        service.worker.submit(service.alert_recorder.forget, call.call_id)
        service.hub.wake()

    def _count(self) -> None:
        metrics = self.service.metrics
        metrics.live_calls = len(self.live)
        metrics.unscored_calls = sum(1 for c in self.live.values() if not c.scored)
