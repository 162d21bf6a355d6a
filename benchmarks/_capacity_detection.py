"""``capacity.py``'s detection section: onset-to-alert latency and false alerts.

Two materials, each a set of stereo calls (agent, caller) run through
:class:`emotion.engine.LiveEngine` directly, all calls at once in lockstep, one tick of
audio pushed per tick, as fast as the engine goes. The server's engine thread does
exactly this with audio pushed in real time, so the decisions (which alerts open, at
which call time) are the same; what the live path adds in wall time is the jitter
buffer (``jitter_s``, 0.5 s by default) and delivery (the e2e section's figure).
Everything runs at default settings: the shipped model, ``AlertConfig()``, the
engine's default tick, jitter and backlog (``--quick`` uses analyser groups of 16
instead of 64, which changes the speed only: group size does not change a decision).

- **synthetic** (:func:`capture.simulator.render_call`): the demo's simulated agents,
  with baselines fitted as the demo fits them (:func:`voiceline.demo.prepare_baselines`)
  and served by the server's own provider (:class:`voiceline.server.baselines.BaselineBook`).
  Onset calls hold one agitated episode of 30 s scheduled 20–40 s into the call (calm
  before and after, callers calm throughout); calm calls (``calm_calls`` per agent,
  5 minutes) have no episode for either party; low-energy calls (``low_energy_calls``
  per agent) hold one low-energy episode of 120 s (the simulator's length: a tired
  voice is a state of minutes) scheduled 20–40 s in, drawn after the others from a
  seed of their own so that the agitation and calm calls stay as they were.
- **corpus** (:mod:`_detection_corpus`): calls replayed from acted speech (RAVDESS,
  EmoDB) through the phone channel, each speaker's baseline fitted from their
  calibration files: onset calls (test-neutral turns, then angry turns), neutral calls
  (test-neutral turns only, a few files looped) and calls with single loud seconds.
  Skipped, with the reason, when the data folder (``--data``) is absent.

The onset of an episode is when agitation can first be *heard in the agent's channel*:
the start of the agent's first agitated utterance (synthetic) or the first speech of
the first angry file (corpus). A synthetic episode scheduled while the caller has the
floor is not audible until the agent speaks, so its scheduled start is reported too,
but is not the measure. Per material: an episode is detected when an agitation alert
opens between its onset and 10 s after its end; ``speech_onset_median_s`` is the
median over detected episodes of the call time at which the alert opened (the end of
the tick that decided it) minus the onset; alerts opened before the onset in onset
calls are counted separately. Low-energy episodes are scored the same way with
low-energy alerts, from the agent's first low-energy utterance. False alerts: alerts
of any kind opened in calm / neutral calls, per agent per 8 hours of call audio. Loud
seconds: how many opened an agitation alert within 10 s.

The last line's ``onset_to_alert_median_s`` and ``false_alerts_per_agent_shift`` are
the worse of the two materials (both must meet the target); each material's own
figures have keys of their own.
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
EPISODE_S = 30.0  # synthetic; the corpus calls' own length is _detection_corpus.EPISODE_S
LOW_ENERGY_EPISODE_S = 120.0  # synthetic (capture.simulator.Schedule's default)
AFTER_S = 15.0  # calm after the episode, before the hang-up
DETECT_SLACK_S = 10.0
CALM_CALL_S = 300.0
TAIL_TICKS = 4  # ticks a call keeps playing (into silence) after its last audio


def _plan(quick: bool) -> dict:
    if quick:
        return {"agents": 3, "onset_calls": 2, "calm_calls": 1, "calm_call_s": 90.0,
                "low_energy_calls": 1, "caller_timbres": 1, "group_size": 16,
                "corpus": {"speakers": 1, "onset_calls": 1, "neutral_call_s": 30.0,
                           "bursts": 1}}
    return {"agents": 10, "onset_calls": 4, "calm_calls": 6, "calm_call_s": CALM_CALL_S,
            "low_energy_calls": 2, "caller_timbres": 3, "group_size": 64,
            "corpus": {"speakers": None, "onset_calls": 2, "neutral_call_s": 900.0,
                       "bursts": 6}}


def _calls(plan: dict) -> list[dict]:
    """Rendered calls with their truth: onset calls first, then calm ones, then the
    low-energy ones."""
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
                          "heard_s": min(agitated) if agitated else None,
                          "duration_s": script.duration_s})
    rng = np.random.default_rng(SEED + 1)
    for i, agent in enumerate(agents):
        for k in range(plan["low_energy_calls"]):
            caller = callers[(i + k) % len(callers)]
            onset_s = float(rng.uniform(20.0, 40.0))
            end_s = onset_s + LOW_ENERGY_EPISODE_S
            script = CallScript(end_s + AFTER_S, [(onset_s, end_s, "low_energy")],
                                seed=int(rng.integers(2**31)))
            rendered = render_call(script, voices[agent], caller)
            tired = [u.start_sample / FS_HZ for u in rendered.utterances
                     if u.party == "agent" and u.style == "low_energy"]
            calls.append({"call_id": f"{agent}-low-{k}", "seat_id": f"D{len(calls):03d}",
                          "agent": agent, "audio": rendered.audio, "onset_s": onset_s,
                          "heard_s": min(tired), "episode_end_s": end_s,
                          "expects": "low_energy", "duration_s": script.duration_s})
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


def _score(calls: list[dict], events: list) -> dict:
    """Latencies, misses and false alerts of one material's calls (see the module notes)."""
    opened: dict[str, list] = {}
    for ev in events:
        if ev.type == "opened":
            opened.setdefault(ev.call_id, []).append(ev)
    scheduled, from_speech, early, missed, bursts, burst_hits = [], [], 0, 0, 0, 0
    tired = {"from_speech": [], "missed": 0, "early": 0}  # low-energy episodes
    calm_alerts = {"agitation": 0, "low_energy": 0}
    calm_list: list[str] = []  # what each false alert said
    calm_s = 0.0
    for c in calls:
        mine = opened.get(c["call_id"], [])
        if c.get("bursts_s"):
            agitation = [ev.t_s for ev in mine if ev.kind == "agitation"]
            bursts += len(c["bursts_s"])
            burst_hits += sum(any(b <= t <= b + DETECT_SLACK_S for t in agitation)
                              for b in c["bursts_s"])
            continue
        if c["onset_s"] is None:
            calm_s += c["duration_s"]
            for ev in mine:
                calm_alerts[ev.kind] += 1
                calm_list.append(f"{c['call_id']} {ev.t_s:.0f} s {ev.kind} {ev.severity} "
                                 f"({ev.reason}): {ev.explanation}")
            continue
        heard = c["heard_s"]
        end = c.get("episode_end_s") or c["onset_s"] + EPISODE_S
        kind = c.get("expects", "agitation")
        hits = [ev.t_s for ev in mine if ev.kind == kind and heard <= ev.t_s
                <= end + DETECT_SLACK_S]
        if kind == "low_energy":
            tired["early"] += sum(1 for ev in mine if ev.t_s < heard)
            if hits:
                tired["from_speech"].append(min(hits) - heard)
            else:
                tired["missed"] += 1
            continue
        early += sum(1 for ev in mine if ev.t_s < heard)
        if not hits:
            missed += 1
            continue
        from_speech.append(min(hits) - heard)
        scheduled.append(min(hits) - c["onset_s"])
    stats = {"episodes": len(from_speech) + missed, "detected": len(from_speech),
             "missed": missed, "early_alerts": early, "calm_h": calm_s / 3600,
             "calm_alerts": calm_alerts, "calm_alert_list": calm_list, "bursts": bursts,
             "burst_alerts": burst_hits,
             "false_per_shift": (sum(calm_alerts.values()) / (calm_s / 3600) * SHIFT_H
                                 if calm_s else None)}
    stats |= {"low_energy_episodes": len(tired["from_speech"]) + tired["missed"],
              "low_energy_detected": len(tired["from_speech"]),
              "low_energy_early_alerts": tired["early"]}
    for name, values in (("speech_onset", from_speech), ("onset", scheduled),
                         ("low_energy_onset", tired["from_speech"])):
        stats[f"{name}_median_s"] = float(np.median(values)) if values else None
        stats[f"{name}_p90_s"] = float(np.percentile(values, 90)) if values else None
        stats[f"{name}_max_s"] = max(values) if values else None
    return stats


