"""Batch pre-inspection benchmark: accuracy of every QA check and throughput (issue 6 §3).

Usage::

    python benchmarks/qa_bench.py [--quick] [--keep DIR] [--workers N] [--json-only]

Prints a table per check, the missed events and false flags of each, and, as its last
line, one JSON object with every figure. The full mode scores 22 events of each check
and 20 clean calls (114 calls, ~5.5 h of audio; ~15 min, half of it the peer);
``--quick`` (under a minute) scores 5 calls, one event of each check, and its numbers
are indicative only. ``--keep DIR`` keeps the calls, ``truth.json``, the baselines, the
product's output and ``diagnostics.json`` (every hit, miss and false flag).
``--crosstalk-db DB`` adds each party's leak into the other's channel; ``--hold-share F``
puts that share of the calls on hold once (20-50 or 65-150 s of synthetic music on the
agent's side, :func:`_qa_calls.add_hold`) and scores ``long_hold`` besides;
``--babble-db DB`` puts four neighbours on their own calls behind every agent, together
DB below the agent's voice (:func:`_qa_calls.babble`; ``--babble-side caller`` or
``both``: behind the caller, or each side); ``--digital-silence`` writes each channel as
exact zeros outside its party's turns (:func:`_qa_calls.render_call`). Without
``../shared/data`` (or ``VOICELINE_SHARED_DATA``), or without the ``voiceline qa``
command, it says so and prints ``{"skipped": reason}``.

Protocol
--------
Test calls are generated from EmoDB and RAVDESS (:mod:`_qa_calls`): stereo 8 kHz
G.711 calls of 1-4 min, agent on channel 0 and caller on channel 1 (different speakers),
events with exact ground truth inserted, and clean calls without any. Each agent's
baseline is fitted from their calibration files, which never appear in a call, laid out
as their side of a call (``--calibration-layout turns``; ``stream``: back to back). The
product runs as a user runs it::

    voiceline qa CALLS --metadata CALLS/calls.csv --calibration BASELINES --out OUT \
        --workers N --data STORE --no-progress

and its ``OUT/calls/<call_id>.json`` flags are matched to the truth (:mod:`_qa_match`:
overlap or within 1 s, one-to-one). Throughput: hours of stereo call audio per CPU hour
of the product process and its workers (``RUSAGE_CHILDREN``; start-up included), with
``--workers 1`` by default. Peer, in the same run on the same files: openSMILE
eGeMAPSv02 functionals of both channels of every call (CPU time of this process), every
other call before the product runs and the rest after it, so that a drift of the shared
machine's speed moves both alike (``peer_egemaps_x_realtime_before_after`` shows each
half's speed; the halves hold different calls, so they differ by the calls too).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _qa_baselines import write_baselines  # noqa: E402
from _qa_calls import (  # noqa: E402
    AGENT_OFFSET_DB,
    CHECKS,
    Design,
    design_calls,
    write_calls,
)
from _qa_match import TARGETS, TOLERANCE_S, score_calls  # noqa: E402

#: Quick mode: two agents (EmoDB, for low energy; RAVDESS) and two more callers.
QUICK_SPEAKERS = {"emodb": ["03", "08"], "ravdess": ["Actor_01", "Actor_02"]}
QUICK_AGENTS = ("emodb-03", "ravdess-Actor_01")
FULL_EVENTS_PER_CHECK = 22
FULL_CLEAN_CALLS = 20
X_REALTIME_TARGET = 1000.0


def default_data_dir() -> Path:
    from voiceline.corpus_protocol import default_data_dir as protocol_default

    return protocol_default()


def missing_corpora(data_dir: Path) -> str | None:
    """Why the calls cannot be built from ``data_dir``, or None."""
    if (data_dir / "emodb" / "manifest.csv").exists() and (
            data_dir / "ravdess" / "manifest.csv").exists():
        return None
    return f"{data_dir} has no emodb/ and ravdess/ corpora (set VOICELINE_SHARED_DATA)"


def voiceline_command() -> list[str]:
    """The ``voiceline`` entry point beside this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("voiceline")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("voiceline")
    return [found] if found else [sys.executable, "-m", "voiceline"]


