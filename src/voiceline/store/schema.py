"""The store's schema as an ordered list of migrations, and the code that applies them.

The schema version lives in SQLite's ``PRAGMA user_version`` (0 for an empty file). On
open, :func:`upgrade` takes the write lock (``BEGIN IMMEDIATE``), re-reads the version
under it (another process may have just migrated), applies every missing migration and
sets the new version, all in one transaction: a failing migration leaves the file as it
was. A file whose version is newer than :data:`SCHEMA_VERSION` is refused.

Rules for adding a migration: append, never edit a released one; keep each statement
separate (``executescript`` would commit half-way); a table rebuild follows SQLite's
twelve-step ``ALTER TABLE`` procedure, since ``PRAGMA foreign_keys`` cannot change inside
a transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from voiceline.store.errors import SchemaError


@dataclass(frozen=True)
class Migration:
    """One step of the schema: ``apply(conn)`` runs inside the upgrade transaction."""

    description: str
    apply: Callable[[sqlite3.Connection], None]


def sql_migration(description: str, *statements: str) -> Migration:
    """A migration made of SQL statements, executed one at a time in order."""

    def apply(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return Migration(description, apply)


_V1_ACCOUNTS_AND_CALLS = sql_migration(
    "agents, seats, users, tokens, calls, audit",
    """CREATE TABLE agents (
        agent_id     TEXT PRIMARY KEY,
        display_name TEXT,
        team         TEXT,
        created_s    REAL NOT NULL)""",
    """CREATE TABLE seats (
        seat_id   TEXT PRIMARY KEY,
        team      TEXT,
        label     TEXT,
        created_s REAL NOT NULL)""",
    """CREATE TABLE users (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'qa', 'agent')),
        agent_id      TEXT REFERENCES agents (agent_id),
        password_hash TEXT NOT NULL,
        created_s     REAL NOT NULL,
        CHECK ((role = 'agent') = (agent_id IS NOT NULL)))""",
    # Only the SHA-256 of a token is kept. Ingest tokens belong to no user (user_id NULL)
    # and carry a label instead; session tokens always expire.
    """CREATE TABLE tokens (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        token_sha256 TEXT NOT NULL UNIQUE,
        kind         TEXT NOT NULL CHECK (kind IN ('session', 'ingest')),
        user_id      INTEGER REFERENCES users (id) ON DELETE CASCADE,
        label        TEXT,
        created_s    REAL NOT NULL,
        expires_s    REAL,
        revoked_s    REAL,
        CHECK ((kind = 'session') = (user_id IS NOT NULL)),
        CHECK (kind = 'ingest' OR expires_s IS NOT NULL))""",
    "CREATE INDEX tokens_user ON tokens (user_id)",
    """CREATE TABLE calls (
        call_id    TEXT PRIMARY KEY,
        seat_id    TEXT NOT NULL REFERENCES seats (seat_id),
        agent_id   TEXT REFERENCES agents (agent_id),
        protocol   TEXT NOT NULL,
        started_s  REAL NOT NULL,
        ended_s    REAL,
        end_reason TEXT,
        CHECK (ended_s IS NULL OR ended_s >= started_s))""",
    "CREATE INDEX calls_started ON calls (started_s)",
    "CREATE INDEX calls_agent_started ON calls (agent_id, started_s)",
    "CREATE INDEX calls_seat_started ON calls (seat_id, started_s)",
    """CREATE TABLE audit (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        time_s    REAL NOT NULL,
        user_name TEXT,
        action    TEXT NOT NULL,
        object    TEXT,
        detail    TEXT NOT NULL DEFAULT '{}')""",
    "CREATE INDEX audit_time ON audit (time_s)",
)

_V2_ALERTS = sql_migration(
    "alerts and their event log",
    # AUTOINCREMENT: ids are never reused, even after a delete (sqlite_sequence).
    """CREATE TABLE alerts (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id         TEXT NOT NULL REFERENCES calls (call_id),
        seat_id         TEXT NOT NULL,
        agent_id        TEXT,
        kind            TEXT NOT NULL CHECK (kind IN ('agitation', 'low_energy')),
        severity        TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
        state           TEXT NOT NULL CHECK (state IN ('open', 'closed')),
        opened_s        REAL NOT NULL,
        updated_s       REAL NOT NULL,
        closed_s        REAL,
        close_reason    TEXT,
        score           REAL NOT NULL,
        peak_score      REAL NOT NULL,
        explanation     TEXT NOT NULL,
        drivers         TEXT NOT NULL DEFAULT '[]',
        acknowledged_by TEXT,
        acknowledged_s  REAL,
        resolved_by     TEXT,
        resolved_s      REAL,
        resolution_note TEXT,
        CHECK ((state = 'closed') = (closed_s IS NOT NULL)),
        CHECK (resolved_s IS NULL OR acknowledged_s IS NOT NULL))""",
    "CREATE INDEX alerts_state ON alerts (state, id)",
    "CREATE INDEX alerts_call ON alerts (call_id)",
    "CREATE INDEX alerts_agent_opened ON alerts (agent_id, opened_s)",
    "CREATE INDEX alerts_seat_opened ON alerts (seat_id, opened_s)",
    """CREATE TABLE alert_events (
        event_id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id INTEGER NOT NULL REFERENCES alerts (id),
        type     TEXT NOT NULL
                 CHECK (type IN ('opened', 'updated', 'closed', 'acknowledged', 'resolved')),
        time_s   REAL NOT NULL,
        payload  TEXT NOT NULL)""",
    "CREATE INDEX alert_events_alert ON alert_events (alert_id, event_id)",
)

_V3_QA = sql_migration(
    "pre-inspection results, flags and reviewers' verdicts",
    # A recording inspected again (new settings, new baseline) gets new flags; the old
    # ones are kept, marked superseded, with their verdicts (they count in the checks'
    # precision as reviewers judged them).
    """CREATE TABLE qa_calls (
        call_id     TEXT PRIMARY KEY,
        path        TEXT NOT NULL,
        agent_id    TEXT,
        duration_s  REAL,
        score       REAL,
        fingerprint TEXT,
        analysed_s  REAL NOT NULL,
        recorded_s  REAL,
        metrics     TEXT NOT NULL DEFAULT '{}',
        metadata    TEXT NOT NULL DEFAULT '{}',
        error       TEXT,
        CHECK ((error IS NULL) = (score IS NOT NULL)))""",
    "CREATE INDEX qa_calls_score ON qa_calls (score DESC)",
    "CREATE INDEX qa_calls_agent ON qa_calls (agent_id, analysed_s)",
    """CREATE TABLE qa_flags (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id      TEXT NOT NULL REFERENCES qa_calls (call_id),
        check_name   TEXT NOT NULL,
        start_s      REAL NOT NULL,
        end_s        REAL NOT NULL,
        severity     TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
        channel      TEXT NOT NULL,
        detail       TEXT NOT NULL,
        evidence     TEXT NOT NULL DEFAULT '{}',
        created_s    REAL NOT NULL,
        superseded_s REAL,
        verdict      TEXT CHECK (verdict IN ('confirmed', 'dismissed')),
        verdict_by   TEXT,
        verdict_s    REAL,
        verdict_note TEXT,
        CHECK (end_s >= start_s),
        CHECK ((verdict IS NULL) = (verdict_s IS NULL)))""",
    "CREATE INDEX qa_flags_call ON qa_flags (call_id, superseded_s)",
    "CREATE INDEX qa_flags_check ON qa_flags (check_name, verdict)",
)

_V4_VOICE_SUMMARIES = sql_migration(
    "per-call summaries of agents' voices (for their reports)",
    # One row per call and source: "live" (the engine's windows) or "qa" (the
    # recording); compact JSON, never audio.
    """CREATE TABLE voice_summaries (
        call_id    TEXT NOT NULL,
        source     TEXT NOT NULL CHECK (source IN ('live', 'qa')),
        agent_id   TEXT NOT NULL,
        started_s  REAL NOT NULL,
        duration_s REAL NOT NULL,
        summary    TEXT NOT NULL,
        created_s  REAL NOT NULL,
        PRIMARY KEY (call_id, source))""",
    "CREATE INDEX voice_summaries_agent ON voice_summaries (agent_id, started_s)",
    "CREATE INDEX voice_summaries_started ON voice_summaries (started_s)",
)

_V5_QA_TRANSCRIPTS = sql_migration(
    "the transcript of an inspected call, for its review page",
    # JSON list of {start_s, end_s, party, text}; NULL when the call had none. Kept out
    # of the queue's rows (read by the call page only).
    "ALTER TABLE qa_calls ADD COLUMN transcript TEXT",
)

_V6_RETIRED_SEATS = sql_migration(
    "seats taken out of service",
    # Set when an administrator retires a seat: it leaves the wall's list of seats but
    # keeps its calls; a call on it, or registering it again, puts it back (NULL).
    "ALTER TABLE seats ADD COLUMN retired_s REAL",
)

_V7_DISABLED_USERS = sql_migration(
    "console users whose access is withdrawn",
    # Set when an administrator disables a user (someone who has left, say): they cannot
    # sign in and their sessions are revoked, while their name stays on what they did
    # (verdicts, acknowledgements, the audit log). Enabling them again clears it (NULL).
    "ALTER TABLE users ADD COLUMN disabled_s REAL",
)

_V8_QA_CLAIMS = sql_migration(
    "who is reviewing an inspected call right now",
    # One row per call while a reviewer has its page open: renewed by the page, gone when
    # they leave it or when it expires (a closed laptop). Not audited: it changes nothing
    # but who works on what; the verdicts are what the audit log keeps.
    """CREATE TABLE qa_claims (
        call_id    TEXT PRIMARY KEY,
        user_name  TEXT NOT NULL,
        claimed_s  REAL NOT NULL,
        expires_s  REAL NOT NULL)""",
)

_V9_CARRIED_VERDICTS = sql_migration(
    "verdicts kept when a call is inspected again",
    # On a flag of a new inspection: the earlier flag (same check and channel, the same
    # event in time) whose verdict it carries. That earlier flag's verdict then counts
    # no more in the per-check precision: the event is counted once, under its newest flag.
    "ALTER TABLE qa_flags ADD COLUMN verdict_from INTEGER",
)

_V10_AGENT_TENURES = sql_migration(
    "agents retired, and the tenure of an agent id given to someone new",
    # Set when an administrator retires an agent (the person left); cleared when the id
    # is given to someone new, whose tenure then starts at active_since_s. What an
    # agent-role user sees (report, alerts, calls, recordings) starts there; NULL: the
    # id's first tenure, which covers its whole history.
    "ALTER TABLE agents ADD COLUMN retired_s REAL",
    "ALTER TABLE agents ADD COLUMN active_since_s REAL",
)

_V11_ALERT_BASELINES = sql_migration(
    "which baseline judged an alert",
    # "agent" (the agent's own, last written at baseline_updated, the file's "updated"
    # time) or "population" (the agents' usual: the agent had no baseline of their own).
    # NULL on alerts opened before this version: not recorded then.
    "ALTER TABLE alerts ADD COLUMN baseline TEXT "
    "CHECK (baseline IS NULL OR baseline IN ('agent', 'population'))",
    "ALTER TABLE alerts ADD COLUMN baseline_updated TEXT",
)

_V12_QA_PATHS = sql_migration(
    "inspected recordings found by their path",
    # A recording without metadata keeps the call id it was first given (voiceline qa
    # looks its path up), whichever other files a later batch holds.
    "CREATE INDEX qa_calls_path ON qa_calls (path)",
)

#: Migration ``i`` (0-based) takes the schema from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[Migration, ...] = (_V1_ACCOUNTS_AND_CALLS, _V2_ALERTS, _V3_QA,
                                     _V4_VOICE_SUMMARIES, _V5_QA_TRANSCRIPTS,
                                     _V6_RETIRED_SEATS, _V7_DISABLED_USERS, _V8_QA_CLAIMS,
                                     _V9_CARRIED_VERDICTS, _V10_AGENT_TENURES,
                                     _V11_ALERT_BASELINES, _V12_QA_PATHS)
#: The version this code writes and understands.
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the file (0 for a new, empty one)."""
    return conn.execute("PRAGMA user_version").fetchone()[0]