def _synthetic(plan: dict) -> dict:
    """The simulated agents' onset and calm calls through the engine."""
    from emotion.engine import LiveEngine
    from voiceline.demo import agent_ids, prepare_baselines
    from voiceline.server.baselines import BaselineBook

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
    audio_s = sum(c["duration_s"] for c in calls)
    return {"calls": len(calls), "audio_h": audio_s / 3600, "x_realtime": audio_s / cpu_s,
            "render_s": render_s, "engine_cpu_s": cpu_s, **_score(calls, events)}


def _corpus(plan: dict, root: Path) -> dict:
    """Replayed calls of acted speech (:mod:`_detection_corpus`) through the engine."""
    from _detection_corpus import corpus_calls
    from emotion.engine import LiveEngine

    t0 = time.monotonic()
    calls, bases, info = corpus_calls(root, plan["corpus"])
    build_s = time.monotonic() - t0
    engine = LiveEngine(baselines=lambda agent: (bases[agent], "agent"), fs_hz=FS_HZ,
                        group_size=plan["group_size"])
    events, cpu_s = _run(engine, calls)
    audio_s = sum(c["duration_s"] for c in calls)
    calibration = [a["calibration_speech_s"] for a in info.values()]
    distinct = [a["neutral_distinct_s"] for a in info.values()]
    return {"calls": len(calls), "speakers": len(info), "audio_h": audio_s / 3600,
            "x_realtime": audio_s / cpu_s, "build_s": build_s, "engine_cpu_s": cpu_s,
            "calibration_speech_s": (min(calibration), float(np.median(calibration)),
                                     max(calibration)),
            "neutral_distinct_s": (min(distinct), float(np.median(distinct)), max(distinct),
                                   sum(distinct)),
            **_score(calls, events)}


