"""``voiceline backup``: a consistent, checked copy of a data directory in use."""

from __future__ import annotations

import threading
import time

from test_server_support import add_users, calibrate
from voiceline.cli import main
from voiceline.store import Store


def test_a_backup_taken_while_another_process_writes_is_whole_and_runs_as_a_data_dir(
        tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "copy"
    add_users(data)
    calibrate(data, "A1001")
    (data / "baselines" / "history").mkdir()  # what `calibrate --update` replaced
    (data / "baselines" / "history" / "A1001.20261120T093000.json").write_text("{}")
    with Store(data / "voiceline.db") as store:
        store.upsert_seat("S01", "north")
        for i in range(200):
            store.start_call(f"c{i}", "S01", "A1001", "audiofork", started_s=1.7e9 + i)
    written: list[int] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:  # another connection, as the server's would be
        try:
            with Store(data / "voiceline.db") as other:
                while not stop.is_set():
                    other.audit("writer", "tick", None, {"n": len(written)})
                    written.append(1)
                    time.sleep(0.001)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    while len(written) < 20:
        time.sleep(0.01)
    before = len(written)
    code = main(["backup", "--data", str(data), "--out", str(out)])
    during = len(written)
    time.sleep(0.1)
    stop.set()
    thread.join()
    assert code == 0 and not failures
    assert len(written) > during  # the writer carried on after the backup
    report = capsys.readouterr().out
    assert "checked: ok" in report and "200 calls" in report and "1 baseline file(s)" in report
    assert (out / "baselines" / "A1001.json").read_bytes() == \
        (data / "baselines" / "A1001.json").read_bytes()
    assert "1 earlier one(s) in history/" in report  # it was left out once
    assert (out / "baselines" / "history" / "A1001.20261120T093000.json").read_text() == "{}"
    with Store(out / "voiceline.db") as copy, Store(data / "voiceline.db") as source:
        assert copy.schema_version == source.schema_version
        assert [u["name"] for u in copy.list_users()] == [u["name"] for u in
                                                           source.list_users()]
        assert len(copy.list_calls(limit=1000)) == 200
        ticks = copy.list_audit(action="tick", limit=10_000)
        assert before <= len(ticks) <= during
        assert [a["action"] for a in source.list_audit(limit=10_000)
                if a["action"] == "backup"] == ["backup"]
        assert copy.list_seats()[0]["team"] == "north"


def test_a_backup_never_overwrites_and_leaves_nothing_half_made(tmp_path, capsys):
    data = tmp_path / "data"
    add_users(data)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("keep me")
    assert main(["backup", "--data", str(data), "--out", str(taken)]) == 2
    assert "never overwrites" in capsys.readouterr().err
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    assert main(["backup", "--data", str(tmp_path / "none"), "--out",
                 str(tmp_path / "x")]) == 2
    assert "no store in" in capsys.readouterr().err
    assert not (tmp_path / "none").exists() and not (tmp_path / "x").exists()
    assert main(["backup", "--data", str(data), "--out", "/proc/voiceline-backup"]) == 2
    assert "backup to /proc/voiceline-backup failed, nothing kept" in capsys.readouterr().err


def test_a_backup_into_the_data_directory_itself_is_refused(tmp_path, capsys):
    add_users(tmp_path / "data")
    assert main(["backup", "--data", str(tmp_path / "data"), "--out",
                 str(tmp_path / "data" / ".")]) == 2
    assert "never overwrites" in capsys.readouterr().err


def test_an_interrupted_backup_keeps_nothing(tmp_path, monkeypatch):
    # Found by an outside audit: Ctrl-C while the baselines were copied left a store
    # without them, which a server then ran on as if whole.
    import shutil

    data = tmp_path / "data"
    add_users(data)
    calibrate(data, "A1001")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "copy2", interrupted)
    assert main(["backup", "--data", str(data), "--out", str(tmp_path / "bk")]) == 130
    assert not (tmp_path / "bk").exists()


def test_a_backup_of_an_older_store_can_be_restored_by_the_voiceline_that_wrote_it(
        tmp_path, capsys):
    # Found by an outside audit: the backup taken before an upgrade came out upgraded
    # (and so did the store it was taken from), so the old version could not restore it.
    import sqlite3

    from voiceline.store.schema import MIGRATIONS, SCHEMA_VERSION, upgrade

    data = tmp_path / "data"
    data.mkdir()
    raw = sqlite3.connect(data / "voiceline.db", isolation_level=None)
    upgrade(raw, MIGRATIONS, target=SCHEMA_VERSION - 1)
    raw.close()
    assert main(["backup", "--data", str(data), "--out", str(tmp_path / "bk")]) == 0
    assert main(["audit", "--data", str(data)]) == 0  # reading the log, too
    assert f"kept at schema {SCHEMA_VERSION - 1}" in capsys.readouterr().err
    assert (tmp_path / "bk" / "voiceline.db").stat().st_mode & 0o777 == 0o600
    for db in (data / "voiceline.db", tmp_path / "bk" / "voiceline.db"):
        raw = sqlite3.connect(db)
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION - 1, db
        raw.close()
    with Store(data / "voiceline.db") as store:  # the new version upgrades when it runs
        assert store.schema_version == SCHEMA_VERSION