def qa_available(cmd: list[str]) -> str | None:
    """None if ``voiceline qa`` exists, else why not."""
    try:
        done = subprocess.run([*cmd, "qa", "--help"], capture_output=True, text=True,
                              timeout=120, check=False)
    except OSError as exc:
        return f"cannot run {cmd[0]}: {exc}"
    if done.returncode != 0:
        return "the 'voiceline qa' command is not available yet: " + (
            done.stderr.strip().splitlines() or ["no output"])[-1]
    return None


# ---------------------------------------------------------------- the calls
def generate(data_dir: Path, work: Path, quick: bool, seed: int, events_per_check: int,
             clean_calls: int, layout: str = "turns",
             agent_offset_db: float = AGENT_OFFSET_DB,
             crosstalk_db: float | None = None, hold_share: float = 0.0,
             babble_db: float | None = None, babble_side: str = "agent",
             digital_silence: bool = False) -> tuple[dict, dict]:
    """Write calls, calls.csv, truth.json and baselines under ``work``."""
    from _qa_corpus import load_speakers

    for old in ("calls", "baselines", "out", "store"):
        if (work / old).exists():
            shutil.rmtree(work / old)
    names = QUICK_SPEAKERS if quick else {"emodb": None, "ravdess": None}
    speakers = [s for corpus, n in names.items() for s in load_speakers(data_dir, corpus, n)]
    agents = ([s for s in speakers if s.key in QUICK_AGENTS] if quick else speakers)
    line = {"agent_offset_db": agent_offset_db, "crosstalk_db": crosstalk_db,
            "hold_share": hold_share, "babble_db": babble_db, "babble_side": babble_side,
            "digital_silence": digital_silence}
    design = (Design(1, 1, max_events_per_call=3, **line) if quick
              else Design(events_per_check, clean_calls, **line))
    plans = design_calls(design, agents, speakers, seed)
    truth = write_calls(plans, work / "calls", work / "truth.json")
    used = sorted({p.agent.key for p in plans})
    calibration = write_baselines([a for a in agents if a.key in used], work / "baselines", seed,
                                  layout)
    return truth, calibration


