"""Capacity benchmark: how many concurrent calls one core monitors in real time.

Usage::

    python benchmarks/capacity.py [--quick] [--seats N] [--seconds S] [--group-size G]
                                  [--e2e-seats 50,100,150,200,300] [--e2e-tls]
                                  [--sections engine,e2e,...]
                                  [--engine-mode process|thread]
                                  [--data DIR]

Sections (``SECTIONS``: each measures, adds lines to the table and keys to the last
line; end-to-end server sections come after the engine's):

- **engine**: :class:`emotion.engine.LiveEngine` alone. A simulated floor
  (:class:`capture.simulator.Floor`: every seat in a call, agent and caller talking in
  turns on G.711 lines, with agitated and low-energy episodes) is pushed one tick at a
  time and ticked. ``engine_seats_per_core`` = seats × audio seconds / CPU seconds of
  ``tick()`` (the worker thread's CPU time, everything pinned to one thread) after a
  warm-up in which every call starts playing and scoring. The share of a tick spent
  outside the analysers (buffers, scoring, alert rules, snapshots: the engine's own
  overhead) is measured by timing the analysers' ``process`` calls. ``push`` is timed
  separately (it runs on the server's event-loop thread) for 20 ms packets.
  Memory per seat: allocations traced (``tracemalloc``) while a second group of 64
  seats opens and plays (the first carries the one-off costs), the process's RSS growth
  over the same steps for context, and the transient peak of a tick above that.
- **silence**: the engine while every call is silent on both sides (a muted line, a
  hold without music, calls whose parties both listen), after 8 s of speech and 4 s
  into the silence: ``silent_zeros_seats_per_core`` with the lines carrying digital
  silence (exact zeros, as behind silence suppression), ``silent_noise_seats_per_core``
  with line noise at -60 dBFS, from the same floor in the same run. Until the
  twenty-fifth round the zeros cost 3.5 times the noise: the VAD's filter ran among
  subnormal numbers (:mod:`emotion._subnormal`).
- **e2e** (:mod:`_capacity_e2e`): the real server on loopback, N simulated seats
  streaming in real time from a child process, 10 dashboards in another: frames
  received vs sent and lost anywhere, underrun, tick latency, CPU by thread and
  process, and alert delivery from the engine's decision to the dashboards.
  ``e2e_seats_zero_drop`` is the largest seat count tested that lost nothing;
  ``alert_delivery_p99_ms`` is over every alert decision and dashboard of all phases.
- **detection** (:mod:`_capacity_detection`): stereo calls with a known agitation
  onset and calm calls, synthetic and replayed from acted speech (``--data``), through
  the engine directly and faster than real time (the same decisions):
  ``onset_to_alert_median_s`` (from the agent's first agitated speech),
  ``false_alerts_per_agent_shift``, each the worse of the two materials.

Prints a table and, as its last line, one JSON object with the key figures. ``--quick``
(about a minute) measures 128 seats for 20 s in the engine, one phase of 16 seats
through the server and a few calls for detection; its numbers are indicative only.
The default run takes about 8 minutes (more the first time: the demo's baselines for
300 simulated agents are fitted once and cached).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from capture.audio import AudioClip  # noqa: E402
from capture.simulator import AgentVoice, Floor, calibration_audio  # noqa: E402
from emotion.baseline import fit_baseline, population_baseline  # noqa: E402
from emotion.engine import LiveEngine  # noqa: E402
from emotion.vad import StreamingVAD  # noqa: E402
from emotion.voice import StreamingVoiceAnalyzer, analyse_clips  # noqa: E402
from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _capacity_detection import detection_rows, detection_section, detection_summary  # noqa: E402
from _capacity_e2e import e2e_rows, e2e_section, e2e_summary  # noqa: E402

FS_HZ = 8000
TICK_S = 0.25
WARMUP_S = 8.0  # every call plays and scores windows before the clock starts
PACKET_S = 0.02


def population(n_agents: int = 4, seconds: float = 120.0):
    """A population baseline from a few simulated agents' calibration speech."""
    clips = [AudioClip(calibration_audio(AgentVoice.draw(f"CAL{i}"), seconds)[None] / 32768.0,
                       FS_HZ, f"CAL{i}", "ULAW") for i in range(n_agents)]
    bases = []
    for i, result in enumerate(analyse_clips(clips)):
        w = result.windows
        bases.append(fit_baseline(w.features[0, w.valid[0]], FEATURE_NAMES,
                                  agent_id=f"CAL{i}", channel_type="8k",
                                  speech_s=result.speech_s, level_profile=result.level_profile,
                                  sigma_floor=np.array(FEATURE_SIGMA_FLOOR)))
    return population_baseline(bases, channel_type="8k")


