"""The embedded store: migrations, alert life cycle, resume by event id, bad input."""

from __future__ import annotations

import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from voiceline.store import (
    SCHEMA_VERSION,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SchemaError,
    Store,
)
from voiceline.store.schema import MIGRATIONS, sql_migration, upgrade

T0 = 1_700_000_000.0  # a fixed unix time, so every test is deterministic
DRIVERS = [{"feature": "loudness_mean_sone", "z": 2.6}, {"feature": "speech_rate_syl_s",
                                                         "z": 1.9}]


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "voiceline.db"


@pytest.fixture
def store(db_path):
    with Store(db_path) as store:
        yield store


def live_call(store: Store, call_id: str = "c1", seat_id: str = "S01",
              agent_id: str = "A1001", started_s: float = T0) -> dict:
    store.upsert_seat(seat_id, team="north", now_s=started_s)
    store.upsert_agent(agent_id, f"Agent {agent_id}", team="north", now_s=started_s)
    return store.start_call(call_id, seat_id, agent_id, "twilio", started_s=started_s)


def open_loud(store: Store, call_id: str = "c1", now_s: float = T0 + 10) -> dict:
    return store.open_alert(call_id, "agitation", "warning", 0.82,
                            "loudness +2.6 σ above A1001's usual", DRIVERS, now_s=now_s)


# --- opening, pragmas and migrations ---------------------------------------------------

def test_a_new_store_is_wal_with_foreign_keys_at_the_current_version(store, db_path):
    assert store.journal_mode == "wal"
    assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS) == 12
    assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persists in the file
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 12
    raw.close()
    # it holds password and token hashes: the owner's alone (an audit found 0644)
    assert db_path.stat().st_mode & 0o777 == 0o600


def test_a_version_10_store_with_alerts_and_inspections_upgrades_to_the_current_one(db_path):
    # the schema of the twenty-third round, with what a centre has in it by then
    raw = sqlite3.connect(db_path, isolation_level=None)
    assert upgrade(raw, target=10) == 10
    raw.execute("INSERT INTO seats (seat_id, team, label, created_s) VALUES "
                "('S01', 'north', '', ?)", (T0,))
    raw.execute("INSERT INTO calls VALUES ('c1', 'S01', NULL, 'twilio', ?, NULL, NULL)", (T0,))
    raw.execute("INSERT INTO alerts (call_id, seat_id, kind, severity, state, opened_s, "
                "updated_s, score, peak_score, explanation) VALUES ('c1', 'S01', "
                "'agitation', 'warning', 'open', ?, ?, 0.8, 0.8, 'loud, for 2 s')",
                (T0 + 10, T0 + 10))
    raw.execute("INSERT INTO qa_calls (call_id, path, score, analysed_s) VALUES "
                "('0001', '/rec/day1/0001.wav', 12.0, ?)", (T0,))
    raw.close()
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        (alert,) = store.list_alerts()
        assert (alert["baseline"], alert["baseline_updated"]) == (None, None)  # not known
        assert store.qa_call_ids_of(["/rec/day1/0001.wav", "/rec/day2/0001.wav"]) \
            == {"/rec/day1/0001.wav": ["0001"]}
        store.end_call("c1", "hangup", ended_s=T0 + 30)
        assert store.get_alert(alert["id"])["state"] == "closed"


def test_a_version_1_database_is_upgraded_and_keeps_its_data(db_path):
    raw = sqlite3.connect(db_path, isolation_level=None)
    assert upgrade(raw, target=1) == 1
    raw.execute("INSERT INTO agents VALUES ('A1001', 'Wang Fang', 'north', ?)", (T0,))
    raw.execute("INSERT INTO seats VALUES ('S01', 'north', 'desk 1', ?)", (T0,))
    raw.execute("INSERT INTO users (name, role, agent_id, password_hash, created_s) "
                "VALUES ('wang', 'agent', 'A1001', '$argon2id$fake', ?)", (T0,))
    raw.execute("INSERT INTO calls VALUES ('c-old', 'S01', 'A1001', 'audiosocket', ?, ?, "
                "'hangup')", (T0, T0 + 95.5))
    raw.execute("INSERT INTO audit (time_s, user_name, action, object, detail) "
                "VALUES (?, 'admin', 'add_user', 'user:wang', '{\"role\": \"agent\"}')", (T0,))
    assert not raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'alerts'").fetchone()
    raw.close()

    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        call = store.get_call("c-old")
        assert (call["agent_id"], call["protocol"], call["ended_s"] - call["started_s"]) \
            == ("A1001", "audiosocket", 95.5)
        assert store.get_user("wang")["agent_id"] == "A1001"
        assert store.get_user("wang")["disabled_s"] is None  # an old user is enabled
        assert store.list_audit()[0]["detail"] == {"role": "agent"}
        assert store.list_agents()[0]["display_name"] == "Wang Fang"
        store.start_call("c-new", "S01", "A1001", "twilio", started_s=T0 + 200)
        assert open_loud(store, "c-new", T0 + 210)["id"] == 1  # the new tables work


