"""Withdrawing access: disabled users, one's own password, revoked ingest tokens.

Through a real server: what a withdrawn credential still had open (a dashboard's feed, an
ingest connection streaming a call) is closed with the reason, and everyone else's carries
on. The same actions from the command line, on a data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import sys
import time
import uuid

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from capture.ingest import audiofork, audiosocket
from test_server_support import (
    PASSWORD,
    AlertFeed,
    add_users,
    as_account,
    calibrate,
    cheap_hasher,
    login,
)
from voiceline.auth import Auth
from voiceline.cli import main
from voiceline.server import ServerConfig
from voiceline.server.testing import ServerThread
from voiceline.store import ConflictError, Store

CHECK_S = 0.5  # the server's checks for revocations made outside it, shortened
NEW_PASSWORD = "a brand new passphrase"
FRAME = audiofork.pcm_message(np.zeros(160, dtype=np.int16))  # 20 ms at 8 kHz


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("access")
    add_users(data)  # admin, sup, sup2, qa, wang
    with Store(data / "voiceline.db") as store:
        auth = Auth(store, cheap_hasher())
        auth.add_user("leaver", "supervisor", PASSWORD)
        auth.add_user("changer", "qa", PASSWORD)
        auth.add_user("admin2", "admin", PASSWORD)
    calibrate(data, "A1001")
    config = ServerConfig(data_dir=data, audiosocket_port=0, password_hasher=cheap_hasher())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("voiceline.server.service.REVOCATION_CHECK_S", CHECK_S)
        patch.setattr("voiceline.server.service.SESSION_CHECK_S", CHECK_S)
        with ServerThread(config) as server:
            server.data = data
            yield server


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _admin(server) -> dict:
    return _bearer(login(server.url, "admin"))


def _login(server, name: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{server.url}/api/login", json={"name": name, "password": password})


def _audit(server) -> list[dict]:
    server.settle_store()
    with Store(server.data / "voiceline.db") as store:
        return store.list_audit(limit=1000)


async def _feed_closed(feed: AlertFeed, timeout_s: float = 10.0) -> tuple[int, str]:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(feed._task, timeout_s)
    return feed.close_code, feed.close_reason


# -- users --------------------------------------------------------------------------------

def test_a_disabled_user_is_signed_out_everywhere_and_told_why_at_sign_in(server):
    admin = _admin(server)
    token = login(server.url, "leaver")

    async def scenario():
        async with AlertFeed(server.ws_url, token) as feed, \
                AlertFeed(server.ws_url, login(server.url, "sup")) as other:
            assert feed.hello["user"] == "leaver"
            answer = httpx.post(f"{server.url}/api/users/leaver/disable", headers=admin)
            closed = await _feed_closed(feed)
            await other.send({"type": "ping"})
            pong = await other.wait_for(lambda m: m.get("type") == "pong")
            return answer, closed, pong, other.close_code

    answer, closed, pong, other_code = asyncio.run(scenario())
    assert answer.status_code == 200, answer.text
    assert answer.json()["revoked_sessions"] >= 1 and answer.json()["disabled_s"] > 0
    assert closed == (1008, "the account was disabled")
    assert pong and other_code is None  # another supervisor's feed carries on
    assert httpx.get(f"{server.url}/api/alerts", headers=_bearer(token)).status_code == 401
    refused = _login(server, "leaver")
    assert refused.status_code == 403 and "disabled" in refused.json()["detail"]
    assert _login(server, "leaver", "not the password").status_code == 401  # says nothing
    users = {u["name"]: u for u in httpx.get(f"{server.url}/api/users", headers=admin).json()}
    assert users["leaver"]["disabled_s"] is not None and users["sup"]["disabled_s"] is None

    again = httpx.post(f"{server.url}/api/users/leaver/enable", headers=admin)
    assert again.status_code == 200 and again.json()["disabled_s"] is None
    assert _login(server, "leaver").status_code == 200  # with the password they had
    actions = [(e["action"], e["object"]) for e in _audit(server)]
    assert ("disable_user", "user:leaver") in actions and ("enable_user", "user:leaver") in actions
    assert ("login_disabled", None) in actions


def test_only_admins_disable_and_never_themselves(server):
    admin = _admin(server)
    own = httpx.post(f"{server.url}/api/users/admin/disable", headers=admin)
    assert own.status_code == 409 and "your own account" in own.json()["detail"]
    assert httpx.post(f"{server.url}/api/users/nobody/disable",
                      headers=admin).status_code == 404
    sup = _bearer(login(server.url, "sup"))
    for path in ("/api/users/qa/disable", "/api/users/qa/enable"):
        assert httpx.post(f"{server.url}{path}", headers=sup).status_code == 403
    assert _login(server, "qa").status_code == 200 and _login(server, "admin").status_code == 200


def test_the_last_enabled_admin_cannot_be_disabled(tmp_path):
    with Store(tmp_path / "voiceline.db") as store:
        auth = Auth(store, cheap_hasher())
        one = auth.add_user("one", "admin", PASSWORD)
        two = auth.add_user("two", "admin", PASSWORD)
        store.set_user_disabled(two.id, True)
        with pytest.raises(ConflictError, match="only enabled admin"):
            store.set_user_disabled(one.id, True)
        assert store.get_user("one")["disabled_s"] is None
        store.set_user_disabled(two.id, False)
        _, revoked = store.set_user_disabled(one.id, True)
        assert revoked == 0 and store.get_user("one")["disabled_s"] is not None


def test_a_user_changes_their_own_password_and_their_other_sessions_end(server):
    here, elsewhere = login(server.url, "changer"), login(server.url, "changer")
    url = f"{server.url}/api/me/password"

    async def scenario():
        async with AlertFeed(server.ws_url, here) as kept, \
                AlertFeed(server.ws_url, elsewhere) as ended:
            wrong = httpx.post(url, headers=_bearer(here),
                               json={"current_password": "a guess at it",
                                     "new_password": NEW_PASSWORD})
            weak = httpx.post(url, headers=_bearer(here),
                              json={"current_password": PASSWORD, "new_password": "short"})
            right = httpx.post(url, headers=_bearer(here),
                               json={"current_password": PASSWORD,
                                     "new_password": NEW_PASSWORD})
            closed = await _feed_closed(ended)
            await kept.send({"type": "ping"})
            pong = await kept.wait_for(lambda m: m.get("type") == "pong")
            return wrong, weak, right, closed, pong

    wrong, weak, right, closed, pong = asyncio.run(scenario())
    assert wrong.status_code == 403 and "current password is wrong" in wrong.json()["detail"]
    assert weak.status_code == 400 and "at least 8 characters" in weak.text
    assert right.status_code == 200 and right.json()["revoked_sessions"] == 1
    assert closed == (1008, "the password was changed; sign in again") and pong
    assert httpx.get(f"{server.url}/api/alerts", headers=_bearer(here)).status_code == 200
    assert httpx.get(f"{server.url}/api/alerts",
                     headers=_bearer(elsewhere)).status_code == 401
    assert _login(server, "changer").status_code == 401
    assert _login(server, "changer", NEW_PASSWORD).status_code == 200
    assert httpx.post(url, json={"current_password": "x", "new_password": "y"}
                      ).status_code == 401  # signed out: no one to change
    actions = [e["action"] for e in _audit(server) if e["user"] == "changer"]
    assert "change_password" in actions and "change_password_refused" in actions


def test_a_dashboard_whose_session_ended_elsewhere_is_closed(server):
    token = login(server.url, "sup2")

    async def scenario():
        async with AlertFeed(server.ws_url, token) as feed:
            with Store(server.data / "voiceline.db") as store:  # as the CLI would
                Auth(store).revoke_token(token)
            return await _feed_closed(feed)

    code, reason = asyncio.run(scenario())
    assert code == 1008 and "session has ended" in reason


# -- ingest tokens ------------------------------------------------------------------------

def _issue(server, admin: dict, label: str) -> str:
    answer = httpx.post(f"{server.url}/api/ingest-tokens", headers=admin, json={"label": label})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


async def _start(base: str, token: str, call_id: str, seat: str):
    ws = await connect(f"{base}/ingest/audiofork?token={token}")
    await ws.send(audiofork.start_message(call_id, seat, "A1001"))
    for _ in range(5):
        await ws.send(FRAME)
    return ws


async def _stream_until_closed(ws, seconds: float) -> tuple[int | None, str | None]:
    """Send 20 ms frames for ``seconds`` or until the server closes the socket."""
    with contextlib.suppress(ConnectionClosed):
        for _ in range(int(seconds / 0.02)):
            await ws.send(FRAME)
            await asyncio.sleep(0.02)
        return None, None
    return ws.close_code, ws.close_reason


def test_revoking_an_ingest_token_closes_its_calls_and_refuses_it(server):
    admin = _admin(server)
    old, kept = _issue(server, admin, "pbx-old"), _issue(server, admin, "pbx-kept")
    listed = httpx.get(f"{server.url}/api/ingest-tokens", headers=admin).json()
    old_id = next(t["id"] for t in listed if t["label"] == "pbx-old")
    assert all("token" not in t and "token_sha256" not in t for t in listed)

    async def scenario():
        lean = await _start(server.ingest_url, old, "rv-lean", "S-RV1")
        http = await _start(server.ws_url, old, "rv-http", "S-RV2")
        control = await _start(server.ingest_url, kept, "rv-kept", "S-RV3")
        await asyncio.sleep(0.3)
        using = {t["label"]: t["connections"] for t in httpx.get(
            f"{server.url}/api/ingest-tokens", headers=admin).json()}
        answer = httpx.delete(f"{server.url}/api/ingest-tokens/{old_id}", headers=admin)
        closes = await asyncio.gather(_stream_until_closed(lean, 5.0),
                                      _stream_until_closed(http, 5.0),
                                      _stream_until_closed(control, 1.0))
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{server.ingest_url}/ingest/audiofork?token={old}")
        await control.send(audiofork.stop_message("hung up"))
        await control.close()
        return using, answer, closes, refused.value.response.status_code

    using, answer, closes, refused = asyncio.run(scenario())
    assert using["pbx-old"] == 2 and using["pbx-kept"] == 1
    assert answer.status_code == 200, answer.text
    assert answer.json()["revoked"] and answer.json()["connections_closed"] == 2
    reason = "the ingest token 'pbx-old' was revoked"
    assert closes[0] == closes[1] == (1008, reason)
    assert closes[2] == (None, None)  # the other token's call streamed on
    assert refused == 401
    sup = _bearer(login(server.url, "sup"))
    calls = {c["call_id"]: c for c in httpx.get(f"{server.url}/api/calls", headers=sup,
                                                params={"limit": 200}).json()}
    assert reason in calls["rv-lean"]["end_reason"] and reason in calls["rv-http"]["end_reason"]
    again = httpx.delete(f"{server.url}/api/ingest-tokens/{old_id}", headers=admin).json()
    assert again["revoked"] is False and again["revoked_s"] == answer.json()["revoked_s"]
    assert httpx.delete(f"{server.url}/api/ingest-tokens/999999",
                        headers=admin).status_code == 404
    assert httpx.delete(f"{server.url}/api/ingest-tokens/{old_id}",
                        headers=sup).status_code == 403
    assert ("revoke_ingest_token", f"token:{old_id}") in [
        (e["action"], e["object"]) for e in _audit(server)]
    metrics = httpx.get(f"{server.url}/metrics", headers=admin).text
    assert 'voiceline_connections_cut_total{port="ingest",reason="token_revoked"}' in metrics
    assert 'voiceline_connections_cut_total{port="http",reason="token_revoked"}' in metrics


def test_a_token_revoked_outside_the_server_closes_its_connection_soon(server):
    token = _issue(server, _admin(server), "pbx-cli")

    async def scenario():
        ws = await _start(server.ingest_url, token, "rv-cli", "S-RV4")
        with Store(server.data / "voiceline.db") as store:  # as `voiceline user revoke` does
            Auth(store).revoke_token(token)
        return await _stream_until_closed(ws, 10.0)

    assert asyncio.run(scenario()) == (1008, "the ingest token 'pbx-cli' was revoked")


def test_revoking_a_token_cuts_the_audiosocket_calls_it_bound_and_drops_its_bindings(server):
    admin = _admin(server)
    token = _issue(server, admin, "pbx-as")
    token_id = next(t["id"] for t in httpx.get(f"{server.url}/api/ingest-tokens",
                                               headers=admin).json() if t["label"] == "pbx-as")
    live, unused = str(uuid.uuid4()), str(uuid.uuid4())
    for call_uuid, seat in ((live, "S-AS1"), (unused, "S-AS2")):
        bound = httpx.post(f"{server.url}/api/audiosocket/bind", headers=_bearer(token),
                           json={"uuid": call_uuid, "seat": seat, "agent": "A1001"})
        assert bound.status_code == 201, bound.text
    chunk = audiosocket.audio_message(np.zeros(160, dtype=np.int16))

    async def stream(call_uuid: str, revoke: bool) -> float:
        """Seconds the server kept the socket open (at most 5), revoking after 0.3 s."""
        reader, writer = await asyncio.open_connection("127.0.0.1",
                                                       server.config.audiosocket_port)
        writer.write(audiosocket.uuid_message(call_uuid))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with contextlib.suppress(ConnectionError):
            while loop.time() - t0 < 5.0 and not reader.at_eof():
                writer.write(chunk)
                await writer.drain()
                if revoke and loop.time() - t0 > 0.3:
                    revoke = False
                    await asyncio.to_thread(httpx.delete,
                                            f"{server.url}/api/ingest-tokens/{token_id}",
                                            headers=admin)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.read(1), 0.02)
        writer.close()
        return loop.time() - t0

    assert asyncio.run(stream(live, revoke=True)) < 3.0
    assert asyncio.run(stream(unused, revoke=False)) < 3.0  # its binding went with the token
    sup = _bearer(login(server.url, "sup"))
    calls = {c["call_id"]: c for c in httpx.get(f"{server.url}/api/calls", headers=sup,
                                                params={"limit": 200}).json()}
    assert "the ingest token 'pbx-as' was revoked" in calls[live]["end_reason"]
    assert unused not in calls  # refused as unbound: no call, no seat
    assert httpx.post(f"{server.url}/api/audiosocket/bind", headers=_bearer(token),
                      json={"uuid": str(uuid.uuid4()), "seat": "S-AS3"}).status_code == 401


# -- the command line ---------------------------------------------------------------------

def test_the_command_line_lists_resets_disables_and_revokes(tmp_path, monkeypatch, capsys):
    data = str(tmp_path / "data")

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(["user", *args, "--data", data])
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("add", "boss", "--role", "admin", "--password-stdin", stdin=PASSWORD)[0] == 0
    assert run("add", "li", "--role", "supervisor", "--password-stdin", stdin=PASSWORD)[0] == 0
    with Store(tmp_path / "data" / "voiceline.db") as store:
        session = Auth(store, cheap_hasher()).issue_token(
            Auth(store, cheap_hasher()).authenticate("li", PASSWORD))

    code, _, err = run("disable", "boss")
    assert code == 2 and "only enabled admin" in err
    code, out, _ = run("disable", "li")
    assert code == 0 and "1 session signed out" in out
    code, out, _ = run("list")
    assert out.splitlines()[0] == "name,role,agent_id,created,status"
    assert out.splitlines()[1].endswith(",enabled")
    assert out.splitlines()[2].startswith("li,supervisor,,") and "disabled since" in out
    assert run("enable", "li")[0] == 0

    code, out, _ = run("password", "li", "--password-stdin", stdin=NEW_PASSWORD)
    assert code == 0 and "new password for li" in out
    code, _, err = run("password", "nobody", "--password-stdin", stdin=NEW_PASSWORD)
    assert code == 2 and "no user named 'nobody'" in err

    token = run("token", "--ingest", "pbx-1")[1].strip()
    code, out, _ = run("tokens")
    token_id, label, *_, expires, status = out.splitlines()[1].split(",")
    assert (label, expires, status) == ("pbx-1", "never", "valid") and token not in out
    assert f"revoked ingest token {token_id} (pbx-1)" in run("revoke", token_id)[1]
    assert "was already revoked" in run("revoke", token_id)[1]
    code, _, err = run("revoke", "1")  # a session token, not an ingest token
    assert code == 2 and "no ingest token with id 1" in err
    assert ",revoked " in run("tokens")[1]

    with Store(tmp_path / "data" / "voiceline.db") as store:
        auth = Auth(store, cheap_hasher())
        assert auth.check_token(session) is None and auth.check_token(token, "ingest") is None
        assert auth.authenticate("li", NEW_PASSWORD).name == "li"
        assert [e["action"] for e in store.list_audit()][:6] == [
            "revoke_ingest_token", "revoke_ingest_token", "issue_ingest_token",
            "reset_password", "enable_user", "disable_user"]


# -- the audit log ------------------------------------------------------------------------

def test_command_line_changes_are_audited_under_the_operators_system_account(
        tmp_path, monkeypatch, capsys):
    # Found by an audit: what was done from the command line was stored with no user, so
    # no one could tell who had added an admin, revoked a token or taken a backup.
    as_account(monkeypatch, "ops-li")
    monkeypatch.setenv("LOGNAME", "someone-else")  # the environment names no one
    data = str(tmp_path / "data")
    seats = tmp_path / "seats.csv"
    seats.write_text("seat_id,team\nS001,north\nS002,north\n", encoding="utf-8")

    def run(*args: str, stdin: str = "") -> str:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        assert main([*args, "--data", data]) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    run("user", "add", "li", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    run("user", "password", "li", "--password-stdin", stdin=NEW_PASSWORD)
    run("user", "add", "wu", "--role", "supervisor", "--password-stdin", stdin=PASSWORD)
    run("user", "disable", "wu")
    run("user", "enable", "wu")
    run("user", "token", "--ingest", "pbx-1")
    token_id = run("user", "tokens").splitlines()[1].split(",")[0]
    run("user", "revoke", token_id)
    run("directory", "import", str(seats))
    run("directory", "retire", "S002")
    run("backup", "--out", str(tmp_path / "copy"))
    run("qa-export", "--out", str(tmp_path / "flags.csv"))

    rows = list(csv.reader(io.StringIO(run("audit"))))[1:]
    assert [(r[2], r[3], r[4]) for r in rows] == [
        ("cli:ops-li", "qa_export", ""), ("cli:ops-li", "backup", ""),
        ("cli:ops-li", "retire_seat", "seat:S002"), ("cli:ops-li", "put_seat", "seat:S002"),
        ("cli:ops-li", "put_seat", "seat:S001"),
        ("cli:ops-li", "revoke_ingest_token", f"token:{token_id}"),
        ("cli:ops-li", "issue_ingest_token", ""), ("cli:ops-li", "enable_user", "user:wu"),
        ("cli:ops-li", "disable_user", "user:wu"), ("cli:ops-li", "add_user", "user:wu"),
        ("cli:ops-li", "reset_password", "user:li"), ("cli:ops-li", "add_user", "user:li")]
    mine = list(csv.reader(io.StringIO(run("audit", "--user", "cli:ops-li"))))[1:]
    assert mine == rows  # found by that name, too


@pytest.mark.parametrize(("account", "uid", "sudo_user", "recorded"), [
    ("root", 0, "li", "cli:root (sudo from li)"),
    ("root", 0, None, "cli:root"),
    ("ops-wu", 1001, "li", "cli:ops-wu"),  # only root is behind sudo; the variable is ignored
])
def test_a_command_run_through_sudo_names_who_ran_it(tmp_path, monkeypatch, account, uid,
                                                    sudo_user, recorded):
    as_account(monkeypatch, account, uid)
    if sudo_user is None:
        monkeypatch.delenv("SUDO_USER", raising=False)
    else:
        monkeypatch.setenv("SUDO_USER", sudo_user)
    data = str(tmp_path / "data")
    assert main(["user", "token", "--ingest", "pbx-1", "--data", data]) == 0
    with Store(tmp_path / "data" / "voiceline.db") as store:
        (entry,) = store.list_audit()
    assert entry["user"] == recorded


def test_an_operator_account_without_a_name_is_audited_by_its_uid(tmp_path, monkeypatch,
                                                                  capsys):
    import os
    import pwd

    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)

    def unknown(uid: int):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", unknown)  # a container's uid with no passwd entry
    data = str(tmp_path / "data")
    assert main(["user", "token", "--ingest", "pbx-1", "--data", data]) == 0
    with Store(tmp_path / "data" / "voiceline.db") as store:
        (entry,) = store.list_audit()
    assert (entry["user"], entry["action"]) == (f"cli:uid {os.getuid()}", "issue_ingest_token")


def test_admins_read_the_audit_log_filtered_and_paged_and_no_one_else(server):
    admin = _admin(server)
    url = f"{server.url}/api/audit"
    with Store(server.data / "voiceline.db") as store:  # enough entries to page through
        for k in range(8):
            store.audit("qa", "qa_confirm", f"qa_flag:{k}", {"note": f"flag {k}"})
    newest = httpx.get(url, headers=admin, params={"limit": 5}).json()
    assert len(newest) == 5 and [e["id"] for e in newest] == sorted(
        (e["id"] for e in newest), reverse=True)
    assert set(newest[0]) == {"id", "time_s", "user", "action", "object", "detail"}
    older = httpx.get(url, headers=admin,
                      params={"limit": 5, "before_id": newest[-1]["id"]}).json()
    assert older and all(e["id"] < newest[-1]["id"] for e in older)
    logins = httpx.get(url, headers=admin, params={"action": "login", "user": "admin"}).json()
    assert logins and all((e["action"], e["user"]) == ("login", "admin") for e in logins)
    since = httpx.get(url, headers=admin, params={"since": newest[0]["time_s"]}).json()
    assert all(e["time_s"] >= newest[0]["time_s"] for e in since)
    assert httpx.get(url, headers=admin, params={"since": "nan"}).status_code == 400
    assert httpx.get(url, headers=admin, params={"limit": 0}).status_code == 422
    for name in ("sup", "qa", "wang"):
        assert httpx.get(url, headers=_bearer(login(server.url, name))).status_code == 403
    assert httpx.get(url).status_code == 401


def test_the_command_line_prints_the_audit_log_as_csv(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    data.mkdir()
    with Store(data / "voiceline.db") as store:
        store.audit("li", "login", now_s=1_700_000_000.0)
        store.audit("li", "qa_confirm", "qa_flag:7", {"note": "确实很急"}, now_s=1_700_000_100.0)
        store.audit(None, "add_user", "user:wang", {"via": "cli"}, now_s=1_700_100_000.0)

    def run(*args: str) -> tuple[int, list[list[str]], str]:
        code = main(["audit", *args, "--data", str(data)])
        out = capsys.readouterr()
        return code, list(csv.reader(io.StringIO(out.out))), out.err

    code, rows, _ = run()
    assert code == 0 and rows[0] == ["id", "time", "user", "action", "object", "detail"]
    assert [r[3] for r in rows[1:]] == ["add_user", "qa_confirm", "login"]
    assert rows[1][2] == "" and json.loads(rows[2][5]) == {"note": "确实很急"}
    assert [r[3] for r in run("--user", "li", "--action", "qa_confirm")[1][1:]] == ["qa_confirm"]
    day = time.strftime("%Y-%m-%d", time.localtime(1_700_000_000.0))
    assert {r[3] for r in run("--from", day, "--to", day)[1][1:]} >= {"login", "qa_confirm"}
    assert [r[3] for r in run("--object", "user:wang")[1][1:]] == ["add_user"]
    code, _, err = run("--from", "2026-02-30")
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, err = main(["audit", "--data", str(tmp_path / "none")]), None, capsys.readouterr().err
    assert code == 2 and "no store in" in err and not (tmp_path / "none").exists()
