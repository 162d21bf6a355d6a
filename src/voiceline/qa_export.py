"""``voiceline qa-export`` and the review queue's CSV: flags and reviewers' verdicts, one
row per flag, for the QA lead's weekly or monthly report.

Both the command (on a data directory) and ``GET /api/qa/export.csv`` (the queue page's
"Export CSV") write the same columns from :meth:`Store.qa_flag_report`: the current
flags of inspected calls, oldest recording first, filtered by recording date, agent,
check and verdict. The file opens in a spreadsheet as it is: UTF-8 with a byte-order
mark (Excel and WPS otherwise misread Chinese), and a text cell that a spreadsheet
would run as a formula (``=``, ``+``, ``-``, ``@`` first: a reviewer's note, say) is
written with a leading apostrophe. Every export is audited, like a report's.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from voiceline.cli import UserError, cli_user, open_private
from voiceline.spreadsheet import safe_cell

COLUMNS = ("call_id", "agent_id", "recorded_at", "file", "score", "check", "severity",
           "channel", "start_s", "end_s", "detail", "verdict", "verdict_by", "verdict_at",
           "note")
VERDICTS = ("confirmed", "dismissed", "judged", "open")


def _text(value: object) -> str:
    """A text cell a spreadsheet shows as text (never runs as a formula)."""
    return safe_cell("" if value is None else str(value))


def _when(seconds: float | None) -> str:
    """Local time with its offset (unambiguous across daylight saving and sites)."""
    if seconds is None:
        return ""
    try:
        return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):  # stored before times were checked
        return f"{seconds:g}"


def rows(flags: Iterable[dict]) -> Iterable[list[str]]:
    """The CSV rows (header first) of :meth:`Store.qa_flag_report`'s flags."""
    yield list(COLUMNS)
    for f in flags:
        yield [_text(f["call_id"]), _text(f["agent_id"]), _when(f["recorded_s"]),
               _text(Path(f["path"]).name if f.get("path") else ""),
               "" if f["score"] is None else f"{f['score']:.0f}", f["check"], f["severity"],
               f["channel"], f"{f['start_s']:.2f}", f"{f['end_s']:.2f}", _text(f["detail"]),
               f["verdict"] or "", _text(f["verdict_by"]), _when(f["verdict_s"]),
               _text(f["verdict_note"])]


def to_csv(flags: Iterable[dict]) -> str:
    """The whole file as text, with the byte-order mark."""
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out, lineterminator="\r\n").writerows(rows(flags))
    return out.getvalue()


def add_parser(sub: argparse._SubParsersAction, data_help: str) -> None:
    export = sub.add_parser(
        "qa-export", help="flags and reviewers' verdicts as CSV, for QA reports",
        description="Write the current flags of the inspected recordings in --data, one row "
                    "per flag with its verdict, oldest recording first, as CSV that opens in "
                    "a spreadsheet (UTF-8 with BOM). Dates are whole local days of the "
                    "recording, both included. Audited.")
    export.add_argument("--from", default=None, dest="since", metavar="YYYY-MM-DD")
    export.add_argument("--to", default=None, dest="until", metavar="YYYY-MM-DD")
    export.add_argument("--agent", default=None, help="only this agent's calls")
    export.add_argument("--check", default=None, help="only this check, e.g. dead_air")
    export.add_argument("--verdict", choices=VERDICTS, default=None,
                        help="only confirmed, dismissed, judged (either) or open flags "
                             "(default: every flag)")
    export.add_argument("--out", default=None, metavar="FILE",
                        help="write here (default: standard output)")
    export.add_argument("--data", default=None, metavar="DIR", help=data_help)
    export.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from voiceline.audit_cli import day_range
    from voiceline.server.cli import existing_data_dir, open_store
    from voiceline.store import StoreError

    data = existing_data_dir(args.data)
    since, until = day_range(args.since, args.until)
    store = open_store(str(data))
    try:
        flags = store.qa_flag_report(since_s=since, until_s=until, agent_id=args.agent,
                                     check=args.check, verdict=args.verdict)
        text = to_csv(flags)
        if args.out:
            try:
                with open_private(args.out, newline="") as fh:
                    fh.write(text)
            except OSError as exc:
                raise UserError(f"cannot write {args.out}: {exc.strerror}") from None
        store.audit(cli_user(), "qa_export", None,
                    {"rows": len(flags), "from": args.since, "to": args.until,
                     "agent": args.agent, "check": args.check, "verdict": args.verdict})
    except (StoreError, ValueError) as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    if not args.out:
        sys.stdout.write(text.removeprefix("\ufeff"))  # a pipe wants no byte-order mark
    else:
        print(f"{len(flags)} flag(s) written to {args.out}", file=sys.stderr)
    return 0
