"""The REST API through the real ASGI app: sign-in, tokens everywhere, roles, alert actions."""

from __future__ import annotations

import json
import logging
import re
import time
import warnings

import pytest
from starlette.websockets import WebSocketDisconnect

from test_server_support import PASSWORD, add_users, calibrate, cheap_hasher
from voiceline.server import ServerConfig, create_app, load_config
from voiceline.server.config import ConfigError
from voiceline.server.run import RedactTokens
from voiceline.store import Store

with warnings.catch_warnings():  # starlette prefers httpx2 for its test client; httpx works
    warnings.filterwarnings("ignore", message=".*install `httpx2`")
    from fastapi.testclient import TestClient

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    ingest_token = add_users(data)
    calibrate(data, "A1001", "A1002")
    with Store(data / "voiceline.db") as store:  # one call of A1001 with an alert, one of A1002
        store.upsert_seat("S01")
        for call, agent in (("c-1001", "A1001"), ("c-1002", "A1002")):
            store.start_call(call, "S01", agent, "audiofork", started_s=T0)
            store.open_alert(call, "agitation", "warning", 0.8, f"louder than {agent}'s usual",
                             [{"feature": "loudness_n5_sone", "z": 2.5}], now_s=T0 + 5)
    (data / "ingest-token").write_text(ingest_token)
    return data


