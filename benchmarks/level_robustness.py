"""Level robustness: how a speaker's ordinary voice scores when it reaches the analysis
louder or quieter than at calibration (a hotter headset, another phone, a gain changed).

Usage::

    python benchmarks/level_robustness.py [--quick] [--gains -12,-6,0,6,12] [--data DIR]

For each corpus, each speaker's baseline is fitted on their calibration files at the
usual gain, exactly as ``benchmarks/detection.py`` does (phone line, the fixed protocol
of :mod:`voiceline.corpus_protocol`). All their other files are then analysed after a
gain change of G dB (applied to the line's output, clipped at full scale) and scored
with the shipped model, twice: against the baseline as it is, and through the line as
the product judges a call (:mod:`emotion.line_level`: the line's level read from the
speaker's ordinary windows among all their files, of every emotion, as if one call; the
baseline re-levelled when it is more than 2 dB off). Reported per corpus, gain and way:
the share of *test-neutral* windows at or above the live agitation alert's level (0.9)
and the low-energy alert's (0.8), the share of neutral files whose mean probability is
at or above 0.5 (what ``voiceline score`` gives a file), the share of *angry* files at or
above 0.5 (the correction must not take the anger away), and the line's level read per
speaker (median). A voice that is only louder or quieter should not read agitated or
tired; these figures say by how much it does, and how much the correction gives back.

``--quick`` (for tests): RAVDESS, its first 4 speakers, gains 0 and +12 dB. Without the
research data (``--data``, default ``$VOICELINE_SHARED_DATA`` or ``../shared/data``)
the report says it was skipped. Prints a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from emotion.engine import DEFAULT_MODEL
from emotion.line_level import call_line_level, through_line
from emotion.scoring import Z_LIMIT, VoiceModel
from voiceline.corpus_protocol import (
    condition_audio,
    corpus_windows,
    default_data_dir,
    read_manifest,
)

AGITATION_ALERT = 0.9  # [alerts.agitation] warning
LOW_ENERGY_ALERT = 0.8  # [alerts.low_energy] warning
FULL_SCALE = 32767 / 32768


def speaker_items(data: Path, corpus: str, limit_speakers: int | None):
    items = read_manifest(data, corpus)
    if limit_speakers:
        keep = sorted({i.speaker for i in items})[:limit_speakers]
        items = [i for i in items if i.speaker in keep]
    return items


def _share(values: np.ndarray, at: float) -> float:
    return round(float(np.mean(values >= at)), 3) if values.size else float("nan")


def measure(model: VoiceModel, items, audio, gain_db: float) -> dict:
    """Neutral and angry windows' and files' probabilities after a gain of ``gain_db``,
    against each speaker's baseline as it is and through the line."""
    g = 10 ** (gain_db / 20)
    changed = [y if item.role == "calibration" else np.clip(y * g, -1.0, FULL_SCALE)
               for item, y in zip(items, audio, strict=True)]
    ways = {"as_is": {}, "line": {}}  # way -> role -> file -> window probabilities
    lines = []
    for sw in corpus_windows(items, 0, "phone", audio=changed):
        base = sw.baseline
        line = call_line_level(base, sw.features, model.weights[0])
        lines.append(line.measured_db if line is not None else float("nan"))
        through = through_line(base, line.correction_db) if line is not None else base
        roles, files = np.array(sw.role), np.array(sw.file)
        for way, b in (("as_is", base), ("line", through)):
            p = model.probabilities(np.clip(b.z(sw.features), -Z_LIMIT, Z_LIMIT))
            for role in ("test-neutral", "anger"):
                for f in np.unique(files[roles == role]):
                    ways[way].setdefault(role, {})[f] = p[files == f]
    out = {"gain_db": gain_db,
           "line_read_db_median": round(float(np.nanmedian(lines)), 2) if lines else None}
    for way, by_role in ways.items():
        neutral = by_role.get("test-neutral", {})
        windows = np.concatenate(list(neutral.values()))
        per_file = np.array([v.mean(axis=0) for v in neutral.values()])
        angry = np.array([v.mean(axis=0) for v in by_role.get("anger", {}).values()])
        out[way] = {"windows": int(windows.shape[0]), "files": len(neutral),
                    "agitation_alert_windows": _share(windows[:, 0], AGITATION_ALERT),
                    "agitated_files": _share(per_file[:, 0], 0.5),
                    "low_energy_alert_windows": _share(windows[:, 1], LOW_ENERGY_ALERT),
                    "low_energy_files": _share(per_file[:, 1], 0.5),
                    "angry_files_agitated": _share(angry[:, 0], 0.5) if angry.size else None}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="RAVDESS, 4 speakers, gains 0 and +12 dB (for tests)")
    parser.add_argument("--gains", default="-12,-6,0,6,12", help="dB, comma-separated")
    parser.add_argument("--data", default=None, help="folder holding emodb/ and ravdess/")
    args = parser.parse_args(argv)
    data = Path(args.data) if args.data else default_data_dir()
    mode = "quick" if args.quick else "full"
    if not (data / "ravdess" / "manifest.csv").exists():
        print(json.dumps({"mode": mode, "skipped": f"no research data in {data}"}))
        return 0
    gains = [0.0, 12.0] if args.quick else [float(g) for g in args.gains.split(",")]
    corpora = ["ravdess"] if args.quick else ["ravdess", "emodb"]
    model = VoiceModel(DEFAULT_MODEL)
    report: dict = {"mode": mode, "model": DEFAULT_MODEL.name, "corpora": {}}
    print(f"{'corpus':8} {'gain':>5} {'line read':>9}  {'judged':6} {'windows':>7}  "
          f"{'agitation >= 0.9':>16}  {'files agitated':>14}  {'low energy >= 0.8':>17}  "
          f"{'files low':>9}  {'angry files':>11}")
    for corpus in corpora:
        items = speaker_items(data, corpus, 4 if args.quick else None)
        audio = condition_audio(items, 0, "phone")
        rows = []
        for gain in gains:
            r = measure(model, items, audio, gain)
            rows.append(r)
            for way in ("as_is", "line"):
                w = r[way]
                angry = "-" if w["angry_files_agitated"] is None else \
                    f"{w['angry_files_agitated']:.2f}"
                print(f"{corpus:8} {gain:+5.0f} {r['line_read_db_median']:+8.1f}  "
                      f"{way:6} {w['windows']:7d}  {w['agitation_alert_windows']:16.2f}  "
                      f"{w['agitated_files']:14.2f}  {w['low_energy_alert_windows']:17.2f}  "
                      f"{w['low_energy_files']:9.2f}  {angry:>11}", flush=True)
        report["corpora"][corpus] = rows
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
