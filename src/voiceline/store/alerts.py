"""Alerts and their event log: the live feed a supervisor's dashboard follows.

An alert is opened by the detector on a live call, updated while the agent's voice stays
out of range, and closed when it returns (or when the call ends). Independently, a
supervisor acknowledges it and later resolves it with a note; resolving implies
acknowledging. Every change appends one row to ``alert_events`` in the same transaction,
carrying the alert's full state after the change. Event ids come from an AUTOINCREMENT
key and writers are serialised by SQLite's write lock, so ids increase in commit order
and are never reused: a dashboard that remembers the last id it saw and asks for
:meth:`AlertsMixin.events_after` that id misses nothing, across server restarts too.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

from voiceline.store import values
from voiceline.store.database import where
from voiceline.store.errors import ConflictError, InvalidInputError, NotFoundError

ALERT_KINDS = ("agitation", "low_energy")
SEVERITIES = ("warning", "critical")
ALERT_STATES = ("open", "closed")
EVENT_TYPES = ("opened", "updated", "closed", "acknowledged", "resolved")
BASELINES = ("agent", "population")
"""Which baseline judged an alert: the agent's own, or the agents' usual."""
MAX_EXPLANATION_CHARS = 2000
CALL_ENDED = "call ended"
"""Close reason of the alerts still open when their call ends."""
SERVER_STOPPED = "server stopped"
"""Close reason of the alerts still open when the server stopped during their call (a
shutdown, or a crash found at the next start): the call was cut, not hung up."""


def _alert_id(value: object) -> int:
    return values.integer(value, "alert id")


def _get(conn: sqlite3.Connection, alert_id: int) -> dict:
    row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no alert with id {alert_id}")
    alert = dict(row)
    alert["drivers"] = json.loads(alert["drivers"])
    return alert


def _record(conn: sqlite3.Connection, alert_id: int, event_type: str, time_s: float) -> dict:
    """Append the event for a change just made; returns the alert's new state."""
    alert = _get(conn, alert_id)
    conn.execute("INSERT INTO alert_events (alert_id, type, time_s, payload) "
                 "VALUES (?, ?, ?, ?)", (alert_id, event_type, time_s, json.dumps(alert)))
    return alert


def _close(conn: sqlite3.Connection, alert_id: int, reason: str | None, now_s: float,
           explanation: str | None = None) -> dict:
    conn.execute("UPDATE alerts SET state = 'closed', closed_s = ?1, updated_s = ?1, "
                 "close_reason = ?2, explanation = COALESCE(?3, explanation) WHERE id = ?4",
                 (now_s, reason, explanation, alert_id))
    return _record(conn, alert_id, "closed", now_s)


def checked_explanations(explanations: Mapping[int, str] | None) -> dict[int, str]:
    """Checked final words per alert id (see :func:`close_open_alerts_of_call`)."""
    return {_alert_id(alert_id): values.text(text, "explanation",
                                             max_chars=MAX_EXPLANATION_CHARS)
            for alert_id, text in (explanations or {}).items()}


def close_open_alerts_of_call(conn: sqlite3.Connection, call_id: str,
                              now_s: float, reason: str = CALL_ENDED,
                              explanations: Mapping[int, str] | None = None) -> list[dict]:
    """Close every open alert of a call (inside the caller's transaction).

    ``explanations``: an alert's final words by id (its duration as the call ended),
    from :func:`checked_explanations`; the others keep the words they had.
    """
    ids = [row[0] for row in conn.execute("SELECT id FROM alerts WHERE call_id = ? AND "
                                          "state = 'open' ORDER BY id", (call_id,))]
    words = explanations or {}
    return [_close(conn, alert_id, reason, now_s, words.get(alert_id)) for alert_id in ids]


def _event(row: sqlite3.Row) -> dict:
    return {"event_id": row["event_id"], "alert_id": row["alert_id"], "type": row["type"],
            "time_s": row["time_s"], "alert": json.loads(row["payload"])}



