"""``capacity.py``'s end-to-end section: seats streamed through the real server on loopback.

The server is :class:`voiceline.server.testing.ServerThread` in this process (its event
loop and store threads, and its engine: by default the server's own, a child process of
this one, reached by two threads of the server; ``--engine-mode thread`` for the engine
in a thread of this process instead; this process's main thread only orchestrates and
sleeps).
Two child processes play the other machines of a call centre: the telephony side
(``_capacity_sim.py``: N simulated seats, every one in a call throughout, audio fork over
websockets in real time) and the supervisors' side (``_capacity_dash.py``: 10 dashboards
on ``/ws/alerts``). Agents' baselines are the demo's (:func:`voiceline.demo.prepare_baselines`,
cached in ``~/.cache/voiceline``).

Per seat count, one phase: ``warmup_s`` (connections, jitter buffers, the first scored
windows) then ``measure_s`` of steady state, then the calls hang up. Reported per phase:

- frames sent by the simulator vs accepted by the server's parsers (whole phase, after
  the calls have drained), frames lost anywhere: the simulator's queues, the wire, the
  parsers (duplicates), the engine (backlog full, or late after an underrun). A phase
  is **zero-drop** when all of these are zero;
- the engine's underrun (silence filled for audio not there in time), steady state;
- tick latency p50/p99 (the engine's wall time per tick) and overrun ticks;
- CPU over the steady state as % of one core: the server by thread (event loop: ingest,
  websockets, dashboards; engine: its thread, or its whole process; engine I/O: the
  threads that send it audio and read its results, in process mode; store; other:
  onnxruntime's and the executor's), the simulator and the dashboards processes;
- alert delivery: for every ``opened`` and ``updated`` alert event (the engine's
  decisions), its arrival at each dashboard minus the event's ``time_s``, which is the
  engine's wall clock stamped at the start of the tick that decided it (so the figure
  includes that tick's analysis as well as store, fan-out and network).
  ``alert_delivery_p99_ms`` is over every decision, dashboard and phase, overloaded
  phases included; ``alert_delivery_p99_ms_zero_drop`` over the zero-drop phases only.

The seats stream to the lean websocket ingest port (``--e2e-ingest lean``, the default;
:mod:`voiceline.server.lean_ingest`) or to the FastAPI routes on the HTTP port
(``--e2e-ingest http``, the only path before 2026-11-28). ``loop_us_per_message`` is the
event loop's CPU time over the steady state divided by the messages received in it (it
includes the loop's other work: dashboards, snapshots, engine results).

CPU "elsewhere" is the machine's busy time (``/proc/stat``) less all of the above: other
users' work, which disturbs the figures when it is not near zero. Counters are read on
the server's loop from the objects ``/metrics`` renders (``Metrics`` and
``LiveEngine.stats``), with the raw tick times behind ``/healthz``.
``--switch-interval-ms`` sets the interpreter's GIL switch interval while the server
runs: a diagnosis of how its event loop and engine thread share the GIL.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _capacity_procs import Child, machine_busy_s, process_cpu_s, thread_cpu_s

DASHBOARDS = 10
SEED = 0
#: Engine decisions whose delivery is timed (closing at call end is the server's).
DECISIONS = ("opened", "updated")


def _percentile(values, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


async def _counters(service) -> dict:
    """What the phase needs of ``/metrics`` and ``/healthz`` (run on the server's loop)."""
    m, stats = service.metrics, service.engine.stats
    return {"engine_pid": getattr(service.engine, "pid", None),
            "restarts": stats.get("restarts", 0),
            "frames": sum(m.frames.values()), "duplicates": sum(m.frames_dropped.values()),
            "filled": sum(m.samples_filled.values()), "live_calls": m.live_calls,
            "unscored": m.unscored_calls, "overruns": service.runner.overruns,
            "ticks": m.tick.count, "recent": list(m.tick.recent),
            "dashboards": m.dashboard_clients, "slow_dropped": m.dashboards_dropped_slow,
            "opened": sum(m.alerts_opened.values()), "published": m.alert_events_published,
            **{f"{k}_s": stats[f"{k}_s"] for k in ("received", "underrun", "dropped", "late")}}


def snapshot(server, children: dict[str, Child]) -> dict:
    """Server counters (read on its loop), thread and child CPU, monotonic time."""
    future = asyncio.run_coroutine_threadsafe(_counters(server.service), server.service.loop)
    snap = future.result(10.0)
    snap["threads"] = thread_cpu_s()
    if snap["engine_pid"] is not None:  # the engine process: all of it is the engine's
        snap["threads"]["engine"] = snap["threads"].get("engine", 0.0) + \
            process_cpu_s(snap["engine_pid"])
    snap["children"] = {name: child.cpu_s() for name, child in children.items()}
    snap["machine"] = machine_busy_s()
    snap["t"] = time.monotonic()
    return snap


def _certificate(folder: Path) -> tuple[dict, dict]:
    """A throwaway CA and a certificate for 127.0.0.1: the server's TLS settings, and the
    environment that makes the simulator and dashboard processes trust it."""
    import trustme

    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1", "localhost")
    paths = {name: folder / f"{name}.pem" for name in ("ca", "cert", "key")}
    authority.cert_pem.write_to_path(str(paths["ca"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    for k, pem in enumerate(cert.cert_chain_pems):
        pem.write_to_path(str(paths["cert"]), append=k > 0)
    return ({"tls_certfile": str(paths["cert"]), "tls_keyfile": str(paths["key"])},
            {"SSL_CERT_FILE": str(paths["ca"])})


def _accounts(data_dir: Path) -> tuple[str, str]:
    """A supervisor's session token and an ingest token, written before the server starts."""
    from voiceline.auth import Auth
    from voiceline.server.config import STORE_FILE
    from voiceline.store import Store

    store = Store(data_dir / STORE_FILE)
    try:
        auth = Auth(store)
        user = auth.add_user("bench-supervisor", "supervisor", secrets.token_urlsafe(16))
        return auth.issue_token(user), auth.issue_ingest_token("capacity benchmark")
    finally:
        store.close()


def _collect(dash: Child, published: int, timeout_s: float = 20.0) -> tuple[list, int]:
    """The dashboards' arrivals, once each has every event the server published (or
    after ``timeout_s``: a late event then shows as missing)."""
    alerts, snapshots = [], 0
    deadline = time.monotonic() + timeout_s
    while True:
        dash.send("report")
        report = dash.expect("report", 30.0)
        alerts += report["alerts"]
        snapshots += report["snapshots"]
        counts = np.bincount([e[0] for e in alerts], minlength=DASHBOARDS)
        if counts.min() >= published or time.monotonic() > deadline:
            return alerts, snapshots
        time.sleep(0.5)


def _phase(server, sim: Child, dash: Child, seats: int, plan: dict) -> dict:
    children = {"simulator": sim, "dashboards": dash}
    s0 = snapshot(server, children)
    sim.send({"seats": seats, "duration_s": plan["warmup_s"] + plan["measure_s"] + 2.0,
              "agitation_every_s": plan["agitation_every_s"], "warmup_s": plan["warmup_s"],
              "run_id": f"n{seats}"})
    sim.expect("started", 120.0)
    time.sleep(plan["warmup_s"])
    a = snapshot(server, children)
    time.sleep(plan["measure_s"])
    b = snapshot(server, children)
    done = sim.expect("done", plan["measure_s"] + 60.0)
    time.sleep(2.0)  # the last frames and hang-ups reach the server
    c = snapshot(server, children)
    alerts, snapshots = _collect(dash, c["published"] - s0["published"])

    steady_s = b["t"] - a["t"]
    n_ticks = b["ticks"] - a["ticks"]
    ticks = b["recent"][-n_ticks:] if n_ticks > 0 else []
    cpu = {k: 100 * (b["threads"].get(k, 0.0) - a["threads"].get(k, 0.0)) / steady_s
           for k in ("loop", "engine", "engine_io", "store", "other")}
    cpu["server"] = sum(cpu.values())
    for name in children:
        cpu[name] = 100 * (b["children"][name] - a["children"][name]) / steady_s
    # Everything else on the machine (other users' work disturbs the figures).
    cpu["elsewhere"] = max(0.0, 100 * (b["machine"] - a["machine"]) / steady_s - cpu["server"]
                           - cpu["simulator"] - cpu["dashboards"]
                           - 100 * (b["threads"].get("bench", 0.0)
                                    - a["threads"].get("bench", 0.0)) / steady_s)
    received = c["frames"] - s0["frames"]
    steady_frames = b["frames"] - a["frames"]
    lost = {"simulator_queue": done["frames_dropped"],
            "wire": max(0, done["frames_sent"] - received),
            "duplicates": c["duplicates"] - s0["duplicates"],
            "engine_backlog_s": c["dropped_s"] - s0["dropped_s"],
            "engine_late_s": c["late_s"] - s0["late_s"]}
    opened = {e[1] for e in alerts if e[2] == "opened"}
    per_client = np.bincount([e[0] for e in alerts], minlength=DASHBOARDS)
    delays = [e[4] - e[3] for e in alerts if e[2] in DECISIONS]
    return {
        "seats": seats, "frames_sent": done["frames_sent"], "frames_received": received,
        "lost": lost, "zero_drop": not any(lost.values()) and done["errors"] == 0,
        "errors": done["errors"], "last_error": done["last_error"],
        "simulator_max_lag_s": done["max_lag_s"], "simulator_steady_lag_s": done["steady_lag_s"],
        "live_calls": a["live_calls"], "unscored": a["unscored"],
        "underrun_steady_s": b["underrun_s"] - a["underrun_s"],
        "underrun_phase_s": c["underrun_s"] - s0["underrun_s"],
        "audio_steady_s": b["received_s"] - a["received_s"],
        "audio_phase_s": c["received_s"] - s0["received_s"],
        "overruns_steady": b["overruns"] - a["overruns"],
        "engine_restarts": c["restarts"] - s0["restarts"],
        "tick_p50_ms": 1e3 * _percentile(ticks, 50) if ticks else None,
        "tick_p99_ms": 1e3 * _percentile(ticks, 99) if ticks else None,
        "cpu_pct": cpu, "steady_s": steady_s, "load_1min": os.getloadavg()[0],
        "loop_us_per_message": (1e4 * cpu["loop"] * steady_s / steady_frames
                                if steady_frames else None),
        "alerts_opened": c["opened"] - s0["opened"], "alerts_seen": len(opened),
        "events_published": c["published"] - s0["published"],
        "events_per_dashboard": [int(per_client.min()), int(per_client.max())],
        "agitated_episodes": done["agitated_episodes"],
        "deliveries": len(delays), "delivery_ms": [round(1e3 * d, 2) for d in delays],
        "dashboards": b["dashboards"], "dashboards_dropped": c["slow_dropped"] - s0["slow_dropped"],
        "snapshots_received": snapshots,
    }


def e2e_section(args) -> dict:
    """Seat counts through the real server; see the module notes."""
    from voiceline.demo import agent_ids, prepare_baselines
    from voiceline.server import ServerConfig
    from voiceline.server.testing import ServerThread

    plan = ({"seats": [16], "warmup_s": 7.0, "measure_s": 9.0, "agitation_every_s": 12.0}
            if args.quick else
            {"seats": args.e2e_seats, "warmup_s": 10.0, "measure_s": 40.0,
             "agitation_every_s": 120.0})
    top = max(plan["seats"])
    tmp = Path(tempfile.mkdtemp(prefix="voiceline-capacity-"))
    switch_s = sys.getswitchinterval()
    if args.switch_interval_ms:  # a diagnosis: how much GIL hand-over costs the engine
        sys.setswitchinterval(args.switch_interval_ms / 1e3)
    ingest_path = getattr(args, "e2e_ingest", "lean")
    tls_on = bool(getattr(args, "e2e_tls", False))
    engine_mode = getattr(args, "engine_mode", None) or ServerConfig.engine_mode
    t0 = time.monotonic()
    children: list[Child] = []
    server = None
    try:
        prepare_baselines(agent_ids(top), SEED, tmp / "data" / "baselines",
                          log=lambda m: print(m, file=sys.stderr, flush=True))
        session, ingest = _accounts(tmp / "data")
        tls, trust = _certificate(tmp) if tls_on else ({}, {})
        server = ServerThread(ServerConfig(data_dir=tmp / "data", audiosocket_port=None,
                                           engine_mode=engine_mode, **tls))
        target = server.ingest_url if ingest_path == "lean" else server.url
        # The simulator renders its voice banks while the server starts.
        sim = Child("_capacity_sim.py", ["--server", target, "--max-seats", str(top),
                                         "--seed", str(SEED), "--caller-timbres",
                                         "1" if args.quick else "4",
                                         "--frame-ms", str(args.frame_ms)],
                    {"VOICELINE_INGEST_TOKEN": ingest, **trust}, tmp / "simulator.log")
        children.append(sim)
        server.start()
        dash = Child("_capacity_dash.py", ["--url", server.ws_url, "--clients",
                                           str(DASHBOARDS)],
                     {"VOICELINE_SESSION_TOKEN": session, **trust}, tmp / "dashboards.log")
        children.append(dash)
        dash.expect("ready", 60.0)
        banks = sim.expect("ready", 300.0)
        setup_s = time.monotonic() - t0
        phases = []
        for seats in plan["seats"]:
            phases.append(_phase(server, sim, dash, seats, plan))
            time.sleep(1.0)
    finally:
        for child in children:
            child.close()
        if server is not None:
            server.stop()
        sys.setswitchinterval(switch_s)
        shutil.rmtree(tmp, ignore_errors=True)
    delays = [d for p in phases for d in p["delivery_ms"]]
    sustained = [d for p in phases if p["zero_drop"] for d in p["delivery_ms"]]
    zero = [p["seats"] for p in phases if p["zero_drop"]]
    return {"plan": plan, "phases": phases, "setup_s": setup_s, "banks_s": banks["banks_s"],
            "switch_interval_ms": args.switch_interval_ms or 1e3 * switch_s,
            "frame_ms": args.frame_ms, "ingest": ingest_path, "engine_mode": engine_mode,
            "tls": tls_on,
            "seats_zero_drop": max(zero) if zero else 0, "seats_tested": top,
            "delivery_p50_ms": _percentile(delays, 50), "delivery_p99_ms": _percentile(delays, 99),
            "delivery_max_ms": max(delays) if delays else None, "deliveries": len(delays),
            "delivery_p99_zero_drop_ms": _percentile(sustained, 99),
            "deliveries_zero_drop": len(sustained)}


def _lost_text(p: dict) -> str:
    lost = p["lost"]
    if p["zero_drop"]:
        return "none lost"
    parts = [f"{k} {v}" for k, v in lost.items() if v and not k.startswith("engine")]
    for k in ("engine_backlog_s", "engine_late_s"):
        if lost[k]:
            parts.append(f"{k[:-2]} {lost[k]:.0f} s = {100 * lost[k] / p['audio_phase_s']:.0f} % "
                         "of the audio")
    if p["errors"]:
        parts.append(f"{p['errors']} errors ({p['last_error']})")
    return "LOST: " + ", ".join(parts)


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def e2e_rows(e: dict) -> list[tuple[str, str]]:
    """The end-to-end section's lines of the table."""
    plan = e["plan"]
    rows = [("e2e phases (warm-up + steady, dashboards)",
             f"{plan['warmup_s']:.0f} + {plan['measure_s']:.0f} s, {DASHBOARDS} dashboards, "
             f"agitation every {plan['agitation_every_s']:.0f} s, GIL switch interval "
             f"{e['switch_interval_ms']:g} ms, {e['frame_ms']} ms frames to the "
             f"{e['ingest']} ingest port{' over TLS' if e.get('tls') else ''}, engine in a "
             f"{e['engine_mode']}")]
    for p in e["phases"]:
        n, cpu = p["seats"], p["cpu_pct"]
        rows += [
            (f"e2e {n} seats: frames received / sent",
             f"{p['frames_received']} / {p['frames_sent']} ({_lost_text(p)})"),
            (f"e2e {n} seats: tick p50 / p99, overruns",
             f"{_ms(p['tick_p50_ms'])} / {_ms(p['tick_p99_ms'])} ms, {p['overruns_steady']} "
             f"overrun ticks, underrun {p['underrun_steady_s']:.1f} s of "
             f"{p['audio_steady_s']:.0f} s, {p['engine_restarts']} engine restarts"),
            (f"e2e {n} seats: CPU, % of one core",
             f"server {cpu['server']:.0f} (loop {cpu['loop']:.0f}, engine {cpu['engine']:.0f}, "
             f"engine I/O {cpu['engine_io']:.0f}, store {cpu['store']:.0f}, other "
             f"{cpu['other']:.0f}; loop "
             f"{_us(p['loop_us_per_message'])} µs per message), simulator "
             f"{cpu['simulator']:.0f} (lag max {1e3 * p['simulator_steady_lag_s']:.0f} ms), "
             f"dashboards {cpu['dashboards']:.1f} (snapshots counted, not parsed); "
             f"elsewhere on the machine "
             f"{cpu['elsewhere']:.0f}"),
            (f"e2e {n} seats: alerts opened, delivery p99",
             f"{p['alerts_opened']} (events published {p['events_published']}, received "
             f"{p['events_per_dashboard'][0]}-{p['events_per_dashboard'][1]} per dashboard), "
             f"{_ms(_percentile(p['delivery_ms'], 99))} ms over {p['deliveries']}"),
            (f"e2e {n} seats: dashboards",
             f"{p['dashboards']} connected, {p['dashboards_dropped']} dropped as too slow, "
             f"{p['snapshots_received']} seat snapshots received"),
        ]
    rows += [("e2e largest zero-drop seat count",
              f"{e['seats_zero_drop']} (tested up to {e['seats_tested']})"),
             ("alert delivery p50 / p99 / max",
              f"{_ms(e['delivery_p50_ms'])} / {_ms(e['delivery_p99_ms'])} / "
              f"{_ms(e['delivery_max_ms'])} ms over {e['deliveries']} deliveries"),
             ("alert delivery p99, zero-drop phases only",
              f"{_ms(e['delivery_p99_zero_drop_ms'])} ms over {e['deliveries_zero_drop']}")]
    return rows


def e2e_summary(e: dict) -> dict:
    """The end-to-end section's keys of the last line."""
    top = max(e["phases"], key=lambda p: p["seats"])

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {"e2e_seats_zero_drop": e["seats_zero_drop"], "e2e_seats_tested": e["seats_tested"],
            "e2e_frames_lost_on_wire": sum(p["lost"]["wire"] for p in e["phases"]),
            "alert_delivery_p99_ms": rounded(e["delivery_p99_ms"]),
            "alert_deliveries": e["deliveries"],
            "alert_delivery_p99_ms_zero_drop": rounded(e["delivery_p99_zero_drop_ms"]),
            "e2e_server_cpu_pct_at_max": round(top["cpu_pct"]["server"]),
            "e2e_loop_us_per_message_at_max": rounded(top["loop_us_per_message"]),
            "e2e_ingest": e["ingest"], "e2e_engine_mode": e["engine_mode"], "e2e_tls": e["tls"],
            "e2e_tick_p99_ms_at_max": rounded(top["tick_p99_ms"])}
