"""Retention: what is older than the settings keep is deleted, everything else stays.

The store deletes in short batches (calls with their alerts and events, inspected
recordings with their flags and verdicts, audit entries, dead session tokens); the server
does it at start and hourly, and only when a period is set (0, the default, keeps all).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from test_server_support import add_users, cheap_hasher, login
from voiceline.auth import Auth
from voiceline.server import ServerConfig
from voiceline.server.config import ConfigError
from voiceline.server.testing import ServerThread
from voiceline.store import Store

DAY = 86400.0
NOW = time.time()
OLD, RECENT = NOW - 100 * DAY, NOW - 5 * DAY


def _flag(start_s: float) -> dict:
    return {"check": "dead_air", "start_s": start_s, "end_s": start_s + 9.0,
            "severity": "warning", "channel": "both", "detail": "9 s without speech",
            "evidence": {}}


def seed(store: Store) -> None:
    """Old and recent records of every kind, plus a call that started long ago and is
    still live (a line held open: never deleted while live)."""
    store.upsert_seat("S01", team="north")
    store.upsert_agent("A1001", "Wang Fang")
    for call_id, started_s, ends in (("old-1", OLD, True), ("old-2", OLD + 60, True),
                                     ("old-live", OLD + 120, False), ("new-1", RECENT, True)):
        store.start_call(call_id, "S01", "A1001", "twilio", started_s=started_s)
        alert = store.open_alert(call_id, "agitation", "warning", 0.9, "loudness +3 σ", [],
                                 now_s=started_s + 10)
        store.close_alert(alert["id"], "calm again", now_s=started_s + 20)
        if ends:
            store.end_call(call_id, "hangup", ended_s=started_s + 30)
    for call_id, analysed_s in (("rec-old", OLD), ("rec-new", RECENT)):
        result = {"call_id": call_id, "path": f"/rec/{call_id}.wav", "agent_id": "A1001",
                  "duration_s": 60.0, "score": 50.0, "metrics": {}, "metadata": {},
                  "flags": [_flag(3.0), _flag(30.0)]}
        store.save_qa_result(result, now_s=analysed_s)
        flag_id = store.qa_call(call_id)["flags"][0]["id"]
        store.set_flag_verdict(flag_id, "confirmed", "qa", now_s=analysed_s + 60)
    for when in (OLD, OLD + 1, RECENT):
        store.audit("admin", "login", now_s=when)
    auth = Auth(store, cheap_hasher())
    user = auth.add_user("li", "supervisor", "correct horse battery")
    auth.issue_token(user, ttl_s=3600, now_s=OLD)                 # expired long ago
    revoked = auth.issue_token(user, ttl_s=10 * DAY, now_s=RECENT - 40 * DAY)
    auth.revoke_token(revoked, now_s=RECENT - 39 * DAY)         # revoked long ago
    auth.issue_token(user, ttl_s=3600, now_s=NOW - 600)           # alive
    ingest = auth.issue_ingest_token("pbx-old", now_s=OLD)
    auth.revoke_token(ingest, now_s=OLD + 1)                      # listed for the record


def counts(store: Store) -> dict:
    conn = store._conn
    return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("calls", "alerts", "alert_events", "qa_calls", "qa_flags", "audit",
                          "tokens")}


def test_each_kind_goes_in_batches_and_only_what_is_older(tmp_path):
    with Store(tmp_path / "voiceline.db") as store:
        seed(store)
        before, last_event = counts(store), store.last_event_id()
        cutoff = NOW - 30 * DAY
        assert store.prune_batch("calls", cutoff, limit=1) == 1  # one batch, one call
        assert store.prune_batch("calls", cutoff, limit=5) == 1  # the rest: fewer than 5
        assert store.prune_batch("calls", cutoff) == 0
        assert store.prune_batch("qa_calls", cutoff) == 1
        assert store.prune_batch("audit", cutoff) == 3  # two logins and a verdict
        assert store.prune_batch("sessions", NOW - 30 * DAY) == 2
        after = counts(store)
        assert {c["call_id"] for c in store.list_calls(limit=100)} == {"old-live", "new-1"}
        assert {a["call_id"] for a in store.list_alerts(limit=100)} == {"old-live", "new-1"}
        assert after["alert_events"] == before["alert_events"] // 2
        assert [q["call_id"] for q in store.qa_queue()["calls"]] == ["rec-new"]
        assert after["qa_flags"] == before["qa_flags"] - 2
        assert [p["confirmed"] for p in store.qa_check_precision()] == [1]
        assert len(store.list_audit()) == 2
        tokens = store.list_tokens(include_revoked=True)
        assert sorted(t["kind"] for t in tokens) == ["ingest", "session"]
        assert store.list_seats()[0]["seat_id"] == "S01" and store.list_agents()
        # event ids are never reused: the feed's head stays where it was
        assert store.last_event_id() == last_event
        store.start_call("new-2", "S01", "A1001", "twilio")
        store.open_alert("new-2", "agitation", "warning", 0.9, "x", [])
        assert store.last_event_id() == last_event + 1


def test_the_store_refuses_an_unknown_kind_or_a_non_number(tmp_path):
    with Store(tmp_path / "voiceline.db") as store:
        with pytest.raises(ValueError, match="kind"):
            store.prune_batch("users", NOW)
        with pytest.raises(ValueError, match="before_s"):
            store.prune_batch("calls", float("nan"))


def seeded_data(tmp_path) -> tuple:
    """A data directory with the test users and :func:`seed`'s records, and its counts."""
    data = tmp_path / "data"
    add_users(data)
    with Store(data / "voiceline.db") as store:
        seed(store)
        return data, counts(store)


