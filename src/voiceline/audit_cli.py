"""``voiceline audit``: read the audit log of a data directory, as CSV.

Everything an administrator, supervisor or reviewer changes, every sign-in (and refused
one), every recording heard and report exported is in the store's audit log; this
prints it, newest first, filtered, for the people who answer for it. The console's
admin page shows the same (``GET /api/audit``). Reading does not change the store, so
it is safe while ``voiceline serve`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, datetime

from voiceline.cli import UserError
from voiceline.spreadsheet import SafeWriter

COLUMNS = ("id", "time", "user", "action", "object", "detail")


def add_parser(sub: argparse._SubParsersAction, data_help: str) -> None:
    audit = sub.add_parser(
        "audit", help="print the audit log (CSV, newest first)",
        description="Print the audit log of the store in --data as CSV (id, time, user, "
                    "action, object, detail), newest first. Dates are whole local days, "
                    "both included.")
    audit.add_argument("--user", default=None, help="only what this user did")
    audit.add_argument("--action", default=None,
                       help="only this action, e.g. login_failed, disable_user, qa_confirm")
    audit.add_argument("--object", default=None, dest="obj",
                       help="only what was done to this, e.g. user:li, alert:12")
    audit.add_argument("--from", default=None, dest="since", metavar="YYYY-MM-DD")
    audit.add_argument("--to", default=None, dest="until", metavar="YYYY-MM-DD")
    audit.add_argument("--limit", type=int, default=1000, help="at most this many (1,000)")
    audit.add_argument("--data", default=None, metavar="DIR", help=data_help)
    audit.set_defaults(func=run_audit)


def _day_start_s(text: str, what: str, days_after: int = 0) -> float:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{what} must be a date as YYYY-MM-DD, got {text!r}") from None
    try:
        start = datetime(day.year, day.month, day.day).timestamp()  # local midnight
    except (ValueError, OverflowError, OSError):  # 0001-01-01: before the epoch's range
        raise UserError(f"{what} {text} is out of range; give a date from 1970 on"
                        ) from None
    return start + days_after * 86400.0


def day_range(since: str | None, until: str | None) -> tuple[float | None, float | None]:
    """``--from``/``--to`` (whole local days, both included) as unix seconds
    ``[start, end)``; either may be None (no bound)."""
    start = _day_start_s(since, "--from") if since else None
    end = _day_start_s(until, "--to", days_after=1) if until else None
    if start is not None and end is not None and end <= start:
        raise UserError("--to is before --from")
    return start, end


def run_audit(args: argparse.Namespace) -> int:
    from voiceline.server.cli import existing_data_dir, open_store
    from voiceline.store import StoreError

    data = existing_data_dir(args.data)
    since, until = day_range(args.since, args.until)
    store = open_store(str(data), migrate=False)
    try:
        entries = store.list_audit(user=args.user, action=args.action, obj=args.obj,
                                   since_s=since, until_s=until, limit=args.limit)
    except (StoreError, ValueError) as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    out = SafeWriter(sys.stdout, lineterminator="\n")
    out.writerow(COLUMNS)
    for e in entries:
        out.writerow([e["id"], time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["time_s"])),
                      e["user"] or "", e["action"], e["object"] or "",
                      json.dumps(e["detail"], ensure_ascii=False) if e["detail"] else ""])
    return 0
