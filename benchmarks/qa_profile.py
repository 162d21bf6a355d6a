"""Where pre-inspection's time goes, in one process, on a kept set of benchmark calls.

Usage::

    python benchmarks/qa_profile.py DIR [--src SRC] [--profile N]
    python benchmarks/qa_profile.py DIR --against OTHER_SRC [--repeat K]

``DIR`` is a folder ``benchmarks/qa_bench.py --keep DIR`` wrote (``calls/`` with its
``calls.csv``, and ``baselines/``). Its calls are inspected as ``voiceline qa --workers
1`` inspects them (the same jobs, plan and batches, in this process, without the store
and the output files), after one call as a warm-up (imports, compiled kernels, the
model). Prints the CPU seconds, × real time, and the flags' count with a SHA-256 prefix
of the list (call, check, start, end): two versions of the code that flag alike print the
same. ``--profile N`` adds cProfile's N functions of most own time (the profiler adds
~10 %). ``--src`` inspects with another tree's ``src`` (e.g. a git worktree of an older
commit).

``--against OTHER_SRC`` is an A/B on the same calls: K rounds (default 3), each running
OTHER_SRC and then this tree (or ``--src``) in a fresh process, and the medians. This
shared machine's speed drifts by tens of per cent within minutes, so only the alternated
medians compare two versions. The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def inspect_kept(folder: Path, src: Path, profile: int = 0) -> dict:
    """Inspect the kept calls in this process with ``src``'s code; CPU, × real time and
    the flags' digest."""
    sys.path.insert(0, str(src))
    from qa.config import QAConfig
    from qa.inspect import Settings, inspect_calls
    from qa.runner import batches, plan
    from voiceline.qa_cli import _audio_files, build_jobs, read_metadata

    calls = folder / "calls"
    jobs, errors, _ = build_jobs(_audio_files([str(calls)]), read_metadata(calls / "calls.csv"),
                                 0, [calls])
    settings = Settings(QAConfig(), str(folder / "baselines"))
    todo, _, unreadable = plan(jobs, settings, lambda call_id: None)
    groups = batches(todo, 1)
    audio_s = sum(p.duration_s for p in todo)
    inspect_calls([groups[0][0].job], settings)  # warm-up: imports, kernels, model
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.process_time()
    results = [r for group in groups for r in inspect_calls([p.job for p in group], settings)]
    cpu_s = time.process_time() - t0
    if profiler:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
    flags = sorted((r["call_id"], f["check"], round(f["start_s"], 2), round(f["end_s"], 2))
                   for r in results for f in r.get("flags", []))
    return {"src": str(src), "calls": len(todo), "errors": len(errors) + len(unreadable),
            "audio_hours": round(audio_s / 3600, 3), "cpu_s": round(cpu_s, 2),
            "x_realtime_per_core": round(audio_s / cpu_s, 1), "flags": len(flags),
            "flags_sha256": hashlib.sha256(json.dumps(flags).encode()).hexdigest()[:16]}


def _one_run(folder: Path, src: Path) -> dict:
    """One inspection with ``src``'s code, in a fresh process."""
    done = subprocess.run([sys.executable, __file__, str(folder), "--src", str(src)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run with {src} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def against(folder: Path, this: Path, other: Path, repeat: int) -> dict:
    """Alternate ``other`` and ``this`` ``repeat`` times; each one's runs and median."""
    runs: dict[str, list[dict]] = {"other": [], "this": []}
    for k in range(repeat):
        for name, src in (("other", other), ("this", this)):
            runs[name].append(_one_run(folder, src))
            r = runs[name][-1]
            print(f"round {k + 1}  {name:<5}  {r['cpu_s']:7.2f} s CPU  "
                  f"{r['x_realtime_per_core']:7.1f}x  flags {r['flags']} {r['flags_sha256']}  "
                  f"({src})", flush=True)
    out = {name: {"src": str(src), "cpu_s": [r["cpu_s"] for r in runs[name]],
                  "median_cpu_s": statistics.median(r["cpu_s"] for r in runs[name]),
                  "flags_sha256": sorted({r["flags_sha256"] for r in runs[name]})}
           for name, src in (("other", other), ("this", this))}
    out["cpu_ratio_this_to_other"] = round(out["this"]["median_cpu_s"]
                                           / out["other"]["median_cpu_s"], 3)
    out["same_flags"] = out["this"]["flags_sha256"] == out["other"]["flags_sha256"]
    out["audio_hours"] = runs["this"][0]["audio_hours"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="a folder qa_bench.py --keep wrote")
    parser.add_argument("--src", default=None, help="the src tree to inspect with")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print cProfile's N functions of most own time")
    parser.add_argument("--against", default=None, metavar="OTHER_SRC",
                        help="alternate runs of OTHER_SRC and this tree, fresh processes")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of --against")
    args = parser.parse_args(argv)
    folder = Path(args.folder).resolve()
    if not (folder / "calls" / "calls.csv").exists() or not (folder / "baselines").is_dir():
        parser.error(f"{folder} holds no calls/calls.csv and baselines/: write it with "
                     "benchmarks/qa_bench.py --keep DIR")
    src = Path(args.src).resolve() if args.src else SRC
    if args.against:
        report = against(folder, src, Path(args.against).resolve(), args.repeat)
        print(f"median CPU: {report['other']['median_cpu_s']:.2f} s ({args.against}), "
              f"{report['this']['median_cpu_s']:.2f} s (this): "
              f"{report['cpu_ratio_this_to_other']:.3f}; the same flags: {report['same_flags']}")
    else:
        report = inspect_kept(folder, src, args.profile)
        print(f"{report['calls']} calls, {report['audio_hours']:.2f} h: {report['cpu_s']:.1f} s "
              f"CPU, {report['x_realtime_per_core']:.0f}x real time; {report['flags']} flags "
              f"{report['flags_sha256']}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
