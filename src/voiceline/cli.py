"""The ``voiceline`` command line.

Each sub-command is a small function; heavy imports happen inside them so that
``voiceline --help`` stays instant. User errors (a bad file, an unknown profile) print
one clear line to stderr and exit with status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from voiceline import __version__

EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error the user caused and can fix; printed without a traceback."""


def _cmd_features(args: argparse.Namespace) -> int:
    from voiceline.features_cli import run_features

    return run_features(args)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from voiceline.calibrate_cli import run_calibrate

    return run_calibrate(args)


def _cmd_train_model(args: argparse.Namespace) -> int:
    from voiceline.train_cli import run_train_model

    return run_train_model(args)


def _cmd_score(args: argparse.Namespace) -> int:
    from voiceline.score_cli import run_score

    return run_score(args)


def _cmd_example(args: argparse.Namespace) -> int:
    from voiceline.features_cli import write_example

    return write_example(args)


def _cmd_levels(args: argparse.Namespace) -> int:
    from capture.levels import available_level_profiles, load_level_profile

    for name in available_level_profiles():
        profile = load_level_profile(name)
        print(f"{name:16s} full scale = {profile.full_scale_peak_pa:.6g} Pa peak  "
              f"{profile.description}")
    return 0


def _add_audio_options(parser: argparse.ArgumentParser, *, channel: bool = True) -> None:
    """The options every command that reads recordings shares."""
    if channel:
        parser.add_argument("--channel", type=int, default=0,
                            help="channel to analyse (default 0 = the agent)")
    parser.add_argument("--level-profile", default=None,
                        help="level calibration profile (see 'voiceline levels'); default "
                             "g711-telephone for 8 kHz input, headset otherwise")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voiceline",
        description="Voiceline: agents' voices against their own baselines, live and in batch.",
    )
    parser.add_argument("--version", action="version", version=f"voiceline {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    features = sub.add_parser(
        "features",
        help="print the psychoacoustic time series of a recording",
        description=(
            "Compute loudness, sharpness, roughness and fluctuation strength of one channel "
            "of a WAV/FLAC file with the streaming engine used by live monitoring, and print "
            "one row per output step."
        ),
    )
    features.add_argument("file", help="WAV or FLAC file, 8-48 kHz")
    _add_audio_options(features)
    features.add_argument("--format", choices=("csv", "json"), default="csv")
    features.add_argument("--hop", type=float, default=0.1, dest="hop_s",
                          help="output step in seconds (default 0.1)")
    features.set_defaults(func=_cmd_features)

    calibrate = sub.add_parser(
        "calibrate",
        help="fit an agent's voice baseline from recordings of their ordinary speech",
        description=(
            "Analyse the agent's channel of each file and write DIR/<agent>.json (8 kHz "
            "telephone) or DIR/<agent>.16k.json (wideband): robust statistics of the "
            "agent's feature windows. Needs at least 30 s of speech; clipped or silent "
            "files are left out with a message."
        ),
    )
    calibrate.add_argument("--agent", required=True, help="agent id (letters, digits, -_.)")
    calibrate.add_argument("--out", required=True,
                           help="baseline directory, e.g. calibration/agents")
    calibrate.add_argument("files", nargs="+", metavar="FILE", help="WAV/FLAC recordings")
    _add_audio_options(calibrate)
    calibrate.set_defaults(func=_cmd_calibrate)

    train_model = sub.add_parser(
        "train-model",
        help="train the scoring model on EmoDB and RAVDESS over a simulated phone line",
        description=(
            "Fit the agitation and low-energy heads on DIR/emodb and DIR/ravdess (read in "
            "place) by the fixed protocol: per-speaker calibration from every other neutral "
            "file, telephone augmentation, leave-one-speaker-out choice of the L2 penalty. "
            "Writes the ONNX model and its JSON card."
        ),
    )
    train_model.add_argument("--data", default=None,
                             help="research data directory (default $VOICELINE_SHARED_DATA "
                                  "or ../shared/data)")
    train_model.add_argument("--out", default="models/voice_scoring.onnx",
                             help="model path (default models/voice_scoring.onnx)")
    train_model.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    train_model.add_argument("--limit-speakers", type=int, default=None,
                             help="use only the first N speakers per corpus (for a quick try)")
    train_model.set_defaults(func=_cmd_train_model)

    score = sub.add_parser(
        "score",
        help="score recordings against their agents' baselines",
        description=(
            "For each row of a manifest CSV (columns path,agent and optional channel; paths "
            "relative to the CSV) score the agent's channel against the agent's baseline in "
            "DIR: agitation and low-energy probabilities and the top deviations in words. A "
            "row with an unknown agent or an unreadable file gets an error; the rest proceed."
        ),
    )
    score.add_argument("--calibration", required=True, help="baseline directory")
    score.add_argument("--manifest", required=True, help="CSV with columns path,agent")
    score.add_argument("--out", required=True, help="output CSV")
    score.add_argument("--model", default=None,
                       help="scoring model (default models/voice_scoring.onnx of this "
                            "repository)")
    _add_audio_options(score, channel=False)  # the manifest's channel column chooses
    score.add_argument("--unknown-agents", choices=("error", "population"), default="error",
                       help="an agent without a baseline: an error row (default), or judged "
                            "against the population baseline of the agents in DIR")
    score.set_defaults(func=_cmd_score)

    example = sub.add_parser(
        "example",
        help="write a generated speech-like example recording (for trying the tools)",
        description=(
            "Write a synthetic, speech-like 8 kHz mono WAV (source-filter voice) whose second "
            "half is louder, higher and faster, as an agitated stretch would be."
        ),
    )
    example.add_argument("out", help="output WAV path")
    example.add_argument("--seconds", type=float, default=12.0)
    example.add_argument("--fs", type=int, default=8000, dest="fs_hz")
    example.set_defaults(func=_cmd_example)

    levels = sub.add_parser("levels", help="list the level calibration profiles")
    levels.set_defaults(func=_cmd_levels)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    from capture.audio import AudioError
    from capture.levels import CalibrationError
    from emotion.baseline import BaselineError
    from emotion.scoring import ModelError

    try:
        return int(args.func(args) or 0)
    except (UserError, AudioError, CalibrationError, BaselineError, ModelError) as exc:
        print(f"voiceline {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        return 0
