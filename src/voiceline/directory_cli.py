"""``voiceline directory``: the floor's seats and agents in the store, from a spreadsheet.

An installation has hundreds of seats and agents. The wall groups seats by team and
shows agents by name, and both come from here (or the admin API, ``PUT /api/seats/{id}``
and ``PUT /api/agents/{id}``). Live calls only ever add an unknown seat or agent by its
id; they never change what was set here.

- ``import FILE.csv``: a header with ``seat_id`` (and any of ``team``, ``label``) makes
  seats; one with ``agent_id`` (and any of ``display_name``, ``team``) makes agents.
  A column the file has replaces the stored value (an empty cell clears it); a column
  it lacks leaves the stored value alone. An agent id must be one a baseline file can
  be named after (letters, digits, ``-_.``), as ``voiceline calibrate`` requires.
  Importing a retired seat puts it back in service; importing a retired agent starts
  a new tenure of the id (as giving it to a new user does). A bad row is named with its
  line and skipped; the others are kept.
- ``retire SEAT...``: seats out of service leave the wall's list; their calls stay.
- ``retire --agent ID``: the person left. Their calls, alerts and recordings stay for
  staff; their baseline files move to ``baselines/history/retired/``. Whoever is given
  the id next (``voiceline user add NAME --agent ID``) starts a new tenure and sees only
  what happens from then on. Refused while a call of theirs is live or an enabled user
  still speaks as them.
- ``list``: seats, then agents, as CSV on stdout (``--retired``: retired ones too).

Every change is audited (``via: cli``, by ``cli:<login name>``), like the admin API's.
"""

from __future__ import annotations

import argparse
import csv
import sys
from functools import partial
from pathlib import Path

from voiceline.cli import UserError, cli_user
from voiceline.directory import FIELDS, put_entry, retire_agent, retire_seat
from voiceline.spreadsheet import SafeWriter, csv_rows

KINDS = {f"{kind}_id": fields for kind, fields in FIELDS.items()}
"""A file's id column, and the columns it may have beside it."""
MAX_ROWS = 100_000


def add_parser(sub: argparse._SubParsersAction, data_help: str) -> None:
    directory = sub.add_parser(
        "directory", help="the floor's seats and agents: teams, labels, names",
        description="Seats (team, label) and agents (display name, team) in the store in "
                    "--data, as the wall shows them.")
    actions = directory.add_subparsers(dest="directory_command", metavar="ACTION")
    load = actions.add_parser(
        "import", help="add or update seats or agents from a CSV file",
        description="A header with seat_id (and team, label) imports seats; one with "
                    "agent_id (and display_name, team) imports agents. Columns the file "
                    "lacks keep their stored values; an empty cell clears one.")
    load.add_argument("file", type=Path, metavar="FILE.csv")
    retire = actions.add_parser(
        "retire", help="take seats out of service, or retire agents who left (calls stay)",
        description="Seats leave the wall's list. An agent (--agent) who left is marked "
                    "retired and their baseline moves to baselines/history/retired/; "
                    "the next user given the id sees nothing from before.")
    retire.add_argument("seats", nargs="*", metavar="SEAT")
    retire.add_argument("--agent", action="append", default=[], metavar="ID",
                        help="retire this agent id (repeat for more)")
    listing = actions.add_parser("list", help="print the seats and agents as CSV")
    listing.add_argument("--retired", action="store_true",
                         help="list retired seats and agents too")
    for parser in (load, retire, listing):
        parser.add_argument("--data", default=None, metavar="DIR", help=data_help)
    directory.set_defaults(func=run_directory)


def run_directory(args: argparse.Namespace) -> int:
    from voiceline.server.cli import existing_data_dir, open_store
    from voiceline.store import StoreError

    action = getattr(args, "directory_command", None)
    if action not in ("import", "retire", "list"):
        raise UserError("say what to do: 'voiceline directory import FILE.csv', "
                        "'voiceline directory retire SEAT... | --agent ID' or "
                        "'voiceline directory list'")
    if action == "retire" and not args.seats and not args.agent:
        raise UserError("say what to retire: seats ('voiceline directory retire SEAT...') "
                        "or agents ('voiceline directory retire --agent ID')")
    rows = _read(args.file) if action == "import" else None
    data = None if action == "import" else existing_data_dir(args.data)
    # (a mistyped --data must not make an empty store to list)
    store = open_store(args.data)
    try:
        if action == "import":
            return _import(store, args.file, *rows)
        if action == "retire":
            from voiceline.server.config import BASELINES_DIR

            failed = _retire(store, args.seats) if args.seats else 0
            return max(failed, _retire_agents(store, args.agent, data / BASELINES_DIR))
        _list(store, args.retired)
        return 0
    except StoreError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()


