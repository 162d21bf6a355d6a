"""Retention: how long deleting a year's old records holds the store, per batch size.

Usage::

    python benchmarks/retention.py [--quick] [--calls N] [--batches 2000,500]

A store in a temporary folder is seeded with ``--calls`` ended calls 400 days old (each
with a closed alert of three events and one audit entry) and a tenth as many inspected
recordings of three flags each, then everything older than 30 days is deleted with
:meth:`voiceline.store.Store.prune_batch`, ``B`` rows per transaction, for each batch
size asked (the store is seeded afresh for each). The server deletes in batches of
:data:`voiceline.server.service.PRUNE_BATCH`; its store thread also writes each tick's
live alerts, so the longest batch is the longest a live alert can wait behind retention.

Default 200,000 calls (a 300-seat centre's week or so), about a minute per batch size;
``--quick`` (for tests): 5,000 calls. Prints a table and, as its last line, one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from voiceline.server.service import PRUNE_BATCH
from voiceline.store import Store

DAY_S = 86400.0
KEEP_DAYS = 30.0


def seed(store: Store, n_calls: int, now_s: float) -> None:
    """Old rows straight through SQL, one transaction (the store's API would take minutes)."""
    store.upsert_seat("S01")
    store.upsert_agent("A1")
    conn, t0 = store._conn, now_s - 400 * DAY_S
    conn.execute("BEGIN")
    for i in range(n_calls):
        s = t0 + i
        conn.execute("INSERT INTO calls (call_id, seat_id, agent_id, protocol, started_s, "
                     "ended_s, end_reason) VALUES (?, 'S01', 'A1', 'twilio', ?, ?, 'hangup')",
                     (f"c{i}", s, s + 200))
        alert_id = conn.execute(
            "INSERT INTO alerts (call_id, seat_id, agent_id, kind, severity, state, opened_s, "
            "updated_s, closed_s, score, peak_score, explanation) VALUES (?, 'S01', 'A1', "
            "'agitation', 'warning', 'closed', ?, ?, ?, 0.9, 0.95, 'loudness +3 σ')",
            (f"c{i}", s, s, s + 5)).lastrowid
        conn.executemany("INSERT INTO alert_events (alert_id, type, time_s, payload) "
                         "VALUES (?, ?, ?, '{}')",
                         [(alert_id, kind, s) for kind in ("opened", "updated", "closed")])
        conn.execute("INSERT INTO audit (time_s, user_name, action, object, detail) "
                     "VALUES (?, 'sup', 'ack_alert', ?, '{}')", (s, f"alert:{alert_id}"))
        if i % 10 == 0:
            conn.execute("INSERT INTO qa_calls (call_id, path, agent_id, duration_s, score, "
                         "analysed_s) VALUES (?, ?, 'A1', 300, 40, ?)", (f"q{i}", f"/r/{i}.wav", s))
            conn.executemany(
                "INSERT INTO qa_flags (call_id, check_name, start_s, end_s, severity, channel, "
                "detail, created_s) VALUES (?, 'dead_air', ?, ?, 'warning', 'both', 'x', ?)",
                [(f"q{i}", k, k + 9, s) for k in range(3)])
    conn.execute("COMMIT")


def measure(n_calls: int, batch: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "voiceline.db")
        now_s = time.time()
        seed(store, n_calls, now_s)
        size_mb = sum(f.stat().st_size for f in Path(folder).iterdir()) / 1e6  # with -wal
        out = {"batch": batch, "store_mb": round(size_mb, 1)}
        for kind in ("calls", "qa_calls", "audit"):
            times, rows = [], 0
            while True:
                t0 = time.perf_counter()
                n = store.prune_batch(kind, now_s - KEEP_DAYS * DAY_S, batch)
                times.append(time.perf_counter() - t0)
                rows += n
                if n < batch:
                    break
            out[kind] = {"rows": rows, "batches": len(times), "total_s": round(sum(times), 3),
                         "median_ms": round(1e3 * statistics.median(times), 1),
                         "max_ms": round(1e3 * max(times), 1)}
        left = store._conn.execute("SELECT (SELECT count(*) FROM calls) + "
                                   "(SELECT count(*) FROM qa_calls) + "
                                   "(SELECT count(*) FROM audit)").fetchone()[0]
        out["rows_left"] = left
        store.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 calls, for tests")
    parser.add_argument("--calls", type=int, default=None, help="old calls (default 200,000)")
    parser.add_argument("--batches", default=f"2000,{PRUNE_BATCH}",
                        help="batch sizes to try, comma-separated")
    args = parser.parse_args(argv)
    n_calls = args.calls or (5000 if args.quick else 200_000)
    results = [measure(n_calls, int(b)) for b in args.batches.split(",")]
    print(f"{n_calls:,} old calls; rows older than {KEEP_DAYS:g} days deleted per batch size")
    for r in results:
        for kind in ("calls", "qa_calls", "audit"):
            k = r[kind]
            print(f"  batch {r['batch']:>5}  {kind:<9} {k['rows']:>7} rows in {k['batches']:>4} "
                  f"batches, {k['total_s']:.2f} s; per batch median {k['median_ms']:.0f} ms, "
                  f"max {k['max_ms']:.0f} ms")
    server = next((r for r in results if r["batch"] == PRUNE_BATCH), results[-1])
    print(json.dumps({"mode": "quick" if args.quick else "full", "calls": n_calls,
                      "server_batch": PRUNE_BATCH,
                      "server_batch_max_ms": max(server[k]["max_ms"]
                                                 for k in ("calls", "qa_calls", "audit")),
                      "rows_left": sum(r["rows_left"] for r in results),
                      "runs": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
