"""The ``voiceline`` command line.

Each sub-command is a small function; heavy imports happen inside them so that
``voiceline --help`` stays instant. User errors (a bad file, an unknown profile) print
one clear line to stderr and exit with status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from voiceline import __version__

EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error the user caused and can fix; printed without a traceback."""


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, 0 or more (a usage error otherwise;
    ``-5``, ``nan`` and ``inf`` once became tracebacks after the voices were prepared)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number of seconds, 0 or more")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number, 1 or more (``--limit-speakers 0`` once meant
    every speaker, and ``-3`` all but the last three)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, 1 or more")
    return value


def output_file(path: str | Path, keep: Iterable[str | Path] = ()) -> Path:
    """``path`` as a file a command may write, checked before any work is done: not a
    folder, in a folder that exists, and none of ``keep`` (files, and folders whose
    whole content is kept: a data directory's store, a calibration folder, an input).
    A report once replaced ``voiceline.db`` and ``score`` a baseline, without a word."""
    out = Path(path)
    if str(path).endswith(("/", os.sep)) or out.is_dir():
        raise UserError(f"{path} is a folder; give a file name to write")
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out}: directory {out.parent} does not exist")
    target = out.resolve()
    for kept in keep:
        kept = Path(kept).resolve()
        if target == kept or (kept.is_dir() and kept in target.parents):
            raise UserError(f"will not write {out}: it is {'inside ' if target != kept else ''}"
                            f"{kept}, which this command reads or the product keeps; choose "
                            "another file")
    return out


