"""Pre-inspection results in the store: calls, their flags, and reviewers' verdicts.

A call inspected again replaces its current flags; the old flags stay, marked
superseded, with any verdict they got, so the per-check precision keeps every judgement
reviewers made. A new flag of the same event (same check and channel, overlapping in
time) carries its earlier flag's verdict (:func:`carried_verdicts`), so a reviewer's work
stays in the queue, the call page and the export when a setting changes; the event then
counts once, under its newest flag. Verdicts are ``confirmed`` (the flag was right) or
``dismissed``.
"""

from __future__ import annotations

import json
import sqlite3

from voiceline.store import values
from voiceline.store.database import where
from voiceline.store.errors import ConflictError, InvalidInputError, NotFoundError

VERDICTS = ("confirmed", "dismissed")
#: A transcript sentence may be long (a recogniser that does not split a monologue).
MAX_SEGMENT_CHARS = 20_000
#: A flag's one-line reason names the agent and the features that drove it.
MAX_DETAIL_CHARS = 1_000
#: A recording's path: Linux's PATH_MAX (archives nest recordings by date, queue and agent).
MAX_PATH_CHARS = 4_096
#: Why a recording could not be inspected: the reader's message names the file, what is
#: wrong with it and what to do, so it is often longer than a short text.
MAX_ERROR_CHARS = 2_000
QA_SORTS = {"score": "score DESC, call_id", "recent": "analysed_s DESC, call_id",
            "duration": "duration_s DESC, call_id"}
#: How long a reviewer's claim on a call lasts unless renewed (the call page renews it
#: every minute while it is open), so a closed laptop frees its call within minutes.
CLAIM_TTL_S = 300.0


#: A new flag takes an earlier verdict when it is the same event: the same check on the
#: same channel, overlapping or less than this apart (as qa_bench matches flags to events).
CARRY_GAP_S = 1.0
#: SQL: flags whose verdict a newer flag carries (counted once, under the newer flag).
_CARRIED = "id IN (SELECT verdict_from FROM qa_flags WHERE verdict_from IS NOT NULL)"


def carried_verdicts(new_flags: list[tuple], judged: list) -> list[tuple[int, sqlite3.Row]]:
    """Which new flag keeps which earlier verdict: pairs ``(new flag id, earlier row)``.

    ``new_flags``: ``(id, check, channel, start_s, end_s)``; ``judged``: the call's judged
    flags before it was inspected again. One to one, the largest overlap first (then the
    nearest): a reviewer's judgement of an event stays with that event when a setting or
    the software changes, and an event that is gone takes its verdict with it.
    """
    pairs = []
    for new_id, check, channel, start, end in new_flags:
        for old in judged:
            if old["check_name"] != check or old["channel"] != channel:
                continue
            overlap = min(end, old["end_s"]) - max(start, old["start_s"])
            if overlap > -CARRY_GAP_S:
                pairs.append((-overlap, new_id, old["id"], old))
    out, used_new, used_old = [], set(), set()
    for _, new_id, old_id, old in sorted(pairs, key=lambda p: (p[0], p[1], p[2])):
        if new_id not in used_new and old_id not in used_old:
            used_new.add(new_id)
            used_old.add(old_id)
            out.append((new_id, old))
    return out


def _flag(row: sqlite3.Row) -> dict:
    out = dict(row)
    out["check"] = out.pop("check_name")
    out["evidence"] = json.loads(out["evidence"])
    return out


def _call(row: sqlite3.Row, *, transcript: bool = False) -> dict:
    out = dict(row)
    out["metrics"] = json.loads(out["metrics"])
    out["metadata"] = json.loads(out["metadata"])
    said = out.pop("transcript", None)
    if transcript:
        out["transcript"] = None if said is None else json.loads(said)
    return out


def _transcript(segments) -> str | None:
    """A result's ``transcript`` (segments, or None) as stored."""
    if segments is None:
        return None
    if not isinstance(segments, list):
        raise InvalidInputError("result.transcript must be a list of segments or null")
    rows = []
    for k, seg in enumerate(segments):
        if not isinstance(seg, dict):
            raise InvalidInputError(f"result.transcript[{k}] must be an object")
        said = seg.get("text")
        rows.append({"start_s": values.finite(seg.get("start_s"), "transcript.start_s"),
                     "end_s": values.finite(seg.get("end_s"), "transcript.end_s"),
                     "party": values.choice(seg.get("party"), "transcript.party",
                                            ("agent", "caller")),
                     "text": "" if isinstance(said, str) and not said.strip()
                     else values.text(said, "transcript.text", max_chars=MAX_SEGMENT_CHARS)})
    return json.dumps(rows, ensure_ascii=False)


