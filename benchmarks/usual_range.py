"""The agent report's "speech within your usual range": how much of a voice reads in range.

Usage::

    python benchmarks/usual_range.py [--quick] [--agents N] [--calibration-s S] [--corpora]

A voice that behaves as in its calibration should read in range most of the time (the
joint measure aims at 90 %), and agitated or tired speech should not. For each of N
simulated agents (``capture.simulator``, the demo's voices on a G.711 line), a baseline
is fitted on 300 s (``--calibration-s``) of calm speech exactly as ``voiceline calibrate``
fits one; then the share of windows in range is measured for that same calibration
speech, for other calm speech of the voice (300 s and 120 s, other seeds), and for 120 s
of agitated and of low-energy speech. Two measures side by side: the report's own
(:func:`emotion.summary.in_usual_range`, joint, summary version 2) and version 1's (every
reported feature inside its own 5-95 % band at once).

``--corpora`` adds the research corpora (phone condition, the fixed protocol of
:mod:`voiceline.corpus_protocol`): each speaker's baseline from their calibration files
and the share in range of their files by role. Their calibrations hold only 4-12 s of
speech (an agent's holds at least 30 s), so the baselines are noisy.

``--quick`` (for tests): 3 agents, 120 s calibrations, no corpora. Prints a table and, as
its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from capture.audio import AudioClip
from capture.simulator.calls import calibration_audio
from capture.simulator.voices import AgentVoice
from emotion.baseline import Baseline, fit_baseline
from emotion.summary import REPORT_FEATURES, in_usual_range
from emotion.voice import analyse_clips
from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR

IDX = [FEATURE_NAMES.index(f) for f in REPORT_FEATURES]


def shares(base: Baseline, features: np.ndarray) -> dict:
    """Share of the windows in range, by the joint measure and by version 1's."""
    x = features[:, IDX]
    joint = in_usual_range(base.z(features)[:, IDX], base.covariance[np.ix_(IDX, IDX)])
    lo, hi = base.quantiles["q05"][IDX], base.quantiles["q95"][IDX]
    every_band = np.all((x >= lo) & (x <= hi), axis=1)
    return {"windows": int(x.shape[0]), "joint": float(joint.mean()),
            "every_band": float(every_band.mean())}


def simulated(n_agents: int, calibration_s: float) -> dict:
    cases = {"calibration": ("calm", 0, calibration_s), "calm_other": ("calm", 1, 300.0),
             "calm_short": ("calm", 5, 120.0), "agitated": ("agitated", 2, 120.0),
             "low_energy": ("low_energy", 3, 120.0)}
    per_case: dict[str, list[dict]] = {case: [] for case in cases}
    for a in range(n_agents):
        voice = AgentVoice.draw(f"A{1001 + a}", seed=0)
        clips = [AudioClip((calibration_audio(voice, seconds, seed=seed, style=style)
                            / 32768.0)[None], 8000, case, "FLOAT")
                 for case, (style, seed, seconds) in cases.items()]
        analyses = dict(zip(cases, analyse_clips(clips, list(cases)), strict=True))
        cal = analyses["calibration"]
        base = fit_baseline(cal.windows.features[0][cal.windows.valid[0]], FEATURE_NAMES,
                            agent_id=voice.voice_id, channel_type="8k", speech_s=cal.speech_s,
                            level_profile=cal.level_profile,
                            sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR))
        for case, fa in analyses.items():
            per_case[case].append(shares(base, fa.windows.features[0][fa.windows.valid[0]]))
    out = {}
    for case, rows in per_case.items():
        out[case] = {"windows": sum(r["windows"] for r in rows)}
        for measure in ("joint", "every_band"):
            values = [r[measure] for r in rows]
            out[case][measure] = {"mean": round(float(np.mean(values)), 3),
                                  "min": round(float(np.min(values)), 3),
                                  "max": round(float(np.max(values)), 3)}
    return out


def corpora(data: Path) -> dict:
    from voiceline.corpus_protocol import corpus_windows, read_manifest

    out = {}
    for name in ("ravdess", "emodb"):
        pooled: dict[str, dict[str, list]] = {}
        for sw in corpus_windows(read_manifest(data, name), 0, "phone"):
            roles = np.array(sw.role)
            for role in sorted(set(roles)):
                s = shares(sw.baseline, sw.features[roles == role])
                row = pooled.setdefault(role, {"windows": 0, "joint": 0.0, "every_band": 0.0})
                row["windows"] += s["windows"]
                row["joint"] += s["joint"] * s["windows"]
                row["every_band"] += s["every_band"] * s["windows"]
        out[name] = {role: {"windows": r["windows"],
                            "joint": round(r["joint"] / r["windows"], 3),
                            "every_band": round(r["every_band"] / r["windows"], 3)}
                     for role, r in pooled.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--agents", type=int, default=12)
    parser.add_argument("--calibration-s", type=float, default=300.0,
                        help="seconds of calm speech each baseline is fitted on (about 45 %% "
                             "of it is speech; 70 s gives the 30 s a baseline needs at least)")
    parser.add_argument("--corpora", action="store_true")
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args(argv)
    n_agents, calibration_s = (3, 120.0) if args.quick else (args.agents, args.calibration_s)
    report: dict = {"agents": n_agents, "calibration_s": calibration_s,
                    "simulated": simulated(n_agents, calibration_s)}
    print(f"{n_agents} simulated agents, {calibration_s:.0f} s calibrations: share of "
          "windows in the usual range (mean over agents [min-max])")
    print(f"{'speech':14s} {'windows':>8s}  {'joint (v2)':>22s}  {'every band (v1)':>22s}")
    for case, row in report["simulated"].items():
        cells = [f"{row[m]['mean']:.3f} [{row[m]['min']:.2f}-{row[m]['max']:.2f}]"
                 for m in ("joint", "every_band")]
        print(f"{case:14s} {row['windows']:8d}  {cells[0]:>22s}  {cells[1]:>22s}")
    if args.corpora and not args.quick:
        from voiceline.corpus_protocol import default_data_dir

        data = args.data or default_data_dir()
        if not (data / "ravdess" / "manifest.csv").exists():
            report["corpora"] = {"skipped": f"no research corpora under {data}"}
        else:
            report["corpora"] = corpora(data)
            for name, roles in report["corpora"].items():
                for role, r in roles.items():
                    print(f"{name:8s} {role:14s} {r['windows']:6d}  joint {r['joint']:.3f}  "
                          f"every band {r['every_band']:.3f}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
