"""Authentication: passwords, session and ingest tokens, and who may see what."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from argon2 import PasswordHasher

from voiceline.auth import (
    SESSION_TTL_S,
    AccessDenied,
    Auth,
    IngestClient,
    PasswordPolicyError,
    User,
    can_view_agent,
    require_role,
)
from voiceline.store import Store

T0 = 1_700_000_000.0


def cheap_hasher(time_cost: int = 1) -> PasswordHasher:
    """Argon2id at the lowest cost, so the suite stays fast; production uses the default."""
    return PasswordHasher(time_cost=time_cost, memory_cost=8, parallelism=1)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "voiceline.db"


@pytest.fixture
def store(db_path):
    with Store(db_path) as store:
        store.upsert_agent("A1001", "Wang Fang", now_s=T0)
        store.upsert_agent("A1002", "Zhao Lei", now_s=T0)
        yield store


@pytest.fixture
def auth(store):
    return Auth(store, cheap_hasher())


@pytest.fixture
def li(auth):
    return auth.add_user("li", "supervisor", "correct horse", now_s=T0)


def test_the_right_password_signs_in_and_a_wrong_one_does_not(auth, li):
    assert auth.authenticate("li", "correct horse") == li
    assert auth.authenticate("LI", "correct horse") == li  # names ignore case
    assert auth.authenticate("li", "correct horsE") is None
    assert auth.authenticate("li", "") is None
    assert auth.authenticate("nobody", "correct horse") is None
    assert auth.authenticate("", "correct horse") is None


def test_the_store_keeps_a_hash_not_the_password(auth, li, db_path):
    raw = sqlite3.connect(db_path)
    (stored,) = raw.execute("SELECT password_hash FROM users WHERE name = 'li'").fetchone()
    raw.close()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_an_unknown_name_costs_one_hash_verification_like_a_wrong_password(store):
    class CountingHasher(PasswordHasher):
        verified = 0

        def verify(self, hash, password):
            CountingHasher.verified += 1
            return super().verify(hash, password)

    auth = Auth(store, CountingHasher(time_cost=1, memory_cost=8, parallelism=1))
    auth.add_user("li", "supervisor", "correct horse")
    auth.authenticate("li", "wrong password")
    assert CountingHasher.verified == 1
    auth.authenticate("nobody", "wrong password")
    assert CountingHasher.verified == 2


def test_a_login_after_the_hash_parameters_change_upgrades_the_stored_hash(store):
    Auth(store, cheap_hasher(time_cost=1)).add_user("li", "supervisor", "correct horse")
    assert ",t=1," in store.find_login("li")[1]
    stronger = Auth(store, cheap_hasher(time_cost=2))
    assert stronger.authenticate("li", "correct horse") is not None
    assert ",t=2," in store.find_login("li")[1]
    assert stronger.authenticate("li", "correct horse") is not None
    assert stronger.authenticate("li", "wrong password") is None


def test_weak_passwords_and_bad_roles_are_refused_and_create_nobody(auth, store):
    with pytest.raises(PasswordPolicyError, match="at least 8 characters; this one has 5"):
        auth.add_user("li", "supervisor", "short")
    with pytest.raises(ValueError, match="at most 1024 characters"):
        auth.add_user("li", "supervisor", "x" * 2000)
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        auth.add_user("li", "boss", "correct horse")
    with pytest.raises(ValueError, match="needs the agent_id"):
        auth.add_user("wang", "agent", "correct horse")
    with pytest.raises(ValueError, match="unknown agent 'A9999'"):
        auth.add_user("wang", "agent", "correct horse", agent_id="A9999")
    with pytest.raises(ValueError, match="role 'qa' takes no agent_id"):
        auth.add_user("chen", "qa", "correct horse", agent_id="A1001")
    assert store.list_users() == []
    auth.add_user("li", "supervisor", "correct horse")
    with pytest.raises(ValueError, match="already exists"):
        auth.add_user("Li", "qa", "another password")
    assert [u["role"] for u in store.list_users()] == ["supervisor"]


def test_a_session_token_works_until_it_expires(auth, li):
    token = auth.issue_token(li, now_s=T0)
    assert len(token) == 46 and token.startswith("vl_")  # never "-…", read as an option
    assert auth.check_token(token, now_s=T0 + 1) == li
    assert auth.check_token(token, now_s=T0 + SESSION_TTL_S) is None  # unused: lapses


def test_a_session_in_use_slides_and_an_idle_one_lapses(auth, li):
    token = auth.issue_token(li, now_s=T0)
    half = SESSION_TTL_S / 2
    assert auth.check_token(token, now_s=T0 + half - 10) == li  # first half: no change
    assert auth.check_token(token, now_s=T0 + SESSION_TTL_S + 1) is None
    token = auth.issue_token(li, now_s=T0)
    assert auth.check_token(token, now_s=T0 + half + 10) == li  # second half: extended
    assert auth.check_token(token, now_s=T0 + SESSION_TTL_S + half) == li
    # ... to a full life from the last use, and no further when idle
    assert auth.check_token(token, now_s=T0 + 3 * SESSION_TTL_S) is None
    short = auth.issue_token(li, ttl_s=60, now_s=T0)
    assert auth.check_token(short, now_s=T0 + 59.9) == li
    assert auth.check_token(short, now_s=T0 + 60.1) is None


def test_a_revoked_or_altered_token_fails(auth, li):
    token = auth.issue_token(li, now_s=T0)
    other = auth.issue_token(li, now_s=T0)
    assert auth.check_token(token[:-1] + ("A" if token[-1] != "A" else "B"),
                            now_s=T0 + 1) is None
    assert auth.revoke_token(token, now_s=T0 + 2) is True
    assert auth.revoke_token(token, now_s=T0 + 3) is False
    assert auth.check_token(token, now_s=T0 + 4) is None
    assert auth.check_token(other, now_s=T0 + 4) == li  # signing out one session only
    for junk in ("", "x" * 10_000, None, 12345):
        assert auth.check_token(junk, now_s=T0) is None


def test_only_the_tokens_sha256_is_stored(auth, li, db_path):
    token = auth.issue_token(li, now_s=T0)
    raw = sqlite3.connect(db_path)
    rows = raw.execute("SELECT * FROM tokens").fetchall()
    raw.close()
    assert not any(token in str(value) for row in rows for value in row)
    assert rows[0][1] == hashlib.sha256(token.encode()).hexdigest()


def test_a_new_password_signs_out_every_session(auth, li):
    token = auth.issue_token(li, now_s=T0)
    assert auth.set_password("li", "battery staple", now_s=T0 + 10) == 1
    assert auth.check_token(token, now_s=T0 + 11) is None
    assert auth.authenticate("li", "correct horse") is None
    assert auth.authenticate("li", "battery staple") == li
    with pytest.raises(PasswordPolicyError):
        auth.set_password("li", "1234567")
    with pytest.raises(KeyError, match="no user named 'nobody'"):
        auth.set_password("nobody", "battery staple")


def test_ingest_tokens_stream_audio_but_open_no_pages(auth, li, store):
    ingest = auth.issue_ingest_token("freeswitch-1", now_s=T0)
    client = auth.check_token(ingest, "ingest", now_s=T0 + 86400 * 365)  # no expiry
    assert isinstance(client, IngestClient) and client.label == "freeswitch-1"
    assert auth.check_token(ingest, "session", now_s=T0) is None
    session = auth.issue_token(li, now_s=T0)
    assert auth.check_token(session, "ingest", now_s=T0) is None
    with pytest.raises(AccessDenied, match="'freeswitch-1' may only stream audio"):
        require_role(client, "supervisor", "admin")
    assert not can_view_agent(client, "A1001")
    assert [t["label"] for t in store.list_tokens(kind="ingest")] == ["freeswitch-1"]
    assert auth.revoke_token_id(client.token_id, now_s=T0 + 5) is True
    assert auth.check_token(ingest, "ingest", now_s=T0 + 6) is None
    assert store.list_tokens(kind="ingest") == []
    timed = auth.issue_ingest_token("twilio", ttl_s=3600, now_s=T0)
    assert auth.check_token(timed, "ingest", now_s=T0 + 3601) is None
    with pytest.raises(ValueError, match="issue_ingest_token"):
        auth.issue_token(li, "ingest", now_s=T0)


def test_roles_decide_what_a_user_may_do(auth, li):
    qa = auth.add_user("chen", "qa", "qa password")
    assert require_role(li, "supervisor", "admin") is li
    with pytest.raises(AccessDenied, match="'chen' has role 'qa'; this needs role supervisor"):
        require_role(qa, "supervisor")
    with pytest.raises(PermissionError, match="sign in first"):
        require_role(None, "qa")
    with pytest.raises(ValueError, match="require_role needs roles"):
        require_role(li, "supervisors")


def test_an_agent_sees_only_their_own_reports(auth, li):
    wang = auth.add_user("wang", "agent", "agent password", agent_id="A1001")
    assert can_view_agent(wang, "A1001")
    assert not can_view_agent(wang, "A1002")
    assert can_view_agent(li, "A1002")
    assert not can_view_agent(None, "A1001")
    signed_in = auth.check_token(auth.issue_token(wang, now_s=T0), now_s=T0 + 1)
    assert signed_in == User(wang.id, "wang", "agent", "A1001", wang.created_s)
