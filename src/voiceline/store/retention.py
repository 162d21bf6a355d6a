"""Deleting what is older than a centre keeps: calls and their alerts, inspected
recordings' results, the audit log, and dead session tokens.

A hotline's record-keeping rules decide how long each is kept, so the server's settings
name the periods (``record_retention_days``, ``audit_retention_days``; 0 keeps
everything, the default). Session tokens are only ever needed while they live, so those
that expired or were revoked more than :data:`DEAD_SESSION_KEEP_S` ago always go. The
copy of the store an upgrade keeps beside it goes once it is older than the longer of the
two periods (:func:`prune_upgrade_copies`), and stays while neither is set.

Each call of :meth:`RetentionMixin.prune_batch` deletes at most ``limit`` rows of one
kind in one short transaction, so that a server pruning a year's backlog keeps writing
its live alerts in between (its store thread serves both).
"""

from __future__ import annotations

from pathlib import Path

from voiceline.store import values
from voiceline.store.database import upgrade_copies

#: A session token that ended (expired or revoked) this long ago is deleted.
DEAD_SESSION_KEEP_S = 30 * 86400.0
#: What :meth:`RetentionMixin.prune_batch` deletes, in the order a full prune goes.
KINDS = ("calls", "qa_calls", "audit", "sessions")


class RetentionMixin:
    """Store methods that delete old rows (mixed into :class:`Store`)."""

    def prune_batch(self, kind: str, before_s: float, limit: int = 2000) -> int:
        """Delete up to ``limit`` of the oldest rows of ``kind`` older than ``before_s``;
        returns how many went (fewer than ``limit``: nothing older is left).

        - ``calls``: calls that started before ``before_s`` and have ended, with their
          alerts and alert events (a live call is never deleted; seats and agents stay).
        - ``qa_calls``: inspected recordings analysed before ``before_s``, with their
          flags and the reviewers' verdicts on them.
        - ``audit``: audit entries written before ``before_s``.
        - ``sessions``: session tokens that expired or were revoked before ``before_s``.
        """
        kind = values.choice(kind, "kind", KINDS)
        before_s = values.finite(before_s, "before_s")
        limit = values.integer(limit, "limit")
        with self._write() as conn:
            if kind == "calls":
                ids = [r[0] for r in conn.execute(
                    "SELECT call_id FROM calls WHERE started_s < ? AND ended_s IS NOT NULL "
                    "ORDER BY started_s LIMIT ?", (before_s, limit))]
                _delete_in(conn, "DELETE FROM alert_events WHERE alert_id IN (SELECT id FROM "
                                 "alerts WHERE call_id IN ({}))", ids)
                _delete_in(conn, "DELETE FROM alerts WHERE call_id IN ({})", ids)
                _delete_in(conn, "DELETE FROM calls WHERE call_id IN ({})", ids)
                return len(ids)
            if kind == "qa_calls":
                ids = [r[0] for r in conn.execute(
                    "SELECT call_id FROM qa_calls WHERE analysed_s < ? ORDER BY analysed_s "
                    "LIMIT ?", (before_s, limit))]
                _delete_in(conn, "DELETE FROM qa_flags WHERE call_id IN ({})", ids)
                _delete_in(conn, "DELETE FROM qa_claims WHERE call_id IN ({})", ids)
                _delete_in(conn, "DELETE FROM qa_calls WHERE call_id IN ({})", ids)
                return len(ids)
            if kind == "audit":
                return conn.execute("DELETE FROM audit WHERE id IN (SELECT id FROM audit "
                                    "WHERE time_s < ? ORDER BY id LIMIT ?)",
                                    (before_s, limit)).rowcount
            return conn.execute(
                "DELETE FROM tokens WHERE id IN (SELECT id FROM tokens WHERE kind = 'session' "
                "AND (expires_s < ? OR revoked_s < ?) LIMIT ?)",
                (before_s, before_s, limit)).rowcount


def _delete_in(conn, statement: str, ids: list) -> None:
    if ids:
        conn.execute(statement.format(",".join("?" * len(ids))), ids)


def prune_upgrade_copies(store_path: str | Path, before_s: float) -> list[Path]:
    """Delete the copies of the store that upgrades kept (what the release before reads)
    and that were made before ``before_s``; returns the paths deleted.

    Everything a copy holds was carried into the upgraded store, which keeps or deletes
    it by its own periods; the copy only lets the release before come back. Kept past the
    periods, it would keep every call, result and audit entry of its day for ever.
    """
    before_s = values.finite(before_s, "before_s")
    gone = []
    for copy, made_s in upgrade_copies(store_path):
        if made_s >= before_s:
            break
        for part in (copy, *(copy.with_name(copy.name + end)
                             for end in ("-wal", "-shm", "-journal"))):
            part.unlink(missing_ok=True)
        gone.append(copy)
    return gone