def _live_claim(conn: sqlite3.Connection, call_id: str, now_s: float) -> dict | None:
    row = conn.execute("SELECT user_name, claimed_s, expires_s FROM qa_claims "
                       "WHERE call_id = ? AND expires_s > ?", (call_id, now_s)).fetchone()
    return None if row is None else {"user": row["user_name"], "claimed_s": row["claimed_s"],
                                     "expires_s": row["expires_s"]}


class QaMixin:
    """Store methods for pre-inspection (mixed into :class:`Store`)."""

    def save_qa_result(self, result: dict, *, recorded_s: float | None = None,
                       now_s: float | None = None) -> int:
        """Keep one call's result (the ``OUT/calls/<id>.json`` document); returns the
        number of flags stored. Earlier flags of the call become superseded. Its agent
        joins the floor's directory if new, as a live call's does (never changed)."""
        call_id = values.text(result.get("call_id"), "call_id")
        path = values.text(result.get("path"), "path", max_chars=MAX_PATH_CHARS)
        agent_id = values.identifier(result.get("agent_id"), "agent_id", optional=True)
        now_s = values.time_s(now_s, "now_s")
        flags = result.get("flags")
        if not isinstance(flags, list):
            raise InvalidInputError("result.flags must be a list")
        transcript = _transcript(result.get("transcript"))
        rows = []
        for flag in flags:
            rows.append((
                call_id, values.text(flag.get("check"), "flag.check"),
                values.finite(flag.get("start_s"), "flag.start_s"),
                values.finite(flag.get("end_s"), "flag.end_s"),
                values.choice(flag.get("severity"), "flag.severity", ("warning", "critical")),
                values.text(flag.get("channel"), "flag.channel"),
                values.text(flag.get("detail"), "flag.detail", max_chars=MAX_DETAIL_CHARS),
                values.json_object(flag.get("evidence"), "flag.evidence"), now_s))
        with self._write() as conn:
            if agent_id is not None:
                conn.execute("INSERT OR IGNORE INTO agents (agent_id, created_s) VALUES (?, ?)",
                             (agent_id, now_s))
            conn.execute(
                "INSERT INTO qa_calls (call_id, path, agent_id, duration_s, score, fingerprint,"
                " analysed_s, recorded_s, metrics, metadata, error, transcript) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (call_id) DO UPDATE"
                " SET path = excluded.path, agent_id = excluded.agent_id,"
                " duration_s = excluded.duration_s, score = excluded.score,"
                " fingerprint = excluded.fingerprint, analysed_s = excluded.analysed_s,"
                " recorded_s = excluded.recorded_s, metrics = excluded.metrics,"
                " metadata = excluded.metadata, error = NULL, transcript = excluded.transcript",
                (call_id, path, agent_id,
                 values.finite(result.get("duration_s"), "duration_s"),
                 values.finite(result.get("score"), "score"), result.get("fingerprint"),
                 now_s, values.recording_time_s(recorded_s, "recorded_s"),
                 values.json_object(result.get("metrics"), "metrics"),
                 values.json_object(result.get("metadata"), "metadata"),
                 transcript))
            judged = conn.execute(
                "SELECT id, check_name, channel, start_s, end_s, verdict, verdict_by, "
                "verdict_s, verdict_note FROM qa_flags WHERE call_id = ? AND superseded_s IS "
                "NULL AND verdict IS NOT NULL", (call_id,)).fetchall()
            conn.execute("UPDATE qa_flags SET superseded_s = ? WHERE call_id = ? "
                         "AND superseded_s IS NULL", (now_s, call_id))
            new_flags = []
            for row in rows:
                cursor = conn.execute(
                    "INSERT INTO qa_flags (call_id, check_name, start_s, end_s, severity,"
                    " channel, detail, evidence, created_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row)
                new_flags.append((cursor.lastrowid, row[1], row[5], row[2], row[3]))
            for new_id, old in carried_verdicts(new_flags, judged):
                conn.execute("UPDATE qa_flags SET verdict = ?, verdict_by = ?, verdict_s = ?, "
                             "verdict_note = ?, verdict_from = ? WHERE id = ?",
                             (old["verdict"], old["verdict_by"], old["verdict_s"],
                              old["verdict_note"], old["id"], new_id))
        return len(rows)

    def save_qa_error(self, call_id: str, path: str, error: str, *,
                      now_s: float | None = None) -> None:
        """Record that a recording could not be inspected (its flags, if any, stay)."""
        call_id = values.text(call_id, "call_id")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO qa_calls (call_id, path, analysed_s, error) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (call_id) DO UPDATE SET analysed_s = excluded.analysed_s, "
                "error = excluded.error, score = NULL",
                (call_id, values.text(path, "path", max_chars=MAX_PATH_CHARS), now_s,
                 values.text(error, "error", max_chars=MAX_ERROR_CHARS)))

    def qa_queue(self, *, check: str | None = None, agent_id: str | None = None,
                 min_score: float | None = None, since_s: float | None = None,
                 until_s: float | None = None, status: str | None = None,
                 sort: str = "score", limit: int = 100, offset: int = 0,
                 free_for: str | None = None, now_s: float | None = None) -> dict:
        """The review queue: flagged calls, highest score first.

        Filters: a check that must be among the call's current flags, the agent, the
        least score, the recording (or analysis) time range (``since_s`` inclusive),
        ``status``: ``"open"`` (some flag without a verdict), ``"reviewed"``, and
        ``free_for``: leave out the calls another reviewer than this user is reviewing
        now (a live claim, :meth:`claim_qa_call`).
        Returns ``{"total", "calls": [...]}``; each call carries its current flags and
        its live ``claim`` (``{user, claimed_s, expires_s}``, or None).
        """
        free_for = values.text(free_for, "free_for", optional=True)
        now_s = values.time_s(now_s, "now_s")
        check = values.text(check, "check", optional=True)
        agent_id = values.text(agent_id, "agent_id", optional=True)
        status = values.choice(status, "status", ("open", "reviewed"), optional=True)
        sort = values.choice(sort, "sort", QA_SORTS)
        limit = values.limit(limit)
        offset = values.integer(offset, "offset", minimum=0)
        clause, params = where(
            ("agent_id = ?", agent_id),
            ("score >= ?", None if min_score is None else values.finite(min_score,
                                                                        "min_score")),
            ("COALESCE(recorded_s, analysed_s) >= ?",
             values.optional_time_s(since_s, "since_s")),
            ("COALESCE(recorded_s, analysed_s) < ?", values.optional_time_s(until_s,
                                                                             "until_s")),
        )
        clause = (clause + " AND" if clause else " WHERE") + " error IS NULL"
        flagged = ("EXISTS (SELECT 1 FROM qa_flags f WHERE f.call_id = qa_calls.call_id"
                   " AND f.superseded_s IS NULL{extra})")
        if check is not None:
            clause += " AND " + flagged.format(extra=" AND f.check_name = ?")
            params.append(check)
        else:
            clause += " AND " + flagged.format(extra="")
        if status == "open":
            clause += " AND " + flagged.format(extra=" AND f.verdict IS NULL")
        elif status == "reviewed":
            clause += " AND NOT " + flagged.format(extra=" AND f.verdict IS NULL")
        if free_for is not None:
            clause += (" AND NOT EXISTS (SELECT 1 FROM qa_claims c WHERE c.call_id ="
                       " qa_calls.call_id AND c.expires_s > ? AND c.user_name != ?)")
            params += [now_s, free_for]
        with self._read() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM qa_calls{clause}", params).fetchone()[0]
            rows = conn.execute(f"SELECT * FROM qa_calls{clause} ORDER BY {QA_SORTS[sort]} "
                                "LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
            calls = [_call(r) for r in rows]
            for call in calls:
                call["flags"] = [_flag(f) for f in conn.execute(
                    "SELECT * FROM qa_flags WHERE call_id = ? AND superseded_s IS NULL "
                    "ORDER BY start_s, id", (call["call_id"],)).fetchall()]
                call["claim"] = _live_claim(conn, call["call_id"], now_s)
        return {"total": total, "calls": calls}

    def qa_call(self, call_id: str, *, now_s: float | None = None) -> dict:
        """One inspected call with its current flags (and verdicts), its ``transcript``
        (segments, or None) and its live ``claim`` (or None)."""
        call_id = values.text(call_id, "call_id")
        now_s = values.time_s(now_s, "now_s")
        with self._read() as conn:
            row = conn.execute("SELECT * FROM qa_calls WHERE call_id = ?",
                               (call_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no inspected call with id {call_id!r}")
            call = _call(row, transcript=True)
            call["flags"] = [_flag(f) for f in conn.execute(
                "SELECT * FROM qa_flags WHERE call_id = ? AND superseded_s IS NULL "
                "ORDER BY start_s, id", (call_id,)).fetchall()]
            call["claim"] = _live_claim(conn, call_id, now_s)
        return call

    def claim_qa_call(self, call_id: str, user: str, *, ttl_s: float = CLAIM_TTL_S,
                      now_s: float | None = None) -> dict:
        """Mark ``user`` as reviewing the call until ``now_s + ttl_s``, so that other
        reviewers' queues can leave it out; their own live claim is renewed (keeping when
        it began). Another reviewer's live claim is left as it is.

        Returns ``{"claim": {user, claimed_s, expires_s}, "mine": bool}``: the claim that
        holds now, and whether it is ``user``'s.
        """
        call_id = values.text(call_id, "call_id")
        user = values.text(user, "user")
        now_s = values.time_s(now_s, "now_s")
        ttl_s = values.finite(ttl_s, "ttl_s")
        if not ttl_s > 0:
            raise InvalidInputError(f"ttl_s must be > 0, got {ttl_s}")
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM qa_calls WHERE call_id = ?",
                            (call_id,)).fetchone() is None:
                raise NotFoundError(f"no inspected call with id {call_id!r}")
            held = _live_claim(conn, call_id, now_s)
            if held is not None and held["user"] != user:
                return {"claim": held, "mine": False}
            since = held["claimed_s"] if held is not None else now_s
            conn.execute("INSERT INTO qa_claims (call_id, user_name, claimed_s, expires_s) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET "
                         "user_name = excluded.user_name, claimed_s = excluded.claimed_s, "
                         "expires_s = excluded.expires_s",
                         (call_id, user, since, now_s + ttl_s))
            return {"claim": _live_claim(conn, call_id, now_s), "mine": True}

    def release_qa_claim(self, call_id: str, user: str) -> bool:
        """End ``user``'s claim on the call (they left its page); False if they held none."""
        call_id = values.text(call_id, "call_id")
        user = values.text(user, "user")
        with self._write() as conn:
            return conn.execute("DELETE FROM qa_claims WHERE call_id = ? AND user_name = ?",
                                (call_id, user)).rowcount > 0

    def qa_call_ids_of(self, paths: list[str]) -> dict[str, list[str]]:
        """The call ids each of these recordings was inspected under, the first given
        first (paths never inspected are absent): ``voiceline qa`` gives a recording
        without metadata the same id in every batch. More than one id: an earlier
        release named the recording by what else its batch held."""
        found: dict[str, list[str]] = {}
        paths = list(dict.fromkeys(paths))
        with self._read() as conn:
            for at in range(0, len(paths), 500):
                chunk = paths[at : at + 500]
                marks = ", ".join("?" * len(chunk))
                for row in conn.execute(f"SELECT path, call_id FROM qa_calls WHERE path IN "
                                        f"({marks}) ORDER BY rowid", chunk):
                    found.setdefault(row["path"], []).append(row["call_id"])
        return found

    def qa_errors(self, limit: int = 100) -> list[dict]:
        """Recordings that could not be inspected, newest first."""
        with self._read() as conn:
            rows = conn.execute("SELECT call_id, path, analysed_s, error FROM qa_calls WHERE "
                                "error IS NOT NULL ORDER BY analysed_s DESC LIMIT ?",
                                (values.limit(limit),)).fetchall()
        return [dict(r) for r in rows]

    def set_flag_verdict(self, flag_id: int, verdict: str, user: str, note: str | None = None,
                         *, now_s: float | None = None, seen: dict | None = None) -> dict:
        """Confirm or dismiss a flag (a later verdict replaces an earlier one); audited.

        A flag an inspection since replaced is refused (``ConflictError``): a verdict
        on it, from a page opened before, would count in the precision while the
        current flag stayed open. ``seen`` (``{"verdict_by", "verdict_s"}``, None for
        no verdict) is the flag's verdict as the reviewer's page showed it: when someone
        has judged it since, the verdict is refused (``ConflictError`` naming them), so
        that two reviewers never overwrite each other unawares.
        """
        flag_id = values.integer(flag_id, "flag_id")
        verdict = values.choice(verdict, "verdict", VERDICTS)
        user = values.text(user, "user")
        note = values.note(note, "note")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            row = conn.execute("SELECT * FROM qa_flags WHERE id = ?", (flag_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no flag with id {flag_id}")
            if row["superseded_s"] is not None:
                raise ConflictError(f"flag {flag_id} was replaced when call {row['call_id']} "
                                    "was inspected again; reload the call")
            if seen is not None and (row["verdict_by"], row["verdict_s"]) != (
                    seen.get("verdict_by"), seen.get("verdict_s")):
                raise ConflictError(f"flag {flag_id} was {row['verdict'] or 'judged'} by "
                                    f"{row['verdict_by']} "
                                    "since you opened it; reload the call to see their "
                                    "verdict before you change it")
            conn.execute("UPDATE qa_flags SET verdict = ?, verdict_by = ?, verdict_s = ?, "
                         "verdict_note = ? WHERE id = ?", (verdict, user, now_s, note, flag_id))
            conn.execute("INSERT INTO audit (time_s, user_name, action, object, detail) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (now_s, user, f"qa_{verdict[:-2]}",  # qa_confirm, qa_dismiss
                          f"qa_flag:{flag_id}",
                          values.json_object({"call_id": row["call_id"],
                                              "check": row["check_name"], "note": note,
                                              "previous": row["verdict"]}, "detail")))
            return _flag(conn.execute("SELECT * FROM qa_flags WHERE id = ?",
                                      (flag_id,)).fetchone())

    def qa_flag_report(self, *, since_s: float | None = None, until_s: float | None = None,
                       agent_id: str | None = None, check: str | None = None,
                       verdict: str | None = None, limit: int = 100_000) -> list[dict]:
        """Current flags of inspected calls with their verdicts, for QA leads' reports:
        oldest recording first, then by flag start.

        ``since_s``/``until_s`` bound the recording's start time (else the analysis time);
        ``verdict``: ``"confirmed"``, ``"dismissed"``, ``"judged"`` (either) or ``"open"``
        (none yet); None for every flag. Each row has the call's ``call_id``,
        ``agent_id``, ``path``, ``recorded_s`` (or the analysis time) and ``score`` with
        the flag's fields.
        """
        verdict = values.choice(verdict, "verdict",
                                ("confirmed", "dismissed", "judged", "open"), optional=True)
        limit = values.integer(limit, "limit")
        clause, params = where(
            ("c.agent_id = ?", values.text(agent_id, "agent_id", optional=True)),
            ("f.check_name = ?", values.text(check, "check", optional=True)),
            ("COALESCE(c.recorded_s, c.analysed_s) >= ?",
             values.optional_time_s(since_s, "since_s")),
            ("COALESCE(c.recorded_s, c.analysed_s) < ?",
             values.optional_time_s(until_s, "until_s")),
            ("f.verdict = ?", verdict if verdict in ("confirmed", "dismissed") else None),
        )
        clause = (clause + " AND" if clause else " WHERE") + " f.superseded_s IS NULL"
        if verdict == "judged":
            clause += " AND f.verdict IS NOT NULL"
        elif verdict == "open":
            clause += " AND f.verdict IS NULL"
        with self._read() as conn:
            rows = conn.execute(
                "SELECT f.*, c.agent_id AS agent_id, c.path AS path, c.score AS score, "
                "COALESCE(c.recorded_s, c.analysed_s) AS recorded_s "
                f"FROM qa_flags f JOIN qa_calls c ON c.call_id = f.call_id{clause} "
                "ORDER BY recorded_s, f.call_id, f.start_s, f.id LIMIT ?",
                [*params, limit]).fetchall()
        return [_flag(r) for r in rows]

    def qa_check_precision(self) -> list[dict]:
        """Per check: flags, verdicts, and the precision reviewers' verdicts give
        (confirmed / judged; ``None`` until a flag of the check is judged)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT check_name, COUNT(*) AS flags,"
                " SUM(superseded_s IS NULL) AS current,"
                " SUM(verdict = 'confirmed') AS confirmed,"
                " SUM(verdict = 'dismissed') AS dismissed"
                f" FROM qa_flags WHERE NOT {_CARRIED} GROUP BY check_name ORDER BY check_name"
            ).fetchall()
        out = []
        for r in rows:
            judged = (r["confirmed"] or 0) + (r["dismissed"] or 0)
            out.append({"check": r["check_name"], "flags": r["flags"], "current": r["current"],
                        "confirmed": r["confirmed"] or 0, "dismissed": r["dismissed"] or 0,
                        "precision": round((r["confirmed"] or 0) / judged, 3) if judged
                        else None})
        return out

    def qa_judged_flags(self) -> list[tuple[str, dict, str]]:
        """``(check, evidence, verdict)`` of every flag a reviewer judged, superseded
        ones included (as in the precision; an event once, under the newest flag that
        carries its verdict): what :mod:`qa.tuning` learns thresholds from."""
        with self._read() as conn:
            rows = conn.execute("SELECT check_name, evidence, verdict FROM qa_flags "
                                f"WHERE verdict IS NOT NULL AND NOT {_CARRIED} ORDER BY id"
                                ).fetchall()
        return [(r["check_name"], json.loads(r["evidence"]), r["verdict"]) for r in rows]

    def move_qa_recording(self, call_id: str, path: str) -> None:
        """The recording of an inspected call is now at ``path`` (the same audio, moved:
        ``voiceline qa`` found it done under its new name); its flags and verdicts stay."""
        with self._write() as conn:
            moved = conn.execute("UPDATE qa_calls SET path = ? WHERE call_id = ?",
                                 (values.text(path, "path", max_chars=MAX_PATH_CHARS),
                                  values.text(call_id, "call_id"))).rowcount
        if not moved:
            raise NotFoundError(f"no inspected call with id {call_id!r}")

    def qa_paths(self, call_id: str) -> str:
        """The recording's path (for the review page's audio)."""
        with self._read() as conn:
            row = conn.execute("SELECT path FROM qa_calls WHERE call_id = ?",
                               (values.text(call_id, "call_id"),)).fetchone()
        if row is None:
            raise NotFoundError(f"no inspected call with id {call_id!r}")
        return row["path"]


SUMMARY_SOURCES = ("live", "qa")


class VoiceSummaryMixin:
    """Per-call voice summaries of agents (mixed into :class:`Store`), for reports."""

    def save_voice_summary(self, call_id: str, source: str, agent_id: str,
                           started_s: float, duration_s: float, summary: dict, *,
                           now_s: float | None = None) -> None:
        """Keep (or replace) the summary of one call from one source."""
        call_id = values.text(call_id, "call_id")
        source = values.choice(source, "source", SUMMARY_SOURCES)
        agent_id = values.text(agent_id, "agent_id")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO voice_summaries (call_id, source, agent_id, started_s, "
                "duration_s, summary, created_s) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (call_id, source) DO UPDATE SET agent_id = excluded.agent_id, "
                "started_s = excluded.started_s, duration_s = excluded.duration_s, "
                "summary = excluded.summary, created_s = excluded.created_s",
                (call_id, source, agent_id, values.finite(started_s, "started_s"),
                 values.finite(duration_s, "duration_s"),
                 values.json_object(summary, "summary"), now_s))

    def list_voice_summaries(self, *, agent_id: str | None = None,
                             since_s: float | None = None, until_s: float | None = None,
                             limit: int = 10_000) -> list[dict]:
        """Summaries by call start (``since_s`` inclusive), oldest first; one per call,
        the recording's (``qa``) where both exist."""
        agent_id = values.text(agent_id, "agent_id", optional=True)
        clause, params = where(("agent_id = ?", agent_id),
                               ("started_s >= ?", values.optional_time_s(since_s, "since_s")),
                               ("started_s < ?", values.optional_time_s(until_s, "until_s")))
        with self._read() as conn:
            rows = conn.execute(f"SELECT * FROM voice_summaries{clause} "
                                "ORDER BY started_s, call_id, source DESC", params).fetchall()
        out: dict[str, dict] = {}
        for row in rows:
            if row["call_id"] in out:
                continue  # 'qa' sorts before 'live' (DESC): the recording wins
            item = dict(row)
            item["summary"] = json.loads(item["summary"])
            out[row["call_id"]] = item
        return list(out.values())[: int(limit)]

    def prune_voice_summaries(self, before_s: float) -> int:
        """Delete summaries of calls that started before ``before_s`` (retention)."""
        with self._write() as conn:
            return conn.execute("DELETE FROM voice_summaries WHERE started_s < ?",
                                (values.finite(before_s, "before_s"),)).rowcount