def _read(path: Path) -> tuple[str, list[str], list[tuple[int, dict]]]:
    """The file's kind (its id column), the columns it sets, and its rows by line."""
    try:
        reader = csv_rows(path, partial(print, file=sys.stderr))
        header = [name.strip() for name in reader.fieldnames or []]
        kind = next((k for k in KINDS if k in header), None)
        if kind is None:
            raise UserError(f"{path}: the header must name seat_id (with team, label) or "
                            f"agent_id (with display_name, team); it has "
                            f"{', '.join(header) or 'nothing'}")
        unknown = [h for h in header if h not in (kind, *KINDS[kind])]
        if unknown:
            raise UserError(f"{path}: unknown column(s) {', '.join(unknown)}; a {kind} "
                            f"file may have {', '.join(KINDS[kind])}")
        reader.fieldnames = header
        rows = []
        for row in reader:
            if len(rows) == MAX_ROWS:
                raise UserError(f"{path}: more than {MAX_ROWS:,} rows; split the file")
            rows.append((reader.line_num, row))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is neither UTF-8 nor GB18030 text; save it as CSV UTF-8"
                        ) from None
    except csv.Error as exc:
        raise UserError(f"{path} is not a readable CSV file: {exc}") from None
    return kind, [h for h in header if h != kind], rows


def _cell(row: dict, column: str) -> str | None:
    value = row.get(column)
    if isinstance(value, list):  # more cells than the header names
        value = ",".join(value)
    value = (value or "").strip()
    return value or None


def _import(store, path: Path, kind: str, columns: list[str],
            rows: list[tuple[int, dict]]) -> int:
    from emotion.baseline import BaselineError, check_agent_id
    from voiceline.store import StoreError

    noun = kind.removesuffix("_id")
    known = {e[kind]: e for e in (store.list_seats(retired=True) if noun == "seat"
                                  else store.list_agents())}
    user = cli_user()
    added = updated = 0
    refused, tenures = [], []
    for line, row in rows:
        item_id = _cell(row, kind)
        if item_id is None:
            refused.append(f"line {line}: no {kind}")
            continue
        if None in row:  # csv puts cells past the header under None
            refused.append(f"line {line}: more cells than the header has columns")
            continue
        if kind == "agent_id":
            try:
                check_agent_id(item_id)
            except BaselineError as exc:
                refused.append(f"line {line}: {exc}")
                continue
        old = known.get(item_id, {})
        if old.get("retired_s") is not None:
            tenures.append(item_id)
        fields = {c: (_cell(row, c) if c in columns else old.get(c)) for c in KINDS[kind]}
        try:
            item = put_entry(store, user, noun, item_id, fields, "cli")
        except (StoreError, ValueError) as exc:
            refused.append(f"line {line}: {item_id}: {exc}")
            continue
        added += item_id not in known
        updated += item_id in known
        known[item_id] = item
    for problem in refused[:20]:
        print(f"{path}: {problem}", file=sys.stderr)
    if len(refused) > 20:
        print(f"{path}: ... and {len(refused) - 20} more", file=sys.stderr)
    print(f"{noun}s: {added} added, {updated} updated"
          + (f"; {len(refused)} row(s) refused" if refused else ""))
    if tenures:
        print(f"retired agent id(s) given a new tenure from now (the next user sees "
              f"nothing from before): {', '.join(tenures[:20])}"
              + (f" and {len(tenures) - 20} more" if len(tenures) > 20 else ""))
    return 1 if refused else 0


def _retire(store, seats: list[str]) -> int:
    from voiceline.store import StoreError

    user = cli_user()
    failed = 0
    for seat_id in seats:
        try:  # one seat's problem (unknown, live, an empty id) leaves the others to retire
            seat = retire_seat(store, user, seat_id, "cli")
            print(f"retired seat {seat['seat_id']}")
        except StoreError as exc:
            print(f"seat {seat_id!r}: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _retire_agents(store, agents: list[str], baselines_dir: Path) -> int:
    from voiceline.store import StoreError

    user = cli_user()
    failed = 0
    for agent_id in agents:
        try:  # one agent's problem (unknown, live, still a user's) leaves the others
            agent = retire_agent(store, user, agent_id, "cli", baselines_dir)
        except StoreError as exc:
            print(f"agent {agent_id!r}: {exc}", file=sys.stderr)
            failed += 1
            continue
        except OSError as exc:  # retired in the store, but a baseline file did not move
            print(f"agent {agent_id!r}: retired, but its baseline could not be moved "
                  f"({exc}); move {baselines_dir / agent_id}.json (and .16k.json) into "
                  f"{baselines_dir / 'history' / 'retired'} by hand", file=sys.stderr)
            failed += 1
            continue
        moved = agent["baselines_moved"]
        print(f"retired agent {agent['agent_id']}: "
              + (f"baseline moved to {', '.join(str(p) for p in moved)}" if moved
                 else "no baseline to move")
              + "; the next user given this id starts afresh")
    return 1 if failed else 0


def _list(store, retired: bool) -> None:
    out = SafeWriter(sys.stdout, lineterminator="\n")
    out.writerow(["seat_id", "team", "label", "retired"])
    for seat in store.list_seats(retired=retired):
        out.writerow([seat["seat_id"], seat["team"] or "", seat["label"] or "",
                      "yes" if seat["retired_s"] is not None else ""])
    out.writerow([])
    out.writerow(["agent_id", "display_name", "team", *(["retired"] if retired else [])])
    for agent in store.list_agents():
        if agent["retired_s"] is not None and not retired:
            continue
        out.writerow([agent["agent_id"], agent["display_name"] or "", agent["team"] or "",
                      *(["yes" if agent["retired_s"] is not None else ""] if retired
                        else [])])
