"""``voiceline calibrate``: an agent's voice baseline from recordings of ordinary speech."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from voiceline import __version__

#: A file with more clipped samples than this is left out of a baseline.
MAX_CLIPPED_FRACTION = 0.01


def run_calibrate(args: argparse.Namespace) -> int:
    from emotion.baseline import BaselineError, baseline_path, fit_baseline, save_baseline
    from emotion.voice import analyse_files
    from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR

    baseline_path(args.out, args.agent, "8k")  # a bad agent id is refused before the analysis
    windows, speech_s, kinds, profiles = [], 0.0, set(), set()
    analyses = analyse_files(args.files, channel=args.channel, level_profile=args.level_profile)
    for path, fa in zip(args.files, analyses, strict=True):
        note = f"{path}: {fa.duration_s:.1f} s, {fa.speech_s:.1f} s of speech"
        if fa.clipped_fraction > MAX_CLIPPED_FRACTION:
            print(f"{note}; left out: {100 * fa.clipped_fraction:.1f} % of samples are clipped "
                  "(record at a lower gain)", file=sys.stderr)
            continue
        if fa.clipped_fraction > 0.001:
            note += f"; warning: {100 * fa.clipped_fraction:.2f} % of samples clipped"
        if not fa.windows.valid.any():
            print(f"{note}; left out: no stretch with enough speech (silent or noise only?)",
                  file=sys.stderr)
            continue
        print(note, file=sys.stderr)
        windows.append(fa.windows.features[0][fa.windows.valid[0]])
        speech_s += fa.speech_s
        kinds.add(fa.channel_type)
        profiles.add(fa.level_profile)
    if len(kinds) > 1:
        raise BaselineError(
            "the files mix telephone (8 kHz) and wideband recordings; calibrate each "
            "channel type separately, since the same voice measures differently on them"
        )
    if not windows:
        raise BaselineError("no usable recording: nothing to calibrate from")
    base = fit_baseline(
        np.concatenate(windows), FEATURE_NAMES, agent_id=args.agent, channel_type=kinds.pop(),
        speech_s=speech_s, level_profile=profiles.pop(),
        sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR), software_version=__version__,
    )
    path = save_baseline(base, args.out)
    print(f"wrote {path}: agent {base.agent_id}, {base.channel_type}, {base.speech_s:.1f} s of "
          f"speech in {base.n_windows} windows")
    for name, med, sig in zip(base.feature_names, base.median, base.sigma, strict=True):
        print(f"  {name:20s} median {med:8.3f}  sigma {sig:7.3f}")
    return 0
