"""The floor's directory: seats (team, label, retired) and agents (name, team), set by
the admin API or ``voiceline directory``, and never changed by live calls."""

from __future__ import annotations

import asyncio
import io
import time

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect

from capture.ingest import audiofork
from emotion.baseline import Baseline, save_baseline
from emotion.windows import FEATURE_NAMES
from test_server_support import add_users, cheap_hasher, login
from voiceline.cli import main
from voiceline.server import ServerConfig
from voiceline.server.baselines import BaselineBook
from voiceline.server.testing import ServerThread
from voiceline.store import ConflictError, NotFoundError, Store

T0 = 1_780_000_000.0


# -- the store ----------------------------------------------------------------------------

def test_calls_add_unknown_seats_and_agents_but_never_change_known_ones(tmp_path):
    with Store(tmp_path / "v.db") as store:
        store.upsert_seat("S01", "north", "desk 1", now_s=T0)
        store.upsert_agent("A1", "Wang Fang", "north", now_s=T0)
        assert not store.ensure_seat("S01", now_s=T0 + 1)
        assert not store.ensure_agent("A1", now_s=T0 + 1)
        assert store.ensure_seat("S02", now_s=T0 + 1) and store.ensure_agent("A2", now_s=T0)
        seats = {s["seat_id"]: s for s in store.list_seats()}
        assert (seats["S01"]["team"], seats["S01"]["label"]) == ("north", "desk 1")
        assert (seats["S02"]["team"], seats["S02"]["label"]) == (None, None)
        assert store.list_agents()[0]["display_name"] == "Wang Fang"


def test_a_retired_seat_leaves_the_list_keeps_its_calls_and_comes_back_with_a_call(tmp_path):
    with Store(tmp_path / "v.db") as store:
        store.upsert_seat("S01", "north", now_s=T0)
        store.upsert_seat("S02", "north", now_s=T0)
        store.start_call("c1", "S01", None, "audiofork", started_s=T0)
        with pytest.raises(ConflictError, match="call 'c1' in progress"):
            store.retire_seat("S01", now_s=T0 + 1)
        store.end_call("c1", "hung up", ended_s=T0 + 60)
        retired = store.retire_seat("S01", now_s=T0 + 61)
        assert retired["retired_s"] == T0 + 61
        assert [s["seat_id"] for s in store.list_seats()] == ["S02"]
        assert [s["seat_id"] for s in store.list_seats(retired=True)] == ["S01", "S02"]
        assert store.get_call("c1")["seat_id"] == "S01"
        with pytest.raises(NotFoundError):
            store.retire_seat("S99")
        store.start_call("c2", "S01", None, "audiofork", started_s=T0 + 100)
        assert [s["seat_id"] for s in store.list_seats()] == ["S01", "S02"]
        store.retire_seat("S02", now_s=T0 + 101)
        assert store.upsert_seat("S02", "south")["retired_s"] is None  # registered again


# -- the command line ---------------------------------------------------------------------