def test_a_database_from_a_newer_voiceline_is_refused_and_left_alone(db_path):
    raw = sqlite3.connect(db_path, isolation_level=None)
    upgrade(raw)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(SchemaError, match=r"schema version 13.*up to version 12.*newer"):
        Store(db_path)
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    raw.close()


def test_a_failing_migration_leaves_the_file_at_its_old_version(db_path):
    raw = sqlite3.connect(db_path, isolation_level=None)
    upgrade(raw)
    broken = sql_migration("half done", "CREATE TABLE qa_results (id INTEGER)",
                           "ALTER TABLE no_such_table ADD COLUMN x")
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        upgrade(raw, (*MIGRATIONS, broken))
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert not raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'qa_results'").fetchone()
    raw.close()


def test_files_that_are_not_voiceline_stores_are_refused(tmp_path):
    other = tmp_path / "other.db"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE things (x)")
    raw.commit()
    raw.close()
    with pytest.raises(SchemaError, match="not a Voiceline store"):
        Store(other)
    text = tmp_path / "notes.db"
    text.write_text("these are notes, not a database " * 100)
    with pytest.raises(SchemaError, match="cannot open"):
        Store(text)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Store(tmp_path / "missing" / "voiceline.db")
    (tmp_path / "folder.db").mkdir()
    with pytest.raises(SchemaError, match="it is a directory"):
        Store(tmp_path / "folder.db")


# --- agents, seats, calls --------------------------------------------------------------

def test_calls_are_listed_newest_first_with_filters(store):
    live_call(store, "c1", "S01", "A1001", T0)
    store.upsert_seat("S02", now_s=T0)
    store.upsert_agent("A1002", now_s=T0)
    store.start_call("c2", "S02", "A1002", "audio_fork", started_s=T0 + 60)
    store.start_call("c3", "S01", "A1001", "twilio", started_s=T0 + 120)
    store.end_call("c1", "hangup", ended_s=T0 + 50)

    assert [c["call_id"] for c in store.list_calls()] == ["c3", "c2", "c1"]
    assert [c["call_id"] for c in store.list_calls(agent_id="A1001")] == ["c3", "c1"]
    assert [c["call_id"] for c in store.list_calls(seat_id="S02")] == ["c2"]
    assert [c["call_id"] for c in store.list_calls(since_s=T0 + 60, until_s=T0 + 120)] \
        == ["c2"]
    assert [c["call_id"] for c in store.list_calls(active=True)] == ["c3", "c2"]
    assert [c["call_id"] for c in store.list_calls(active=False)] == ["c1"]
    assert [c["call_id"] for c in store.list_calls(limit=1)] == ["c3"]
    assert store.get_call("c1")["end_reason"] == "hangup"


def test_upserting_an_agent_updates_it_and_keeps_its_creation_time(store):
    store.upsert_agent("A1001", "Wang", team="north", now_s=T0)
    agent = store.upsert_agent("A1001", "Wang Fang", team="south", now_s=T0 + 99)
    assert agent == {"agent_id": "A1001", "display_name": "Wang Fang", "team": "south",
                     "created_s": T0, "retired_s": None, "active_since_s": None}
    assert [a["agent_id"] for a in store.list_agents(team="north")] == []