# ---------------------------------------------------------------- the product
def run_product(cmd: list[str], work: Path, workers: int, extra: list[str] | tuple = ()
                ) -> tuple[float, float, str]:
    """Run ``voiceline qa`` on the calls (with ``extra`` arguments); CPU seconds (itself and
    its workers), wall s."""
    out = work / "out"
    for old in (out, work / "store"):
        if old.exists():
            shutil.rmtree(old)
    args = [*cmd, "qa", str(work / "calls"), "--metadata", str(work / "calls" / "calls.csv"),
            "--calibration", str(work / "baselines"), "--out", str(out),
            "--workers", str(workers), "--data", str(work / "store"), "--no-progress", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (work / "product.log").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"voiceline qa failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, " ".join(args)


def read_flags(out: Path) -> tuple[dict[str, list[dict]], dict[str, float]]:
    """Flags and score per call_id from ``OUT/calls/*.json``."""
    flags, scores = {}, {}
    for path in sorted((out / "calls").glob("*.json")):
        doc = json.loads(path.read_text())
        flags[doc["call_id"]] = doc.get("flags", [])
        scores[doc["call_id"]] = float(doc.get("score", 0.0))
    return flags, scores


def peer_halves(truth: dict) -> tuple[list[dict], list[dict]]:
    """The calls split for the peer: every other call (in call id order) before the
    product runs and the rest after it, so that the peer's time brackets the product's."""
    ordered = [truth["calls"][c] for c in sorted(truth["calls"])]
    return ordered[0::2], ordered[1::2]


def egemaps_cpu_s(call_dir: Path, calls: list[dict]) -> tuple[float, float]:
    """CPU seconds of openSMILE eGeMAPSv02 functionals of both channels of ``calls``
    (truth entries), and the seconds of call audio they hold."""
    import opensmile
    import soundfile as sf

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    cpu = audio_s = 0.0
    for call in calls:
        audio_s += call["duration_s"]
        pcm, fs_hz = sf.read(call_dir / call["path"], dtype="int16")
        x = pcm.T.astype(np.float32) / 32768
        cpu0 = time.process_time()
        for channel in x:
            smile.process_signal(channel, fs_hz)
        cpu += time.process_time() - cpu0
    return cpu, audio_s


# ---------------------------------------------------------------- report
def _r(v, digits: int = 3):
    return None if v is None else round(float(v), digits)


def _fmt(v, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def diagnostics(scores: dict, limit: int) -> list[str]:
    """Lines naming missed events and false flags, per check that has any."""
    lines = []
    for s in scores.values():
        if not s.missed and not s.false:
            continue
        lines.append(f"\n{s.check}: {len(s.missed)} missed, {len(s.false)} false")
        for m in s.missed[:limit]:
            lines.append(f"  missed {m['call_id']} {m['start_s']:.1f}-{m['end_s']:.1f} s")
        for f in s.false[:limit]:
            lines.append(f"  false  {f['call_id']} {f['start_s']:.1f}-{f['end_s']:.1f} s "
                         f"{'(clean call) ' if f['clean_call'] else ''}"
                         f"sev {f.get('severity')} {str(f.get('detail', ''))[:90]}")
    return lines


def report(truth: dict, flags: dict, call_scores: dict) -> tuple[dict, list[str], dict]:
    from voiceline.corpus_protocol import auc

    calls = truth["calls"]
    # long_hold is scored where the calls hold holds (--hold-share)
    checks = CHECKS + (("long_hold",) if any(c.get("hold") for c in calls.values()) else ())
    scores, clean_hours, clean_by_check = score_calls(calls, flags, checks)
    lines = [f"{'check':18s} {'events':>6s} {'flags':>5s} {'TP':>4s} {'P':>6s} {'R':>6s} "
             f"{'F1':>6s} {'target':>6s} {'met':>4s} {'FA/clean h':>10s}"]
    out: dict = {}
    met = 0
    for check in checks:
        s = scores[check]
        fa = s.clean_flags / clean_hours if clean_hours else None
        ok = s.f1 is not None and s.f1 >= TARGETS[check]
        met += ok
        lines.append(f"{check:18s} {s.events:6d} {s.flags:5d} {s.matched:4d} "
                     f"{_fmt(s.precision):>6s} {_fmt(s.recall):>6s} {_fmt(s.f1):>6s} "
                     f"{TARGETS[check]:6.2f} {'yes' if ok else 'no':>4s} {_fmt(fa, 2):>10s}")
        out[check] = {"events": s.events, "flags": s.flags, "matched": s.matched,
                      "precision": _r(s.precision), "recall": _r(s.recall), "f1": _r(s.f1),
                      "target_f1": TARGETS[check], "met": ok,
                      "false_alarms_per_clean_hour": _r(fa, 2)}
    all_clean = sum(clean_by_check.values())
    fa_all = all_clean / clean_hours if clean_hours else None
    lines.append(f"all flags on clean calls: {all_clean} in {clean_hours:.2f} h = "
                 f"{_fmt(fa_all, 2)} per clean call-hour {dict(sorted(clean_by_check.items()))}")
    event_calls = [c for c, v in calls.items() if not v["clean"]]
    clean_calls = [c for c, v in calls.items() if v["clean"]]
    score_auc = auc(np.array([call_scores.get(c, 0.0) for c in event_calls + clean_calls]),
                    np.array([True] * len(event_calls) + [False] * len(clean_calls)))
    lines.append(f"call score, calls with events vs clean calls: AUC {_fmt(score_auc)}")
    extra = sorted({f["check"] for fl in flags.values() for f in fl} - set(checks))
    summary = {"checks": out, "targets_met": f"{met}/{len(checks)}",
               "false_alarms_per_clean_call_hour": _r(fa_all, 2),
               "clean_flags_by_check": dict(sorted(clean_by_check.items())),
               "score_auc_event_vs_clean": _r(score_auc), "other_checks_flagged": extra,
               "calls_without_output": sorted(set(calls) - set(flags))}
    return summary, lines, scores


def run(data_dir: Path, work: Path, args: argparse.Namespace, cmd: list[str]) -> dict:
    t0 = time.perf_counter()
    events_per_check = args.events_per_check or FULL_EVENTS_PER_CHECK
    truth, calibration = generate(data_dir, work, args.quick, args.seed, events_per_check,
                                  args.clean_calls, args.calibration_layout,
                                  args.agent_offset_db, args.crosstalk_db, args.hold_share,
                                  args.babble_db, args.babble_side, args.digital_silence)
    t_gen = time.perf_counter() - t0
    calls = truth["calls"]
    audio_s = sum(c["duration_s"] for c in calls.values())
    clean = [c for c in calls.values() if c["clean"]]
    print(f"{len(calls)} calls ({len(clean)} clean), {audio_s / 3600:.2f} h of stereo audio, "
          f"{len(calibration)} agent baselines (calibration speech "
          f"{min(v['speech_s'] for v in calibration.values()):.0f}-"
          f"{max(v['speech_s'] for v in calibration.values()):.0f} s); generated in "
          f"{t_gen:.1f} s")
    # The peer runs on half the calls before the product and on the other half after
    # it: this shared machine's speed drifts by tens of per cent within minutes, and a
    # peer timed only after the product (~10 min) once moved the ratio by 20 %.
    halves = peer_halves(truth)
    peer = [] if args.no_peer else [egemaps_cpu_s(work / "calls", halves[0])]
    cpu, wall, command = run_product(cmd, work, args.workers,
                                     ["--config", args.config] if args.config else ())
    if not args.no_peer:
        peer.append(egemaps_cpu_s(work / "calls", halves[1]))
    flags, call_scores = read_flags(work / "out")
    summary, lines, scores = report(truth, flags, call_scores)
    print(f"\n$ {command}\n")
    print("\n".join(lines))
    x_rt = audio_s / cpu if cpu > 0 else None
    speed = {"x_realtime_per_core": _r(x_rt, 1), "product_cpu_s": _r(cpu, 2),
             "product_wall_s": _r(wall, 2), "workers": args.workers,
             "x_realtime_target": X_REALTIME_TARGET,
             "x_realtime_met": bool(x_rt and x_rt >= X_REALTIME_TARGET)}
    if peer:
        peer_cpu, peer_audio_s = (sum(values) for values in zip(*peer, strict=True))
        speed["peer_egemaps_x_realtime"] = _r(peer_audio_s / peer_cpu, 1)
        speed["peer_egemaps_cpu_s"] = _r(peer_cpu, 2)
        speed["peer_egemaps_x_realtime_before_after"] = [
            _r(part_audio_s / part_cpu, 1) if part_cpu > 0 else None
            for part_cpu, part_audio_s in peer]
        speed["ratio_to_peer"] = _r(x_rt / speed["peer_egemaps_x_realtime"], 2) if x_rt else None
    print(f"\nthroughput: {speed}")
    print("\n".join(diagnostics(scores, args.show)))
    diag = {c: {"missed": s.missed, "false": s.false, "hits": s.hits}
            for c, s in scores.items()}
    (work / "diagnostics.json").write_text(json.dumps(diag, indent=1))
    return {
        "mode": "quick" if args.quick else "full", "seed": args.seed,
        "calibration_layout": args.calibration_layout, "calls": len(calls),
        "agent_offset_db": args.agent_offset_db, "crosstalk_db": args.crosstalk_db,
        "hold_share": args.hold_share, "babble_db": args.babble_db,
        "babble_side": args.babble_side, "digital_silence": args.digital_silence,
        "config": args.config,
        "clean_calls": len(clean), "audio_hours": _r(audio_s / 3600, 3),
        "clean_hours": _r(sum(c["duration_s"] for c in clean) / 3600, 3),
        "tolerance_s": TOLERANCE_S, **summary, **speed,
        **{f"{c}_f1": v["f1"] for c, v in summary["checks"].items()},
        "seconds": _r(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="5 calls, one event of each check; under a minute")
    parser.add_argument("--data", default=None, help="directory holding emodb/ and ravdess/")
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="write the calls, truth, baselines and product output here")
    parser.add_argument("--workers", type=int, default=1,
                        help="--workers of the product run (1: throughput per core)")
    parser.add_argument("--events-per-check", type=int, default=None,
                        help=f"full mode: events of each check (default "
                             f"{FULL_EVENTS_PER_CHECK})")
    parser.add_argument("--clean-calls", type=int, default=FULL_CLEAN_CALLS,
                        help="full mode: calls without any event")
    parser.add_argument("--calibration-layout", choices=("turns", "stream"), default="turns",
                        help="agents' calibration recordings: their side of a call (turns "
                             "with the caller's silences between) or the files back to back")
    parser.add_argument("--agent-offset-db", type=float, default=AGENT_OFFSET_DB,
                        help="each call's agent channel offset by up to this either way, "
                             "dB (one headset; default %(default)s)")
    parser.add_argument("--crosstalk-db", type=float, default=None, metavar="DB",
                        help="each party also on the other's channel this many dB down, "
                             "4 ms late (echo, headset leakage); default none")
    parser.add_argument("--hold-share", type=float, default=0.0, metavar="FRACTION",
                        help="this share of the calls put on hold once, 20-50 or 65-150 s "
                             "of music on the agent's side; the long ones are long_hold "
                             "events (default none)")
    parser.add_argument("--babble-db", type=float, default=None, metavar="DB",
                        help="four neighbours on their own calls heard behind every agent, "
                             "together this many dB below the agent's voice (a busy "
                             "floor; e.g. -35); default a quiet room")
    parser.add_argument("--babble-side", choices=("agent", "caller", "both"), default="agent",
                        help="whose microphone hears the --babble-db voices: the agent's "
                             "(a busy floor; default), the caller's (a crowded place) or "
                             "both")
    parser.add_argument("--digital-silence", action="store_true",
                        help="each channel exact zeros outside its party's turns (a "
                             "recorder behind silence suppression); default line noise")
    parser.add_argument("--config", default=None, metavar="TOML",
                        help="pre-inspection settings passed to 'voiceline qa --config'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-peer", action="store_true", help="skip the openSMILE peer")
    parser.add_argument("--show", type=int, default=5,
                        help="missed events and false flags listed per check")
    parser.add_argument("--voiceline", default=None, metavar="EXE",
                        help="the voiceline command to run (default: beside this Python)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    data_dir = Path(args.data) if args.data else default_data_dir()
    reason = missing_corpora(data_dir)
    if reason:
        print(f"skipped: {reason}", file=sys.stderr)
        print(json.dumps({"mode": mode, "skipped": reason}))
        return 0
    cmd = [args.voiceline] if args.voiceline else voiceline_command()
    missing = qa_available(cmd)
    if missing:
        print(f"skipped: {missing}", file=sys.stderr)
        print(json.dumps({"mode": mode, "skipped": missing}))
        return 0
    quiet = contextlib.redirect_stdout(io.StringIO())
    with contextlib.ExitStack() as stack:
        if args.keep:
            work = Path(args.keep)
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="voiceline-qa-")))
        with quiet if args.json_only else contextlib.nullcontext():
            summary = run(data_dir, work, args, cmd)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