def test_the_server_deletes_at_start_what_its_settings_do_not_keep(tmp_path):
    data, before = seeded_data(tmp_path)
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher(),
                          record_retention_days=30, audit_retention_days=60)
    with ServerThread(config) as server:
        admin = {"Authorization": f"Bearer {login(server.url, 'admin')}"}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            calls = httpx.get(f"{server.url}/api/calls", headers=admin).json()
            if len(calls) == 1:
                break
            time.sleep(0.2)
        # the server ends the call left live by the last run as it starts, so it goes too
        assert [c["call_id"] for c in calls] == ["new-1"]
        queue = httpx.get(f"{server.url}/api/qa/queue", headers=admin).json()
        assert [c["call_id"] for c in queue["calls"]] == ["rec-new"]
    with Store(data / "voiceline.db") as store:
        after = counts(store)
        audit = store.list_audit(limit=1000)
    assert after["audit"] < before["audit"] + 10 and all(e["time_s"] > NOW - 61 * DAY
                                                         for e in audit)
    assert after["tokens"] < before["tokens"] + 5


def test_by_default_the_server_keeps_every_record(tmp_path):
    data, before = seeded_data(tmp_path)
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher())
    with ServerThread(config):
        time.sleep(1.0)
    with Store(data / "voiceline.db") as store:
        after = counts(store)
    for table in ("calls", "alerts", "alert_events", "qa_calls", "qa_flags"):
        assert after[table] == before[table], table
    assert after["audit"] >= before["audit"]
    assert after["tokens"] == before["tokens"] - 2  # only the dead sessions


@pytest.mark.parametrize("name", ["record_retention_days", "audit_retention_days"])
def test_a_negative_or_endless_period_is_refused_by_name(tmp_path, name):
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match=name):
            ServerConfig(data_dir=tmp_path, **{name: bad})


def _upgrade_copy(data: Path, days_ago: float, n: str = "") -> Path:
    """A file named as the copy an upgrade keeps, made ``days_ago``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(NOW - days_ago * DAY))
    copy = data / f"voiceline.db.schema9-{stamp}{n}.bak"
    copy.write_bytes(b"SQLite format 3\x00")
    return copy


def test_the_copy_an_upgrade_kept_goes_when_the_longer_period_has_passed(tmp_path):
    data, _ = seeded_data(tmp_path)
    old, old_2 = _upgrade_copy(data, 70), _upgrade_copy(data, 70, "-2")
    (data / f"{old.name}-wal").write_bytes(b"")
    recent = _upgrade_copy(data, 50)  # older than the calls' 30 days, not the audit's 60
    unrelated = data / "voiceline.db.schema9-by-hand.bak"  # not a name an upgrade writes
    unrelated.write_bytes(b"")
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher(),
                          record_retention_days=30, audit_retention_days=60)
    with ServerThread(config) as server:
        deadline = time.monotonic() + 20
        while old.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        server.settle_store()
    assert not old.exists() and not old_2.exists() and not (data / f"{old.name}-wal").exists()
    assert recent.exists() and unrelated.exists()
    with Store(data / "voiceline.db") as store:
        deleted = {e["detail"]["path"] for e in store.list_audit(action="delete_upgrade_copy")}
    assert deleted == {str(old), str(old_2)}


def test_the_copy_an_upgrade_kept_stays_while_no_period_is_set(tmp_path):
    data, _ = seeded_data(tmp_path)
    copy = _upgrade_copy(data, 3000)
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher())
    with ServerThread(config):
        time.sleep(1.0)
    assert copy.exists()


def test_the_copies_an_upgrade_keeps_are_found_by_the_time_in_their_name(tmp_path):
    from voiceline.store.database import upgrade_copies
    from voiceline.store.retention import prune_upgrade_copies

    (tmp_path / "voiceline.db").write_bytes(b"")
    copies = [_upgrade_copy(tmp_path, days) for days in (10, 400, 40)]
    (tmp_path / "other.db.schema9-20200101T000000Z.bak").write_bytes(b"")  # another store's
    (tmp_path / "voiceline.db.schema9-20201301T000000Z.bak").write_bytes(b"")  # no such month
    assert [c for c, _ in upgrade_copies(tmp_path / "voiceline.db")] == \
        [copies[1], copies[2], copies[0]]
    assert prune_upgrade_copies(tmp_path / "voiceline.db", NOW - 30 * DAY) == \
        [copies[1], copies[2]]
    assert [c for c, _ in upgrade_copies(tmp_path / "voiceline.db")] == [copies[0]]
    with pytest.raises(ValueError, match="before_s"):
        prune_upgrade_copies(tmp_path / "voiceline.db", float("nan"))