def _older_store(data) -> int:
    """A store at the schema before this one's, with a user in it; returns that version."""
    import sqlite3

    from voiceline.store.schema import MIGRATIONS, SCHEMA_VERSION, upgrade

    data.mkdir()
    raw = sqlite3.connect(data / "voiceline.db", isolation_level=None)
    upgrade(raw, MIGRATIONS, target=SCHEMA_VERSION - 1)
    raw.execute("INSERT INTO users (name, role, password_hash, created_s) VALUES "
                "('li', 'admin', '$argon2id$fake', 1.7e9)")
    raw.close()
    return SCHEMA_VERSION - 1


def _version(db) -> int:
    import sqlite3

    raw = sqlite3.connect(db)
    try:
        return raw.execute("PRAGMA user_version").fetchone()[0]
    finally:
        raw.close()


def test_a_command_does_not_upgrade_the_store_under_a_running_older_server(tmp_path, capsys):
    # Found by an upgrade audit: the new release's `voiceline user list` upgraded the
    # store of a running old server, which then wrote the old way and would not start
    # again after its next restart.
    import fcntl

    data = tmp_path / "data"
    old = _older_store(data)
    with open(data / "voiceline.lock", "a+") as lock:  # as an older `serve` holds it
        lock.write("voiceline serve, pid 4242\n")
        lock.flush()
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for command in (["user", "list"], ["directory", "list"], ["qa-export", "--out",
                                                                  str(tmp_path / "f.csv")]):
            assert main([*command, "--data", str(data)]) == 2, command
            err = capsys.readouterr().err
            assert f"at schema version {old}" in err and "pid 4242" in err, err
            assert "Stop the server first" in err
        assert _version(data / "voiceline.db") == old
        assert not list(data.glob("*.bak"))


def test_an_upgrade_says_so_and_keeps_the_store_as_it_was(tmp_path, capsys):
    from voiceline.store.database import upgrade_copies
    from voiceline.store.schema import SCHEMA_VERSION

    data = tmp_path / "data"
    old = _older_store(data)
    assert main(["user", "list", "--data", str(data)]) == 0
    err = capsys.readouterr().err
    (copy,) = data.glob(f"voiceline.db.schema{old}-*.bak")
    assert f"upgraded the store {data / 'voiceline.db'} from schema version {old} to " \
        f"{SCHEMA_VERSION}; the store as it was is kept as {copy}" in err
    assert _version(data / "voiceline.db") == SCHEMA_VERSION
    assert _version(copy) == old and copy.stat().st_mode & 0o777 == 0o600
    # retention knows it by its name, and when it was made
    (found, made_s), = upgrade_copies(data / "voiceline.db")
    assert found == copy and abs(made_s - time.time()) < 60
    with Store(copy, migrate=False) as kept:  # whole, with what it held
        assert [u["name"] for u in kept.list_users()] == ["li"]
    with Store(data / "voiceline.db") as store:
        (entry,) = [e for e in store.list_audit() if e["action"] == "upgrade_store"]
        assert entry["detail"] == {"from": old, "to": SCHEMA_VERSION, "kept": str(copy)}
        assert entry["user"].startswith("cli:")
    assert main(["user", "list", "--data", str(data)]) == 0  # current now: nothing more
    assert "upgraded" not in capsys.readouterr().err
    assert len(list(data.glob("*.bak"))) == 1


def test_the_server_upgrades_an_older_store_at_start_and_keeps_it_as_it_was(tmp_path, caplog):
    import logging

    from test_server_support import cheap_hasher
    from voiceline.server import ServerConfig
    from voiceline.server.testing import ServerThread
    from voiceline.store.schema import SCHEMA_VERSION

    data = tmp_path / "data"
    old = _older_store(data)
    config = ServerConfig(data_dir=data, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with caplog.at_level(logging.WARNING, logger="voiceline.server"), ServerThread(config):
        pass
    (copy,) = data.glob(f"voiceline.db.schema{old}-*.bak")
    assert _version(copy) == old and _version(data / "voiceline.db") == SCHEMA_VERSION
    assert any("upgraded the store" in r.getMessage() and str(copy) in r.getMessage()
               for r in caplog.records)
    with Store(data / "voiceline.db") as store:
        (entry,) = [e for e in store.list_audit() if e["action"] == "upgrade_store"]
        assert entry["user"] is None and entry["detail"]["kept"] == str(copy)
