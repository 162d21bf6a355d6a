"""Agents, seats and calls: who talks, where, and when each call started and ended."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from voiceline.store import values
from voiceline.store.alerts import (
    CALL_ENDED,
    checked_explanations,
    close_open_alerts_of_call,
)
from voiceline.store.database import where
from voiceline.store.errors import ConflictError, InvalidInputError, NotFoundError


def require_agent(conn: sqlite3.Connection, agent_id: str) -> None:
    """Raise a clear error when ``agent_id`` is not a registered agent."""
    if conn.execute("SELECT 1 FROM agents WHERE agent_id = ?", (agent_id,)).fetchone() is None:
        raise InvalidInputError(f"unknown agent {agent_id!r}; register it with "
                                "upsert_agent first")


def _agent(conn: sqlite3.Connection, agent_id: str) -> dict:
    """The agent's row; :class:`NotFoundError` for an unknown id."""
    row = conn.execute("SELECT * FROM agents WHERE agent_id = ?", (agent_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no agent {agent_id!r}")
    return dict(row)


def start_tenure_if_retired(conn: sqlite3.Connection, agent_id: str, now_s: float) -> bool:
    """Give a retired agent id a new tenure from ``now_s`` (see ``Store.retire_agent``);
    True if it was retired."""
    return conn.execute("UPDATE agents SET retired_s = NULL, active_since_s = ? "
                        "WHERE agent_id = ? AND retired_s IS NOT NULL",
                        (now_s, agent_id)).rowcount == 1


def _require_seat(conn: sqlite3.Connection, seat_id: str) -> None:
    if conn.execute("SELECT 1 FROM seats WHERE seat_id = ?", (seat_id,)).fetchone() is None:
        raise InvalidInputError(f"unknown seat {seat_id!r}; register it with upsert_seat first")


def _call(conn: sqlite3.Connection, call_id: str) -> dict:
    row = conn.execute("SELECT * FROM calls WHERE call_id = ?", (call_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no call with id {call_id!r}")
    return dict(row)


class CallsMixin:
    """Store methods for agents, seats and calls (mixed into :class:`Store`)."""

    def upsert_agent(self, agent_id: str, display_name: str | None = None,
                     team: str | None = None, *, now_s: float | None = None) -> dict:
        """Register an agent, or update the display name and team of a known one.

        Returns the agent as a dict: ``agent_id, display_name, team, created_s,
        retired_s, active_since_s`` (``created_s`` is kept from the first registration).
        A retired agent starts a new tenure (see :meth:`retire_agent`).
        """
        agent_id = values.identifier(agent_id, "agent_id")
        display_name = values.text(display_name, "display_name", optional=True)
        team = values.text(team, "team", optional=True)
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            conn.execute("INSERT INTO agents (agent_id, display_name, team, created_s) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET "
                         "display_name = excluded.display_name, team = excluded.team",
                         (agent_id, display_name, team, now_s))
            start_tenure_if_retired(conn, agent_id, now_s)
            return _agent(conn, agent_id)

    def get_agent(self, agent_id: str) -> dict:
        """One agent as a dict (see :meth:`upsert_agent`); :class:`NotFoundError` for an
        unknown id."""
        agent_id = values.text(agent_id, "agent_id")
        with self._read() as conn:
            return _agent(conn, agent_id)

    def retire_agent(self, agent_id: str, *, now_s: float | None = None) -> dict:
        """Mark an agent retired (the person left): their calls, alerts and inspected
        calls stay, for staff. Giving the id to someone new later (:meth:`add_user`,
        :meth:`upsert_agent`) starts a new tenure, and that person sees only what
        happened from its start (``active_since_s``). Retiring a retired agent keeps the
        first time.

        Raises
        ------
        NotFoundError
            Unknown agent.
        ConflictError
            The store shows a call of theirs in progress, or an enabled agent-role user
            still speaks as them (disable that user first).
        """
        agent_id = values.text(agent_id, "agent_id")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            _agent(conn, agent_id)
            live = conn.execute("SELECT call_id FROM calls WHERE agent_id = ? AND ended_s "
                                "IS NULL LIMIT 1", (agent_id,)).fetchone()
            if live is not None:
                raise ConflictError(f"agent {agent_id!r} has call {live[0]!r} in progress; "
                                    "retire them after the call")
            users = [r[0] for r in conn.execute(
                "SELECT name FROM users WHERE agent_id = ? AND disabled_s IS NULL "
                "ORDER BY name", (agent_id,))]
            if users:
                raise ConflictError(f"agent {agent_id!r} is still the agent of enabled "
                                    f"user(s) {', '.join(users)}; disable them first "
                                    f"('voiceline user disable {users[0]}')")
            conn.execute("UPDATE agents SET retired_s = COALESCE(retired_s, ?) "
                         "WHERE agent_id = ?", (now_s, agent_id))
            return _agent(conn, agent_id)

    def ensure_agent(self, agent_id: str, *, now_s: float | None = None) -> bool:
        """Register ``agent_id`` unless it is known; never changes a known agent (a call
        naming an agent must not clear the name and team an administrator gave it).
        Returns True when it was new."""
        return self._insert_if_absent("agents", "agent_id", agent_id, now_s)

    def _insert_if_absent(self, table: str, column: str, entry_id: str,
                          now_s: float | None) -> bool:
        entry_id = values.identifier(entry_id, column)
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            cursor = conn.execute(f"INSERT OR IGNORE INTO {table} ({column}, created_s) "
                                  "VALUES (?, ?)", (entry_id, now_s))
            return cursor.rowcount == 1

    def list_agents(self, team: str | None = None) -> list[dict]:
        """All agents (of one ``team`` if given), ordered by ``agent_id``."""
        team = values.text(team, "team", optional=True)
        with self._read() as conn:
            clause, params = where(("team = ?", team))
            rows = conn.execute(f"SELECT * FROM agents{clause} ORDER BY agent_id",
                                params).fetchall()
        return [dict(row) for row in rows]

    def upsert_seat(self, seat_id: str, team: str | None = None, label: str | None = None,
                    *, now_s: float | None = None) -> dict:
        """Register a seat (a headset position or a telephony channel), or update it; a
        retired seat is back in service."""
        seat_id = values.identifier(seat_id, "seat_id")
        team = values.text(team, "team", optional=True)
        label = values.text(label, "label", optional=True)
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            conn.execute("INSERT INTO seats (seat_id, team, label, created_s) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (seat_id) DO UPDATE SET "
                         "team = excluded.team, label = excluded.label, retired_s = NULL",
                         (seat_id, team, label, now_s))
            return dict(conn.execute("SELECT * FROM seats WHERE seat_id = ?",
                                     (seat_id,)).fetchone())

    def ensure_seat(self, seat_id: str, *, now_s: float | None = None) -> bool:
        """Register ``seat_id`` unless it is known; never changes a known seat. Returns
        True when it was new."""
        return self._insert_if_absent("seats", "seat_id", seat_id, now_s)

    def retire_seat(self, seat_id: str, *, now_s: float | None = None) -> dict:
        """Take a seat out of service: it leaves :meth:`list_seats` (and so the wall)
        and keeps its calls. A call on it, or :meth:`upsert_seat`, puts it back.

        Raises
        ------
        NotFoundError
            Unknown seat.
        ConflictError
            The store shows a call on it in progress.
        """
        seat_id = values.text(seat_id, "seat_id")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM seats WHERE seat_id = ?",
                            (seat_id,)).fetchone() is None:
                raise NotFoundError(f"no seat {seat_id!r}")
            live = conn.execute("SELECT call_id FROM calls WHERE seat_id = ? AND ended_s "
                                "IS NULL LIMIT 1", (seat_id,)).fetchone()
            if live is not None:
                raise ConflictError(f"seat {seat_id!r} has call {live[0]!r} in progress; "
                                    "retire it after the call")
            conn.execute("UPDATE seats SET retired_s = COALESCE(retired_s, ?) "
                         "WHERE seat_id = ?", (now_s, seat_id))
            return dict(conn.execute("SELECT * FROM seats WHERE seat_id = ?",
                                     (seat_id,)).fetchone())

    def list_seats(self, team: str | None = None, *, retired: bool = False) -> list[dict]:
        """The seats in service (of one ``team`` if given; with ``retired``, the
        retired ones too), ordered by ``seat_id``."""
        team = values.text(team, "team", optional=True)
        with self._read() as conn:
            clause, params = where(("team = ?", team))
            if not retired:
                clause += (" AND" if clause else " WHERE") + " retired_s IS NULL"
            rows = conn.execute(f"SELECT * FROM seats{clause} ORDER BY seat_id",
                                params).fetchall()
        return [dict(row) for row in rows]

    def start_call(self, call_id: str, seat_id: str, agent_id: str | None, protocol: str,
                   *, started_s: float | None = None) -> dict:
        """Record that a call began on a registered seat.

        Parameters
        ----------
        call_id : str
            Unique id of the call (e.g. the telephony stream's UUID).
        seat_id : str
            A seat registered with :meth:`upsert_seat`.
        agent_id : str or None
            A registered agent, or ``None`` when nobody is known to be on the seat.
        protocol : str
            Where the audio comes from (``"audio_fork"``, ``"twilio"``, ``"audiosocket"``,
            ``"microphone"``, ...).
        started_s : float, optional
            Unix time of the start; default now.
        """
        call_id = values.identifier(call_id, "call_id")
        seat_id = values.identifier(seat_id, "seat_id")
        agent_id = values.identifier(agent_id, "agent_id", optional=True)
        protocol = values.text(protocol, "protocol")
        started_s = values.time_s(started_s, "started_s")
        with self._write() as conn:
            _require_seat(conn, seat_id)
            if agent_id is not None:
                require_agent(conn, agent_id)
            if conn.execute("SELECT 1 FROM calls WHERE call_id = ?", (call_id,)).fetchone():
                raise ConflictError(f"call {call_id!r} was already started; call ids must be "
                                    "unique")
            conn.execute("INSERT INTO calls (call_id, seat_id, agent_id, protocol, started_s) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (call_id, seat_id, agent_id, protocol, started_s))
            # a call on a retired seat puts it back in service
            conn.execute("UPDATE seats SET retired_s = NULL WHERE seat_id = ? AND retired_s "
                         "IS NOT NULL", (seat_id,))
            return _call(conn, call_id)

    def end_call(self, call_id: str, reason: str | None = None, *,
                 ended_s: float | None = None, alerts_reason: str = CALL_ENDED,
                 alert_explanations: Mapping[int, str] | None = None) -> dict:
        """Record the end of a call, and close any of its alerts still open.

        Each alert closed here gets a ``closed`` event in the same transaction, so a
        dashboard never shows an alert open on a call that has ended. They close with
        ``alerts_reason``: ``"call ended"``, or ``"server stopped"`` when the server cut
        the call (:data:`~voiceline.store.alerts.SERVER_STOPPED`), and with their final
        words where ``alert_explanations`` (alert id → text) has them: the words the
        detector gave when it opened or last updated an alert say how long it had lasted
        then.
        """
        call_id = values.text(call_id, "call_id")
        reason = values.text(reason, "reason", optional=True)
        alerts_reason = values.text(alerts_reason, "alerts_reason")
        alert_explanations = checked_explanations(alert_explanations)
        ended_s = values.time_s(ended_s, "ended_s")
        with self._write() as conn:
            call = _call(conn, call_id)
            if call["ended_s"] is not None:
                raise ConflictError(f"call {call_id!r} already ended at {call['ended_s']}")
            if ended_s < call["started_s"]:
                raise InvalidInputError(f"call {call_id!r} cannot end at {ended_s}, before it "
                                        f"started at {call['started_s']}")
            conn.execute("UPDATE calls SET ended_s = ?, end_reason = ? WHERE call_id = ?",
                         (ended_s, reason, call_id))
            close_open_alerts_of_call(conn, call_id, ended_s, alerts_reason,
                                      alert_explanations)
            return _call(conn, call_id)

    def get_call(self, call_id: str) -> dict:
        """One call as a dict; :class:`NotFoundError` for an unknown id."""
        call_id = values.text(call_id, "call_id")
        with self._read() as conn:
            return _call(conn, call_id)

    def list_calls(self, *, agent_id: str | None = None, seat_id: str | None = None,
                   since_s: float | None = None, until_s: float | None = None,
                   active: bool | None = None, limit: int = 100) -> list[dict]:
        """Calls newest first, filtered by agent, seat, start time and whether still live.

        ``since_s`` is inclusive and ``until_s`` exclusive, both on ``started_s``;
        ``active=True`` keeps calls not yet ended, ``False`` those that have ended.
        """
        agent_id = values.text(agent_id, "agent_id", optional=True)
        seat_id = values.text(seat_id, "seat_id", optional=True)
        since_s = values.optional_time_s(since_s, "since_s")
        until_s = values.optional_time_s(until_s, "until_s")
        limit = values.limit(limit)
        active = None if active is None else bool(active)
        clause, params = where(("agent_id = ?", agent_id), ("seat_id = ?", seat_id),
                               ("started_s >= ?", since_s), ("started_s < ?", until_s),
                               ("(ended_s IS NULL) = ?", active))
        with self._read() as conn:
            rows = conn.execute(f"SELECT * FROM calls{clause} "
                                "ORDER BY started_s DESC, call_id LIMIT ?",
                                [*params, limit]).fetchall()
        return [dict(row) for row in rows]