def test_calls_need_a_known_seat_and_agent_and_unique_ids(store):
    live_call(store)
    with pytest.raises(ValueError, match=r"unknown seat 'S99'.*upsert_seat"):
        store.start_call("c2", "S99", "A1001", "twilio", started_s=T0)
    with pytest.raises(ValueError, match=r"unknown agent 'A9'.*upsert_agent"):
        store.start_call("c2", "S01", "A9", "twilio", started_s=T0)
    with pytest.raises(ConflictError, match="already started"):
        store.start_call("c1", "S01", "A1001", "twilio", started_s=T0)
    with pytest.raises(ValueError, match="before it started"):
        store.end_call("c1", ended_s=T0 - 1)
    with pytest.raises(NotFoundError, match="no call with id 'nope'"):
        store.get_call("nope")
    assert [c["call_id"] for c in store.list_calls()] == ["c1"]
    assert store.get_call("c1")["ended_s"] is None


@pytest.mark.parametrize(("seat", "named"), [
    ("S07\nforged", "control character U+000A"),
    ("S07\u200b", "format character U+200B"),
    ("S07\ud800", "lone surrogate (half of a character) U+D800"),
])
def test_ids_are_printable_and_the_refusal_names_what_is_wrong(store, seat, named):
    with pytest.raises(InvalidInputError, match=re.escape(named)):
        store.upsert_seat(seat, team="north", now_s=T0)
    assert store.list_seats() == []


# --- alerts ----------------------------------------------------------------------------

