"""Simulated seats for ``capacity.py``'s end-to-end section, in a process of their own.

Run by the benchmark as ``python benchmarks/_capacity_sim.py --server URL --max-seats N``
with the ingest token in ``VOICELINE_INGEST_TOKEN``. It renders the voice banks of the
first ``N`` simulated agents once (the slow part, about a CPU-second per timbre), prints
``{"event": "ready"}``, then runs one phase per line read from stdin::

    {"seats": 100, "duration_s": 40.0, "agitation_every_s": 120.0}

Each phase is a :class:`voiceline.sources.Simulation` over the audio-fork protocol in
real time, every seat in one call from the first frame to the end (calls a little longer
than the phase, no idle gaps), so ``seats`` is the number of concurrent calls
throughout. It prints ``{"event": "started", ...}`` when the first frame is due and
``{"event": "done", ...}`` with the simulator's counters, CPU time and how far its
20 ms tick trailed the clock after ``warmup_s``, once the calls have hung up. EOF ends it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from capture.simulator import Floor
from voiceline.sources import TOKEN_ENV, Simulation

#: Idle gap before a seat's first call: every seat is in a call from its first sample.
NO_IDLE_S = (1e-3, 2e-3)


def _say(**message) -> None:
    print(json.dumps(message), flush=True)


def floor(seats: int, seed: int, caller_timbres: int, agitation_every_s: float | None,
          call_s: float, workers: int = 1) -> Floor:
    """Calls of ``call_s`` (planning a call costs in proportion to its length)."""
    return Floor(seats, seed=seed, agitation_every_s=agitation_every_s,
                 n_caller_timbres=caller_timbres, workers=workers,
                 call_s=(call_s, call_s + 1.0), idle_s=NO_IDLE_S)


class _Lag:
    """The simulator's lag behind the clock after the warm-up (its status, every 0.5 s)."""

    def __init__(self, warmup_s: float) -> None:
        self.warmup_s, self.max_s, self._max_at_warmup = warmup_s, 0.0, None

    def __call__(self, stats) -> None:
        print(stats.line(), file=sys.stderr, flush=True)
        if stats.elapsed_s < self.warmup_s:
            return
        if self._max_at_warmup is None:
            self._max_at_warmup = stats.max_lag_s
        self.max_s = max(self.max_s, stats.lag_s)
        if stats.max_lag_s > self._max_at_warmup:  # a new worst since the warm-up
            self.max_s = max(self.max_s, stats.max_lag_s)


async def phase(server: str, token: str, command: dict, seed: int, caller_timbres: int,
                frame_ms: int = 20) -> dict:
    duration_s = command["duration_s"]
    feed = floor(command["seats"], seed, caller_timbres, command.get("agitation_every_s"),
                 duration_s + 5.0)
    lag = _Lag(command.get("warmup_s", 0.0))
    simulation = Simulation(server, protocol="audiofork", token=token, floor=feed,
                            duration_s=duration_s, run_id=command.get("run_id"),
                            on_status=lag, status_every_s=0.5, frame_ms=frame_ms)
    cpu0, t0 = time.process_time(), time.monotonic()
    _say(event="started", wall_s=time.time())
    result = await simulation.run()
    s = result.stats
    episodes = sum(1 for c in result.calls for e in c.episodes
                   if e.party == "agent" and e.style == "agitated")
    return {"event": "done", "seats": s.seats, "calls": s.calls_started,
            "frames_sent": s.frames_sent, "frames_dropped": s.frames_dropped,
            "reconnects": s.reconnects, "errors": s.errors, "last_error": s.last_error,
            "max_lag_s": s.max_lag_s, "steady_lag_s": lag.max_s, "audio_s": s.audio_s,
            "agitated_episodes": episodes,
            "cpu_s": time.process_time() - cpu0, "wall_s": time.monotonic() - t0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--max-seats", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--caller-timbres", type=int, default=4)
    parser.add_argument("--frame-ms", type=int, default=20)
    args = parser.parse_args()
    token = os.environ[TOKEN_ENV]
    t0 = time.monotonic()
    floor(args.max_seats, args.seed, args.caller_timbres, None, 10.0, workers=2)  # banks
    _say(event="ready", banks_s=round(time.monotonic() - t0, 1))
    for line in sys.stdin:
        if line.strip():
            _say(**asyncio.run(phase(args.server, token, json.loads(line), args.seed,
                                     args.caller_timbres, args.frame_ms)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
