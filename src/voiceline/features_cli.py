"""``voiceline features`` and ``voiceline example``: files in, feature time series out."""

from __future__ import annotations

import argparse
import csv
import json
import sys

import numpy as np

#: Samples per block when a file is fed to the streaming engine (as a live seat would be).
FILE_BLOCK_S = 1.0


def run_features(args: argparse.Namespace) -> int:
    from capture.levels import load_level_profile
    from emotion.psychoacoustics.streaming import StreamingPsychoacoustics
    from emotion.voice import default_level_profile, read_for_engine

    clip = read_for_engine(args.file, args.channel)
    fs_hz = clip.fs_hz
    profile = load_level_profile(args.level_profile or default_level_profile(fs_hz))
    signal_pa = profile.to_pascals(clip.samples)  # (1, samples)

    engine = StreamingPsychoacoustics(1, fs_hz, hop_s=args.hop_s)
    block = int(FILE_BLOCK_S * fs_hz)
    parts = [engine.process(signal_pa[:, i : i + block])
             for i in range(0, signal_pa.shape[1], block)]
    rows = engine.summarise(parts)

    columns = ["time_s", "loudness_sone", "loudness_n5_sone", "sharpness_acum",
               "roughness_asper", "fluctuation_vacil"]
    if args.format == "json":
        json.dump({
            "file": args.file, "channel": args.channel, "fs_hz": fs_hz,
            "level_profile": profile.name, "hop_s": args.hop_s,
            "columns": columns,
            "rows": [[_json_number(r[c]) for c in columns] for r in rows],
        }, sys.stdout)
        sys.stdout.write("\n")
    else:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(columns)
        for r in rows:
            out.writerow([f"{r['time_s']:.3f}"] + [f"{r[c]:.4f}" for c in columns[1:]])
    return 0


def _json_number(value: float) -> float | None:
    """Rounded for output; NaN (not measured yet) becomes null, which JSON can carry."""
    return None if not np.isfinite(value) else round(float(value), 6)


def write_example(args: argparse.Namespace) -> int:
    import soundfile as sf

    from capture.synth import speech_like

    calm = speech_like(args.seconds / 2, args.fs_hz, seed=1)
    agitated = speech_like(args.seconds / 2, args.fs_hz, seed=2, agitated=True)
    samples = np.concatenate([np.ravel(calm), np.ravel(agitated)])
    sf.write(args.out, np.clip(samples, -1.0, 1.0), args.fs_hz, subtype="PCM_16")
    print(f"wrote {args.out}: {len(samples) / args.fs_hz:.1f} s at {args.fs_hz} Hz "
          f"(calm first half, agitated second half)", file=sys.stderr)
    return 0