def _utc(t_s: float) -> str:
    """A moment in words for a message: 2026-11-30 14:32:05 UTC (not a Unix time)."""
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t_s))

class AlertsMixin:
    """Store methods for alerts and the event feed (mixed into :class:`Store`)."""

    def open_alert(self, call_id: str, kind: str, severity: str, score: float,
                   explanation: str, drivers: list[dict] = (), *,
                   baseline: str | None = None, baseline_updated: str | None = None,
                   now_s: float | None = None) -> dict:
        """Open an alert on a live call; its seat and agent are taken from the call.

        Parameters
        ----------
        call_id : str
            A call started with :meth:`start_call` and not yet ended.
        kind : {"agitation", "low_energy"}
        severity : {"warning", "critical"}
        score : float
            The detector's score (e.g. the model's probability) when the alert opened;
            also the first ``peak_score``.
        explanation : str
            Plain words for the supervisor ("loudness +2.6 σ above A1001's usual ...").
        drivers : list of dict
            The features that drove the alert, e.g. ``[{"feature": "loudness_mean_sone",
            "z": 2.6}]``; stored as JSON.
        baseline : {"agent", "population"}, optional
            Which baseline judged the voice: the agent's own, or the agents' usual (the
            agent had none). None: not known (kept as NULL).
        baseline_updated : str, optional
            The agent's baseline's ``updated`` time (ISO 8601), which says which version
            of it judged; only with ``baseline="agent"``.
        now_s : float, optional
            Unix time of opening; default now.

        Returns
        -------
        dict
            The alert: ``id, call_id, seat_id, agent_id, kind, severity, state, opened_s,
            updated_s, closed_s, close_reason, score, peak_score, explanation, drivers,
            acknowledged_by, acknowledged_s, resolved_by, resolved_s, resolution_note,
            baseline, baseline_updated``.
        """
        call_id = values.text(call_id, "call_id")
        baseline = values.choice(baseline, "baseline", BASELINES, optional=True)
        baseline_updated = values.text(baseline_updated, "baseline_updated", optional=True,
                                       max_chars=64)
        if baseline_updated is not None and baseline != "agent":
            raise InvalidInputError("baseline_updated names a version of the agent's own "
                                    "baseline; give it with baseline='agent' only")
        kind = values.choice(kind, "alert kind", ALERT_KINDS)
        severity = values.choice(severity, "severity", SEVERITIES)
        score = values.finite(score, "score")
        explanation = values.text(explanation, "explanation", max_chars=MAX_EXPLANATION_CHARS)
        drivers = values.json_list_of_objects(drivers, "drivers")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            call = conn.execute("SELECT seat_id, agent_id, ended_s FROM calls "
                                "WHERE call_id = ?", (call_id,)).fetchone()
            if call is None:
                raise NotFoundError(f"no call with id {call_id!r}; start_call it before "
                                    "opening alerts on it")
            if call["ended_s"] is not None:
                raise ConflictError(f"call {call_id!r} ended at {call['ended_s']}; alerts "
                                    "are opened on live calls only")
            alert_id = conn.execute(
                "INSERT INTO alerts (call_id, seat_id, agent_id, kind, severity, state, "
                "opened_s, updated_s, score, peak_score, explanation, drivers, baseline, "
                "baseline_updated) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)",
                (call_id, call["seat_id"], call["agent_id"], kind, severity, now_s, now_s,
                 score, score, explanation, drivers, baseline, baseline_updated)).lastrowid
            return _record(conn, alert_id, "opened", now_s)

    def update_alert(self, alert_id: int, *, score: float | None = None,
                     severity: str | None = None, explanation: str | None = None,
                     drivers: list[dict] | None = None, now_s: float | None = None) -> dict:
        """Change an open alert's score, severity, explanation or drivers.

        ``peak_score`` keeps the highest score seen. Updating a closed alert is a
        :class:`ConflictError` (the detector should open a new one).
        """
        alert_id = _alert_id(alert_id)
        changes = {}
        if score is not None:
            changes["score"] = values.finite(score, "score")
        if severity is not None:
            changes["severity"] = values.choice(severity, "severity", SEVERITIES)
        if explanation is not None:
            changes["explanation"] = values.text(explanation, "explanation",
                                                 max_chars=MAX_EXPLANATION_CHARS)
        if drivers is not None:
            changes["drivers"] = values.json_list_of_objects(drivers, "drivers")
        if not changes:
            raise InvalidInputError("update_alert needs at least one of score, severity, "
                                    "explanation, drivers")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            alert = _get(conn, alert_id)
            if alert["state"] != "open":
                raise ConflictError(f"alert {alert_id} is closed; open a new alert instead "
                                    "of updating it")
            if "score" in changes:
                changes["peak_score"] = max(alert["peak_score"], changes["score"])
            assignments = ", ".join(f"{column} = ?" for column in changes)
            conn.execute(f"UPDATE alerts SET {assignments}, updated_s = ? WHERE id = ?",
                         [*changes.values(), now_s, alert_id])
            return _record(conn, alert_id, "updated", now_s)

    def close_alert(self, alert_id: int, reason: str | None = None, *,
                    explanation: str | None = None, now_s: float | None = None) -> dict:
        """Close an open alert; closing twice is a :class:`ConflictError`.

        ``reason`` says why, e.g. ``"recovered"`` or ``"silence"`` (the alert rules'
        words); :meth:`end_call` closes with ``"call ended"`` or ``"server stopped"``.
        ``explanation``: its final words (how long it lasted), if they changed.
        """
        alert_id = _alert_id(alert_id)
        reason = values.text(reason, "reason", optional=True)
        explanation = values.text(explanation, "explanation", optional=True,
                                  max_chars=MAX_EXPLANATION_CHARS)
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            alert = _get(conn, alert_id)
            if alert["state"] == "closed":
                raise ConflictError(f"alert {alert_id} is already closed (at "
                                    f"{alert['closed_s']})")
            return _close(conn, alert_id, reason, now_s, explanation)

    def close_alerts_of_call(self, call_id: str, reason: str, *,
                             now_s: float | None = None) -> list[dict]:
        """Close every open alert of a call that goes on (for instance when the engine
        that opened them was replaced and no longer knows them); returns them, closed."""
        call_id = values.text(call_id, "call_id")
        reason = values.text(reason, "reason")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            return close_open_alerts_of_call(conn, call_id, now_s, reason)

    def acknowledge_alert(self, alert_id: int, user: str, *,
                          now_s: float | None = None) -> dict:
        """Record that ``user`` (a user name) has seen the alert; only the first one counts.

        A second acknowledgement is a :class:`ConflictError` naming who was first.
        """
        alert_id = _alert_id(alert_id)
        user = values.text(user, "user")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            alert = _get(conn, alert_id)
            if alert["acknowledged_s"] is not None:
                raise ConflictError(f"alert {alert_id} was already acknowledged by "
                                    f"{alert['acknowledged_by']} at "
                                    f"{_utc(alert['acknowledged_s'])}")
            conn.execute("UPDATE alerts SET acknowledged_by = ?1, acknowledged_s = ?2, "
                         "updated_s = ?2 WHERE id = ?3", (user, now_s, alert_id))
            return _record(conn, alert_id, "acknowledged", now_s)

    def resolve_alert(self, alert_id: int, user: str, note: str | None = None, *,
                      now_s: float | None = None) -> dict:
        """Record how ``user`` dealt with the alert; acknowledges it too if nobody had.

        Resolving an alert already resolved is a :class:`ConflictError`. One ``resolved``
        event is written; its payload shows the acknowledgement as well.
        """
        alert_id = _alert_id(alert_id)
        user = values.text(user, "user")
        note = values.note(note, "note")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            alert = _get(conn, alert_id)
            if alert["resolved_s"] is not None:
                raise ConflictError(f"alert {alert_id} was already resolved by "
                                    f"{alert['resolved_by']} at {_utc(alert['resolved_s'])}")
            conn.execute("UPDATE alerts SET resolved_by = ?1, resolved_s = ?2, "
                         "resolution_note = ?3, updated_s = ?2, "
                         "acknowledged_by = coalesce(acknowledged_by, ?1), "
                         "acknowledged_s = coalesce(acknowledged_s, ?2) WHERE id = ?4",
                         (user, now_s, note, alert_id))
            return _record(conn, alert_id, "resolved", now_s)

    def get_alert(self, alert_id: int) -> dict:
        """One alert's current state; :class:`NotFoundError` for an unknown id."""
        alert_id = _alert_id(alert_id)
        with self._read() as conn:
            return _get(conn, alert_id)

    def list_alerts(self, *, state: str | None = None, kind: str | None = None,
                    severity: str | None = None, agent_id: str | None = None,
                    seat_id: str | None = None, call_id: str | None = None,
                    since_s: float | None = None, acknowledged: bool | None = None,
                    resolved: bool | None = None, limit: int = 100) -> list[dict]:
        """Alerts newest first (by id), filtered; ``since_s`` bounds ``opened_s`` (inclusive).

        ``acknowledged`` / ``resolved``: ``True`` keeps only those that are, ``False``
        only those that are not, ``None`` both.
        """
        state = values.choice(state, "alert state", ALERT_STATES, optional=True)
        kind = values.choice(kind, "alert kind", ALERT_KINDS, optional=True)
        severity = values.choice(severity, "severity", SEVERITIES, optional=True)
        agent_id = values.text(agent_id, "agent_id", optional=True)
        seat_id = values.text(seat_id, "seat_id", optional=True)
        call_id = values.text(call_id, "call_id", optional=True)
        since_s = values.optional_time_s(since_s, "since_s")
        limit = values.limit(limit)
        clause, params = where(
            ("state = ?", state), ("kind = ?", kind), ("severity = ?", severity),
            ("agent_id = ?", agent_id), ("seat_id = ?", seat_id), ("call_id = ?", call_id),
            ("opened_s >= ?", since_s),
            ("(acknowledged_s IS NOT NULL) = ?", None if acknowledged is None
             else bool(acknowledged)),
            ("(resolved_s IS NOT NULL) = ?", None if resolved is None else bool(resolved)))
        with self._read() as conn:
            ids = [row[0] for row in conn.execute(
                f"SELECT id FROM alerts{clause} ORDER BY id DESC LIMIT ?", [*params, limit])]
            return [_get(conn, alert_id) for alert_id in ids]

    def events_after(self, event_id: int, limit: int = 1000) -> list[dict]:
        """Events with an id greater than ``event_id``, oldest first, at most ``limit``.

        Each event is ``{"event_id", "alert_id", "type", "time_s", "alert"}`` where
        ``alert`` is the alert's full state right after the event. Pass 0 for all.
        """
        event_id = values.integer(event_id, "event_id (the last id seen, 0 for none)",
                                  minimum=0)
        limit = values.limit(limit)
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM alert_events WHERE event_id > ? "
                                "ORDER BY event_id LIMIT ?", (event_id, limit)).fetchall()
        return [_event(row) for row in rows]

    def last_event_id(self) -> int:
        """The id of the newest event, 0 when there has been none (ids are never reused,
        so after old events are deleted it is still the last id ever given)."""
        with self._read() as conn:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'alert_events'"
                               ).fetchone()
            newest = conn.execute("SELECT coalesce(max(event_id), 0) FROM alert_events"
                                  ).fetchone()[0]
        return max(newest, row[0] if row else 0)