def detection_section(args) -> dict:
    """Onset latency and false alerts on both materials; see the module notes."""
    from _detection_corpus import data_dir, missing_reason

    plan = _plan(args.quick)
    out = {"plan": plan, "synthetic": _synthetic(plan)}
    root = data_dir(getattr(args, "data", None))
    reason = missing_reason(root)
    if reason is None:
        out["corpus"] = _corpus(plan, root)
    else:
        out["corpus_skipped"] = reason
        print(f"detection: corpus calls skipped: {reason}", file=sys.stderr, flush=True)
    return out


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _material_rows(name: str, d: dict) -> list[tuple[str, str]]:
    calm = sum(d["calm_alerts"].values())
    rows = [
        (f"{name}: episodes detected / missed",
         f"{d['detected']} / {d['missed']} of {d['episodes']}"),
        (f"{name}: agitated speech → alert median / p90 / max",
         f"{_s(d['speech_onset_median_s'])} / {_s(d['speech_onset_p90_s'])} / "
         f"{_s(d['speech_onset_max_s'])} s"),
        (f"{name}: alerts before agitated speech", f"{d['early_alerts']}"),
    ]
    if d["low_energy_episodes"]:
        rows += [
            (f"{name}: low-energy episodes detected",
             f"{d['low_energy_detected']} of {d['low_energy_episodes']}"),
            (f"{name}: low-energy speech → alert median / p90 / max",
             f"{_s(d['low_energy_onset_median_s'])} / {_s(d['low_energy_onset_p90_s'])} / "
             f"{_s(d['low_energy_onset_max_s'])} s"),
            (f"{name}: alerts before low-energy speech", f"{d['low_energy_early_alerts']}"),
        ]
    rows += [
        (f"{name}: false alerts on neutral calls",
         f"{calm} in {d['calm_h']:.1f} h (agitation {d['calm_alerts']['agitation']}, low "
         f"energy {d['calm_alerts']['low_energy']}) = {d['false_per_shift']:.2f} per agent "
         f"per {SHIFT_H:.0f} h"),
    ]
    rows += [(f"{name}:   false alert", line) for line in d["calm_alert_list"]]
    if d["bursts"]:
        rows.append((f"{name}: single loud seconds that opened an alert",
                     f"{d['burst_alerts']} of {d['bursts']}"))
    return rows