class _DspTimer:
    """Thread CPU time spent in the given methods, outermost calls only (an analyser's
    own VAD is not counted twice), while installed."""

    def __init__(self, *methods: tuple[type, str]) -> None:
        self.methods, self.cpu_s, self._depth = methods, 0.0, 0
        self._originals = [getattr(cls, name) for cls, name in methods]

    def __enter__(self):
        for (cls, name), original in zip(self.methods, self._originals, strict=True):
            setattr(cls, name, self._wrap(original))
        return self

    def __exit__(self, *exc) -> None:
        for (cls, name), original in zip(self.methods, self._originals, strict=True):
            setattr(cls, name, original)

    def _wrap(self, original):
        def timed(obj, *args, **kwargs):
            self._depth += 1
            t0 = time.thread_time()
            try:
                return original(obj, *args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.cpu_s += time.thread_time() - t0

        return timed


def _floor(n_seats: int, quick: bool) -> Floor:
    """Every seat in one long call from the first tick (no idle gaps)."""
    return Floor(n_seats, seed=1, call_s=(3600.0, 3601.0), idle_s=(1e-3, 2e-3),
                 agitation_every_s=60.0, n_timbres=4 if quick else 12,
                 n_caller_timbres=2 if quick else 6)


def _open_all(engine: LiveEngine, floor: Floor, first: int = 0, n: int | None = None) -> None:
    for seat in floor.seats[first : None if n is None else first + n]:
        engine.open_call(seat.seat_id, f"{seat.seat_id}-call", seat.agent_id,
                         ("agent", "caller"))


def _push_tick(engine: LiveEngine, floor: Floor, pcm: np.ndarray, n: int | None = None) -> None:
    for seat, channels in zip(floor.seats[: n or len(floor.seats)], pcm, strict=False):
        call = f"{seat.seat_id}-call"
        engine.push(call, "agent", channels[0])
        engine.push(call, "caller", channels[1])


def engine_section(args) -> dict:
    """Engine-only capacity and memory (see the module notes)."""
    base = population()
    provider = lambda agent_id: (base, "population")  # noqa: E731
    n_seats, seconds = args.seats, args.seconds
    floor = _floor(n_seats, args.quick)
    engine = LiveEngine(baselines=provider, fs_hz=FS_HZ, tick_s=TICK_S,
                        group_size=args.group_size)
    tick = round(TICK_S * FS_HZ)
    _open_all(engine, floor)
    _push_tick(engine, floor, floor.read(2 * tick))  # fills the jitter buffers
    for _ in range(round(WARMUP_S / TICK_S)):
        _push_tick(engine, floor, floor.read(tick))
        engine.tick()

    cpu_s = wall_s = 0.0
    n_ticks = round(seconds / TICK_S)
    events = windows = 0
    with _DspTimer((StreamingVoiceAnalyzer, "process"), (StreamingVAD, "process")) as dsp:
        for _ in range(n_ticks):
            _push_tick(engine, floor, floor.read(tick))
            result = engine.tick()
            cpu_s += result.cpu_s
            wall_s += result.compute_s
            events += len(result.events)
            windows += len(result.windows)
    stats = engine.stats
    audio_s = n_seats * n_ticks * TICK_S
    out = {
        "seats": n_seats, "group_size": args.group_size, "audio_s_per_seat": seconds,
        "ticks": n_ticks,
        "tick_cpu_s_mean": cpu_s / n_ticks, "tick_wall_s_p50": stats["tick_compute_s_p50"],
        "tick_wall_s_p99": stats["tick_compute_s_p99"],
        "seats_per_core": audio_s / cpu_s, "x_realtime_per_seat": audio_s / cpu_s,
        "engine_own_share": max(0.0, 1.0 - dsp.cpu_s / cpu_s),
        "windows": windows, "alert_events": events,
        "underrun_s": stats["underrun_s"], "dropped_s": stats["dropped_s"],
        "push": _push_cost(engine, floor),
    }
    out["memory"] = _memory(provider)
    return out


def _push_cost(engine: LiveEngine, floor: Floor) -> dict:
    """µs per push of 20 ms packets (the server's event-loop side), both channels."""
    n = round(PACKET_S * FS_HZ)
    pcm = floor.read(n)
    calls = [f"{seat.seat_id}-call" for seat in floor.seats]
    t0 = time.thread_time()
    for call, channels in zip(calls, pcm, strict=True):
        engine.push(call, "agent", channels[0])
        engine.push(call, "caller", channels[1])
    cpu = time.thread_time() - t0
    per_push_us = cpu / (2 * len(calls)) * 1e6
    # Seats whose 20 ms packets (two channels) one core could push in real time.
    return {"us_per_push": round(per_push_us, 2),
            "seats_per_core_at_20ms": int(PACKET_S / (2 * per_push_us * 1e-6))}


def _rss_kb() -> float:
    """Resident set size of this process now, KB (Linux; NaN elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return float("nan")
    return pages * resource.getpagesize() / 1024


def _memory(provider) -> dict:
    """Memory of a second group of 64 playing seats (the first one carries the one-off
    costs: model, kernels): allocations traced while it opens and plays, and RSS growth."""
    floor = _floor(128, quick=True)
    tick = round(TICK_S * FS_HZ)
    engine = LiveEngine(baselines=provider, fs_hz=FS_HZ, tick_s=TICK_S)
    _open_all(engine, floor, 0, 64)

    def run(n_seats: int) -> None:
        for _ in range(4):
            _push_tick(engine, floor, floor.read(tick), n_seats)
            engine.tick()

    run(64)
    tracemalloc.start()
    run(64)  # the same steps with one group: what the floor and the ticks leave behind
    traced0, rss0 = tracemalloc.get_traced_memory()[0], _rss_kb()
    tracemalloc.reset_peak()
    _open_all(engine, floor, 64, 64)
    run(128)
    traced, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"traced_kb_per_seat": (traced - traced0) / 64 / 1024,
            "tick_transient_mb": (peak - traced) / 1024**2,
            "rss_growth_kb_per_seat": (_rss_kb() - rss0) / 64}


#: Line noise of the silence section's second condition, dBFS.
SILENT_NOISE_DBFS = -60.0


def silence_section(args) -> dict:
    """Engine CPU while every call is silent: digital zeros against line noise."""
    base = population()
    provider = lambda agent_id: (base, "population")  # noqa: E731
    n_seats, seconds = args.seats, args.seconds / 2
    tick = round(TICK_S * FS_HZ)
    rng = np.random.default_rng(0)
    out = {"seats": n_seats, "silent_s": seconds}
    for line in ("zeros", "noise"):
        floor = _floor(n_seats, args.quick)
        engine = LiveEngine(baselines=provider, fs_hz=FS_HZ, tick_s=TICK_S,
                            group_size=args.group_size)
        _open_all(engine, floor)
        _push_tick(engine, floor, floor.read(2 * tick))
        for _ in range(round(WARMUP_S / TICK_S)):
            _push_tick(engine, floor, floor.read(tick))
            engine.tick()
        cpu_s = 0.0
        quiet_ticks = round(4.0 / TICK_S)  # streams fall asleep before the clock starts
        for i in range(quiet_ticks + round(seconds / TICK_S)):
            pcm = (np.zeros((n_seats, 2, tick), dtype=np.int16) if line == "zeros" else
                   np.round(rng.standard_normal((n_seats, 2, tick))
                            * 32768 * 10 ** (SILENT_NOISE_DBFS / 20)).astype(np.int16))
            _push_tick(engine, floor, pcm)
            result = engine.tick()
            if i >= quiet_ticks:
                cpu_s += result.cpu_s
        out[f"{line}_seats_per_core"] = n_seats * seconds / cpu_s
    return out


def silence_rows(e: dict) -> list[tuple[str, str]]:
    return [("silent calls, seats per core: digital zeros / line noise",
             f"{e['zeros_seats_per_core']:.0f} / {e['noise_seats_per_core']:.0f} "
             f"({e['seats']} seats × {e['silent_s']:.0f} s)")]


def silence_summary(e: dict) -> dict:
    return {"silent_zeros_seats_per_core": round(e["zeros_seats_per_core"]),
            "silent_noise_seats_per_core": round(e["noise_seats_per_core"])}


def engine_rows(e: dict) -> list[tuple[str, str]]:
    """The engine section's lines of the table."""
    return [
        ("seats × audio (group size)",
         f"{e['seats']} × {e['audio_s_per_seat']:.0f} s ({e['group_size']})"),
        ("engine seats per core (tick CPU)", f"{e['seats_per_core']:.0f}"),
        ("tick CPU mean / wall p50 / p99", f"{e['tick_cpu_s_mean'] * 1e3:.1f} / "
         f"{e['tick_wall_s_p50'] * 1e3:.1f} / {e['tick_wall_s_p99'] * 1e3:.1f} ms"),
        ("engine's own share of a tick", f"{100 * e['engine_own_share']:.1f} %"),
        ("push, 20 ms packets", f"{e['push']['us_per_push']:.1f} µs "
         f"({e['push']['seats_per_core_at_20ms']} seats per core)"),
        ("memory per seat (traced, 2nd group of 64)",
         f"{e['memory']['traced_kb_per_seat']:.0f} KB"),
        ("working memory of a tick (transient)", f"{e['memory']['tick_transient_mb']:.0f} MB"),
        ("RSS growth per seat", f"{e['memory']['rss_growth_kb_per_seat']:.0f} KB"),
        ("windows / alert events", f"{e['windows']} / {e['alert_events']}"),
        ("underrun / dropped", f"{e['underrun_s']:.2f} s / {e['dropped_s']:.2f} s"),
    ]


def engine_summary(e: dict) -> dict:
    """The engine section's keys of the last line."""
    return {"seats": e["seats"], "engine_seats_per_core": round(e["seats_per_core"]),
            "engine_memory_per_seat_kb": round(e["memory"]["traced_kb_per_seat"], 1),
            "engine_own_share": round(e["engine_own_share"], 3),
            "push_us": e["push"]["us_per_push"],
            "tick_wall_ms_p99": round(e["tick_wall_s_p99"] * 1e3, 1)}


#: name → (measure(args) → report, rows(report) → table lines, summary(report) → keys of
#: the last line). Sections run in this order; add end-to-end ones after "engine".
SECTIONS = {"engine": (engine_section, engine_rows, engine_summary),
            "silence": (silence_section, silence_rows, silence_summary),
            "e2e": (e2e_section, e2e_rows, e2e_summary),
            "detection": (detection_section, detection_rows, detection_summary)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; about a minute")
    parser.add_argument("--seats", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--group-size", type=int, default=64, help="seats per analyser group")
    parser.add_argument("--e2e-seats", default="50,100,150,200,300",
                        help="seat counts of the end-to-end phases (default 50,100,150,200,300)")
    parser.add_argument("--frame-ms", type=int, default=20,
                        help="audio per ingest message in the e2e section (default 20, as "
                             "telephony platforms send; the demo's seats send 100)")
    parser.add_argument("--e2e-ingest", choices=("lean", "http"), default="lean",
                        help="where the e2e seats stream: the lean websocket ingest port "
                             "(default) or the FastAPI routes on the HTTP port")
    parser.add_argument("--e2e-tls", action="store_true",
                        help="the e2e server speaks TLS (a throwaway certificate, trustme): "
                             "seats stream over wss://, dashboards follow over wss://")
    parser.add_argument("--engine-mode", choices=("process", "thread"), default=None,
                        help="the e2e server's engine: in a child process or a thread of the "
                             "server's process (default: the server's default, process)")
    parser.add_argument("--switch-interval-ms", type=float, default=0.0,
                        help="set the interpreter's GIL switch interval while the server runs "
                             "(a diagnosis; default: leave Python's 5 ms)")
    parser.add_argument("--data", default=None,
                        help="folder holding emodb/ and ravdess/ for the detection section's "
                             "replayed corpus calls (default $VOICELINE_SHARED_DATA, else "
                             "../shared/data beside the repository; skipped if absent)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"which sections to run (default all: {','.join(SECTIONS)})")
    args = parser.parse_args(argv)
    args.e2e_seats = [int(n) for n in args.e2e_seats.split(",")]
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; "
                     f"choose from {', '.join(SECTIONS)}")
    args.seats = args.seats or (128 if args.quick else 256)
    args.seconds = args.seconds or (20.0 if args.quick else 60.0)
    load = os.getloadavg()[0]
    report = {"mode": "quick" if args.quick else "full", "load_1min": round(load, 2)}
    rows, summary = [], dict(report)
    times: dict[str, float] = {}
    for name, (measure, table_rows, keys) in SECTIONS.items():
        if name not in args.sections.split(","):
            continue
        t0 = time.monotonic()
        report[name] = measure(args)
        times[name] = time.monotonic() - t0
        rows += table_rows(report[name])
        summary |= keys(report[name])
    rows.append(("load average (1 min, at start)", f"{load:.2f}"))
    rows.append(("wall time per section",
                 ", ".join(f"{name} {seconds:.0f} s" for name, seconds in times.items())))
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