@pytest.fixture(scope="module")
def client(data_dir):
    config = ServerConfig(data_dir=data_dir, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with TestClient(create_app(config)) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(client, data_dir):
    out = {name: client.post("/api/login", json={"name": name, "password": PASSWORD}).json()
           ["token"] for name in ("admin", "sup", "qa", "wang")}
    out["ingest"] = (data_dir / "ingest-token").read_text()
    return out


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def alert_of(client, tokens, call_id: str) -> dict:
    alerts = client.get("/api/alerts", params={"call": call_id}, headers=bearer(tokens["sup"]))
    return alerts.json()[0]


def test_login_gives_a_token_and_role_and_a_wrong_password_gets_401(client):
    ok = client.post("/api/login", json={"name": "sup", "password": PASSWORD})
    assert ok.status_code == 200
    assert ok.json()["role"] == "supervisor" and len(ok.json()["token"]) >= 40
    assert ok.json()["token_type"] == "bearer"
    for body in ({"name": "sup", "password": "wrong password"},
                 {"name": "nobody", "password": PASSWORD}):
        response = client.post("/api/login", json=body)
        assert response.status_code == 401
        assert response.json()["detail"] == "wrong user name or password"


PROTECTED = [
    ("GET", "/api/alerts"), ("GET", "/api/alerts/1"), ("POST", "/api/alerts/1/ack"),
    ("POST", "/api/alerts/1/resolve"), ("GET", "/api/calls"), ("GET", "/api/agents"),
    ("GET", "/api/agents/A1001/baseline"), ("GET", "/api/seats"),
    ("POST", "/api/ingest-tokens"), ("POST", "/api/logout"), ("GET", "/metrics"),
    ("POST", "/api/audiosocket/bind"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_endpoint_but_login_and_healthz_needs_a_token(client, method, path):
    for headers in ({}, bearer("not-a-token"), {"Authorization": "Basic c3VwOnB3"}):
        response = client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (path, headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


def test_healthz_needs_no_token_and_reports_scoring_and_seats(client):
    health = client.get("/healthz").json()
    assert health["ok"] is True and health["seats"] == 0
    assert health["scoring"] == {"enabled": True, "agents_with_baselines": 2, "reason": None,
                                 "unreadable_baselines": 0, "unreadable_example": None}
    assert health["tick_latency"]["ticks"] >= 1


def test_an_agent_sees_only_their_own_baseline_alerts_and_calls(client, tokens):
    wang = bearer(tokens["wang"])
    own = client.get("/api/agents/A1001/baseline", headers=wang)
    assert own.status_code == 200 and own.json()["agent_id"] == "A1001"
    assert client.get("/api/agents/A1002/baseline", headers=wang).status_code == 403
    alerts = client.get("/api/alerts", headers=wang).json()
    assert [a["agent_id"] for a in alerts] == ["A1001"]
    assert client.get("/api/alerts", params={"agent": "A1002"}, headers=wang).status_code == 403
    other = alert_of(client, tokens, "c-1002")["id"]
    assert client.get(f"/api/alerts/{other}", headers=wang).status_code == 403
    assert [c["call_id"] for c in client.get("/api/calls", headers=wang).json()] == ["c-1001"]
    assert [a["agent_id"] for a in client.get("/api/agents", headers=wang).json()] == ["A1001"]


def test_an_agent_and_qa_may_not_act_on_alerts_and_only_admins_issue_tokens(client, tokens):
    alert_id = alert_of(client, tokens, "c-1001")["id"]
    for name in ("wang", "qa"):
        response = client.post(f"/api/alerts/{alert_id}/ack", headers=bearer(tokens[name]))
        assert response.status_code == 403
        assert "needs role admin or supervisor" in response.json()["detail"]
    assert client.get("/api/seats", headers=bearer(tokens["wang"])).status_code == 403
    for name in ("sup", "wang"):
        response = client.post("/api/ingest-tokens", json={"label": "fs-1"},
                               headers=bearer(tokens[name]))
        assert response.status_code == 403
    issued = client.post("/api/ingest-tokens", json={"label": "fs-1"},
                         headers=bearer(tokens["admin"]))
    assert issued.status_code == 201
    metrics = client.get("/metrics", headers=bearer(issued.json()["token"]))
    assert metrics.status_code == 200


def test_staff_see_every_agent_and_their_baselines(client, tokens):
    agents = client.get("/api/agents", headers=bearer(tokens["qa"])).json()
    assert {a["agent_id"]: a["has_baseline"] for a in agents} == {"A1001": True, "A1002": True}
    base = client.get("/api/agents/A1002/baseline", headers=bearer(tokens["sup"])).json()
    assert base["agent_id"] == "A1002" and base["channel_type"] == "8k"
    missing = client.get("/api/agents/A9999/baseline", headers=bearer(tokens["sup"]))
    assert missing.status_code == 404 and "voiceline calibrate" in missing.json()["detail"]


def test_ack_and_resolve_are_stored_with_the_user_and_audited(client, tokens, data_dir):
    sup = bearer(tokens["sup"])
    alert_id = alert_of(client, tokens, "c-1002")["id"]
    acked = client.post(f"/api/alerts/{alert_id}/ack", headers=sup)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "sup"
    again = client.post(f"/api/alerts/{alert_id}/ack", headers=sup)
    assert again.status_code == 409 and "already acknowledged by sup" in again.json()["detail"]
    assert re.search(r" at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", again.json()["detail"])
    resolved = client.post(f"/api/alerts/{alert_id}/resolve", json={"note": "called back"},
                           headers=sup)
    assert resolved.status_code == 200
    stored = client.get(f"/api/alerts/{alert_id}", headers=sup).json()
    assert (stored["resolved_by"], stored["resolution_note"]) == ("sup", "called back")
    assert client.post("/api/alerts/99999/ack", headers=sup).status_code == 404
    with Store(data_dir / "voiceline.db") as store:
        actions = [(e["user"], e["action"], e["object"])
                   for e in store.list_audit(obj=f"alert:{alert_id}")]
    assert actions == [("sup", "resolve_alert", f"alert:{alert_id}"),
                       ("sup", "acknowledge_alert", f"alert:{alert_id}")]


def test_calls_left_live_by_a_previous_run_are_ended_with_their_alerts(client, tokens):
    calls = client.get("/api/calls", headers=bearer(tokens["sup"])).json()
    assert {c["end_reason"] for c in calls} == {"server stopped while the call was live"}
    alert = alert_of(client, tokens, "c-1001")
    assert (alert["state"], alert["close_reason"]) == ("closed", "server stopped")


def test_logout_revokes_the_session(client):
    token = client.post("/api/login", json={"name": "qa", "password": PASSWORD}).json()["token"]
    assert client.get("/api/agents", headers=bearer(token)).status_code == 200
    assert client.post("/api/logout", headers=bearer(token)).status_code == 200
    assert client.get("/api/agents", headers=bearer(token)).status_code == 401


def test_metrics_are_prometheus_text_for_an_ingest_token_or_a_supervisor(client, tokens):
    response = client.get("/metrics", headers=bearer(tokens["ingest"]))
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    for name in ("voiceline_seats_connected 0", "voiceline_tick_latency_seconds_bucket",
                 'voiceline_frames_received_total{protocol="twilio"}',
                 "voiceline_dashboard_clients 0", "voiceline_samples_per_second",
                 "voiceline_dashboard_clients_dropped_total 0"):
        assert name in text
    assert client.get("/metrics", headers=bearer(tokens["sup"])).status_code == 200
    assert client.get("/metrics", headers=bearer(tokens["wang"])).status_code == 403


def test_audiosocket_bind_needs_an_ingest_token_and_a_uuid(client, tokens):
    body = {"uuid": "1B4E28BA-2FA1-11D2-883F-0016D3CCA427", "seat": "S07", "agent": "A1001"}
    assert client.post("/api/audiosocket/bind", json=body,
                       headers=bearer(tokens["admin"])).status_code == 401
    bound = client.post("/api/audiosocket/bind", json=body, headers=bearer(tokens["ingest"]))
    assert bound.status_code == 201
    assert bound.json()["uuid"] == "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    braced = client.post("/api/audiosocket/bind",
                         json={**body, "uuid": "{1B4E28BA2FA111D2883F0016D3CCA427}"},
                         headers=bearer(tokens["ingest"]))
    assert braced.json()["uuid"] == "1b4e28ba-2fa1-11d2-883f-0016d3cca427"  # as it is matched
    bad = client.post("/api/audiosocket/bind", json={**body, "uuid": "call-7"},
                      headers=bearer(tokens["ingest"]))
    assert bad.status_code == 400 and "cannot bind" in bad.json()["detail"]
    # what a live call would refuse is refused here, before the PBX opens the socket
    for wrong, words in (({"seat": "S07\n2026-11-30 WARNING forged"}, "control character"),
                         ({"seat": " "}, "non-empty"),
                         ({"agent": "../x"}, "letters, digits"),
                         ({"channel": "caller"}, "cannot be scored")):
        refused = client.post("/api/audiosocket/bind", json={**body, **wrong},
                              headers=bearer(tokens["ingest"]))
        assert refused.status_code == 400 and words in refused.json()["detail"], refused.text
    # the form Asterisk's CURL(url,uuid=...&seat=...&agent=...) posts from a dialplan
    form = client.post("/api/audiosocket/bind", content=b"uuid=1b4e28ba-2fa1-11d2-883f-"
                       b"0016d3cca428&seat=S08&agent=A1001", headers={
                           **bearer(tokens["ingest"]),
                           "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 201 and form.json()["seat"] == "S08", form.text
    garbled = client.post("/api/audiosocket/bind", content=b"\xff&&=", headers={
        **bearer(tokens["ingest"]), "Content-Type": "application/x-www-form-urlencoded"})
    assert garbled.status_code == 422 and "JSON object or a form" in garbled.text
    padded = client.post("/api/audiosocket/bind",
                         json={**body, "seat": " S07 ", "agent": " A1001 "},
                         headers=bearer(tokens["ingest"]))
    assert (padded.json()["seat"], padded.json()["agent"]) == ("S07", "A1001")


# -- input a client can get wrong: a status and a reason, never a 500 ------------------------

BEYOND_SQLITE = 2**70  # 1180591620717411303424: no SQLite INTEGER is this large
SURROGATE = '"\\ud800"'  # JSON text of a lone surrogate, which UTF-8 cannot encode


def post_raw(client, path: str, text: str, headers: dict | None = None):
    """POST a JSON body as written (NaN and lone surrogates included)."""
    return client.post(path, content=text.encode(), headers={
        "Content-Type": "application/json", **(headers or {})})


def strict_json(text: str):
    """What a browser's JSON.parse accepts: no NaN, no infinities."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_ids_no_row_can_have_are_unknown_not_a_server_error(client, tokens):
    sup = bearer(tokens["sup"])
    for method, path in (("GET", f"/api/alerts/{BEYOND_SQLITE}"),
                         ("POST", f"/api/alerts/{BEYOND_SQLITE}/ack"),
                         ("POST", f"/api/alerts/{BEYOND_SQLITE}/resolve"),
                         ("GET", "/api/alerts/0"), ("POST", "/api/alerts/-3/ack")):
        response = client.request(method, path, headers=sup, json={})
        assert response.status_code == 404, (path, response.text)
        assert response.json()["detail"].startswith("no alert with id")


def test_json_with_nan_or_a_lone_surrogate_is_a_422_that_renders(client, tokens):
    admin = bearer(tokens["admin"])
    for path, text, headers in (
            ("/api/login", '{"name": NaN, "password": "x"}', None),
            ("/api/login", '{"name": Infinity, "password": "x"}', None),
            ("/api/login", f'{{"name": {SURROGATE}, "password": "x"}}', None),
            ("/api/login", f'{{"name": "sup", "password": {SURROGATE}}}', None),
            ("/api/ingest-tokens", '{"label": "a", "ttl_s": NaN}', admin),
            ("/api/users", f'{{"name": {SURROGATE}, "role": "qa", "password": "x"}}', admin),
            ("/api/alerts/1/resolve", f'{{"note": {SURROGATE}}}', bearer(tokens["sup"]))):
        response = post_raw(client, path, text, headers)
        assert response.status_code == 422, (path, text, response.text)
        errors = strict_json(response.text)["detail"]
        assert errors and all(e["msg"] for e in errors), response.text
    nan = strict_json(post_raw(client, "/api/login", '{"name": NaN, "password": "x"}').text)
    assert nan["detail"][0]["loc"] == ["body", "name"] and nan["detail"][0]["input"] == "nan"
    odd = strict_json(post_raw(client, "/api/login",
                               f'{{"name": {SURROGATE}, "password": "x"}}').text)
    assert "unicode" in odd["detail"][0]["msg"]


def test_a_422_never_repeats_a_long_input(client):
    response = client.post("/api/login", json={"name": "x" * 50_000, "password": "p"})
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["type"] == "string_too_long" and error["loc"] == ["body", "name"]
    # a text too long is named by its length, not repeated (not even in part)
    assert error["msg"] == "String should have at most 64 characters, not 50000"
    assert error["ctx"] == {"max_length": 64, "actual_length": 50_000} and "input" not in error
    assert len(response.content) < 1000
    listed = client.post("/api/login", json=[{"name": "x" * 1000}] * 40)
    assert listed.status_code == 422 and len(listed.content) < 1000


def test_nul_characters_in_names_labels_and_ids_are_a_422(client, tokens):
    admin, sup = bearer(tokens["admin"]), bearer(tokens["sup"])
    for method, path, body in (
            ("POST", "/api/login", {"name": "sup\x00", "password": PASSWORD}),
            ("POST", "/api/users", {"name": "li\x00", "role": "qa", "password": PASSWORD}),
            ("POST", "/api/ingest-tokens", {"label": "fs\x00-1"}),
            ("GET", "/api/alerts?agent=A1001%00", None),
            ("GET", "/api/calls?seat=S01%00", None),
            ("GET", "/api/agents/A1001%00/baseline", None),
            ("GET", "/api/seats/S01%00/history", None),
            ("POST", "/api/users/qa%00/password", {"password": PASSWORD})):
        response = client.request(method, path, json=body, headers=admin if "users" in path
                                  or "tokens" in path else sup)
        assert response.status_code == 422, (path, response.text)
        assert "must not contain NUL" in response.json()["detail"][0]["msg"]


def test_an_ingest_token_needs_a_finite_sensible_lifetime(client, tokens):
    admin = bearer(tokens["admin"])
    for text in ('{"label": "a", "ttl_s": Infinity}', '{"label": "a", "ttl_s": 1e300}',
                 '{"label": "a", "ttl_s": 0}', '{"label": "a", "ttl_s": -5}'):
        response = post_raw(client, "/api/ingest-tokens", text, admin)
        assert response.status_code == 422, (text, response.text)
        assert strict_json(response.text)["detail"][0]["loc"] == ["body", "ttl_s"]
    week = client.post("/api/ingest-tokens", json={"label": "a", "ttl_s": 7 * 86400},
                       headers=admin)
    assert week.status_code == 201 and week.json()["ttl_s"] == 7 * 86400


def test_since_nan_is_a_400_for_seat_history_as_for_alerts(client, tokens):
    sup = bearer(tokens["sup"])
    for path in ("/api/alerts?since=nan", "/api/seats/S01/history?since=nan",
                 "/api/seats/S01/history?since=inf"):
        response = client.get(path, headers=sup)
        assert response.status_code == 400, (path, response.text)
        assert "must be finite, got nan" in response.json()["detail"] or "inf" in path
    assert client.get("/api/seats/S01/history?since=0", headers=sup).status_code == 200


def refused_sign_in(client, first: str) -> WebSocketDisconnect:
    with client.websocket_connect("/ws/alerts") as ws:
        ws.send_text(first)
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_text()
    return closed.value


def test_a_dashboard_sign_in_that_cannot_be_read_is_closed_1008_with_a_reason(client, tokens):
    token = tokens["sup"]
    for first, words in (
            (f'{{"type": "auth", "token": "{token}", "since": Infinity}}', "not a JSON number"),
            (f'{{"type": "auth", "token": "{token}", "since": 1e400}}', "too large"),
            ("[" * 30_000 + "]" * 30_000, "nested too deeply"),
            (f'{{"type": "auth", "token": "{token}", "since": NaN}}', "not a JSON number"),
            (f'{{"type": "auth", "token": "{token}", "since": -1}}', "since must be"),
            (f'{{"type": "auth", "token": "{token}", "since": 1.5}}', "since must be"),
            (f'{{"type": "auth", "token": "{token}", "since": true}}', "since must be")):
        closed = refused_sign_in(client, first)
        assert closed.code == 1008 and words in closed.reason, (first[:60], closed.reason)


def reply_to(ws, request: str) -> dict:
    """Send a dashboard message; its reply (not an alert event or a seat snapshot)."""
    ws.send_text(request)
    while True:
        text = ws.receive_text()
        message = strict_json(text)
        if message["type"] in ("ok", "error", "pong"):
            return message


def test_a_dashboard_message_the_server_cannot_act_on_gets_a_400_and_keeps_the_feed(
        client, tokens):
    with client.websocket_connect("/ws/alerts") as ws:
        ws.send_text(json.dumps({"type": "auth", "token": tokens["sup"]}))
        assert strict_json(ws.receive_text())["type"] == "hello"
        for request, words in (
                (f'{{"type": "ack", "alert_id": {BEYOND_SQLITE}, "request_id": "r1"}}',
                 "at most 9223372036854775807"),
                ('{"type": "ack", "alert_id": [1], "request_id": "r2"}', "as an integer"),
                ('{"type": "ping", "request_id": NaN}', "not a JSON number"),
                ('{"type": "ping", "request_id": 1e400}', "too large"),
                ('{"type": "ping", "request_id": "' + "r" * 500 + '"}', "request_id must be"),
                ('{"type": "ping", "request_id": [[1]]}', "request_id must be"),
                ('{"type": "resolve", "alert_id": 1, "note": ' + SURROGATE + "}",
                 "lone surrogate"),
                # a note that is not text resolved the alert and dropped the note
                ('{"type": "resolve", "alert_id": 1, "note": 5}', "note must be text"),
                ("[" * 30_000 + "]" * 30_000, "nested too deeply")):
            reply = reply_to(ws, request)
            assert (reply["type"], reply["status"]) == ("error", 400), (request[:60], reply)
            assert words in reply["message"], reply
            assert reply.get("request_id") in (None, "r1", "r2")
        assert reply_to(ws, '{"type": "ping", "request_id": 7.5}') == {
            "type": "pong", "action": "ping", "request_id": 7.5}
        ws.close(1000)
        left(client, tokens)


def test_an_error_quotes_at_most_a_few_hundred_characters_of_what_it_is_about(client, tokens):
    # a 404 for a 60,000-character agent id answered with all of it
    long_id = "x" * 60_000
    for path in (f"/api/seats/{long_id}/history", f"/api/agents/{long_id}/baseline",
                 f"/api/alerts/{'9' * 5000}"):
        response = client.get(path, headers=bearer(tokens["admin"]))
        assert response.status_code in (404, 422), (path[:40], response.status_code)
        assert len(response.content) < 1000, (path[:40], len(response.content))
    response = client.get(f"/api/seats/{long_id}/history", headers=bearer(tokens["admin"]))
    assert response.json()["detail"].endswith("…")


def left(client, tokens, timeout_s: float = 5.0) -> None:
    """Wait until the server has seen every dashboard go (before the test client tears the
    session down, which it does by cancelling the app mid-step)."""
    deadline = time.monotonic() + timeout_s
    while "voiceline_dashboard_clients 0" not in client.get(
            "/metrics", headers=bearer(tokens["sup"])).text:
        assert time.monotonic() < deadline, "the dashboard was never seen to leave"
        time.sleep(0.02)


def test_the_console_is_served_at_the_root_without_a_token(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_tokens_in_query_strings_are_blanked_in_the_logs():
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1,
                               '%s - "WebSocket %s" [accepted]', ("127.0.0.1:5000",
                               "/ingest/twilio?token=abc-DEF_123&x=1"), None)
    RedactTokens().filter(record)
    assert record.getMessage() == \
        '127.0.0.1:5000 - "WebSocket /ingest/twilio?token=***&x=1" [accepted]'


def test_config_files_are_checked_before_the_server_starts(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[server]\nport = 9000\naudiosocket_port = 0\n[engine]\ntick_s = 0.1\n'
                    '[alerts.agitation]\nwarning = 0.8\n')
    config = load_config(good, data_dir=str(tmp_path), port=None)
    assert (config.port, config.audiosocket_port, config.engine.tick_s) == (9000, None, 0.1)
    assert config.alerts == {"agitation": {"warning": 0.8}}
    assert load_config(good, port=9100).port == 9100
    for text, words in (('[server]\nprot = 1\n', "unknown setting(s) server.prot"),
                        ('[alerts.agitation]\nwarning = 2.0\n', "[alerts]"),
                        ('[server\n', "not valid TOML"),
                        ("x = " + "[" * 100_000 + "]" * 100_000, "not valid TOML: nested"),
                        ("\udcff", "not valid TOML: 'utf-8' codec"),
                        ('[dashboard]\n', "unknown table(s) dashboard"),
                        ('[server]\nport = "8080"\n', "server.port must be a whole number"),
                        ('[engine]\ntick_s = true\n', "engine.tick_s must be a number")):
        bad = tmp_path / "bad.toml"
        bad.write_bytes(text.encode("utf-8", "surrogateescape"))  # \udcff: a stray byte
        with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("(", r"\(")
                           .replace(")", r"\)")):
            load_config(bad)