def upgrade(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS,
            target: int | None = None, *, name: str = "the database") -> int:
    """Bring the schema up to ``target`` (default: the last migration) in one transaction.

    Parameters
    ----------
    conn : sqlite3.Connection
        A connection in autocommit mode (``isolation_level=None``), no transaction open.
    migrations : sequence of Migration
        The ordered migrations; ``migrations[i]`` upgrades version ``i`` to ``i + 1``.
    target : int, optional
        Stop at this version (tests use it to build an old database). A file already at
        or past ``target`` is left alone; nothing is ever downgraded.
    name : str
        How to call the file in error messages (its path).

    Returns
    -------
    int
        The schema version after the call.

    Raises
    ------
    SchemaError
        The file's version is newer than ``len(migrations)``, or the file holds tables
        but no version (not a Voiceline store). Nothing is changed.
    """
    known = len(migrations)
    target = known if target is None else target
    if not 0 <= target <= known:
        raise ValueError(f"target version {target} is outside 0..{known}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)
        if current > known:
            raise SchemaError(
                f"{name} has schema version {current}, but this Voiceline understands up "
                f"to version {known}; it was written by a newer Voiceline. Upgrade "
                f"Voiceline, or open a copy made before the upgrade.")
        if current == 0 and conn.execute("SELECT count(*) FROM sqlite_master "
                                         "WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]:
            raise SchemaError(f"{name} is an SQLite database but not a Voiceline store (it "
                              "has tables but no schema version); choose another file.")
        for version in range(current, target):
            migrations[version].apply(conn)
        if target > current:
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(current, target)
