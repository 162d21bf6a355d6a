"""Who may use the live service: passwords, session and ingest tokens, and role checks.

Passwords are hashed with Argon2id (``argon2.PasswordHasher``); when the hasher's
parameters change, a user's hash is replaced at their next successful login. Signing in
with an unknown name costs the same Argon2 verification as a wrong password, so timing
does not reveal which names exist.

Tokens are ``vl_`` followed by ``secrets.token_urlsafe(32)`` (256 random bits), handed to
the client once. The prefix lets secret scanners recognise a leaked token, and keeps a token
from starting with ``-`` (one bare ``token_urlsafe`` in 64 does), which a command line
would read as an option (``voiceline simulate --token -x…``). The store keeps only their
SHA-256. Checking a token looks up its digest, so no secret is ever compared byte by byte
against attacker input. *Session* tokens belong to
a user and expire (12 h by default). *Ingest* tokens let a telephony system or seat
streamer send audio: they belong to no user (``user_id`` is NULL in the store) and carry
a label saying whom they were issued to; :meth:`Auth.check_token` returns an
:class:`IngestClient` for them, which no role check accepts.

Roles: ``admin`` (users, tokens), ``supervisor`` (live wall, alerts), ``qa`` (review
queue) and ``agent`` (their own reports only).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from voiceline.store import ROLES, TOKEN_KINDS, InvalidInputError, NotFoundError, Store, values

SESSION_TTL_S = 12 * 3600.0
MIN_PASSWORD_CHARS = 8
#: Longer input is refused before hashing, so a huge "password" cannot tie up the server.
MAX_PASSWORD_CHARS = 1024
#: What every token we issue starts with (see the module's docstring).
TOKEN_PREFIX = "vl_"
#: Tokens we issue are 46 characters; anything much longer is not one of ours.
MAX_TOKEN_CHARS = 256
_MAX_NAME_CHARS = 64


class AccessDenied(PermissionError):
    """The caller is signed out, or their role does not allow the action (HTTP 401/403)."""


class AccountDisabled(AccessDenied):
    """The password was right, but an administrator has disabled the account (403)."""


class PasswordPolicyError(InvalidInputError):
    """A new password is too short or too long; the message says what is required."""


@dataclass(frozen=True)
class User:
    """A signed-in person. ``agent_id`` is set for role ``agent`` only."""

    id: int
    name: str
    role: str
    agent_id: str | None
    created_s: float
    disabled_s: float | None = None
    """When an administrator disabled the account; such a user holds no session."""


@dataclass(frozen=True)
class IngestClient:
    """The holder of an ingest token: may stream audio, nothing else."""

    token_id: int
    label: str


def new_token() -> str:
    """A fresh session or ingest token: :data:`TOKEN_PREFIX` and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    """The hex SHA-256 of a token, as the store keeps it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_password_policy(password: object) -> str:
    """Return ``password`` if acceptable; raise :class:`PasswordPolicyError` otherwise."""
    if not isinstance(password, str):
        raise PasswordPolicyError("a password must be a string")
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordPolicyError(f"a password needs at least {MIN_PASSWORD_CHARS} "
                                  f"characters; this one has {len(password)}")
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordPolicyError(f"a password may have at most {MAX_PASSWORD_CHARS} "
                                  f"characters; this one has {len(password)}")
    return password


class Auth:
    """Users, passwords and tokens on top of a :class:`~voiceline.store.Store`.

    Parameters
    ----------
    store : Store
        Where users and token digests live.
    hasher : argon2.PasswordHasher, optional
        Default ``PasswordHasher()`` (RFC 9106 low-memory profile: 64 MiB, 3 passes,
        tens of milliseconds per hash). Tests pass a cheap one, e.g.
        ``PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)``.
    """

    def __init__(self, store: Store, hasher: PasswordHasher | None = None, *,
                 session_ttl_s: float = SESSION_TTL_S):
        self.store = store
        self.hasher = hasher if hasher is not None else PasswordHasher()
        #: Sessions slide: a session used in the second half of its life is extended to
        #: ``session_ttl_s`` from that use, so a wall display that stays open keeps its
        #: login while an abandoned one lapses after ``session_ttl_s``. Tokens issued
        #: with a shorter life do not slide.
        self.session_ttl_s = float(session_ttl_s)
        self._dummy_hash: str | None = None

    def add_user(self, name: str, role: str, password: str, agent_id: str | None = None, *,
                 now_s: float | None = None) -> User:
        """Create a user with a password (at least 8 characters).

        ``role`` is one of admin, supervisor, qa, agent; an ``agent`` user names the
        registered ``agent_id`` they are. Raises ``ValueError`` subclasses with a clear
        message for a weak password, unknown role or agent, or a taken name.
        """
        check_password_policy(password)
        values.choice(role, "role", ROLES)
        row = self.store.add_user(name, role, self.hash_password(password), agent_id,
                                  now_s=now_s)
        return User(**row)

    def hash_password(self, password: str) -> str:
        """The stored form of a new password, after :func:`check_password_policy`.

        Slow on purpose (Argon2id): a server runs it off its event loop and outside its
        store thread, then stores the hash (``store.add_user``, ``set_password_hash``).
        """
        return self.hasher.hash(check_password_policy(password))

    def set_password(self, name: str, password: str, *, now_s: float | None = None) -> int:
        """Give a user a new password and sign out their sessions; returns how many."""
        check_password_policy(password)
        user = self.store.get_user(name)
        return self.store.set_password_hash(user["id"], self.hash_password(password),
                                            revoke_sessions=True, now_s=now_s)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else ``None`` (unknown name included);
        :class:`AccountDisabled` if it is theirs but the account is disabled.

        Upgrades the stored hash when the hasher's parameters have changed.
        """
        usable = (isinstance(name, str) and isinstance(password, str)
                  and 0 < len(name.strip()) <= _MAX_NAME_CHARS
                  and len(password) <= MAX_PASSWORD_CHARS)
        found = self.store.find_login(name) if usable else None
        if found is None:
            self._verify(self._dummy(), password if isinstance(password, str) else "")
            return None
        user, password_hash = found
        if not self._verify(password_hash, password):
            return None
        if user["disabled_s"] is not None:  # said only to whoever knows the password
            raise AccountDisabled(f"the account {user['name']!r} is disabled; ask an "
                                  "administrator to enable it")
        if self.hasher.check_needs_rehash(password_hash):
            self.store.set_password_hash(user["id"], self.hasher.hash(password),
                                         revoke_sessions=False)
        return User(**user)

    def issue_token(self, user: User, kind: str = "session", ttl_s: float = SESSION_TTL_S,
                    *, now_s: float | None = None) -> str:
        """A new session token for ``user``, valid for ``ttl_s`` seconds from ``now_s``.

        The token is returned once and cannot be recovered later; the store keeps only
        its SHA-256. Ingest tokens come from :meth:`issue_ingest_token`.
        """
        values.choice(kind, "token kind", TOKEN_KINDS)
        if kind != "session":
            raise InvalidInputError("ingest tokens belong to no user; issue them with "
                                    "issue_ingest_token(label)")
        if not isinstance(user, User):
            raise InvalidInputError(f"issue_token needs a User, got {type(user).__name__}")
        now_s = values.time_s(now_s, "now_s")
        ttl_s = values.finite(ttl_s, "ttl_s")
        if ttl_s <= 0:
            raise InvalidInputError(f"ttl_s must be positive, got {ttl_s}")
        token = new_token()
        self.store.add_token(token_sha256(token), "session", user_id=user.id,
                             expires_s=now_s + ttl_s, now_s=now_s)
        return token

    def issue_ingest_token(self, label: str, *, ttl_s: float | None = None,
                           now_s: float | None = None) -> str:
        """A new ingest token labelled ``label`` (e.g. ``"freeswitch-1"``).

        Only admins should reach this (the caller checks with :func:`require_role`).
        ``ttl_s=None`` means it never expires; revoke it with :meth:`revoke_token` or
        :meth:`revoke_token_id`.
        """
        now_s = values.time_s(now_s, "now_s")
        expires_s = None
        if ttl_s is not None:
            ttl_s = values.finite(ttl_s, "ttl_s")
            if ttl_s <= 0:
                raise InvalidInputError(f"ttl_s must be positive, got {ttl_s}")
            expires_s = now_s + ttl_s
        label = values.text(label, "label")
        token = new_token()
        self.store.add_token(token_sha256(token), "ingest", label=label,
                             expires_s=expires_s, now_s=now_s)
        return token

    def check_token(self, token: str, kind: str = "session", *,
                    now_s: float | None = None) -> User | IngestClient | None:
        """Who holds ``token``: a :class:`User` (session), an :class:`IngestClient`
        (ingest), or ``None`` if it is unknown, of the other kind, revoked or expired.
        """
        values.choice(kind, "token kind", TOKEN_KINDS)
        now_s = values.time_s(now_s, "now_s")
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
            return None
        digest = token_sha256(token)
        row = self.store.find_token(digest)
        if row is None or not hmac.compare_digest(row["token_sha256"], digest):
            return None
        if row["kind"] != kind or row["revoked_s"] is not None:
            return None
        if row["expires_s"] is not None and now_s >= row["expires_s"]:
            return None
        if kind == "ingest":
            return IngestClient(row["id"], row["label"])
        full_life = row["expires_s"] - row["created_s"] >= self.session_ttl_s - 1e-6
        if full_life and row["expires_s"] - now_s < self.session_ttl_s / 2:
            self.store.extend_token(row["id"], now_s + self.session_ttl_s)
        try:
            user = User(**self.store.get_user_by_id(row["user_id"]))
        except NotFoundError:
            return None
        return user if user.disabled_s is None else None

    def revoke_token(self, token: str, *, now_s: float | None = None) -> bool:
        """Revoke a token (sign out); ``False`` if it is unknown or already revoked."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
            return False
        try:
            return self.store.revoke_token(token_sha256=token_sha256(token), now_s=now_s)
        except NotFoundError:
            return False

    def revoke_token_id(self, token_id: int, *, now_s: float | None = None) -> bool:
        """Revoke a token by its id (from ``store.list_tokens``); for the admin page."""
        return self.store.revoke_token(token_id=token_id, now_s=now_s)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def require_role(user: User | IngestClient | None, *roles: str) -> User:
    """Return ``user`` if they hold one of ``roles``; raise :class:`AccessDenied` if not.

    >>> require_role(User(1, "li", "qa", None, 0.0), "qa", "admin").name
    'li'
    """
    if not roles or any(role not in ROLES for role in roles):
        raise ValueError(f"require_role needs roles from {', '.join(ROLES)}, got {roles!r}")
    needed = " or ".join(roles)
    if user is None:
        raise AccessDenied(f"sign in first; this needs role {needed}")
    if isinstance(user, IngestClient):
        raise AccessDenied(f"ingest token {user.label!r} may only stream audio; this needs "
                           f"a user with role {needed}")
    if user.role not in roles:
        raise AccessDenied(f"user {user.name!r} has role {user.role!r}; this needs role "
                           f"{needed}")
    return user


def can_view_agent(user: User | IngestClient | None, agent_id: str) -> bool:
    """Whether ``user`` may see ``agent_id``'s data: agents only their own, staff anyone."""
    if not isinstance(user, User):
        return False
    if user.role == "agent":
        return user.agent_id == agent_id
    return user.role in ("admin", "supervisor", "qa")

