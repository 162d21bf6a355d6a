"""``voiceline report``: one agent's self-assessment report as a self-contained HTML file.

Reads the store of ``--data`` (per-call voice summaries, live alerts, pre-inspection
flags) and the agent's baseline in ``DATA/baselines``, and writes one HTML file with
inline CSS and SVG that opens anywhere and prints to PDF. The export is audited.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report", help="write an agent's self-assessment report (one HTML file)",
        description="Write one agent's self-assessment report as a self-contained HTML "
        "file (inline CSS and SVG; prints to PDF): their voice against their own baseline, "
        "flagged moments, time-of-shift effects, the week-over-week trend, and guidance. "
        "The period is whole local days, default the last 7 days up to today.")
    p.add_argument("--agent", required=True, metavar="ID", help="the agent's id")
    p.add_argument("--from", dest="first", default=None, metavar="DATE",
                   help="first day, YYYY-MM-DD (default: 6 days before --to)")
    p.add_argument("--to", dest="last", default=None, metavar="DATE",
                   help="last day, YYYY-MM-DD, included (default: today)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="data directory of the store and baselines (default ./voiceline-data)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh",
                   help="language of the report (default zh)")
    p.add_argument("--tz", default=None, metavar="ZONE",
                   help="time zone of the days and hours, e.g. Asia/Shanghai (default: "
                        "this machine's)")
    p.add_argument("--console-url", default=None, metavar="URL",
                   help="console address, e.g. https://voiceline.example:8000; flagged "
                        "moments of recorded calls then link to that point in the console")
    p.add_argument("--out", required=True, metavar="FILE", help="the HTML file to write")
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from voiceline.cli import UserError, cli_user, open_private, output_file
    from voiceline.reports import (
        PeriodError,
        UnknownAgentError,
        build_report,
        make_period,
        parse_tz,
        render_document,
    )
    from voiceline.server.cli import open_store
    from voiceline.server.config import LOCK_FILE

    data = Path(args.data) if args.data else Path("voiceline-data")
    db = data / "voiceline.db"
    if not db.is_file():
        raise UserError(f"no store at {db}: give the data directory of 'voiceline serve' "
                        "or 'voiceline qa' with --data DIR")
    try:
        tz = parse_tz(args.tz)
        period = make_period(args.first, args.last, tz=tz)
    except PeriodError as exc:
        raise UserError(str(exc)) from None
    if args.console_url and not args.console_url.startswith(("http://", "https://")):
        raise UserError(f"--console-url {args.console_url!r} must start with http:// or "
                        "https://")
    out = output_file(args.out, keep=[*(db.with_name(db.name + end) for end in ("", "-wal",
                                                                               "-shm")),
                                      data / "baselines", data / LOCK_FILE])
    with open_store(data) as store:
        try:
            report = build_report(store, args.agent, period, baselines_dir=data / "baselines")
        except UnknownAgentError as exc:
            raise UserError(f"{exc} in {db}") from None
        html = render_document(report, args.lang, console_url=args.console_url, tz=tz)
        tmp = out.with_name(out.name + ".tmp")
        try:
            with open_private(tmp) as fh:
                fh.write(html)
            os.replace(tmp, out)
        except OSError as exc:
            raise UserError(f"cannot write {out}: {exc.strerror}") from None
        store.audit(cli_user(), "view_report", f"agent:{args.agent}",
                    {"from": period.first_day.isoformat(), "to": period.last_day.isoformat(),
                     "format": "html-file", "out": str(out.resolve())})
    t = report["totals"]
    print(f"voiceline report: {args.agent}, {period.first_day} to {period.last_day}: "
          f"{t['calls']} calls, {len(report['flagged'])} flagged moments -> {out}",
          file=sys.stderr)
    return 0