def detection_rows(d: dict) -> list[tuple[str, str]]:
    """The detection section's lines of the table."""
    p, syn = d["plan"], d["synthetic"]
    rows = [
        ("synthetic calls (engine direct)",
         f"{p['agents']} agents × ({p['onset_calls']} onset + {p['calm_calls']} calm × "
         f"{p['calm_call_s']:.0f} s + {p['low_energy_calls']} low-energy), "
         f"{syn['audio_h']:.2f} h at {syn['x_realtime']:.0f}× real time"),
        ("synthetic: scheduled episode start → alert median / p90 / max",
         f"{_s(syn['onset_median_s'])} / {_s(syn['onset_p90_s'])} / {_s(syn['onset_max_s'])} s"),
        *_material_rows("synthetic", syn),
    ]
    if "corpus" in d:
        c, cp = d["corpus"], p["corpus"]
        cal, neu = c["calibration_speech_s"], c["neutral_distinct_s"]
        rows += [
            ("corpus calls (RAVDESS + EmoDB, phone)",
             f"{c['speakers']} speakers × ({cp['onset_calls']} onset + 1 neutral × "
             f"{cp['neutral_call_s']:.0f} s + 1 with {cp['bursts']} loud seconds), "
             f"{c['audio_h']:.2f} h at {c['x_realtime']:.0f}× real time"),
            ("corpus: calibration speech per speaker min / median / max",
             f"{cal[0]:.1f} / {cal[1]:.1f} / {cal[2]:.1f} s"),
            ("corpus: distinct neutral audio looped per speaker",
             f"{neu[0]:.1f} / {neu[1]:.1f} / {neu[2]:.1f} s (min / median / max; "
             f"{neu[3]:.0f} s in all)"),
            *_material_rows("corpus", c),
        ]
    else:
        rows.append(("corpus calls", f"skipped: {d['corpus_skipped']}"))
    return rows


def _worst(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def detection_summary(d: dict) -> dict:
    """The detection section's keys of the last line: the headline figures are the worse
    of the two materials (both must meet the target), from the agent's first agitated
    speech."""
    materials = [d["synthetic"]] + ([d["corpus"]] if "corpus" in d else [])
    out = {
        "onset_to_alert_median_s": _round(_worst([m["speech_onset_median_s"]
                                                  for m in materials])),
        "onset_detected": f"{sum(m['detected'] for m in materials)}/"
                          f"{sum(m['episodes'] for m in materials)}",
        "false_alerts_per_agent_shift": _round(_worst([m["false_per_shift"]
                                                       for m in materials])),
        "calm_hours": round(sum(m["calm_h"] for m in materials), 2),
        "synthetic_onset_to_alert_median_s": _round(d["synthetic"]["speech_onset_median_s"]),
        "synthetic_scheduled_onset_to_alert_median_s": _round(
            d["synthetic"]["onset_median_s"]),
        "synthetic_false_alerts_per_agent_shift": _round(d["synthetic"]["false_per_shift"]),
        "synthetic_low_energy_detected": f"{d['synthetic']['low_energy_detected']}/"
                                         f"{d['synthetic']['low_energy_episodes']}",
        "synthetic_low_energy_onset_to_alert_median_s": _round(
            d["synthetic"]["low_energy_onset_median_s"]),
    }
    if "corpus" in d:
        c = d["corpus"]
        out |= {"corpus_onset_to_alert_median_s": _round(c["speech_onset_median_s"]),
                "corpus_false_alerts_per_agent_shift": _round(c["false_per_shift"]),
                "corpus_neutral_hours": round(c["calm_h"], 2),
                "corpus_loud_seconds_alerted": f"{c['burst_alerts']}/{c['bursts']}"}
    return out