def open_private(path: str | Path, *, encoding: str = "utf-8", newline: str | None = None):
    """``open(path, "w")`` for a file that names agents or callers (results, reports,
    exports): created without access for others, whatever the umask (mode 0660 less
    the umask: 0640 under the usual 022, so the owner's group may still read it). An
    audit found pre-inspection results with callers' transcripts at 0644."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o660)
    if os.fstat(fd).st_mode & 0o007:  # a file that was there keeps its mode: take it away
        os.fchmod(fd, os.fstat(fd).st_mode & 0o770)
    return os.fdopen(fd, "w", encoding=encoding, newline=newline)


def private_dir(path: Path) -> Path:
    """``path.mkdir(parents=True, exist_ok=True)``, a new directory without access for
    others (0770 less the umask)."""
    path.mkdir(mode=0o770, parents=True, exist_ok=True)
    return path


def cli_user() -> str:
    """Who runs this command, as the audit log names them: ``cli:<account>``, the name of
    the operating-system account the process runs as (its effective uid in the password
    database), or ``cli:uid <n>`` for an account without a name (a container's bare
    uid). Under sudo, the person behind it too: ``cli:root (sudo from li)``.

    Not from ``LOGNAME``/``USER`` (``getpass.getuser``): anyone can set those, and an
    audit found an operator recorded under a colleague's name that way, and every
    command run through sudo recorded as plain ``root``. An audit before that had found
    the command line's changes stored with no user at all.
    """
    uid = os.geteuid()
    try:
        import pwd

        name = pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry
        name = f"uid {uid}"
    # only root can be behind sudo's SUDO_USER (another account setting it is ignored)
    sudo = os.environ.get("SUDO_USER", "").strip() if uid == 0 else ""
    if sudo and sudo != name and sudo.isprintable():
        return f"cli:{name} (sudo from {sudo[:64]})"
    return f"cli:{name}"


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


def _cmd_seat(args: argparse.Namespace) -> int:
    from voiceline.sources.cli import run_seat_cli

    return run_seat_cli(args)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from voiceline.sources.cli import run_simulate_cli

    return run_simulate_cli(args)


def _cmd_serve(args: argparse.Namespace) -> int:
    from voiceline.server.cli import run_serve

    return run_serve(args)


def _cmd_user(args: argparse.Namespace) -> int:
    from voiceline.server.cli import run_user

    return run_user(args)


def _add_audio_options(parser: argparse.ArgumentParser, *, channel: bool = True) -> None:
    """The options every command that reads recordings shares."""
    if channel:
        parser.add_argument("--channel", type=int, default=0,
                            help="channel to analyse (default 0 = the agent)")
    parser.add_argument("--level-profile", default=None,
                        help="level calibration profile (see 'voiceline levels'); default "
                             "g711-telephone for 8 kHz input, headset otherwise")


def _cmd_demo(args: argparse.Namespace) -> int:
    from voiceline.demo import run_demo

    return run_demo(args)


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
                          choices=(0.02, 0.1),  # the steps the streaming path keeps
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
    calibrate.add_argument(
        "--update", action="store_true",
        help="let the agent's existing baseline follow these newer recordings (calls, with "
             "--channel for the agent's side): each feature's median and spread move a "
             "twentieth of the way, at most 0.1 sigma; stretches the voice checks would "
             "flag are not learnt from; the previous file is kept in DIR/history/")
    calibrate.add_argument("--model", default=None, metavar="PATH",
                           help="with --update: the scoring model that judges which stretches "
                                "are flagged (default models/voice_scoring.onnx)")
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
    train_model.add_argument("--limit-speakers", type=positive_int, default=None,
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
    score.add_argument("--line-correction", choices=("on", "off"), default="on",
                       help="judge each recording through its line (default on): where its "
                            "calm speech sits more than 2.5 dB off the agent's calibration, "
                            "the baseline's loudness moves by the excess (column "
                            "line_correction_db); off: judged at the calibration's level")
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

    seat = sub.add_parser(
        "seat",
        help="stream this computer's headset microphone to the server",
        description=(
            "Capture the local microphone (mono, 20 ms blocks) and stream it to the server's "
            "/ingest/audiofork endpoint, one call per connection. On a lost connection it "
            "reconnects with backoff (0.5 s doubling to 30 s) and starts a new call id. "
            "Ctrl-C ends the call and stops."
        ),
    )
    seat.add_argument("--agent", required=True, help="agent id of the headset's wearer")
    seat.add_argument("--server", required=True, help="server URL, e.g. http://127.0.0.1:8080")
    seat.add_argument("--seat", default=None, help="seat name (default this host's name)")
    seat.add_argument("--device", default=None,
                      help="input device index or name (see `python -m sounddevice`)")
    seat.add_argument("--token", default=None,
                      help="ingest token (default $VOICELINE_INGEST_TOKEN)")
    seat.add_argument("--rate", type=int, choices=(8000, 16000), default=8000,
                      help="sample rate in Hz (default 8000)")
    seat.set_defaults(func=_cmd_seat)

    simulate = sub.add_parser(
        "simulate",
        help="stream simulated seats (or replayed recordings) to the server in real time",
        description=(
            "Stream N simulated seats — synthetic agents' voices, calls with turns and "
            "silences, scheduled agitation and low-energy episodes — to the server in real "
            "time, one connection per call, over the audio-fork, Twilio Media Streams or "
            "AudioSocket protocol. With --replay, stream stereo recordings (agent on channel "
            "0) instead, one seat per file. A status line goes to stderr; Ctrl-C hangs up "
            "every call and stops."
        ),
    )
    simulate.add_argument("--server", required=True,
                          help="server URL, e.g. http://127.0.0.1:8080")
    simulate.add_argument("--seats", type=int, default=300,
                          help="number of simulated seats (default 300)")
    simulate.add_argument("--protocol", choices=("audiofork", "twilio", "audiosocket"),
                          default="audiofork", help="ingest protocol (default audiofork)")
    simulate.add_argument("--token", default=None,
                          help="ingest token (default $VOICELINE_INGEST_TOKEN)")
    simulate.add_argument("--seed", type=int, default=0,
                          help="seed of voices, calls and episodes (default 0)")
    simulate.add_argument("--duration", type=seconds, default=None,
                          help="stop after this many seconds (default: run until Ctrl-C)")
    simulate.add_argument("--agitation-every", type=seconds, default=300.0, metavar="S",
                          help="mean seconds of call time between an agent's agitated "
                               "episodes (default 300; 0 = never)")
    simulate.add_argument("--low-energy-every", type=seconds, default=900.0, metavar="S",
                          help="the same for low-energy episodes (default 900; 0 = never)")
    simulate.add_argument("--replay", nargs="+", metavar="FILE", default=None,
                          help="stream these stereo WAV/FLAC recordings instead, one seat each")
    simulate.add_argument("--agents", default=None, metavar="ID,ID,...",
                          help="agent ids of the seats (default A1001, ...; replayed files: "
                               "unknown)")
    simulate.add_argument("--audiosocket", default=None, metavar="HOST:PORT",
                          help="AudioSocket listener (default the server's host, port 9092)")
    simulate.add_argument("--frame-ms", type=int, default=20, metavar="MS",
                          help="audio per message, 5-100 ms (default 20, as telephony "
                               "platforms send; larger frames cost the server less)")
    simulate.add_argument("--status-every", type=float, default=5.0, metavar="S",
                          help="seconds between status lines (default 5)")
    simulate.add_argument("--run-id", default=None,
                          help="prefix of the call ids on the wire (default random)")
    simulate.set_defaults(func=_cmd_simulate)

    data_help = "data directory: the store and baselines/ (default ./voiceline-data)"
    serve = sub.add_parser(
        "serve",
        help="run the live monitoring server (ingest, engine, alerts, API)",
        description=(
            "Serve telephony ingest (audio fork and Twilio websockets, AudioSocket over TCP), "
            "score every live call against its agent's baseline (DIR/baselines), and push "
            "alerts to dashboards over /ws/alerts. Listens on 127.0.0.1 unless --host says "
            "otherwise. Create the first user with 'voiceline user add'."
        ),
    )
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default 8080)")
    serve.add_argument("--ingest-port", type=int, default=None, metavar="PORT",
                       help="lean websocket ingest port: /ingest/audiofork and /ingest/twilio "
                            "at a fraction of the HTTP port's CPU per message (default 8081; "
                            "0 turns it off)")
    serve.add_argument("--audiosocket-port", type=int, default=None, metavar="PORT",
                       help="AudioSocket TCP port (default 9092; 0 turns it off)")
    serve.add_argument("--tls-cert", default=None, metavar="PEM",
                       help="certificate chain: serve https:// and wss:// on the HTTP and "
                            "ingest ports (with --tls-key)")
    serve.add_argument("--tls-key", default=None, metavar="PEM",
                       help="the certificate's private key")
    serve.add_argument("--config", default=None, metavar="FILE",
                       help="TOML settings: tables [server], [engine], [alerts]")
    serve.add_argument("--data", default=None, metavar="DIR", help=data_help)
    serve.set_defaults(func=_cmd_serve)

    user = sub.add_parser("user", help="console users and ingest tokens",
                          description="Manage the users and tokens of the store in --data "
                                      "(safe while 'voiceline serve' runs on it). Every "
                                      "change is audited.")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION")
    user_add = user_sub.add_parser(
        "add", help="add a console user",
        description="Add a user; the password (8 characters or more) is asked for twice.")
    user_add.add_argument("name")
    user_add.add_argument("--role", required=True,
                          choices=("admin", "supervisor", "qa", "agent"))
    user_add.add_argument("--agent", default=None, metavar="ID",
                          help="for role agent: the agent id they are (registered if new)")
    user_add.add_argument("--password-stdin", action="store_true",
                          help="read the password from the first line of stdin")
    user_list = user_sub.add_parser(
        "list", help="list the users (CSV)",
        description="Print every user as CSV: name, role, agent_id, created, status.")
    user_password = user_sub.add_parser(
        "password", help="give a user a new password (also to get an admin back in)",
        description="Set a user's password (asked for twice) and sign out their sessions.")
    user_password.add_argument("name")
    user_password.add_argument("--password-stdin", action="store_true",
                               help="read the password from the first line of stdin")
    user_disable = user_sub.add_parser(
        "disable", help="withdraw a user's access (someone who has left)",
        description="Refuse the user's sign-in and sign out their sessions; their name stays "
                    "on what they did. The last enabled admin cannot be disabled.")
    user_disable.add_argument("name")
    user_enable = user_sub.add_parser(
        "enable", help="give a disabled user their access back",
        description="Let a disabled user sign in again, with the password they had.")
    user_enable.add_argument("name")
    user_token = user_sub.add_parser(
        "token", help="issue an ingest token (printed once)",
        description="Print a new ingest token for a telephony source or seat client.")
    user_token.add_argument("--ingest", required=True, metavar="LABEL",
                            help="whom the token is for, e.g. freeswitch-1")
    user_tokens = user_sub.add_parser(
        "tokens", help="list the ingest tokens (CSV; never the tokens themselves)",
        description="Print every ingest token as CSV: id, label, created, expires, status.")
    user_revoke = user_sub.add_parser(
        "revoke", help="revoke an ingest token by its id (see 'tokens')",
        description="Refuse the token from now on; a running server closes the connections "
                    "streaming with it within 10 s.")
    user_revoke.add_argument("token_id", type=int, metavar="ID")
    for action in (user_add, user_list, user_password, user_disable, user_enable, user_token,
                   user_tokens, user_revoke):
        action.add_argument("--data", default=None, metavar="DIR", help=data_help)
    user.set_defaults(func=_cmd_user)

    from voiceline.directory_cli import add_parser as add_directory_parser

    add_directory_parser(sub, data_help)

    from voiceline.backup_cli import add_parser as add_backup_parser

    add_backup_parser(sub, data_help)

    from voiceline.audit_cli import add_parser as add_audit_parser

    add_audit_parser(sub, data_help)

    from voiceline.qa_export import add_parser as add_qa_export_parser

    add_qa_export_parser(sub, data_help)

    from voiceline.qa_cli import add_parser as add_qa_parser

    add_qa_parser(sub)

    from voiceline.qa_tune_cli import add_parser as add_qa_tune_parser

    add_qa_tune_parser(sub)

    from voiceline.report_cli import add_parser as add_report_parser

    add_report_parser(sub)

    from voiceline.demo import add_parser as add_demo_parser

    add_demo_parser(sub)
    sub.choices["demo"].set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status: 2 for a user error, 130 for Ctrl-C.

    Ctrl-C ends every command with one line, also while its first imports (numpy, scipy:
    about a second) still run; there it once printed Python's traceback.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _run(argv)
    except KeyboardInterrupt:  # what was written stays (qa resumes from it)
        name = f"voiceline {argv[0]}" if argv and not argv[0].startswith("-") else "voiceline"
        print(f"{name}: interrupted", file=sys.stderr)
        return 130


def _run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    from capture.audio import AudioError
    from capture.levels import CalibrationError
    from emotion.baseline import BaselineError
    from emotion.scoring import ModelError
    from voiceline.store.errors import SchemaError

    try:
        return int(args.func(args) or 0)
    except (UserError, AudioError, CalibrationError, BaselineError, ModelError,
            SchemaError) as exc:  # SchemaError: a damaged store, or a newer Voiceline's
        print(f"voiceline {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a path that cannot be made or written, a port in use, a full disk
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"voiceline {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USER_ERROR
