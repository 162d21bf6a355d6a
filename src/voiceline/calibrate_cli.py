"""``voiceline calibrate``: an agent's voice baseline from recordings of ordinary speech."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voiceline import __version__

if TYPE_CHECKING:
    from emotion.baseline import Baseline

#: A file with more clipped samples than this is left out of a baseline.
MAX_CLIPPED_FRACTION = 0.01
#: ``--update`` judges stretches, not single windows: a window is flagged when the mean
#: probability of the this many windows around it (~7 s of speech) reaches the agent
#: voice checks' warning, as a turn or an alert's dwell would. Single windows of a calm
#: call cross 0.6 now and then (up to 10 of 60 on the tests' voices); a stretch only
#: where the voice stayed there.
STRETCH_WINDOWS = 5
#: ``--update`` refuses recordings of which more than this share of windows would be
#: flagged: not an agitated week but, as an audit found, the wrong channel (the caller's
#: side: 238 of 258 windows) or a new headset (95 of 96), which an update would otherwise
#: follow 0.1 σ a week. Recalibrate instead. (A call agitated for two thirds of it reads
#: 75 %, and its ordinary third still counts.)
MAX_FLAGGED_SHARE = 0.8
#: A recording whose speech stands less than this far above its background (dB, the
#: 95th against the 5th percentile of its 20 ms frame levels) is called noisy: the noise
#: enters every feature (an audit: noise 10 dB under the speech raised the baseline's
#: loudness by 62 %, with no word).
NOISY_SNR_DB = 15.0
#: Recordings whose ordinary speech has its pitch median this many of the baseline's σ
#: from the baseline's sound like someone else (a wrong file or channel): a new
#: calibration says so, an update refuses them (another agent's call read 53 % flagged,
#: under :data:`MAX_FLAGGED_SHARE`).
OTHER_SPEAKER_SIGMA = 3.0


def run_calibrate(args: argparse.Namespace) -> int:
    from emotion.baseline import BaselineError, baseline_path, fit_baseline, save_baseline
    from emotion.voice import analyse_files
    from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR

    baseline_path(args.out, args.agent, "8k")  # a bad agent id is refused before the analysis
    out = Path(args.out)
    if out.exists() and not out.is_dir():  # said now, not after minutes of analysis
        raise BaselineError(f"--out {out} is a file, not a folder for baselines")
    out.mkdir(parents=True, exist_ok=True)  # (an OSError is one line: "Not a directory")
    files, seen = [], {}
    for path in args.files:  # the same recording twice would count its speech twice
        try:  # the file itself, by any name: a link, a hard link, ./ and ../
            stat = Path(path).stat()
            key = (stat.st_dev, stat.st_ino)
        except OSError:
            key = Path(path).resolve()  # the analysis names what is wrong with it
        if key in seen:
            print(f"{path}: left out: the same file as {seen[key]}", file=sys.stderr)
            continue
        seen[key] = path
        files.append(path)
    args.files = files
    if getattr(args, "update", False) and not any(
            baseline_path(args.out, args.agent, kind).exists() for kind in ("8k", "16k")):
        raise BaselineError(f"no baseline of agent {args.agent} in {args.out} to update: "
                            "calibrate the agent first (without --update)")
    windows, speech_s, kinds, profiles = [], 0.0, set(), set()
    analyses = analyse_files(args.files, channel=args.channel, level_profile=args.level_profile)
    for path, fa in zip(args.files, analyses, strict=True):
        note = (f"{path}: {_channel_note(path, fa.channel)}{fa.duration_s:.1f} s, "
                f"{fa.speech_s:.1f} s of speech")
        if fa.clipped_fraction > MAX_CLIPPED_FRACTION:
            print(f"{note}; left out: {100 * fa.clipped_fraction:.1f} % of samples are clipped "
                  "(record at a lower gain)", file=sys.stderr)
            continue
        if fa.clipped_fraction > 0.001:
            note += f"; warning: {100 * fa.clipped_fraction:.2f} % of samples clipped"
        snr_db = speech_to_background_db(path, fa.channel)
        if snr_db is not None and snr_db < NOISY_SNR_DB:
            note += (f"; warning: noisy, the speech only ~{snr_db:.0f} dB above the background "
                     "(the noise reads as part of the voice: record in a quieter place or "
                     "with the headset's microphone close)")
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
    if getattr(args, "update", False):
        return _update(args, windows, kinds.pop(), profiles.pop())
    base = fit_baseline(
        np.concatenate(windows), FEATURE_NAMES, agent_id=args.agent, channel_type=kinds.pop(),
        speech_s=speech_s, level_profile=profiles.pop(),
        sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR), software_version=__version__,
    )
    path = baseline_path(args.out, args.agent, base.channel_type)
    _warn_if_another_voice(path, base)
    kept = keep_previous(path)
    path = save_baseline(base, args.out)
    print(f"wrote {path}: agent {base.agent_id}, {base.channel_type}, {base.speech_s:.1f} s of "
          f"speech in {base.n_windows} windows"
          + (f"; the previous baseline is in {kept}" if kept else ""))
    for name, med, sig in zip(base.feature_names, base.median, base.sigma, strict=True):
        print(f"  {name:20s} median {med:8.3f}  sigma {sig:7.3f}")
    if base.channel_type != "8k" and not baseline_path(args.out, args.agent, "8k").exists():
        print(f"note: a wideband baseline. Live monitoring hears 8 kHz telephone audio, so "
              f"{args.agent}'s live calls are judged against the population of the agents' "
              "baselines until an 8 kHz one exists (calibrate from telephone recordings); "
              "pre-inspection and 'voiceline score' use this one for wideband recordings",
              file=sys.stderr)
    return 0


def speech_to_background_db(path: str, channel: int) -> float | None:
    """How far a recording's loud frames stand above its quiet ones, dB: the 95th against
    the 5th percentile of its 20 ms frame levels (the background shows in the pauses
    every recording of speech has); None if it cannot be read."""
    from capture.audio import AudioError, read_audio

    try:
        clip = read_audio(path, channel=channel)
    except (AudioError, OSError):
        return None
    frame = clip.fs_hz // 50
    x = clip.samples[0, : clip.samples.shape[1] // frame * frame].reshape(-1, frame)
    if len(x) < 20:
        return None
    levels = 10 * np.log10(np.mean(x**2, axis=1) + 1e-12)
    low, high = np.percentile(levels, [5, 95])
    return float(high - low)


def _channel_note(path: str, channel: int) -> str:
    """"channel 0 of 2, " for a recording with more than one channel, else ""."""
    from capture.audio import AudioError, audio_info

    try:
        channels = audio_info(path).channels
    except (AudioError, OSError):
        return ""
    return f"channel {channel} of {channels} (--channel), " if channels > 1 else ""


def _warn_if_another_voice(path: Path, base: Baseline) -> None:
    """Say so when the new baseline's pitch is far from the one it replaces."""
    from emotion.baseline import BaselineError, load_baseline

    if not path.exists():
        return
    try:
        old = load_baseline(path.parent, base.agent_id, base.channel_type)
    except BaselineError:
        return
    k = list(old.feature_names).index("f0_median_st")
    shift = (base.median[k] - old.median[k]) / old.sigma[k]
    if abs(shift) >= OTHER_SPEAKER_SIGMA:
        print(f"warning: {base.agent_id}'s pitch median is {base.median[k]:.1f} st, "
              f"{shift:+.1f} sigma from the baseline it replaces ({old.median[k]:.1f} st): "
              "these recordings may be someone else's (the wrong file, or the caller's "
              "channel); the previous baseline is kept in history/", file=sys.stderr)


