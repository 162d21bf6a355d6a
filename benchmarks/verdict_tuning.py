"""Reviewers' verdicts driving the thresholds: do the suggested settings hold on new calls?

Usage::

    python benchmarks/verdict_tuning.py [--quick] [--reviewed 1,2,3] [--held-out 0,4]
        [--target-precision 0.8] [--keep DIR]

Protocol: qa_bench's calls (:mod:`qa_bench`, the same generator and seeds) are
pre-inspected by ``voiceline qa`` with the default settings. On the *reviewed* seeds, a
simulated reviewer confirms every flag that matches a true event of its check (overlap or
within 1 s, one-to-one, :mod:`_qa_match`) and dismisses the rest; the verdicts go into a
store as a reviewer's would (``Store.set_flag_verdict``), and ``voiceline qa-tune --out``
writes the suggested settings. The *held-out* seeds are then pre-inspected with the
default settings and with the suggested ones, and each check's precision, recall and F1
are compared. Real reviewers err, so this is the best case of the loop; it says whether
a threshold read off judged flags carries over to calls nobody judged.

``--quick`` (about a minute) uses qa_bench's quick calls, reviews one seed and holds out
one, with ``--min-verdicts 1``; its numbers only show that the loop runs. The last line
printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import qa_bench as QB  # before numpy: it sets the BLAS thread limits
from _qa_match import score_calls
from qa.config import QAConfig
from qa.tuning import THRESHOLD_OF
from voiceline.store import Store

CHECKS = QB.CHECKS


def _inspect(work: Path, seed: int, args, cmd: list[str], data_dir: Path,
             config: Path | None = None) -> tuple[dict, dict]:
    """Generate seed's calls (once) and pre-inspect them; the truth and the flags."""
    if not (work / "truth.json").exists():
        QB.generate(data_dir, work, args.quick, seed, QB.FULL_EVENTS_PER_CHECK,
                    QB.FULL_CLEAN_CALLS)
    truth = json.loads((work / "truth.json").read_text())["calls"]
    extra = ["--config", str(config)] if config else []
    QB.run_product(cmd, work, args.workers, extra)
    flags, _ = QB.read_flags(work / "out")
    return truth, flags


def review(store: Store, work: Path, truth: dict, flags: dict) -> tuple[int, int]:
    """Store the seed's results and judge every flag by the truth; (confirmed, dismissed)."""
    scores, _, _ = score_calls(truth, flags, CHECKS)
    right = {(h["call_id"], h["flag"]["check"], h["flag"]["start_s"], h["flag"]["end_s"])
             for s in scores.values() for h in s.hits}
    tally = [0, 0]
    for path in sorted((work / "out" / "calls").glob("*.json")):
        doc = json.loads(path.read_text())
        doc["call_id"] = f"{work.name}/{doc['call_id']}"  # seeds share call ids
        store.save_qa_result(doc)
        call_id = doc["call_id"].split("/", 1)[1]
        for flag in store.qa_call(doc["call_id"])["flags"]:
            if flag["check"] not in CHECKS:
                continue
            ok = (call_id, flag["check"], flag["start_s"], flag["end_s"]) in right
            store.set_flag_verdict(flag["id"], "confirmed" if ok else "dismissed", "truth",
                                   None)
            tally[not ok] += 1
    return tally[0], tally[1]


def figures(truth: dict, flags: dict) -> dict:
    scores, _, _ = score_calls(truth, flags, CHECKS)
    return {c: {"precision": QB._r(s.precision), "recall": QB._r(s.recall), "f1": QB._r(s.f1),
                "flags": s.flags} for c, s in scores.items()}


def run(args, cmd: list[str], data_dir: Path, root: Path) -> dict:
    t0 = time.perf_counter()
    review_dir = root / "review"
    review_dir.mkdir(parents=True, exist_ok=True)
    judged = {}
    with Store(review_dir / "voiceline.db") as store:
        for seed in args.reviewed:
            truth, flags = _inspect(root / f"seed{seed}", seed, args, cmd, data_dir)
            judged[seed] = review(store, root / f"seed{seed}", truth, flags)
            print(f"seed {seed} reviewed: {judged[seed][0]} confirmed, {judged[seed][1]} "
                  f"dismissed", file=sys.stderr)
    tuned = root / "tuned.toml"
    tune = [*cmd, "qa-tune", "--data", str(review_dir), "--out", str(tuned),
            "--target-precision", str(args.target_precision)]
    if args.quick:
        tune += ["--min-verdicts", "1"]
    done = subprocess.run(tune, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"voiceline qa-tune failed: {done.stderr[-2000:]}")
    print(done.stdout, file=sys.stderr)
    default, suggested = QAConfig(), QAConfig.load(tuned)
    changed = {c: {"setting": s, "default": getattr(default.checks[c], s),
                   "suggested": getattr(suggested.checks[c], s)}
               for c, (_, s, _) in THRESHOLD_OF.items()
               if getattr(default.checks[c], s) != getattr(suggested.checks[c], s)}
    held = {}
    for seed in args.held_out:
        work = root / f"seed{seed}"
        truth, before = _inspect(work, seed, args, cmd, data_dir)
        _, after = _inspect(work, seed, args, cmd, data_dir, tuned)
        held[seed] = {"default": figures(truth, before), "suggested": figures(truth, after)}
        for c in CHECKS:
            b, a = held[seed]["default"][c], held[seed]["suggested"][c]
            if b != a:
                print(f"seed {seed} {c}: precision {b['precision']} -> {a['precision']}, "
                      f"recall {b['recall']} -> {a['recall']}, F1 {b['f1']} -> {a['f1']}",
                      file=sys.stderr)
    return {"mode": "quick" if args.quick else "full", "reviewed_seeds": args.reviewed,
            "held_out_seeds": args.held_out, "target_precision": args.target_precision,
            "verdicts": {str(s): {"confirmed": v[0], "dismissed": v[1]}
                         for s, v in judged.items()},
            "changed": changed, "qa_tune": " ".join(tune[len(cmd):]),
            "held_out": {str(s): v for s, v in held.items()},
            "seconds": QB._r(time.perf_counter() - t0, 1)}


def _seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="qa_bench's quick calls: one seed reviewed, one held out")
    parser.add_argument("--reviewed", type=_seeds, default=None, metavar="SEEDS",
                        help="seeds whose flags are judged (default 1,2,3; quick: 1)")
    parser.add_argument("--held-out", type=_seeds, default=None, metavar="SEEDS",
                        help="seeds the suggested settings are tried on (default 0,4; quick: 0)")
    parser.add_argument("--target-precision", type=float, default=0.8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", default=None, help="directory holding emodb/ and ravdess/")
    parser.add_argument("--keep", default=None, metavar="DIR", help="keep the work here")
    args = parser.parse_args(argv)
    args.reviewed = args.reviewed or ([1] if args.quick else [1, 2, 3])
    args.held_out = args.held_out or ([0] if args.quick else [0, 4])
    mode = "quick" if args.quick else "full"
    data_dir = Path(args.data) if args.data else QB.default_data_dir()
    reason = QB.missing_corpora(data_dir)
    if reason:
        print(f"skipped: {reason}", file=sys.stderr)
        print(json.dumps({"mode": mode, "skipped": reason}))
        return 0
    cmd = QB.voiceline_command()
    with contextlib.ExitStack() as stack:
        root = Path(args.keep) if args.keep else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="voiceline-verdicts-")))
        root.mkdir(parents=True, exist_ok=True)
        summary = run(args, cmd, data_dir, root)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
