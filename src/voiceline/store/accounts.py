"""Users and tokens as stored rows; the cryptography lives in :mod:`voiceline.auth`.

The store holds password hashes and token SHA-256 digests only, never a password or a
token. Ingest tokens (which let a telephony system stream audio) belong to no user:
their ``user_id`` is ``NULL`` and a ``label`` says whom they were issued to.
"""

from __future__ import annotations

import sqlite3

from voiceline.store import values
from voiceline.store.calls import require_agent, start_tenure_if_retired
from voiceline.store.database import where
from voiceline.store.errors import ConflictError, InvalidInputError, NotFoundError

ROLES = ("admin", "supervisor", "qa", "agent")
TOKEN_KINDS = ("session", "ingest")
_USER_COLUMNS = "id, name, role, agent_id, created_s, disabled_s"
_TOKEN_COLUMNS = "id, kind, user_id, label, created_s, expires_s, revoked_s"


def _sha256_hex(value: object) -> str:
    if not isinstance(value, str) or len(value) != 64 \
            or value.strip("0123456789abcdef") != "":
        raise InvalidInputError("token_sha256 must be 64 lower-case hex digits")
    return value


def _user_by_id(conn: sqlite3.Connection, user_id: int) -> dict:
    row = conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?",
                       (user_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no user with id {user_id}")
    return dict(row)


def _refuse_past_tenure(conn: sqlite3.Connection, user: dict) -> None:
    """ConflictError when ``user`` speaks as an agent id whose current tenure (someone
    new's, ``Store.retire_agent``) began after they were added."""
    if user["agent_id"] is None:
        return
    row = conn.execute("SELECT active_since_s FROM agents WHERE agent_id = ?",
                       (user["agent_id"],)).fetchone()
    if row is not None and row[0] is not None and user["created_s"] < row[0]:
        raise ConflictError(f"agent id {user['agent_id']!r} was retired and given to "
                            f"someone new after {user['name']!r} was added; add them again "
                            "with an agent id of their own")


class AccountsMixin:
    """Store methods for users and tokens (mixed into :class:`Store`)."""

    def add_user(self, name: str, role: str, password_hash: str,
                 agent_id: str | None = None, *, register_agent: bool = False,
                 now_s: float | None = None) -> dict:
        """Create a user; prefer :meth:`voiceline.auth.Auth.add_user`, which hashes.

        A user with role ``agent`` must name a registered ``agent_id`` (the agent whose
        reports they may see); other roles must not. ``register_agent=True`` registers
        an unknown ``agent_id`` in the same transaction, so that a refused user leaves no
        agent behind. Names are unique, ignoring case. A retired ``agent_id`` starts a
        new tenure from ``now_s`` (:meth:`retire_agent`).

        Returns the user as ``{id, name, role, agent_id, created_s, disabled_s}``.
        """
        name = values.identifier(name, "user name", max_chars=64)
        role = values.choice(role, "role", ROLES)
        password_hash = values.text(password_hash, "password_hash", max_chars=1000)
        agent_id = values.identifier(agent_id, "agent_id", optional=True)
        if (role == "agent") != (agent_id is not None):
            raise InvalidInputError("a user with role 'agent' needs the agent_id they speak "
                                    "as, and only such users have one"
                                    if role == "agent" else
                                    f"role {role!r} takes no agent_id (only role 'agent' "
                                    "users are tied to an agent)")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            if agent_id is not None and register_agent:
                conn.execute("INSERT INTO agents (agent_id, created_s) VALUES (?, ?) "
                             "ON CONFLICT (agent_id) DO NOTHING", (agent_id, now_s))
            elif agent_id is not None:
                require_agent(conn, agent_id)
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"a user named {name!r} already exists (names ignore "
                                    "case); choose another name")
            if agent_id is not None:  # a retired id given to someone new: a new tenure
                start_tenure_if_retired(conn, agent_id, now_s)
            user_id = conn.execute(
                "INSERT INTO users (name, role, agent_id, password_hash, created_s) "
                "VALUES (?, ?, ?, ?, ?)", (name, role, agent_id, password_hash, now_s)
            ).lastrowid
            return _user_by_id(conn, user_id)

    def get_user(self, name: str) -> dict:
        """A user by name (case-insensitive); :class:`NotFoundError` if there is none."""
        found = self.find_login(name)
        if found is None:
            raise NotFoundError(f"no user named {name!r}")
        return found[0]

    def get_user_by_id(self, user_id: int) -> dict:
        """A user by numeric id; :class:`NotFoundError` if there is none."""
        user_id = values.integer(user_id, "user_id")
        with self._read() as conn:
            return _user_by_id(conn, user_id)

    def find_login(self, name: str) -> tuple[dict, str] | None:
        """``(user, password_hash)`` for a name, or ``None``; for authentication only."""
        name = values.text(name, "user name", max_chars=1000)
        with self._read() as conn:
            row = conn.execute(f"SELECT {_USER_COLUMNS}, password_hash FROM users "
                               "WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        user = dict(row)
        return user, user.pop("password_hash")

    def list_users(self, role: str | None = None) -> list[dict]:
        """All users (of one role if given), by name; without password hashes."""
        role = values.choice(role, "role", ROLES, optional=True)
        clause, params = where(("role = ?", role))
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_USER_COLUMNS} FROM users{clause} ORDER BY name",
                                params).fetchall()
        return [dict(row) for row in rows]

    def set_password_hash(self, user_id: int, password_hash: str, *,
                          revoke_sessions: bool = True, keep_token_sha256: str | None = None,
                          now_s: float | None = None) -> int:
        """Replace a user's password hash; by default also revoke their live sessions,
        except the one whose digest is ``keep_token_sha256`` (a user changing their own
        password stays signed in where they did it).

        Returns the number of session tokens revoked.
        """
        user_id = values.integer(user_id, "user_id")
        password_hash = values.text(password_hash, "password_hash", max_chars=1000)
        keep = "" if keep_token_sha256 is None else _sha256_hex(keep_token_sha256)
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            _user_by_id(conn, user_id)
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                         (password_hash, user_id))
            if not revoke_sessions:
                return 0
            return conn.execute("UPDATE tokens SET revoked_s = ? WHERE user_id = ? AND "
                                "kind = 'session' AND revoked_s IS NULL AND "
                                "token_sha256 != ?", (now_s, user_id, keep)).rowcount

    def set_user_disabled(self, user_id: int, disabled: bool, *,
                          now_s: float | None = None) -> tuple[dict, int]:
        """Withdraw a user's access (``disabled=True``) or give it back.

        Disabling keeps the user's name on everything they did, refuses their sign-in
        and revokes their sessions; the last enabled admin cannot be disabled
        (:class:`ConflictError`), so the console always has someone to undo it. An
        agent-role user whose agent id was retired and given to someone new since they
        were added cannot be enabled (:class:`ConflictError`): they would see the new
        person's calls.
        Disabling a disabled user, or enabling an enabled one, changes nothing.

        Returns ``(user, sessions revoked)``.
        """
        user_id = values.integer(user_id, "user_id")
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            user = _user_by_id(conn, user_id)
            if not disabled:
                _refuse_past_tenure(conn, user)
                conn.execute("UPDATE users SET disabled_s = NULL WHERE id = ?", (user_id,))
                return _user_by_id(conn, user_id), 0
            if user["disabled_s"] is not None:
                return user, 0
            if user["role"] == "admin" and conn.execute(
                    "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_s IS NULL "
                    "AND id != ?", (user_id,)).fetchone()[0] == 0:
                raise ConflictError(f"{user['name']!r} is the only enabled admin; add or "
                                    "enable another admin first")
            conn.execute("UPDATE users SET disabled_s = ? WHERE id = ?", (now_s, user_id))
            revoked = conn.execute("UPDATE tokens SET revoked_s = ? WHERE user_id = ? AND "
                                   "kind = 'session' AND revoked_s IS NULL",
                                   (now_s, user_id)).rowcount
            return _user_by_id(conn, user_id), revoked

    def add_token(self, token_sha256: str, kind: str, *, user_id: int | None = None,
                  label: str | None = None, expires_s: float | None = None,
                  now_s: float | None = None) -> int:
        """Store a token's digest; returns the token's id (safe to show and log).

        Session tokens need ``user_id`` and ``expires_s``; ingest tokens need a
        ``label``, no ``user_id``, and may have no expiry (``expires_s=None``).
        """
        token_sha256 = _sha256_hex(token_sha256)
        kind = values.choice(kind, "token kind", TOKEN_KINDS)
        label = values.identifier(label, "label", optional=True)  # printed by `user tokens`
        expires_s = values.optional_time_s(expires_s, "expires_s")
        now_s = values.time_s(now_s, "now_s")
        if kind == "session":
            user_id = values.integer(user_id, "user_id of a session token")
            if expires_s is None:
                raise InvalidInputError("a session token needs an expiry time (expires_s)")
        elif user_id is not None or label is None:
            raise InvalidInputError("an ingest token has a label and no user_id")
        with self._write() as conn:
            if user_id is not None:
                _user_by_id(conn, user_id)
            return conn.execute(
                "INSERT INTO tokens (token_sha256, kind, user_id, label, created_s, "
                "expires_s) VALUES (?, ?, ?, ?, ?, ?)",
                (token_sha256, kind, user_id, label, now_s, expires_s)).lastrowid

    def extend_token(self, token_id: int, expires_s: float) -> None:
        """Move a live token's expiry later (sliding sessions); never earlier."""
        token_id = values.integer(token_id, "token_id")
        expires_s = values.finite(expires_s, "expires_s")
        with self._write() as conn:
            conn.execute("UPDATE tokens SET expires_s = ? WHERE id = ? AND revoked_s IS NULL "
                         "AND expires_s < ?", (expires_s, token_id, expires_s))

    def find_token(self, token_sha256: str) -> dict | None:
        """The token row with this digest (plus ``token_sha256``), or ``None``."""
        token_sha256 = _sha256_hex(token_sha256)
        with self._read() as conn:
            row = conn.execute(f"SELECT {_TOKEN_COLUMNS}, token_sha256 FROM tokens "
                               "WHERE token_sha256 = ?", (token_sha256,)).fetchone()
        return None if row is None else dict(row)

    def revoke_token(self, *, token_id: int | None = None, token_sha256: str | None = None,
                     now_s: float | None = None) -> bool:
        """Revoke one token by id or digest; ``False`` if it was already revoked.

        :class:`NotFoundError` when no token has that id or digest.
        """
        if (token_id is None) == (token_sha256 is None):
            raise InvalidInputError("revoke_token needs exactly one of token_id, token_sha256")
        column, key = (("id", values.integer(token_id, "token_id")) if token_id is not None
                       else ("token_sha256", _sha256_hex(token_sha256)))
        now_s = values.time_s(now_s, "now_s")
        with self._write() as conn:
            row = conn.execute(f"SELECT revoked_s FROM tokens WHERE {column} = ?",
                               (key,)).fetchone()
            if row is None:
                raise NotFoundError(f"no token with that {column.replace('_', ' ')}")
            if row["revoked_s"] is not None:
                return False
            conn.execute(f"UPDATE tokens SET revoked_s = ? WHERE {column} = ?", (now_s, key))
            return True

    def list_tokens(self, *, kind: str | None = None, user_id: int | None = None,
                    include_revoked: bool = False) -> list[dict]:
        """Tokens (never their digests), newest first: for an admin page of ingest tokens."""
        kind = values.choice(kind, "token kind", TOKEN_KINDS, optional=True)
        user_id = None if user_id is None else values.integer(user_id, "user_id")
        clause, params = where(("kind = ?", kind), ("user_id = ?", user_id),
                               ("(revoked_s IS NULL) = ?", None if include_revoked else True))
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens{clause} "
                                "ORDER BY id DESC", params).fetchall()
        return [dict(row) for row in rows]
