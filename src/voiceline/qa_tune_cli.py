"""``voiceline qa-tune``: thresholds from reviewers' verdicts, as a settings file for ``qa``.

Reads every judged flag in the store, asks :mod:`qa.tuning` how strict each check would
have to be for its flags to reach the target precision, and which forbidden phrases
reviewers keep dismissing, prints what each change would cost, and with ``--out`` writes
the ``--config`` file's settings with the suggested thresholds in place and those
phrases left out, ready for ``voiceline qa --config``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tomllib
from pathlib import Path

#: The critical setting that must stay at least as strict as a threshold: a suggestion
#: past it moves it too (every flag of the check is then critical).
CRITICAL_OF = {"min_s": ("critical_s", +1), "warning": ("critical", +1),
               "level_dbov": ("critical_dbov", -1)}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "qa-tune", help="suggest pre-inspection thresholds from reviewers' verdicts",
        description="For each check, the least strict threshold at which the flags "
        "reviewers judged reach the target precision, and the confirmed flags it would "
        "lose. With --out, writes the --config settings with those thresholds for "
        "`voiceline qa --config`.")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="data directory whose store holds the verdicts (default ./voiceline-data)")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="the TOML settings in use (default: the built-in defaults)")
    p.add_argument("--target-precision", type=float, default=None, metavar="P",
                   help="precision a suggested threshold must reach, 0.5-0.99 (default 0.8)")
    p.add_argument("--min-verdicts", type=int, default=None, metavar="N",
                   help="least judged flags of a check before its threshold moves (default 10)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write the settings with the suggested thresholds (TOML)")
    p.set_defaults(func=run_qa_tune)


def run_qa_tune(args: argparse.Namespace) -> int:
    from qa.config import QAConfig, QAConfigError
    from qa.tuning import (
        MIN_VERDICTS,
        TARGET_PRECISION,
        THRESHOLD_OF,
        phrase_verdicts,
        suggest_all,
    )
    from voiceline.cli import UserError
    from voiceline.server.cli import open_store

    target = TARGET_PRECISION if args.target_precision is None else args.target_precision
    if not 0.5 <= target <= 0.99:
        raise UserError(f"--target-precision must be 0.5-0.99, got {target}")
    least = MIN_VERDICTS if args.min_verdicts is None else args.min_verdicts
    if least < 1:
        raise UserError("--min-verdicts must be at least 1")
    try:
        config = QAConfig.load(args.config)
        raw = tomllib.loads(Path(args.config).read_text(encoding="utf-8")) if args.config else {}
    except QAConfigError as exc:
        raise UserError(str(exc)) from None
    db = (Path(args.data) if args.data else Path("voiceline-data")) / "voiceline.db"
    if not db.exists():
        raise UserError(f"no store at {db}: run `voiceline qa` (and review flags) first")
    with open_store(db.parent) as store:
        judged = store.qa_judged_flags()
    currents = {c: getattr(config.checks[c], setting)
                for c, (_, setting, _) in THRESHOLD_OF.items()}
    tips = suggest_all(judged, currents, target=target, min_verdicts=least)
    print(f"voiceline qa-tune: {len(judged)} judged flags; target precision {target:.0%}")
    print(f"{'check':<18} {'verdicts':>8} {'precision':>9}  {'setting':<24} {'after':>6}  why")
    for check, tip in tips.items():
        now = currents[check]
        setting = (f"{tip.setting} {now:g} -> {tip.suggested:g}" if tip.suggested is not None
                   else f"{tip.setting} {now:g}")
        print(f"{check:<18} {tip.judged:>8} {_pct(tip.precision):>9}  {setting:<24} "
              f"{_pct(tip.precision_after):>6}  {tip.reason}")
    phrases = phrase_verdicts(judged, target=target)
    if phrases:
        print("forbidden phrases, by the verdicts on the flags that named them:")
        for v in phrases:
            print(f"  {v.phrase}: {v.confirmed} confirmed, {v.dismissed} dismissed "
                  f"({v.precision:.0%}){' -> drop from the list' if v.drop else ''}")
    dropped = {v.phrase for v in phrases if v.drop}
    if args.out:
        changed = {c: t for c, t in tips.items() if t.suggested is not None}
        if dropped:
            kept = [p for p in config.checks["forbidden_phrase"].phrases if p not in dropped]
            raw.setdefault("forbidden_phrase", {})["phrases"] = kept
        for check, tip in changed.items():
            table = raw.setdefault(check, {})
            table[tip.setting] = tip.suggested
            if tip.setting in CRITICAL_OF:  # a warning stricter than the critical line
                critical, sign = CRITICAL_OF[tip.setting]  # moves that line with it
                if sign * tip.suggested > sign * getattr(config.checks[check], critical):
                    table[critical] = tip.suggested
        what = [*changed, *(["forbidden_phrase.phrases"] if dropped else [])]
        text = to_toml(raw, f"voiceline qa-tune: {len(judged)} judged flags, target "
                            f"precision {target:.0%}; changed: {', '.join(what) or 'nothing'}")
        QAConfig.from_dict(tomllib.loads(text))  # what `qa --config` will read: valid
        out = Path(args.out)
        if args.out.endswith(("/", os.sep)) or out.is_dir():  # `dir/` once wrote a file `dir`
            raise UserError(f"--out {args.out} names a folder; give the settings file's "
                            "name, e.g. qa-tuned.toml")
        out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({len(changed)} threshold{'s' * (len(changed) != 1)} "
              f"changed, {len(dropped)} forbidden phrase{'s' * (len(dropped) != 1)} "
              f"dropped); use it with `voiceline qa --config {args.out}`", file=sys.stderr)
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return ("inf" if v > 0 else "-inf") if isinstance(v, float) and math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def to_toml(doc: dict, comment: str) -> str:
    """The settings file: top-level values, then one table per check."""
    lines = [f"# {comment}"]
    lines += [f"{k} = {_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for name, table in doc.items():
        if isinstance(table, dict):
            lines += ["", f"[{name}]"] + [f"{k} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"
