"""``voiceline backup``: a consistent copy of a data directory, taken while it is in use.

The store is one SQLite file in WAL mode: copying ``voiceline.db`` with ``cp`` while the
server writes can give a file that lacks the newest transactions or is damaged (they
sit in ``voiceline.db-wal`` until a checkpoint). This uses SQLite's online backup
(:meth:`voiceline.store.database.Database.backup_to`): one snapshot, checked, while the
server goes on writing. The agents' baseline files are copied beside it.

The backup is itself a data directory: ``voiceline serve --data OUT`` runs on it, and
restoring means stopping the server and putting OUT's contents in place of the data
directory's.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from voiceline.cli import UserError, cli_user


def add_parser(sub: argparse._SubParsersAction, data_help: str) -> None:
    backup = sub.add_parser(
        "backup", help="copy the store and baselines while the server runs",
        description="Write a consistent copy of the data directory (the store, by "
                    "SQLite's online backup, and baselines/) to a new directory; the "
                    "server may keep running. The copy is a data directory itself.")
    backup.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="a new or empty directory for the copy")
    backup.add_argument("--data", default=None, metavar="DIR", help=data_help)
    backup.set_defaults(func=run_backup)


def run_backup(args: argparse.Namespace) -> int:
    from voiceline.server.cli import existing_data_dir, open_store
    from voiceline.server.config import BASELINES_DIR, STORE_FILE
    from voiceline.store import StoreError

    data = existing_data_dir(args.data)
    out: Path = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} exists and is not an empty directory; a backup never "
                        "overwrites: choose a new one")
    if out.resolve() == data.resolve():
        raise UserError("--out must not be the data directory itself")
    store = open_store(str(data), migrate=False)
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        copied = store.backup_to(out / STORE_FILE)
        baselines = sorted((data / BASELINES_DIR).glob("*.json"))
        # and history/: the baselines `calibrate --update` replaced, and retired/ agents'
        kept = sorted((data / BASELINES_DIR / "history").rglob("*.json"))
        for path in [*baselines, *kept]:
            target = out / path.relative_to(data)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        store.audit(cli_user(), "backup", None, {"to": str(out.resolve()),
                                                 "bytes": copied["bytes"],
                                                 "baselines": len(baselines), "via": "cli"})
    except (OSError, StoreError) as exc:
        _remove(out, made)
        raise UserError(f"backup to {out} failed, nothing kept: {exc}") from None
    except BaseException:  # Ctrl-C, a stop: a store without its baselines is no backup
        _remove(out, made)
        raise
    finally:
        store.close()
    rows = copied["rows"]
    print(f"backed up {data} to {out}: store {copied['bytes'] / 1e6:.1f} MB (schema "
          f"{copied['schema_version']}, checked: ok; {rows.get('calls', 0)} calls, "
          f"{rows.get('alerts', 0)} alerts, {rows.get('qa_calls', 0)} inspected calls, "
          f"{rows.get('qa_flags', 0)} flags, {rows.get('users', 0)} users), "
          f"{len(baselines)} baseline file(s)"
          + (f" and {len(kept)} earlier one(s) in history/" if kept else ""))
    from voiceline.store.schema import SCHEMA_VERSION

    if copied["schema_version"] < SCHEMA_VERSION:
        print(f"the store is kept at schema {copied['schema_version']}, as the Voiceline "
              "that wrote it left it, so that version can restore it; this one upgrades a "
              f"store to schema {SCHEMA_VERSION} when it next runs on it", file=sys.stderr)
    print(f"restore: stop the server, then run it with --data {out} (or put that "
          "directory's contents in place of the data directory's)", file=sys.stderr)
    return 0


def _remove(out: Path, made: bool) -> None:
    """Take away a failed backup's files (and its directory, if this run made it)."""
    if made:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
