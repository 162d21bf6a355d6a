"""``capacity.py``'s detection section: onset-to-alert latency and false alerts.

Stereo calls (agent, caller) rendered by :func:`capture.simulator.render_call` are run
through :class:`emotion.engine.LiveEngine` directly, all calls at once in lockstep, one
tick of audio pushed per tick, as fast as the engine goes. The server's engine thread
does exactly this with audio pushed in real time, so the decisions (which alerts open,
at which call time) are the same; what the live path adds in wall time is the jitter
buffer (``jitter_s``, 0.5 s by default) and delivery (the e2e section's figure).
Everything runs at default settings: the shipped model, ``AlertConfig()``, the
engine's default tick, jitter and backlog (``--quick`` uses analyser groups of 16
instead of 64, which changes the speed only: group size does not change a decision).
Agents are the demo's simulated agents,
with baselines fitted as the demo fits them (:func:`voiceline.demo.prepare_baselines`)
and served by the server's own provider (:class:`voiceline.server.baselines.BaselineBook`).

- **Onset calls**: each agent's calls hold one agitated episode of 30 s starting at a
  known time (20–40 s into the call; calm before and after, callers calm throughout).
  ``onset_to_alert_median_s``: median over detected episodes of the call time at which
  the agitation alert opened (the end of the tick that decided it) minus the episode's
  start. An episode is detected when an agitation alert opens within it or up to 10 s
  after its end. Also reported from the start of the agent's first agitated utterance
  (an episode may begin while the caller has the floor).
- **Calm calls**: 5-minute calls with no episode for either party (``calm_calls`` per
  agent). ``false_alerts_per_agent_shift``: alerts of any kind opened in them, per agent
  per 8 hours of call audio. Alerts opened in the onset calls before their episode are
  counted separately.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FS_HZ = 8000
SEED = 0
SHIFT_H = 8.0
EPISODE_S = 30.0
AFTER_S = 15.0  # calm after the episode, before the hang-up
DETECT_SLACK_S = 10.0
CALM_CALL_S = 300.0
TAIL_TICKS = 4  # ticks a call keeps playing (into silence) after its last audio


def _plan(quick: bool) -> dict:
    if quick:
        return {"agents": 3, "onset_calls": 2, "calm_calls": 1, "calm_call_s": 120.0,
                "caller_timbres": 1, "group_size": 16}
    return {"agents": 10, "onset_calls": 4, "calm_calls": 6, "calm_call_s": CALM_CALL_S,
            "caller_timbres": 3, "group_size": 64}


def _calls(plan: dict) -> list[dict]:
    """Rendered calls with their truth: onset calls first, then calm ones."""
    from capture.simulator import AgentVoice, CallScript, prepare_banks, render_call
    from voiceline.demo import agent_ids

    agents = agent_ids(plan["agents"])
    voices = {a: AgentVoice.draw(a, seed=SEED) for a in agents}
    callers = [AgentVoice.draw(f"caller-{k}", seed=SEED, role="caller",
                               n_timbres=plan["caller_timbres"])
               for k in range(plan["caller_timbres"])]
    prepare_banks([*voices.values(), *callers], workers=2)
    rng = np.random.default_rng(SEED)
    calls = []
    for i, agent in enumerate(agents):
        for k in range(plan["onset_calls"] + plan["calm_calls"]):
            caller = callers[(i + k) % len(callers)]
            seed = int(rng.integers(2**31))
            if k < plan["onset_calls"]:
                onset_s = float(rng.uniform(20.0, 40.0))
                script = CallScript(onset_s + EPISODE_S + AFTER_S,
                                    [(onset_s, onset_s + EPISODE_S, "agitated")], seed=seed)
            else:
                onset_s = None
                script = CallScript(plan["calm_call_s"], seed=seed)
            rendered = render_call(script, voices[agent], caller)
            agitated = [u.start_sample / FS_HZ for u in rendered.utterances
                        if u.party == "agent" and u.style == "agitated"]
            calls.append({"call_id": f"{agent}-{k}", "seat_id": f"D{len(calls):03d}",
                          "agent": agent, "audio": rendered.audio, "onset_s": onset_s,
                          "first_agitated_s": min(agitated) if agitated else None,
                          "duration_s": script.duration_s})
    return calls


def _run(engine, calls: list[dict]) -> tuple[list, float]:
    """Play every call through the engine; returns its alert events and the CPU time."""
    tick = round(engine.tick_s * FS_HZ)
    for c in calls:
        engine.open_call(c["seat_id"], c["call_id"], c["agent"], ("agent", "caller"))
        c["pos"], c["open"] = 0, True
    events, cpu0 = [], time.process_time()
    n_ticks = max(c["audio"].shape[1] for c in calls) // tick + TAIL_TICKS + 2
    for step in range(n_ticks):
        for c in calls:
            if not c["open"]:
                continue
            audio, pos = c["audio"], c["pos"]
            if pos >= audio.shape[1] + TAIL_TICKS * tick:
                engine.close_call(c["call_id"], "call ended")
                c["open"] = False
                continue
            n = 2 * tick if step == 0 else tick  # the first push fills the jitter buffer
            if pos < audio.shape[1]:
                engine.push(c["call_id"], "agent", audio[0, pos : pos + n])
                engine.push(c["call_id"], "caller", audio[1, pos : pos + n])
            c["pos"] = pos + n
        events += engine.tick().events
    return events, time.process_time() - cpu0


def detection_section(args) -> dict:
    """Onset latency and false alerts; see the module notes."""
    from emotion.engine import LiveEngine
    from voiceline.demo import agent_ids, prepare_baselines
    from voiceline.server.baselines import BaselineBook

    plan = _plan(args.quick)
    tmp = Path(tempfile.mkdtemp(prefix="voiceline-detection-"))
    try:
        prepare_baselines(agent_ids(plan["agents"]), SEED, tmp,
                          log=lambda m: print(m, file=sys.stderr, flush=True))
        t0 = time.monotonic()
        calls = _calls(plan)
        render_s = time.monotonic() - t0
        engine = LiveEngine(baselines=BaselineBook(tmp), fs_hz=FS_HZ,
                            group_size=plan["group_size"])
        events, cpu_s = _run(engine, calls)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    opened: dict[str, list] = {}
    for ev in events:
        if ev.type == "opened":
            opened.setdefault(ev.call_id, []).append(ev)
    latencies, from_speech, early, missed = [], [], 0, 0
    calm_alerts = {"agitation": 0, "low_energy": 0}
    calm_s = 0.0
    for c in calls:
        mine = opened.get(c["call_id"], [])
        if c["onset_s"] is None:
            calm_s += c["duration_s"]
            for ev in mine:
                calm_alerts[ev.kind] += 1
            continue
        onset, end = c["onset_s"], c["onset_s"] + EPISODE_S + DETECT_SLACK_S
        early += sum(1 for ev in mine if ev.t_s < onset)
        hits = [ev.t_s for ev in mine if ev.kind == "agitation" and onset <= ev.t_s <= end]
        if not hits:
            missed += 1
            continue
        latencies.append(min(hits) - onset)
        if c["first_agitated_s"] is not None:
            from_speech.append(min(hits) - c["first_agitated_s"])
    n_onset = plan["agents"] * plan["onset_calls"]
    false_total = sum(calm_alerts.values())
    audio_s = sum(c["duration_s"] for c in calls)
    return {
        "plan": plan, "calls": len(calls), "audio_h": audio_s / 3600,
        "x_realtime": audio_s / cpu_s, "render_s": render_s, "engine_cpu_s": cpu_s,
        "episodes": n_onset, "detected": len(latencies), "missed": missed,
        "onset_median_s": float(np.median(latencies)) if latencies else None,
        "onset_p90_s": float(np.percentile(latencies, 90)) if latencies else None,
        "onset_max_s": max(latencies) if latencies else None,
        "speech_onset_median_s": float(np.median(from_speech)) if from_speech else None,
        "early_alerts": early, "calm_h": calm_s / 3600, "calm_alerts": calm_alerts,
        "false_per_shift": false_total / (calm_s / 3600) * SHIFT_H,
    }


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def detection_rows(d: dict) -> list[tuple[str, str]]:
    """The detection section's lines of the table."""
    p = d["plan"]
    return [
        ("detection calls (engine direct)",
         f"{p['agents']} agents × ({p['onset_calls']} onset + {p['calm_calls']} calm × "
         f"{p['calm_call_s']:.0f} s), {d['audio_h']:.2f} h at {d['x_realtime']:.0f}× real "
         "time"),
        ("episodes detected / missed", f"{d['detected']} / {d['missed']} of {d['episodes']}"),
        ("onset → alert median / p90 / max",
         f"{_s(d['onset_median_s'])} / {_s(d['onset_p90_s'])} / {_s(d['onset_max_s'])} s "
         f"(from first agitated speech: median {_s(d['speech_onset_median_s'])} s)"),
        ("alerts before onset (onset calls)", f"{d['early_alerts']}"),
        ("false alerts on calm calls",
         f"{sum(d['calm_alerts'].values())} in {d['calm_h']:.1f} h "
         f"(agitation {d['calm_alerts']['agitation']}, low energy "
         f"{d['calm_alerts']['low_energy']}) = {d['false_per_shift']:.2f} per agent per "
         f"{SHIFT_H:.0f} h"),
    ]


def detection_summary(d: dict) -> dict:
    """The detection section's keys of the last line."""
    median = d["onset_median_s"]
    return {"onset_to_alert_median_s": None if median is None else round(median, 2),
            "speech_onset_to_alert_median_s": None if d["speech_onset_median_s"] is None
            else round(d["speech_onset_median_s"], 2),
            "onset_detected": f"{d['detected']}/{d['episodes']}",
            "false_alerts_per_agent_shift": round(d["false_per_shift"], 2),
            "calm_hours": round(d["calm_h"], 2)}