def _directory(capsys, *args) -> tuple[int, str, str]:
    code = main(["directory", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_retire_goes_on_past_a_seat_it_cannot_retire(tmp_path, capsys):
    # an empty id once stopped the whole command before the seats after it
    with Store(tmp_path / "voiceline.db") as store:
        store.upsert_seat("S10", now_s=T0)
    code, out, err = _directory(capsys, "retire", "", "S99", "S10", "--data", tmp_path)
    assert code == 1 and "retired seat S10" in out
    assert "seat '':" in err and "seat 'S99':" in err


def test_ids_of_the_longest_allowed_length_import(tmp_path, capsys):
    # found by an outside audit: ids of 195-200 characters were refused by their own
    # audit entry ("object is 206 characters long")
    agent, seat = "A" + "9" * 199, "S" + "7" * 199
    (tmp_path / "agents.csv").write_text(f"agent_id,display_name\n{agent},x\n")
    (tmp_path / "seats.csv").write_text(f"seat_id,team\n{seat},north\n")
    for name in ("agents.csv", "seats.csv"):
        code, out, err = _directory(capsys, "import", tmp_path / name, "--data", tmp_path / "d")
        assert code == 0 and "1 added" in out, err
    code, out, _ = _directory(capsys, "list", "--data", tmp_path / "d")
    assert agent in out and seat in out


def test_import_sets_what_the_file_has_and_names_the_rows_it_refuses(tmp_path, capsys):
    data = tmp_path / "data"
    seats = tmp_path / "seats.csv"
    seats.write_text("\ufeffseat_id,team,label\nS001,north,座席 1\nS002,north,座席 2\n"
                     ",south,no id\nS003,south,desk 3,extra\n", encoding="utf-8")
    code, out, err = _directory(capsys, "import", seats, "--data", data)
    assert code == 1 and out.strip() == "seats: 2 added, 0 updated; 2 row(s) refused"
    assert "line 4: no seat_id" in err and "line 5: more cells than the header" in err
    # a file without the label column changes teams and leaves the labels alone
    teams = tmp_path / "teams.csv"
    teams.write_text("seat_id,team\nS001,east\nS002,\n", encoding="utf-8")
    assert _directory(capsys, "import", teams, "--data", data)[:2] == \
        (0, "seats: 0 added, 2 updated\n")
    agents = tmp_path / "agents.csv"
    agents.write_text("agent_id,display_name,team\nA1001,王芳,east\n../etc,x,\n",
                      encoding="utf-8")
    code, out, err = _directory(capsys, "import", agents, "--data", data)
    assert code == 1 and out == "agents: 1 added, 0 updated; 1 row(s) refused\n"
    assert "line 3: agent id '../etc' must be letters, digits" in err
    code, out, err = _directory(capsys, "retire", "S002", "S404", "--data", data)
    assert code == 1 and out == "retired seat S002\n" and "no seat 'S404'" in err
    code, out, _ = _directory(capsys, "list", "--data", data)
    assert out.splitlines() == ["seat_id,team,label,retired", "S001,east,座席 1,", "",
                                "agent_id,display_name,team", "A1001,王芳,east"]
    code, out, _ = _directory(capsys, "list", "--retired", "--data", data)
    assert "S002,,座席 2,yes" in out.splitlines()
    with Store(data / "voiceline.db") as store:
        actions = [(a["action"], a["object"]) for a in store.list_audit()]
    assert ("put_seat", "seat:S001") in actions and ("retire_seat", "seat:S002") in actions


@pytest.mark.parametrize("content, message", [
    ("name,team\nS1,north\n", "must name seat_id"),
    ("seat_id,colour\nS1,red\n", "unknown column(s) colour"),
    (b"seat_id,team\nS1,\xff\n", "is neither UTF-8 nor GB18030"),
    # once the second column's ids were imported and the first's dropped, silently
    ("seat_id,team, seat_id\nS1,north,S2\n", "names seat_id more than once"),
])
def test_a_file_that_is_not_a_directory_is_refused_whole(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, _, err = _directory(capsys, "import", path, "--data", tmp_path / "data")
    assert code == 2 and message in err
    assert not (tmp_path / "data").exists()  # nothing opened, nothing written


# -- the admin API, with live calls -------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("directory")
    ingest_token = add_users(data)
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher())
    with ServerThread(config) as server:
        server.ingest_token = ingest_token
        yield server


def test_admins_set_seats_and_agents_and_live_calls_keep_them(server):
    admin = {"Authorization": f"Bearer {login(server.url, 'admin')}"}
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    url = server.url
    assert httpx.put(f"{url}/api/seats/S-7", json={"team": "north"}, headers=sup
                     ).status_code == 403
    put = httpx.put(f"{url}/api/seats/S-7", json={"team": "north", "label": "座席 7"},
                    headers=admin)
    assert put.status_code == 200 and put.json()["team"] == "north"
    agent = httpx.put(f"{url}/api/agents/A7", json={"display_name": "李娜", "team": "north"},
                      headers=admin).json()
    assert (agent["display_name"], agent["team"]) == ("李娜", "north")
    frame = audiofork.pcm_message(np.zeros(160, dtype=np.int16))
    ws_url = f"{server.ws_url}/ingest/audiofork?token={server.ingest_token}"

    async def call(call_id: str, during=None):
        async with connect(ws_url) as ws:
            await ws.send(audiofork.start_message(call_id, "S-7", "A7"))
            await ws.send(frame)
            await asyncio.sleep(0.3)
            answer = await asyncio.to_thread(during) if during else None
            await ws.send(audiofork.stop_message("hung up"))
            await asyncio.sleep(0.2)
            return answer

    refused = asyncio.run(call("dir-1", lambda: httpx.delete(f"{url}/api/seats/S-7",
                                                             headers=admin)))
    assert refused.status_code == 409 and "in progress" in refused.json()["detail"]
    seats = httpx.get(f"{url}/api/seats", params={"all": 1}, headers=sup).json()["configured"]
    assert {s["seat_id"]: (s["team"], s["label"]) for s in seats}["S-7"] == ("north", "座席 7")
    agents = {a["agent_id"]: a for a in httpx.get(f"{url}/api/agents", headers=sup).json()}
    assert agents["A7"]["display_name"] == "李娜"
    time.sleep(0.3)
    retired = httpx.delete(f"{url}/api/seats/S-7", headers=admin)
    assert retired.status_code == 200 and retired.json()["retired_s"] is not None
    listed = httpx.get(f"{url}/api/seats", params={"all": 1}, headers=sup).json()["configured"]
    assert "S-7" not in {s["seat_id"] for s in listed}
    assert httpx.delete(f"{url}/api/seats/S-404", headers=admin).status_code == 404
    asyncio.run(call("dir-2"))  # a call on a retired seat puts it back
    listed = httpx.get(f"{url}/api/seats", params={"all": 1}, headers=sup).json()["configured"]
    assert {s["seat_id"]: s["team"] for s in listed}["S-7"] == "north"
    assert httpx.put(f"{url}/api/seats/S-8", json={"team": "x\u0000"}, headers=admin
                     ).status_code == 422
    bad = httpx.put(f"{url}/api/agents/a%20b", json={"display_name": "x"}, headers=admin)
    assert bad.status_code == 400 and "letters, digits" in bad.json()["detail"]


# -- retiring an agent --------------------------------------------------------------------

def _add(monkeypatch, capsys, name: str, agent: str, data) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-enough\n"))
    code = main(["user", "add", name, "--role", "agent", "--agent", agent,
                 "--password-stdin", "--data", str(data)])
    out, err = capsys.readouterr()
    return code, out, err


def _baseline(agent_id: str, directory, shift: float = 0.0) -> None:
    n = len(FEATURE_NAMES)
    quantiles = {q: np.full(n, v + shift) for q, v in (("q05", 0.5), ("q25", 0.8),
                                                        ("q75", 1.2), ("q95", 1.5))}
    save_baseline(Baseline(agent_id, "8k", FEATURE_NAMES, np.full(n, 1.0 + shift),
                           np.ones(n), quantiles, np.eye(n), 600, 600.0, "g711-telephone"),
                  directory)


def test_retiring_an_agent_moves_their_baseline_and_the_next_user_starts_afresh(
        tmp_path, monkeypatch, capsys):
    # found by an outside audit: a reused agent id gave the new hire the previous
    # person's baseline, calls, alerts and recordings, and 'retire' took seats only
    data, baselines = tmp_path / "data", tmp_path / "data" / "baselines"
    assert _add(monkeypatch, capsys, "ann", "A2001", data)[0] == 0
    _baseline("A2001", baselines, shift=0.1)
    (baselines / "A2001.16k.json").write_text((baselines / "A2001.json").read_text())
    _baseline("A2002", baselines, shift=0.5)
    assert BaselineBook(baselines)("A2001")[1] == "agent"
    code, out, err = _directory(capsys, "retire", "--agent", "A2001", "--data", data)
    assert code == 1 and "enabled user(s) ann; disable them first" in err
    assert (baselines / "A2001.json").is_file()  # refused: nothing moved
    assert main(["user", "disable", "ann", "--data", str(data)]) == 0
    with Store(data / "voiceline.db") as store:
        store.upsert_seat("S1")
        store.start_call("live-1", "S1", "A2001", "audio_fork")
    code, out, err = _directory(capsys, "retire", "--agent", "A2001", "--data", data)
    assert code == 1 and "call 'live-1' in progress" in err
    with Store(data / "voiceline.db") as store:
        store.end_call("live-1")
    code, out, err = _directory(capsys, "retire", "--agent", "A2001", "--data", data)
    assert code == 0, err
    assert out.startswith("retired agent A2001: baseline moved to ")
    kept = sorted(p.name for p in (baselines / "history" / "retired").iterdir())
    assert len(kept) == 2 and kept[0].startswith("A2001.16k.2") and \
        kept[1].startswith("A2001.2") and kept[1].endswith("Z.json")
    assert sorted(p.name for p in baselines.glob("*.json")) == ["A2002.json"]
    # the engine's book sees no file: the id is judged against the population
    base, source = BaselineBook(baselines)("A2001")
    assert source == "population" and base.median[0] == pytest.approx(1.5)  # A2002's, not 1.1
    with Store(data / "voiceline.db") as store:
        agent = store.get_agent("A2001")
        assert agent["retired_s"] is not None and agent["active_since_s"] is None
        entry = store.list_audit(action="retire_agent", limit=1)[0]
    assert entry["object"] == "agent:A2001" and entry["user"].startswith("cli:")
    assert entry["detail"]["via"] == "cli" and len(entry["detail"]["baselines_moved"]) == 2
    assert _directory(capsys, "list", "--data", data)[1].splitlines()[-1] == \
        "agent_id,display_name,team"  # a retired agent leaves the list ...
    assert "A2001,,,yes" in _directory(capsys, "list", "--retired", "--data", data)[1]
    # the id given to someone new: a new tenure from now, said so
    before_s = time.time()
    code, out, err = _add(monkeypatch, capsys, "bob", "A2001", data)
    assert code == 0 and "a new tenure starts now" in err
    with Store(data / "voiceline.db") as store:
        agent = store.get_agent("A2001")
        assert agent["retired_s"] is None and agent["active_since_s"] >= before_s
        assert store.list_audit(action="add_user", limit=1)[0]["detail"]["new_tenure"]
    # ann cannot come back to see bob's calls
    assert main(["user", "enable", "ann", "--data", str(data)]) == 2
    assert "given to someone new after 'ann' was added" in capsys.readouterr().err
    # an id still someone's, not retired: given all the same, with a warning
    code, out, err = _add(monkeypatch, capsys, "cai", "A2001", data)
    assert code == 0 and "warning: agent A2001 already belongs to ann, bob" in err
    assert "a new tenure" not in err


def test_importing_a_retired_agent_starts_a_new_tenure(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    with Store(data / "voiceline.db") as store:
        store.upsert_agent("A3", "Old Name", now_s=T0)
        store.retire_agent("A3", now_s=T0 + 10)
    code, out, err = _directory(capsys, "retire", "--agent", "A404", "--data", data)
    assert code == 1 and "no agent 'A404'" in err
    (tmp_path / "agents.csv").write_text("agent_id,display_name\nA3,New Name\n")
    code, out, err = _directory(capsys, "import", tmp_path / "agents.csv", "--data", data)
    assert code == 0 and "given a new tenure from now" in out and "A3" in out
    with Store(data / "voiceline.db") as store:
        agent = store.get_agent("A3")
    assert agent["retired_s"] is None and agent["active_since_s"] > T0 + 10
    assert agent["display_name"] == "New Name"