def test_an_alert_life_cycle_writes_one_event_per_change_with_the_full_state(store):
    live_call(store)
    alert = open_loud(store)
    assert (alert["seat_id"], alert["agent_id"], alert["state"]) == ("S01", "A1001", "open")
    assert alert["drivers"] == DRIVERS
    store.update_alert(alert["id"], score=0.95, severity="critical", now_s=T0 + 12)
    store.update_alert(alert["id"], score=0.70, explanation="loudness +1.8 σ",
                       now_s=T0 + 14)
    store.acknowledge_alert(alert["id"], "supervisor-li", now_s=T0 + 15)
    closed = store.close_alert(alert["id"], "recovered", now_s=T0 + 20)
    resolved = store.resolve_alert(alert["id"], "supervisor-li", "spoke with agent",
                                   now_s=T0 + 60)

    assert (closed["state"], closed["closed_s"], closed["close_reason"]) \
        == ("closed", T0 + 20, "recovered")
    assert (resolved["score"], resolved["peak_score"], resolved["severity"]) \
        == (0.70, 0.95, "critical")
    assert (resolved["acknowledged_by"], resolved["acknowledged_s"]) \
        == ("supervisor-li", T0 + 15)
    assert resolved["resolution_note"] == "spoke with agent"
    events = store.events_after(0)
    assert [e["type"] for e in events] \
        == ["opened", "updated", "updated", "acknowledged", "closed", "resolved"]
    assert [e["event_id"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e["time_s"] - T0 for e in events] == [10, 12, 14, 15, 20, 60]
    assert events[1]["alert"]["severity"] == "critical"
    assert events[2]["alert"]["peak_score"] == 0.95
    assert events[-1]["alert"] == store.get_alert(alert["id"]) == resolved
    assert store.last_event_id() == 6


def test_an_alert_keeps_which_baseline_judged_it(store):
    # Every score says which baseline it used; an alert still says it after its call
    # ended and after the agent's baseline was replaced.
    live_call(store)
    own = store.open_alert("c1", "agitation", "warning", 0.8, "loud", DRIVERS,
                           baseline="agent", baseline_updated="2026-11-30T10:00:00+00:00",
                           now_s=T0 + 10)
    usual = store.open_alert("c1", "low_energy", "warning", 0.8, "flat", DRIVERS,
                             baseline="population", now_s=T0 + 11)
    unknown = store.open_alert("c1", "agitation", "critical", 0.9, "loud", DRIVERS,
                               now_s=T0 + 12)
    store.end_call("c1", "hangup", ended_s=T0 + 30)
    stored = {a["id"]: (a["baseline"], a["baseline_updated"]) for a in store.list_alerts()}
    assert stored == {own["id"]: ("agent", "2026-11-30T10:00:00+00:00"),
                      usual["id"]: ("population", None), unknown["id"]: (None, None)}
    assert [e["alert"]["baseline"] for e in store.events_after(0) if e["type"] == "closed"] \
        == ["agent", "population", None]


def test_resolving_acknowledges_and_a_second_resolution_is_refused(store):
    live_call(store)
    alert_id = open_loud(store)["id"]
    resolved = store.resolve_alert(alert_id, "zhao", "false alarm", now_s=T0 + 30)
    assert (resolved["acknowledged_by"], resolved["acknowledged_s"]) == ("zhao", T0 + 30)
    with pytest.raises(ConflictError, match="already resolved by zhao"):
        store.resolve_alert(alert_id, "li", "again", now_s=T0 + 40)
    with pytest.raises(ConflictError, match="already acknowledged by zhao"):
        store.acknowledge_alert(alert_id, "li", now_s=T0 + 40)
    assert store.get_alert(alert_id)["resolved_by"] == "zhao"
    assert store.last_event_id() == 2


def test_closed_alerts_cannot_be_updated_or_closed_again(store):
    live_call(store)
    alert_id = open_loud(store)["id"]
    store.close_alert(alert_id, now_s=T0 + 20)
    with pytest.raises(ConflictError, match="open a new alert"):
        store.update_alert(alert_id, score=0.99, now_s=T0 + 21)
    with pytest.raises(ConflictError, match="already closed"):
        store.close_alert(alert_id, now_s=T0 + 21)
    assert store.get_alert(alert_id)["peak_score"] == 0.82


def test_unknown_alert_ids_raise_a_key_error_that_says_which(store):
    with pytest.raises(KeyError) as caught:
        store.acknowledge_alert(99, "li")
    assert isinstance(caught.value, NotFoundError)
    assert str(caught.value) == "no alert with id 99"
    with pytest.raises(ValueError, match="alert id must be an integer of at least 1"):
        store.get_alert("12")


def test_ids_and_offsets_beyond_sqlite_integers_are_refused_by_name(store):
    beyond = 2**70  # SQLite's INTEGER ends at 2**63 - 1; sqlite3 raised OverflowError
    for call in (lambda: store.get_alert(beyond),
                 lambda: store.acknowledge_alert(beyond, "li"),
                 lambda: store.set_flag_verdict(beyond, "confirmed", "li"),
                 lambda: store.qa_queue(offset=2**63),
                 lambda: store.events_after(beyond)):
        with pytest.raises(InvalidInputError, match=r"at most 9223372036854775807 \(the "
                                                    r"largest integer the store holds\)"):
            call()
    assert store.qa_queue(offset=2**63 - 1)["calls"] == []
    with pytest.raises(InvalidInputError, match=r"got \[10000, 10000, .{50,80}\.\.\.$"):
        store.get_alert([10_000] * 10_000)  # the message shows the start of what it got


def test_ending_a_call_closes_its_open_alerts(store):
    live_call(store)
    first = open_loud(store, now_s=T0 + 10)["id"]
    second = store.open_alert("c1", "low_energy", "warning", 0.6, "monotone", now_s=T0 + 20)
    store.close_alert(first, now_s=T0 + 15)
    store.end_call("c1", "hangup", ended_s=T0 + 30)
    closed = store.get_alert(second["id"])
    assert (closed["closed_s"], closed["close_reason"]) == (T0 + 30, "call ended")
    assert [(e["alert_id"], e["type"]) for e in store.events_after(0)] \
        == [(1, "opened"), (2, "opened"), (1, "closed"), (2, "closed")]
    with pytest.raises(ConflictError, match="live calls only"):
        open_loud(store, now_s=T0 + 40)


def test_an_alert_closes_with_its_final_words_where_given(store):
    live_call(store)
    recovered = open_loud(store)["id"]
    ended = store.open_alert("c1", "low_energy", "warning", 0.7, "flat, for 25 s", DRIVERS,
                             now_s=T0 + 11)["id"]
    kept = store.open_alert("c1", "agitation", "critical", 0.9, "loud, for 3 s", DRIVERS,
                            now_s=T0 + 12)["id"]
    closed = store.close_alert(recovered, "recovered", explanation="louder, for 9 s",
                               now_s=T0 + 19)
    assert closed["explanation"] == "louder, for 9 s"
    with pytest.raises(InvalidInputError, match="explanation is 2001 characters long"):
        store.end_call("c1", "hangup", ended_s=T0 + 60,
                       alert_explanations={ended: "x" * 2001})
    assert store.get_call("c1")["ended_s"] is None  # nothing ended, nothing closed
    store.end_call("c1", "hangup", ended_s=T0 + 60, alert_explanations={ended: "flat, for 74 s"})
    words = {a["id"]: (a["state"], a["explanation"]) for a in store.list_alerts()}
    assert words == {recovered: ("closed", "louder, for 9 s"),
                     ended: ("closed", "flat, for 74 s"), kept: ("closed", "loud, for 3 s")}


def test_alerts_of_a_call_the_server_cut_close_as_server_stopped(store):
    live_call(store)
    alert = open_loud(store, now_s=T0 + 10)["id"]
    store.end_call("c1", "server shutdown", ended_s=T0 + 30, alerts_reason="server stopped")
    closed = store.get_alert(alert)
    assert (closed["state"], closed["closed_s"], closed["close_reason"]) \
        == ("closed", T0 + 30, "server stopped")
    assert store.events_after(0)[-1]["alert"]["close_reason"] == "server stopped"
    assert store.get_call("c1")["end_reason"] == "server shutdown"


def test_alerts_are_listed_newest_first_with_filters(store):
    live_call(store, "c1", "S01", "A1001")
    live_call(store, "c2", "S02", "A1002")
    a1 = open_loud(store, "c1", T0 + 10)["id"]
    a2 = store.open_alert("c2", "low_energy", "critical", 0.9, "flat", now_s=T0 + 20)["id"]
    a3 = open_loud(store, "c2", T0 + 30)["id"]
    store.close_alert(a1, now_s=T0 + 40)
    store.resolve_alert(a2, "li", now_s=T0 + 50)

    def ids(**filters):
        return [a["id"] for a in store.list_alerts(**filters)]

    assert ids() == [a3, a2, a1]
    assert ids(state="open") == [a3, a2]
    assert ids(kind="low_energy") == [a2]
    assert ids(severity="warning") == [a3, a1]
    assert ids(agent_id="A1002") == [a3, a2]
    assert ids(seat_id="S01") == [a1]
    assert ids(call_id="c2", resolved=False) == [a3]
    assert ids(resolved=True) == [a2]
    assert ids(acknowledged=False, state="open") == [a3]
    assert ids(since_s=T0 + 20) == [a3, a2]
    assert ids(limit=2) == [a3, a2]
    with pytest.raises(ValueError, match="unknown alert state 'opened'"):
        store.list_alerts(state="opened")


def test_bad_alert_input_is_refused_and_stores_nothing(store):
    live_call(store)
    open_loud(store)
    before = (store.list_alerts(), store.last_event_id())
    bad = [
        (dict(kind="angry"), "unknown alert kind 'angry'; expected one of agitation, low_energy"),
        (dict(severity="high"), "unknown severity 'high'"),
        (dict(score=float("nan")), "score must be finite"),
        (dict(explanation="  "), "explanation must be a non-empty string"),
        (dict(drivers=["loudness"]), "drivers must be a list of dicts"),
        (dict(drivers=[{"z": float("inf")}]), "drivers cannot be stored as JSON"),
        (dict(baseline="own"), "unknown baseline 'own'; expected one of agent, population"),
        (dict(baseline="population", baseline_updated="2026-11-30T10:00:00+00:00"),
         "baseline_updated names a version of the agent's own baseline"),
    ]
    for change, message in bad:
        arguments = dict(call_id="c1", kind="agitation", severity="warning", score=0.8,
                         explanation="loud", drivers=DRIVERS, now_s=T0 + 20) | change
        with pytest.raises(InvalidInputError, match=re.escape(message)):
            store.open_alert(**arguments)
    with pytest.raises(ValueError, match="at least one of"):
        store.update_alert(1, now_s=T0 + 20)
    with pytest.raises(ValueError, match="unknown severity"):
        store.update_alert(1, score=0.99, severity="extreme", now_s=T0 + 20)
    with pytest.raises(ValueError, match="user must be a non-empty string"):
        store.acknowledge_alert(1, "")
    with pytest.raises(ValueError, match="agent_id must be a non-empty string"):
        store.upsert_agent("")
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        store.add_user("chen", "boss", "$argon2id$fake")
    assert (store.list_alerts(), store.last_event_id()) == before
    assert store.list_users() == []


def test_numpy_values_from_the_engine_are_stored_as_plain_numbers(store):
    live_call(store)
    drivers = [{"feature": "loudness_mean_sone", "z": np.float32(2.5)}]
    alert = store.open_alert("c1", "agitation", "warning", np.float64(0.8), "loud",
                             drivers, now_s=T0 + 1)
    assert alert["drivers"] == [{"feature": "loudness_mean_sone", "z": 2.5}]
    assert store.events_after(0)[0]["alert"]["score"] == 0.8


# --- durability and sharing ------------------------------------------------------------

def test_a_dashboard_resumes_from_its_last_event_id_across_a_restart(db_path):
    with Store(db_path) as store:
        live_call(store)
        first = open_loud(store, now_s=T0 + 10)["id"]
        store.update_alert(first, score=0.9, now_s=T0 + 11)
        seen = store.last_event_id()
        store.close_alert(first, now_s=T0 + 12)
        store.resolve_alert(first, "li", "ok", now_s=T0 + 13)
    with Store(db_path) as store:  # the server restarted
        second = open_loud(store, now_s=T0 + 20)["id"]
        assert second > first
        missed = store.events_after(seen)
        assert [(e["event_id"], e["alert_id"], e["type"]) for e in missed] \
            == [(3, first, "closed"), (4, first, "resolved"), (5, second, "opened")]
        assert missed[1]["alert"]["resolution_note"] == "ok"
        assert store.events_after(missed[-1]["event_id"]) == []
        assert [e["event_id"] for e in store.events_after(0, limit=2)] == [1, 2]


def test_two_stores_on_one_file_see_each_others_commits(db_path):
    with Store(db_path) as old, Store(db_path) as new:
        live_call(old)
        alert_id = open_loud(old)["id"]
        assert new.get_alert(alert_id)["state"] == "open"
        new.acknowledge_alert(alert_id, "li", now_s=T0 + 12)
        assert old.get_alert(alert_id)["acknowledged_by"] == "li"
        second = open_loud(new, now_s=T0 + 13)["id"]
        assert second == alert_id + 1
        assert [e["event_id"] for e in old.events_after(0)] == [1, 2, 3]
        assert old.last_event_id() == new.last_event_id() == 3


def test_a_store_can_be_used_from_worker_threads(store):
    live_call(store)

    def open_many(worker: int) -> list[int]:
        return [open_loud(store, now_s=T0 + worker * 100 + i)["id"] for i in range(25)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = [i for chunk in pool.map(open_many, range(4)) for i in chunk]
    assert sorted(ids) == list(range(1, 101))
    assert [e["event_id"] for e in store.events_after(0)] == list(range(1, 101))


# --- audit -----------------------------------------------------------------------------

def test_the_audit_log_keeps_who_did_what_and_filters(store):
    store.audit("admin", "add_user", "user:li", {"role": "supervisor"}, now_s=T0)
    store.audit("li", "acknowledge_alert", "alert:1", now_s=T0 + 5)
    store.audit(None, "server_start", detail={"version": "0.1.0"}, now_s=T0 + 9)
    entries = store.list_audit()
    assert [e["action"] for e in entries] == ["server_start", "acknowledge_alert", "add_user"]
    assert entries[2] == {"id": 1, "time_s": T0, "user": "admin", "action": "add_user",
                          "object": "user:li", "detail": {"role": "supervisor"}}
    assert [e["id"] for e in store.list_audit(user="li")] == [2]
    assert [e["id"] for e in store.list_audit(since_s=T0 + 1, until_s=T0 + 9)] == [2]
    assert [e["id"] for e in store.list_audit(obj="alert:1")] == [2]
    with pytest.raises(ValueError, match="detail must be a dict"):
        store.audit("li", "x", detail=["not", "an", "object"])
    assert len(store.list_audit()) == 3