def history_stamp(updated: str) -> str:
    """``"20261130T221418Z"`` of a baseline's ``updated`` (ISO 8601), in UTC."""
    from datetime import UTC, datetime

    made = datetime.fromisoformat(updated)
    made = made.replace(tzinfo=UTC) if made.tzinfo is None else made.astimezone(UTC)
    return made.strftime("%Y%m%dT%H%M%SZ")


def keep_previous(path: Path) -> Path | None:
    """Copy the baseline about to be replaced to ``history/<name>.<made>.json`` (``made``:
    when it was written, UTC, e.g. ``20261130T221418Z``); its path, or None if there is
    none."""
    import json
    import shutil
    from datetime import UTC, datetime

    from emotion.baseline import kept_copy_path

    if not path.exists():
        return None
    try:
        stamp = history_stamp(json.loads(path.read_text(encoding="utf-8"))["updated"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):  # unreadable: its time
        stamp = history_stamp(datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat())
    kept = kept_copy_path(path.parent / "history", path, stamp)
    shutil.copy2(path, kept)
    return kept


def _update(args: argparse.Namespace, windows: list[np.ndarray], kind: str, profile: str) -> int:
    """``--update``: the agent's baseline follows the new recordings' ordinary stretches.

    Each recording is judged as pre-inspection judges a call (through its line, by the
    scoring model against the baseline as it is); a stretch the agent voice checks would
    flag (agitation or low energy at their warning probability, over
    :data:`STRETCH_WINDOWS` windows), and the windows beside it, are left out, so that
    an agitated week cannot teach the baseline that agitation is usual.
    """
    from emotion.baseline import (
        BaselineError,
        baseline_path,
        load_baseline,
        save_baseline,
        update_baseline,
    )
    from emotion.line_level import call_line_level, through_line
    from emotion.scoring import VoiceModel
    from qa.config import DEFAULT_CHECKS
    from voiceline.score_cli import DEFAULT_MODEL

    if not baseline_path(args.out, args.agent, kind).exists():  # the other kind only
        rate = "wideband (16 kHz)" if kind != "8k" else "telephone (8 kHz)"
        raise BaselineError(
            f"these recordings are {rate}, and {args.agent} has no {kind} baseline to update "
            f"(the same voice measures differently on the two): update from recordings of "
            f"the kind calibrated, or calibrate a {kind} baseline (without --update)")
    base = load_baseline(args.out, args.agent, kind)
    if base.level_profile != profile:
        raise BaselineError(
            f"the baseline of {args.agent} was calibrated with level profile "
            f"{base.level_profile}, these recordings read with {profile}: pass "
            f"--level-profile {base.level_profile}, or recalibrate")
    model = VoiceModel(args.model or DEFAULT_MODEL)
    limits = (DEFAULT_CHECKS["agent_agitation"].warning, DEFAULT_CHECKS["agent_low_energy"].warning)
    flagged = []
    for x in windows:
        judge = base
        line = call_line_level(base, x, model.weights[0])
        if line is not None:
            judge = through_line(base, line.correction_db)
        score = model.score(x, judge)
        kernel = np.ones(STRETCH_WINDOWS)
        counted = np.convolve(np.ones(len(x)), kernel, "same")  # fewer at the ends
        hot = np.zeros(len(x), dtype=bool)
        for probs, limit in zip((score.agitation, score.low_energy), limits, strict=True):
            hot |= np.convolve(probs, kernel, "same") / counted >= limit
        flagged.append(hot | np.r_[hot[1:], False] | np.r_[False, hot[:-1]])
    x, hot = np.concatenate(windows), np.concatenate(flagged)
    if hot.mean() > MAX_FLAGGED_SHARE:
        raise BaselineError(
            f"{int(hot.sum())} of {hot.size} windows of these recordings would be flagged: "
            f"they do not sound like {args.agent}'s usual voice. The wrong channel "
            "(--channel) or agent, or a new headset or line? Recalibrate without --update "
            "if the voice's setting changed; the baseline is unchanged")
    k = list(base.feature_names).index("f0_median_st")
    ordinary_f0 = x[~hot, k][np.isfinite(x[~hot, k])]
    shift = ((np.median(ordinary_f0) - base.median[k]) / base.sigma[k]
             if ordinary_f0.size else 0.0)
    if abs(shift) >= OTHER_SPEAKER_SIGMA:
        raise BaselineError(
            f"the ordinary speech of these recordings has its pitch median "
            f"{np.median(ordinary_f0):.1f} st, {shift:+.1f} sigma from {args.agent}'s "
            f"({base.median[k]:.1f} st): someone else's voice? (the wrong file, or "
            "--channel); the baseline is unchanged")
    moved = update_baseline(base, x, flagged=hot)
    used = int((~hot).sum())
    if moved is base:
        print(f"{args.agent}: baseline unchanged: {used} ordinary window(s) in these "
              f"recordings ({int(hot.sum())} left out as the checks would flag them); an "
              "update needs at least 10")
        return 0
    moved.notes["updates"] = int(base.notes.get("updates", 0)) + 1
    path = baseline_path(args.out, args.agent, kind)
    kept = keep_previous(path)
    save_baseline(moved, args.out)
    print(f"updated {path} from {used} ordinary windows ({int(hot.sum())} left out as the "
          f"checks would flag them); the previous baseline is in {kept}")
    for name, old, new, old_s, new_s in zip(base.feature_names, base.median, moved.median,
                                            base.sigma, moved.sigma, strict=True):
        print(f"  {name:22s} median {old:8.3f} -> {new:8.3f} ({(new - old) / old_s:+.2f} sigma)"
              f"  sigma x{new_s / old_s:.3f}")
    return 0
