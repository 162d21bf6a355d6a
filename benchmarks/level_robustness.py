"""Level robustness: how a speaker's ordinary voice scores when it reaches the analysis
louder or quieter than at calibration (a hotter headset, another phone, a gain changed).

Usage::

    python benchmarks/level_robustness.py [--quick] [--gains -12,-6,0,6,12] [--data DIR]

For each corpus, each speaker's baseline is fitted on their calibration files at the
usual gain, exactly as ``benchmarks/detection.py`` does (phone line, the fixed protocol
of :mod:`voiceline.corpus_protocol`). Their *test-neutral* files are then scored after a
gain change of G dB (applied to the line's output, clipped at full scale), with the
shipped model. Reported per corpus and gain: the share of neutral windows at or above
the live agitation alert's level (0.9) and at or above the low-energy alert's (0.8), and
the share of files whose mean probability is at or above 0.5 (what ``voiceline score``
gives a file). A voice that is only louder or quieter should not read agitated or
tired; these figures say by how much it does.

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
from emotion.scoring import VoiceModel
from voiceline.corpus_protocol import (
    condition_audio,
    corpus_windows,
    default_data_dir,
    read_manifest,
)

AGITATION_ALERT = 0.9  # [alerts.agitation] warning
LOW_ENERGY_ALERT = 0.8  # [alerts.low_energy] warning
FULL_SCALE = 32767 / 32768


def neutral_items(data: Path, corpus: str, limit_speakers: int | None):
    items = [i for i in read_manifest(data, corpus) if i.role in ("calibration",
                                                                  "test-neutral")]
    if limit_speakers:
        keep = sorted({i.speaker for i in items})[:limit_speakers]
        items = [i for i in items if i.speaker in keep]
    return items


def measure(model: VoiceModel, items, audio, gain_db: float) -> dict:
    """The neutral test windows' and files' probabilities after a gain of ``gain_db``."""
    g = 10 ** (gain_db / 20)
    changed = [y if item.role == "calibration" else np.clip(y * g, -1.0, FULL_SCALE)
               for item, y in zip(items, audio, strict=True)]
    files: dict[str, list[np.ndarray]] = {}
    for speaker in corpus_windows(items, 0, "phone", audio=changed):
        for z, role, path in zip(speaker.z, speaker.role, speaker.file, strict=True):
            if role == "test-neutral":
                files.setdefault(path, []).append(z)
    windows = model.probabilities(np.concatenate([np.array(v) for v in files.values()]))
    per_file = np.array([model.probabilities(np.array(v)).mean(axis=0)
                         for v in files.values()])
    return {"gain_db": gain_db, "windows": int(windows.shape[0]), "files": len(files),
            "agitation_alert_windows": round(float(np.mean(windows[:, 0] >= AGITATION_ALERT)),
                                             3),
            "agitated_files": round(float(np.mean(per_file[:, 0] >= 0.5)), 3),
            "low_energy_alert_windows": round(float(np.mean(windows[:, 1] >= LOW_ENERGY_ALERT)),
                                              3),
            "low_energy_files": round(float(np.mean(per_file[:, 1] >= 0.5)), 3)}


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
    print(f"{'corpus':8} {'gain':>6}  {'windows':>7}  {'agitation >= 0.9':>16}  "
          f"{'files agitated':>14}  {'low energy >= 0.8':>17}  {'files low':>9}")
    for corpus in corpora:
        items = neutral_items(data, corpus, 4 if args.quick else None)
        audio = condition_audio(items, 0, "phone")
        rows = []
        for gain in gains:
            r = measure(model, items, audio, gain)
            rows.append(r)
            print(f"{corpus:8} {gain:+5.0f}  {r['windows']:7d}  "
                  f"{r['agitation_alert_windows']:16.2f}  {r['agitated_files']:14.2f}  "
                  f"{r['low_energy_alert_windows']:17.2f}  {r['low_energy_files']:9.2f}",
                  flush=True)
        report["corpora"][corpus] = rows
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
