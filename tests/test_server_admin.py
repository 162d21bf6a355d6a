"""The admin's REST routes through the real ASGI app: users, password resets, baselines.

Only admins may list, add or reset users; every change is audited; a refused request
(bad input 400, a taken name 409) leaves users, agents and the audit log as they were.
"""

from __future__ import annotations

import warnings

import pytest

from test_server_support import PASSWORD, add_users, calibrate, cheap_hasher
from voiceline.server import ServerConfig, create_app
from voiceline.store import Store

with warnings.catch_warnings():  # starlette prefers httpx2 for its test client; httpx works
    warnings.filterwarnings("ignore", message=".*install `httpx2`")
    from fastapi.testclient import TestClient

NEW_PASSWORD = "a new password 2024"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("admin-data")
    add_users(data)  # admin, sup, sup2, qa, wang (agent A1001); agents A1001 and A1002
    calibrate(data, "A1001")
    return data


@pytest.fixture(scope="module")
def client(data_dir):
    config = ServerConfig(data_dir=data_dir, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with TestClient(create_app(config)) as client:
        yield client


def sign_in(client, name: str, password: str = PASSWORD) -> dict:
    token = client.post("/api/login", json={"name": name, "password": password}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def admin(client) -> dict:
    return sign_in(client, "admin")


def stored(data_dir) -> dict:
    """Users, agents and the audit log as the store holds them (sign-ins left out: the
    server audits those after answering)."""
    with Store(data_dir / "voiceline.db") as store:
        audit = [e for e in store.list_audit(limit=1000)
                 if e["action"] not in ("login", "login_failed", "logout")]
        return {"users": store.list_users(), "agents": store.list_agents(), "audit": audit}


ADMIN_ROUTES = [("GET", "/api/users", None),
                ("POST", "/api/users", {"name": "eve", "role": "admin", "password": "x" * 12}),
                ("POST", "/api/users/sup/password", {"password": "x" * 12}),
                ("POST", "/api/users/sup/disable", None),
                ("POST", "/api/users/sup/enable", None),
                ("GET", "/api/ingest-tokens", None),
                ("DELETE", "/api/ingest-tokens/1", None)]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_only_admins_reach_the_user_routes(client, data_dir, method, path, body):
    before = stored(data_dir)
    for name in ("sup", "qa", "wang"):
        response = client.request(method, path, json=body, headers=sign_in(client, name))
        assert response.status_code == 403, (name, response.text)
        assert "needs role admin" in response.json()["detail"]
    response = client.request(method, path, json=body)
    assert response.status_code == 401
    assert stored(data_dir) == before
    assert sign_in(client, "sup")  # the supervisor's password still works


def test_the_user_list_has_names_roles_and_agents_but_no_hashes(client, admin):
    users = client.get("/api/users", headers=admin).json()
    assert [(u["name"], u["role"], u["agent_id"]) for u in users][:5] == [
        ("admin", "admin", None), ("qa", "qa", None), ("sup", "supervisor", None),
        ("sup2", "supervisor", None), ("wang", "agent", "A1001")]
    assert set(users[0]) == {"id", "name", "role", "agent_id", "created_s", "disabled_s"}
    assert "argon2" not in str(users)


def test_an_admin_adds_a_supervisor_who_can_then_sign_in(client, admin, data_dir):
    body = {"name": "zhou", "role": "supervisor", "password": "duty night 0712"}
    added = client.post("/api/users", json=body, headers=admin)
    assert added.status_code == 201
    assert {k: added.json()[k] for k in ("name", "role", "agent_id", "agent_registered")} == \
        {"name": "zhou", "role": "supervisor", "agent_id": None, "agent_registered": False}
    login = client.post("/api/login", json={"name": "zhou", "password": "duty night 0712"})
    assert login.status_code == 200 and login.json()["role"] == "supervisor"
    assert "zhou" in [u["name"] for u in client.get("/api/users", headers=admin).json()]
    entry = stored(data_dir)["audit"]
    entry = next(e for e in entry if e["action"] == "add_user" and e["object"] == "user:zhou")
    assert entry["user"] == "admin"
    assert entry["detail"] == {"role": "supervisor", "agent_id": None, "via": "api",
                               "agent_registered": False}


def test_an_agent_user_names_their_agent_which_is_registered_if_new(client, admin, data_dir):
    known = client.post("/api/users", json={"name": "zhao", "role": "agent",
                                            "password": PASSWORD, "agent_id": "A1002"},
                        headers=admin)
    assert known.status_code == 201 and known.json()["agent_registered"] is False
    new = client.post("/api/users", json={"name": "sun", "role": "agent", "password": PASSWORD,
                                          "agent_id": "A2001"}, headers=admin)
    assert new.status_code == 201
    assert (new.json()["agent_id"], new.json()["agent_registered"]) == ("A2001", True)
    agents = {a["agent_id"]: a for a in client.get("/api/agents", headers=admin).json()}
    assert "A2001" in agents and agents["A2001"]["has_baseline"] is False
    # The new agent user sees their own agent only.
    mine = client.get("/api/agents", headers=sign_in(client, "sun")).json()
    assert [a["agent_id"] for a in mine] == ["A2001"]
    audit = {e["object"]: e["detail"] for e in stored(data_dir)["audit"]
             if e["action"] == "add_user"}
    assert audit["user:sun"]["agent_registered"] is True
    assert audit["user:zhao"]["agent_id"] == "A1002"


BAD_USERS = [
    ({"name": "li", "role": "supervisor", "password": "short"}, 400, "at least 8 characters"),
    ({"name": "li", "role": "boss", "password": PASSWORD}, 400, "unknown role 'boss'"),
    ({"name": "li", "role": "agent", "password": PASSWORD}, 400, "needs the agent_id"),
    ({"name": "li", "role": "agent", "password": PASSWORD, "agent_id": "  "}, 400,
     "needs the agent_id"),
    ({"name": "li", "role": "qa", "password": PASSWORD, "agent_id": "A1001"}, 400,
     "takes no agent_id"),
    ({"name": "  ", "role": "qa", "password": PASSWORD}, 400, "user name must be a non-empty"),
    ({"name": "v3\nINFO forged", "role": "qa", "password": PASSWORD}, 400, "control character"),
    ({"name": "x" * 65, "role": "qa", "password": PASSWORD}, 400, "at most 64"),
    ({"name": "SUP", "role": "qa", "password": PASSWORD}, 409, "already exists"),
    # an agent id no baseline could be named after (the rule of calibrate and live calls)
    ({"name": "li", "role": "agent", "password": PASSWORD, "agent_id": "../x"}, 400,
     "letters, digits"),
    # A taken name refuses the agent too: nothing is registered.
    ({"name": "Wang", "role": "agent", "password": PASSWORD, "agent_id": "A3999"}, 409,
     "already exists"),
]


@pytest.mark.parametrize(("body", "status", "words"), BAD_USERS)
def test_bad_new_users_are_refused_and_change_nothing(client, admin, data_dir, body, status,
                                                      words):
    before = stored(data_dir)
    response = client.post("/api/users", json=body, headers=admin)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert stored(data_dir) == before


def test_a_missing_field_is_refused_by_validation(client, admin, data_dir):
    before = stored(data_dir)
    response = client.post("/api/users", json={"name": "li", "role": "qa"}, headers=admin)
    assert response.status_code == 422
    assert "password" in str(response.json()["detail"])
    assert stored(data_dir) == before


def test_a_reset_password_signs_the_user_out_and_replaces_the_old_one(client, admin, data_dir):
    sessions = [sign_in(client, "sup2"), sign_in(client, "sup2")]
    assert client.get("/api/seats", headers=sessions[0]).status_code == 200
    reset = client.post("/api/users/SUP2/password", json={"password": NEW_PASSWORD},
                        headers=admin)
    assert reset.status_code == 200
    assert reset.json() == {"name": "sup2", "revoked_sessions": 2}
    for headers in sessions:
        assert client.get("/api/seats", headers=headers).status_code == 401
    old = client.post("/api/login", json={"name": "sup2", "password": PASSWORD})
    assert old.status_code == 401
    assert client.post("/api/login", json={"name": "sup2", "password": NEW_PASSWORD}) \
        .status_code == 200
    entry = next(e for e in stored(data_dir)["audit"] if e["action"] == "reset_password")
    assert (entry["user"], entry["object"], entry["detail"]) == \
        ("admin", "user:sup2", {"revoked_sessions": 2, "via": "api"})
    # The admin's own session is untouched by resetting someone else's password.
    assert client.get("/api/users", headers=admin).status_code == 200


@pytest.mark.parametrize(("name", "password", "status", "words"), [
    ("nobody", NEW_PASSWORD, 404, "no user named 'nobody'"),
    ("qa", "short", 400, "at least 8 characters"),
])
def test_a_bad_reset_is_refused_and_the_old_password_still_works(client, admin, data_dir, name,
                                                                  password, status, words):
    before = stored(data_dir)
    session = sign_in(client, "qa")
    response = client.post(f"/api/users/{name}/password", json={"password": password},
                           headers=admin)
    assert response.status_code == status and words in response.json()["detail"]
    assert client.get("/api/agents", headers=session).status_code == 200
    assert sign_in(client, "qa")
    assert stored(data_dir) == before


def test_the_agent_list_says_what_each_baseline_rests_on(client, admin, data_dir):
    agents = {a["agent_id"]: a for a in client.get("/api/agents", headers=admin).json()}
    with_baseline = agents["A1001"]
    assert with_baseline["has_baseline"] is True
    base = client.get("/api/agents/A1001/baseline", headers=admin).json()
    assert with_baseline["baseline"] == {
        "speech_s": round(base["speech_s"], 1), "n_windows": base["n_windows"],
        "channel_type": "8k", "level_profile": base["level_profile"],
        "created": base["created"], "updated": base["updated"],
        "software_version": base["software_version"]}
    assert with_baseline["baseline"]["speech_s"] > 20
    assert (agents["A1002"]["has_baseline"], agents["A1002"]["baseline"]) == (False, None)
    assert agents["A1002"]["baseline_problem"] is None


def test_a_damaged_baseline_is_named_as_such_not_as_none(client, admin, data_dir):
    # Found by an audit: a truncated A1002.json read "has no baseline; calibrate" on the
    # API and the admin page; only /healthz counted it.
    path = data_dir / "baselines" / "A1002.json"
    path.write_text('{"schema_version": 2, "agent_id": "A10')
    try:
        agents = {a["agent_id"]: a for a in client.get("/api/agents", headers=admin).json()}
        assert agents["A1002"]["has_baseline"] is False
        assert "not a readable baseline" in agents["A1002"]["baseline_problem"]
        assert agents["A1001"]["baseline_problem"] is None
        answer = client.get("/api/agents/A1002/baseline", headers=admin)
        assert answer.status_code == 404
        assert "baseline file cannot be used" in answer.json()["detail"]
    finally:
        path.unlink()


def test_admins_retire_an_agent_and_give_the_id_to_someone_new(tmp_path):
    data = tmp_path / "data"
    add_users(data)
    calibrate(data, "A1001")
    config = ServerConfig(data_dir=data, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with TestClient(create_app(config)) as client:
        admin = sign_in(client, "admin")
        busy = client.delete("/api/agents/A1001", headers=admin)
        assert busy.status_code == 409 and "disable them first" in busy.json()["detail"]
        assert client.delete("/api/agents/A1001", headers=sign_in(client, "sup")
                             ).status_code == 403
        assert client.delete("/api/agents/A404", headers=admin).status_code == 404
        # an id still someone's: given all the same, with a warning
        shared = client.post("/api/users", json={"name": "li", "role": "agent",
                                                 "password": PASSWORD, "agent_id": "A1001"},
                             headers=admin).json()
        assert "already belongs to wang" in shared["warning"] and "new_tenure" not in shared
        for name in ("wang", "li"):
            assert client.post(f"/api/users/{name}/disable", headers=admin).status_code == 200
        retired = client.delete("/api/agents/A1001", headers=admin)
        assert retired.status_code == 200, retired.text
        assert retired.json()["retired_s"] is not None
        assert [n.split(".")[0] for n in retired.json()["baselines_moved"]] == ["A1001"]
        assert not (data / "baselines" / "A1001.json").exists()
        agents = {a["agent_id"]: a for a in client.get("/api/agents", headers=admin).json()}
        assert agents["A1001"]["has_baseline"] is False
        bob = client.post("/api/users", json={"name": "bob", "role": "agent",
                                              "password": PASSWORD, "agent_id": "A1001"},
                          headers=admin).json()
        assert bob["new_tenure"] is True and "warning" not in bob
    with Store(data / "voiceline.db") as store:
        agent = store.get_agent("A1001")
        assert agent["retired_s"] is None and agent["active_since_s"] is not None
        entry = store.list_audit(action="retire_agent", limit=1)[0]
    assert entry["user"] == "admin" and entry["detail"]["via"] == "api"


def test_an_agent_without_a_baseline_is_told_whom_to_ask_not_the_servers_paths(
        client, admin, data_dir):
    # Found by an audit: the agent's page got "calibrate with 'voiceline calibrate --agent
    # A1002 --out /srv/.../baselines'": the server's folder and a command not theirs.
    made = client.post("/api/users", json={"name": "qian", "role": "agent",
                                           "password": PASSWORD, "agent_id": "A1002"},
                       headers=admin)
    assert made.status_code == 201
    answer = client.get("/api/agents/A1002/baseline", headers=sign_in(client, "qian"))
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert "ask a supervisor or administrator" in detail
    assert str(data_dir) not in detail and "voiceline" not in detail
    staff = client.get("/api/agents/A1002/baseline", headers=admin).json()["detail"]
    assert "voiceline calibrate --agent A1002" in staff  # staff get the command
