"""The audit log: who did what to which object, and when."""

from __future__ import annotations

import json

from voiceline.store import values
from voiceline.store.database import where


class AuditMixin:
    """Store methods for the audit log (mixed into :class:`Store`)."""

    def audit(self, user: str | None, action: str, obj: str | None = None,
              detail: dict | None = None, *, now_s: float | None = None) -> int:
        """Append one entry; returns its id.

        Parameters
        ----------
        user : str or None
            The acting user's name; ``cli:<login name>`` for the operating-system account
            that ran a command (:func:`voiceline.cli.cli_user`); ``None`` for the server
            itself (a refused sign-in).
        action : str
            What was done, e.g. ``"login"``, ``"acknowledge_alert"``, ``"add_user"``.
        obj : str, optional
            What it was done to, e.g. ``"alert:12"``, ``"user:alice"``.
        detail : dict, optional
            Anything else worth keeping, stored as a JSON object.
        """
        user = values.text(user, "user", optional=True)
        action = values.text(action, "action")
        # "<kind>:<id>", the id itself up to MAX_TEXT_CHARS (an agent id of 195-200
        # characters once failed the import that made it, on its audit entry)
        obj = values.text(obj, "object", optional=True, max_chars=2 * values.MAX_TEXT_CHARS)
        detail = values.json_object(detail, "detail")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            return conn.execute("INSERT INTO audit (time_s, user_name, action, object, "
                                "detail) VALUES (?, ?, ?, ?, ?)",
                                (now_s, user, action, obj, detail)).lastrowid

    def list_audit(self, *, user: str | None = None, action: str | None = None,
                   obj: str | None = None, since_s: float | None = None,
                   until_s: float | None = None, before_id: int | None = None,
                   limit: int = 100) -> list[dict]:
        """Entries newest first as ``{id, time_s, user, action, object, detail}``.

        ``since_s`` is inclusive and ``until_s`` exclusive; ``before_id`` pages back
        (the entries older than that id: pass the last id of the page before).
        """
        user = values.text(user, "user", optional=True)
        action = values.text(action, "action", optional=True)
        obj = values.text(obj, "object", optional=True)
        since_s = values.optional_time_s(since_s, "since_s")
        until_s = values.optional_time_s(until_s, "until_s")
        before_id = None if before_id is None else values.integer(before_id, "before_id")
        limit = values.limit(limit)
        clause, params = where(("user_name = ?", user), ("action = ?", action),
                               ("object = ?", obj), ("time_s >= ?", since_s),
                               ("time_s < ?", until_s), ("id < ?", before_id))
        with self._read() as conn:
            rows = conn.execute(f"SELECT * FROM audit{clause} ORDER BY id DESC LIMIT ?",
                                [*params, limit]).fetchall()
        return [{"id": row["id"], "time_s": row["time_s"], "user": row["user_name"],
                 "action": row["action"], "object": row["object"],
                 "detail": json.loads(row["detail"])} for row in rows]
