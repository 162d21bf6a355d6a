"""The report API through the real ASGI app: who may open which report (403 for another
agent's), the audit entry of every view, and an agent hearing their own recording."""

from __future__ import annotations

import warnings

import pytest

from test_report_support import FIRST, LAST, at, seed
from test_server_support import PASSWORD, add_users, cheap_hasher
from voiceline.auth import Auth
from voiceline.server import ServerConfig, create_app, qa_api
from voiceline.store import Store

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*install `httpx2`")
    from fastapi.testclient import TestClient

PERIOD = {"from": FIRST, "to": LAST, "tz": "Asia/Shanghai"}
ROUTES = ("/api/reports/agents/{}", "/api/reports/agents/{}/view",
          "/api/reports/agents/{}/file")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("report-api")
    add_users(data)
    seed(data)
    return data


@pytest.fixture(scope="module")
def client(data_dir):
    config = ServerConfig(data_dir=data_dir, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with TestClient(create_app(config)) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(client):
    return {name: client.post("/api/login", json={"name": name, "password": PASSWORD}
                              ).json()["token"] for name in ("admin", "sup", "qa", "wang")}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_an_agent_opens_their_own_report_and_the_view_is_audited(client, tokens, data_dir):
    response = client.get("/api/reports/agents/A1001", params=PERIOD,
                          headers=bearer(tokens["wang"]))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["agent_id"] == "A1001" and report["totals"]["calls"] == 5
    assert report["totals"]["in_range_share"] == pytest.approx(0.64)
    qa_moment = next(m for m in report["flagged"] if m["source"] == "qa")
    assert qa_moment["audio_url"].startswith("/api/qa/calls/c2/audio?audio_token=")
    with Store(data_dir / "voiceline.db") as store:
        entry = store.list_audit(user="wang", action="view_report", limit=1)[0]
    assert entry["object"] == "agent:A1001"
    assert entry["detail"] == {"from": FIRST, "to": LAST, "format": "json"}


def test_an_agent_gets_403_for_another_agents_report_from_every_route(client, tokens,
                                                                      data_dir):
    with Store(data_dir / "voiceline.db") as store:
        before = len(store.list_audit(action="view_report", limit=1000))
    for route in ROUTES:
        for agent in ("A1002", "A9999"):  # another agent's, or one that does not exist
            response = client.get(route.format(agent), params=PERIOD,
                                  headers=bearer(tokens["wang"]))
            assert response.status_code == 403, (route, agent)
            assert "only their own report" in response.json()["detail"]
            assert "A1002" not in response.text or agent == "A1002"
        assert client.get(route.format("A1001"), params=PERIOD).status_code == 401
    with Store(data_dir / "voiceline.db") as store:
        assert len(store.list_audit(action="view_report", limit=1000)) == before


def test_staff_open_any_agents_report(client, tokens):
    for name in ("sup", "qa", "admin"):
        response = client.get("/api/reports/agents/A1002", params=PERIOD,
                              headers=bearer(tokens[name]))
        assert response.status_code == 200, name
        assert response.json()["totals"]["calls"] == 1
    assert client.get("/api/reports/agents/A9999", params=PERIOD,
                      headers=bearer(tokens["sup"])).status_code == 404


def test_the_view_and_the_file_are_the_rendered_report(client, tokens, data_dir):
    view = client.get("/api/reports/agents/A1001/view", params={**PERIOD, "lang": "en"},
                      headers=bearer(tokens["wang"])).json()
    assert 'class="listen" data-call="c2" data-at="2.0"' in view["html"]
    assert ".vl-report" in view["css"] and list(view["audio"]) == ["c2"]
    file = client.get("/api/reports/agents/A1001/file", params=PERIOD,
                      headers=bearer(tokens["wang"]))
    name = "voiceline-report-A1001-2026-11-16-2026-11-22.html"
    assert file.headers["content-disposition"] == \
        f'attachment; filename="{name}"; filename*=UTF-8\'\'{name}'
    assert file.text.startswith("<!doctype html>") and "声线自评报告：A1001" in file.text
    with Store(data_dir / "voiceline.db") as store:
        formats = [e["detail"]["format"] for e in store.list_audit(
            user="wang", action="view_report", limit=2)]
    assert formats == ["html-file", "page"]


@pytest.mark.parametrize("params, status, words", [
    ({"from": "2026-02-30"}, 400, "is not a date"),
    ({"from": "2026-11-22", "to": "2026-11-16"}, 400, "before it starts"),
    ({"tz": "Mars/Olympus"}, 400, "unknown time zone"),
    ({"tz": "America"}, 400, "unknown time zone"),
    ({"tz": "Factory"}, 400, "unknown time zone 'Factory'; use an IANA name"),  # no place
    ({"tz": "localtime"}, 400, "unknown time zone 'localtime'; use an IANA name"),
    ({"from": "9999-12-30", "to": "9999-12-31"}, 400, "outside 1970-01-01"),
    # a weekly breakdown once stepped past the calendar's end here: 500
    ({"from": "9999-12-27", "to": "9999-12-30", "tz": "Etc/GMT+12"}, 400, "outside 1970"),
    ({"to": "2200-01-01"}, 400, "outside 1970-01-01 to 2199-12-31"),
    ({"from": "yesterday"}, 422, None),
    ({"lang": "fr"}, 422, None),
])
def test_a_bad_period_is_refused_with_the_reason(client, tokens, params, status, words):
    response = client.get("/api/reports/agents/A1001/view", params=params,
                          headers=bearer(tokens["wang"]))
    assert response.status_code == status
    if words:
        assert words in response.json()["detail"]


def test_an_agent_hears_their_own_recording_and_nobody_elses(client, tokens, data_dir):
    report = client.get("/api/reports/agents/A1001", params=PERIOD,
                        headers=bearer(tokens["wang"])).json()
    url = next(m["audio_url"] for m in report["flagged"] if m["audio_url"])
    part = client.get(url, headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"RIFF"
    assert part.content == (data_dir / "c2.wav").read_bytes()[:4]
    # A link for another agent's call made out to the agent's session does not open ...
    forged = qa_api.audio_url("t0", tokens["wang"])
    assert client.get(forged).status_code == 401
    # ... and with their session in the header an agent is still refused QA audio.
    assert client.get("/api/qa/calls/c2/audio", headers=bearer(tokens["wang"])).status_code \
        == 403


def test_a_chinese_agent_id_downloads_under_its_own_name(client, tokens, data_dir):
    # Found by an outside audit: the file name went into a Latin-1 header as it was (500).
    from urllib.parse import quote

    from test_report_support import at, summary

    with Store(data_dir / "voiceline.db") as store:
        store.upsert_agent("坐席一")
        store.save_voice_summary("zh-1", "live", "坐席一", at(17, 9), 300, summary(100, 0.9))
    response = client.get(f"/api/reports/agents/{quote('坐席一')}/file", params=PERIOD,
                          headers=bearer(tokens["sup"]))
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert 'filename="voiceline-report-___-' in disposition
    assert f"filename*=UTF-8''{quote('voiceline-report-坐席一-', safe='')}" in disposition


def test_a_slow_report_does_not_hold_up_the_live_services_store(client, tokens, monkeypatch):
    # Found by an outside audit: a year's report on a large store ran on the store's one
    # thread, and every other request (alerts, sign-ins) waited 21 s behind it.
    import threading

    from voiceline.server import reports_api

    started, release = threading.Event(), threading.Event()
    real = reports_api.build_report

    def slow(*args, **kwargs):
        started.set()
        release.wait(60)  # until the alerts below were answered (or a minute)
        return real(*args, **kwargs)

    monkeypatch.setattr(reports_api, "build_report", slow)
    got = {}
    report = threading.Thread(target=lambda: got.update(report=client.get(
        "/api/reports/agents/A1001", params=PERIOD, headers=bearer(tokens["sup"]))))
    alerts = threading.Thread(target=lambda: got.update(alerts=client.get(
        "/api/alerts", params={"limit": 1}, headers=bearer(tokens["sup"]))))
    report.start()
    try:
        assert started.wait(10)
        alerts.start()
        alerts.join(15)  # behind the report on one store thread, it would wait a minute
        assert "alerts" in got and "report" not in got
        assert got["alerts"].status_code == 200
    finally:
        release.set()
        report.join(30)
        alerts.join(30)
    assert got["report"].status_code == 200


def test_a_reused_agent_ids_new_holder_sees_only_their_own_tenure(tmp_path):
    # found by an outside audit: after 'user disable' and 'user add bob --agent A1001',
    # bob's report showed wang's calls, alert and QA flag with a working audio link
    data = tmp_path / "data"
    add_users(data)
    seed(data)
    tenure_s = at(18, 12)  # Wed 18 noon: c1-c3 (c2 flagged, recorded) are wang's
    with Store(data / "voiceline.db") as store:
        store.set_user_disabled(store.get_user("wang")["id"], True)
        store.retire_agent("A1001", now_s=tenure_s)
        Auth(store, cheap_hasher()).add_user("bob", "agent", PASSWORD, "A1001",
                                             now_s=tenure_s)
    config = ServerConfig(data_dir=data, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with TestClient(create_app(config)) as client:
        token = {name: client.post("/api/login", json={"name": name, "password": PASSWORD}
                                   ).json()["token"] for name in ("bob", "sup")}
        bob = client.get("/api/reports/agents/A1001", params=PERIOD,
                         headers=bearer(token["bob"])).json()
        assert bob["totals"]["calls"] == 2  # c4 and c5, not c1-c3
        assert bob["tenure"] == {"since_s": tenure_s, "bounded": True}
        assert [m["source"] for m in bob["flagged"]] == ["live"]  # c5's alert, no c2 flag
        view = client.get("/api/reports/agents/A1001/view", params=PERIOD,
                          headers=bearer(token["bob"])).json()
        assert view["audio"] == {}
        assert "该坐席编号自 2026-11-18 起归您使用" in view["html"]  # the page says so too
        # a link to wang's recording made out to bob's session does not open
        assert client.get(qa_api.audio_url("c2", token["bob"])).status_code == 401
        alerts = client.get("/api/alerts", headers=bearer(token["bob"])).json()
        assert [a["call_id"] for a in alerts] == ["c5"]  # not "old", before the tenure
        old = client.get("/api/alerts", headers=bearer(token["sup"]),
                         params={"call": "old"}).json()[0]
        assert client.get(f"/api/alerts/{old['id']}",
                          headers=bearer(token["bob"])).status_code == 403
        assert [c["call_id"] for c in client.get("/api/calls", headers=bearer(
            token["bob"])).json()] == ["c5"]
        # staff see the id's whole history, and that it was reused
        sup = client.get("/api/reports/agents/A1001", params=PERIOD,
                         headers=bearer(token["sup"])).json()
        assert sup["totals"]["calls"] == 5 and sup["tenure"] == {"since_s": tenure_s,
                                                                "bounded": False}
        assert any(m["source"] == "qa" and m["audio_url"] for m in sup["flagged"])
        page = client.get("/api/reports/agents/A1001/view", headers=bearer(token["sup"]),
                          params={**PERIOD, "lang": "en"}).json()["html"]
        assert "This agent id was given to someone new on 2026-11-18" in page
