"""The QA review API through the real ASGI app: roles, the queue, audio by byte ranges,
the loudness timeline, verdicts (stored and audited) and each check's precision.

The store is seeded with hand-written pre-inspection results whose recording is a WAV of
known levels: channel 0 (agent) a 400 Hz sine at half scale for 2 s then digital silence,
channel 1 (caller) silence then a square wave at a quarter of full scale.
"""

from __future__ import annotations

import base64
import time
import warnings
from datetime import datetime
from urllib.parse import quote

import numpy as np
import pytest
import soundfile as sf

from test_server_support import PASSWORD, add_users, cheap_hasher
from voiceline.server import ServerConfig, create_app, qa_api
from voiceline.store import Store
from voiceline.store.errors import InvalidInputError, NotFoundError

with warnings.catch_warnings():  # starlette prefers httpx2 for its test client; httpx works
    warnings.filterwarnings("ignore", message=".*install `httpx2`")
    from fastapi.testclient import TestClient

T0 = 1_763_600_000.0  # 2025-11-20, recording times of the seeded calls
FS_HZ = 8000


def known_levels_wav(path) -> None:
    """4 s stereo int16: agent sine (RMS 0.5/√2 → -9.0 dB) then silence; caller the reverse
    with a ±0.25 square wave (RMS 0.25 → -12.0 dB)."""
    n = 2 * FS_HZ
    t = np.arange(n) / FS_HZ
    sine = np.round(16384 * np.sin(2 * np.pi * 400 * t)).astype(np.int16)
    square = np.where(np.arange(n) % 20 < 10, 8192, -8192).astype(np.int16)
    silence = np.zeros(n, np.int16)
    audio = np.stack([np.concatenate([sine, silence]), np.concatenate([silence, square])])
    sf.write(path, audio.T, FS_HZ, subtype="PCM_16")


def flag(check, start_s, end_s, severity="warning", channel="agent"):
    return {"check": check, "start_s": start_s, "end_s": end_s, "severity": severity,
            "channel": channel, "detail": f"{check} from {start_s} s",
            "evidence": {"detail_zh": f"{check} 从 {start_s} 秒起"}}


def result(call_id, path, agent, score, flags, duration_s=4.0):
    return {"call_id": call_id, "path": str(path), "agent_id": agent, "duration_s": duration_s,
            "score": score, "flags": flags, "metrics": {"talk_ratio": 0.5},
            "metadata": {"started_at": "2025-11-20T09:00:00"}}


#: What c-hi's agent and caller said (its result's ``transcript``).
TRANSCRIPT = [{"start_s": 0.2, "end_s": 1.9, "party": "agent", "text": "您好，12345热线"},
              {"start_s": 2.1, "end_s": 3.9, "party": "caller", "text": "路灯坏了"}]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("qa-data")
    add_users(data)
    recording = data / "rec-1.wav"
    known_levels_wav(recording)
    with Store(data / "voiceline.db") as store:
        store.save_qa_result({**result("c-hi", recording, "A1001", 90.0, [
            flag("clipping", 0.5, 1.0), flag("dead_air", 2.0, 3.5, "critical", "both")]),
            "transcript": TRANSCRIPT}, recorded_s=T0)
        store.save_qa_result(result("c-mid", recording, "A1002", 40.0, [
            flag("overtalk", 1.0, 2.0, channel="both")], duration_s=30.0),
            recorded_s=T0 + 86400)
        store.save_qa_result(result("c-gone", data / "moved.wav", "A1001", 20.0, [
            flag("slow_response", 1.0, 6.0)]), recorded_s=T0 + 2 * 86400)
        store.save_qa_result(result("c-clean", recording, "A1001", 0.0, []), recorded_s=T0)
    return data


@pytest.fixture(scope="module")
def client(data_dir):
    config = ServerConfig(data_dir=data_dir, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with TestClient(create_app(config)) as client:
        yield client


def sign_in(client, name: str) -> str:
    return client.post("/api/login", json={"name": name, "password": PASSWORD}).json()["token"]


@pytest.fixture(scope="module")
def tokens(client):
    return {name: sign_in(client, name) for name in ("admin", "sup", "qa", "wang")}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [c["call_id"] for c in response.json()["calls"]]


READS = ["/api/qa/queue", "/api/qa/calls/c-hi", "/api/qa/calls/c-hi/timeline",
         "/api/qa/calls/c-hi/audio", "/api/qa/precision"]


def test_qa_admin_and_supervisors_read_an_agent_is_refused_and_only_reviewers_judge(
        client, tokens):
    flag_id = client.get("/api/qa/calls/c-hi", headers=bearer(tokens["qa"])).json()[
        "flags"][0]["id"]
    verdict = f"/api/qa/flags/{flag_id}/verdict"
    for path in READS:
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=bearer(tokens["wang"])).status_code == 403, path
        for name in ("qa", "admin", "sup"):
            assert client.get(path, headers=bearer(tokens[name])).status_code == 200, \
                (path, name)
    body = {"verdict": "confirmed", "note": "heard it"}
    for name in ("wang", "sup"):
        response = client.post(verdict, json=body, headers=bearer(tokens[name]))
        assert response.status_code == 403
        assert "role" in response.json()["detail"]
    assert client.get("/api/qa/calls/c-hi", headers=bearer(tokens["qa"])).json()[
        "flags"][0]["verdict"] is None


def test_the_queue_ranks_flagged_calls_by_score_and_filters(client, tokens):
    qa = bearer(tokens["qa"])
    get = lambda **params: client.get("/api/qa/queue", params=params, headers=qa)  # noqa: E731
    page = get(status="all")
    assert ids(page) == ["c-hi", "c-mid", "c-gone"]  # c-clean has no flags: not queued
    top = page.json()["calls"][0]
    assert top["file"] == "rec-1.wav" and "path" not in top
    assert "transcript" not in top  # the queue's rows stay small; the call page reads it
    assert [(f["check"], f["severity"], f["channel"]) for f in top["flags"]] == \
        [("clipping", "warning", "agent"), ("dead_air", "critical", "both")]
    assert page.json()["total"] == 3
    assert ids(get(status="all", check="overtalk")) == ["c-mid"]
    assert ids(get(status="all", agent="A1001")) == ["c-hi", "c-gone"]
    assert ids(get(status="all", min_score=40)) == ["c-hi", "c-mid"]
    assert ids(get(status="all", since=T0 + 3600, until=T0 + 2 * 86400)) == ["c-mid"]
    assert ids(get(status="all", sort="duration")) == ["c-mid", "c-gone", "c-hi"]  # ties: by id
    paged = get(status="all", limit=1, offset=1)
    assert ids(paged) == ["c-mid"] and paged.json()["total"] == 3


@pytest.mark.parametrize("params", [
    {"status": "closed"}, {"sort": "loudest"}, {"min_score": 101}, {"limit": 0},
    {"limit": 1000}, {"offset": -1}, {"check": "Dead Air; --"}, {"since": "yesterday"},
])
def test_bad_queue_filters_get_a_422_that_names_the_parameter(client, tokens, params):
    response = client.get("/api/qa/queue", params=params, headers=bearer(tokens["qa"]))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", next(iter(params))]


def test_a_date_range_that_ends_before_it_starts_is_a_400(client, tokens):
    response = client.get("/api/qa/queue", params={"since": T0, "until": T0 - 1},
                          headers=bearer(tokens["qa"]))
    assert response.status_code == 400
    assert "until" in response.json()["detail"]


def test_an_unknown_call_is_a_404_everywhere(client, tokens):
    qa = bearer(tokens["qa"])
    for path in ("/api/qa/calls/nope", "/api/qa/calls/nope/timeline",
                 "/api/qa/calls/nope/audio"):
        response = client.get(path, headers=qa)
        assert response.status_code == 404, path
        assert response.json()["detail"] == "no inspected call with id 'nope'"
    response = client.post("/api/qa/flags/99999/verdict", json={"verdict": "dismissed"},
                           headers=qa)
    assert response.status_code == 404 and response.json()["detail"] == "no flag with id 99999"


def test_a_recording_moved_away_since_inspection_is_a_404_that_says_so(client, tokens):
    for path in ("/api/qa/calls/c-gone/audio", "/api/qa/calls/c-gone/timeline"):
        response = client.get(path, headers=bearer(tokens["qa"]))
        assert response.status_code == 404
        assert "moved.wav" in response.json()["detail"]
        assert "no longer" in response.json()["detail"]


def test_audio_is_served_whole_and_by_byte_ranges(client, tokens, data_dir):
    raw = (data_dir / "rec-1.wav").read_bytes()
    size = len(raw)
    qa = bearer(tokens["qa"])
    url = "/api/qa/calls/c-hi/audio"
    whole = client.get(url, headers=qa)
    assert whole.status_code == 200 and whole.content == raw
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    assert int(whole.headers["content-length"]) == size
    for spec, start, end in (("bytes=100-199", 100, 200), ("bytes=0-0", 0, 1),
                             (f"bytes={size - 10}-", size - 10, size),
                             ("bytes=-44", size - 44, size),
                             (f"bytes=5000-{size + 999}", 5000, size),
                             # from an audit, as RFC 9110 reads: empty list elements are
                             # ignored, a last byte past any file is the file's end, and
                             # leading zeros are digits like any others
                             ("bytes=0-9 ,", 0, 10), ("bytes=1-" + "9" * 20, 1, size),
                             ("bytes=" + "0" * 18 + "1-2", 1, 3)):
        part = client.get(url, headers={**qa, "Range": spec})
        assert part.status_code == 206, spec
        assert part.content == raw[start:end], spec
        assert part.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
        assert int(part.headers["content-length"]) == end - start
    # a range unit the server does not know is ignored: the whole file (RFC 9110 §14.2)
    other = client.get(url, headers={**qa, "Range": "items=0-9"})
    assert other.status_code == 200 and other.content == raw
    # If-Range with a stale validator: the whole file, as RFC 9110 says.
    stale = client.get(url, headers={**qa, "Range": "bytes=0-9", "If-Range": '"stale"'})
    assert stale.status_code == 200 and stale.content == raw
    etag = whole.headers["etag"]
    fresh = client.get(url, headers={**qa, "Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206 and fresh.content == raw[:10]
    # HEAD (players and download tools ask it first): the same headers, no audio
    head = client.head(url, headers=qa)
    assert head.status_code == 200 and head.content == b""
    assert (head.headers["content-length"], head.headers["etag"]) == (str(size), etag)
    ranged = client.head(url, headers={**qa, "Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.headers["content-length"] == "100"
    assert ranged.headers["content-range"] == f"bytes 100-199/{size}"
    assert client.head(url).status_code == 401
    assert client.head("/api/qa/calls/nope/audio", headers=qa).status_code == 404


@pytest.mark.parametrize("spec", ["bytes={size}-", "bytes={size}-{size}", "bytes=-0",
                                  "bytes=abc", "bytes=20-10", "bytes=", "bytes= , ",
                                  "bytes=--5"])
def test_a_bad_or_unsatisfiable_range_is_a_416_with_the_size(client, tokens, data_dir, spec):
    size = (data_dir / "rec-1.wav").stat().st_size
    response = client.get("/api/qa/calls/c-hi/audio",
                          headers={**bearer(tokens["qa"]), "Range": spec.format(size=size)})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert str(size) in response.json()["detail"]


def test_the_audio_url_opens_that_calls_audio_while_the_session_lasts(client, data_dir):
    token = sign_in(client, "qa")
    call = client.get("/api/qa/calls/c-hi", headers=bearer(token)).json()
    assert call["audio_url"].startswith("/api/qa/calls/c-hi/audio?audio_token=")
    assert token not in call["audio_url"]
    part = client.get(call["audio_url"], headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"RIFF"
    # Not for another call, not forged, not after signing out.
    audio_token = call["audio_url"].split("audio_token=")[1]
    assert client.get(f"/api/qa/calls/c-mid/audio?audio_token={audio_token}").status_code \
        == 401
    assert client.get(call["audio_url"][:-3] + "AAA").status_code == 401
    assert client.get("/api/qa/calls/c-hi/audio?audio_token=nonsense").status_code == 401
    client.post("/api/logout", headers=bearer(token))
    refused = client.get(call["audio_url"])
    assert refused.status_code == 401 and "reload" in refused.json()["detail"]


def test_a_malformed_audio_token_is_a_401_whatever_its_payload(client):
    nested = base64.urlsafe_b64encode(b"[" * 1400).rstrip(b"=").decode()
    for audio_token in (f"{nested}.AAAA", f"{nested}.{'A' * 24}", "é.AAAA", ".", "a.b.c",
                        base64.urlsafe_b64encode(b'["c-hi", 1]').decode() + ".AAAA"):
        response = client.get("/api/qa/calls/c-hi/audio", params={"audio_token": audio_token})
        assert response.status_code == 401, (audio_token[:40], response.text)
        assert "reload the call page" in response.json()["detail"]


def test_ids_and_offsets_beyond_the_store_are_404_and_422(client, tokens):
    qa = bearer(tokens["qa"])
    for flag_id in (2**70, 0):
        response = client.post(f"/api/qa/flags/{flag_id}/verdict", json={
            "verdict": "confirmed"}, headers=qa)
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == f"no flag with id {flag_id}"
    response = client.get("/api/qa/queue", params={"offset": 2**63}, headers=qa)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "offset"]
    last = client.get("/api/qa/queue", params={"offset": 2**63 - 1}, headers=qa)
    assert last.status_code == 200 and last.json()["calls"] == []
    for path in ("/api/qa/calls/c-hi%00", "/api/qa/queue?agent=A1001%00"):
        response = client.get(path, headers=qa)
        assert response.status_code == 422 and "NUL" in response.json()["detail"][0]["msg"]


def test_the_timeline_has_each_channels_rms_level_every_100_ms(client, tokens):
    response = client.get("/api/qa/calls/c-hi/timeline", headers=bearer(tokens["qa"]))
    assert response.status_code == 200
    body = response.json()
    assert (body["hop_s"], body["fs_hz"], body["duration_s"]) == (0.1, 8000, 4.0)
    assert body["channels"] == ["agent", "caller"] and body["agent_channel"] == 0
    agent, caller = body["level_dbfs"]
    assert len(agent) == len(caller) == 40
    assert agent[:20] == [-9.0] * 20 and agent[20:] == [-90.0] * 20  # 20·log10(0.5/√2)
    assert caller[:20] == [-90.0] * 20 and caller[20:] == [-12.0] * 20  # 20·log10(0.25)


def test_a_long_recording_read_in_blocks_gives_the_same_timeline(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    audio = (rng.normal(0, 0.1, (2, 8000 * 7 + 123)) * np.linspace(0.01, 1, 8000 * 7 + 123))
    path = tmp_path / "long.wav"
    sf.write(path, audio.T, 8000, subtype="FLOAT")
    whole = qa_api.timeline_of(path)
    monkeypatch.setattr(qa_api, "FULL_READ_SAMPLES", 0)
    monkeypatch.setattr(qa_api, "MAX_TIMELINE_POINTS", 30)  # 7 s in 0.3 s hops
    monkeypatch.setattr(qa_api.sf.SoundFile, "blocks", _small_blocks(qa_api.sf.SoundFile.blocks))
    blocked = qa_api.timeline_of(path)
    assert blocked["hop_s"] == 0.3 and len(blocked["level_dbfs"][0]) == 24
    expected = qa_api.level_envelope(audio, 2400)
    np.testing.assert_allclose(blocked["level_dbfs"], np.round(expected, 1), atol=0.051)
    assert whole["hop_s"] == 0.1 and len(whole["level_dbfs"][1]) == 71
    monkeypatch.setattr(qa_api, "MAX_TIMELINE_S", 5.0)
    with pytest.raises(qa_api.AudioError, match="lasts"):
        qa_api.timeline_of(path)


def _small_blocks(blocks):
    """Blocks of 3 hops (not 1024), so that 7 s of audio spans several of them."""
    def small(self, blocksize=None, **kwargs):
        return blocks(self, blocksize=3 * 2400, **kwargs)
    return small


def test_verdicts_are_stored_audited_and_counted_in_each_checks_precision(
        client, tokens, data_dir):
    qa, admin = bearer(tokens["qa"]), bearer(tokens["admin"])
    flags = {f["check"]: f["id"] for f in
             client.get("/api/qa/calls/c-hi", headers=qa).json()["flags"]}
    overtalk = client.get("/api/qa/calls/c-mid", headers=qa).json()["flags"][0]["id"]

    judged = client.post(f"/api/qa/flags/{flags['dead_air']}/verdict",
                         json={"verdict": "confirmed", "note": "  10 s of nothing  "},
                         headers=qa)
    assert judged.status_code == 200
    assert (judged.json()["verdict"], judged.json()["verdict_by"],
            judged.json()["verdict_note"]) == ("confirmed", "qa", "10 s of nothing")
    client.post(f"/api/qa/flags/{flags['clipping']}/verdict", json={"verdict": "dismissed"},
                headers=qa)
    client.post(f"/api/qa/flags/{overtalk}/verdict", json={"verdict": "confirmed"},
                headers=qa)
    # An admin changes their mind on the overtalk: the later verdict counts.
    client.post(f"/api/qa/flags/{overtalk}/verdict",
                json={"verdict": "dismissed", "note": "backchannel only"}, headers=admin)

    stored = client.get("/api/qa/calls/c-hi", headers=qa).json()["flags"]
    assert [(f["check"], f["verdict"], f["verdict_note"]) for f in stored] == \
        [("clipping", "dismissed", None), ("dead_air", "confirmed", "10 s of nothing")]
    with Store(data_dir / "voiceline.db") as store:
        audit = store.list_audit(obj=f"qa_flag:{overtalk}")
    assert [(a["user"], a["action"], a["detail"]["note"], a["detail"]["previous"])
            for a in audit] == [("admin", "qa_dismiss", "backchannel only", "confirmed"),
                                ("qa", "qa_confirm", None, None)]

    precision = {p["check"]: p for p in
                 client.get("/api/qa/precision", headers=bearer(tokens["sup"])).json()}
    assert {c: (p["confirmed"], p["dismissed"], p["precision"])
            for c, p in precision.items()} == {
        "clipping": (0, 1, 0.0), "dead_air": (1, 0, 1.0), "overtalk": (0, 1, 0.0),
        "slow_response": (0, 0, None)}
    # one verdict is no ground for a threshold (and these flags carry no value to judge)
    assert precision["overtalk"]["suggestion"]["code"] == "few_verdicts"
    # Every flag of c-hi and c-mid is judged: they leave the open queue.
    assert ids(client.get("/api/qa/queue", headers=qa)) == ["c-gone"]
    assert ids(client.get("/api/qa/queue", params={"status": "reviewed"}, headers=qa)) == \
        ["c-hi", "c-mid"]


@pytest.mark.parametrize("body", [{"verdict": "maybe"}, {}, {"verdict": "confirmed",
                                                             "note": "x" * 4001}])
def test_a_bad_verdict_is_a_422(client, tokens, body):
    flag_id = client.get("/api/qa/calls/c-gone", headers=bearer(tokens["qa"])).json()[
        "flags"][0]["id"]
    response = client.post(f"/api/qa/flags/{flag_id}/verdict", json=body,
                           headers=bearer(tokens["qa"]))
    assert response.status_code == 422


def test_a_note_over_the_limit_is_refused_by_its_length_and_never_repeated(client, tokens):
    # found by an outside audit: the 422 of a 4,001-character note repeated the note
    flag_id = client.get("/api/qa/calls/c-gone", headers=bearer(tokens["qa"])).json()[
        "flags"][0]["id"]
    note = "Caller gave card 4111 1111 1111 1111. " * 105 + "x" * 11  # 4,001 characters
    response = client.post(f"/api/qa/flags/{flag_id}/verdict", headers=bearer(tokens["qa"]),
                           json={"verdict": "confirmed", "note": note})
    assert response.status_code == 422
    assert response.json()["detail"] == [{
        "type": "string_too_long", "loc": ["body", "note"],
        "msg": "String should have at most 4000 characters, not 4001",
        "ctx": {"max_length": 4000, "actual_length": 4001}}]
    assert "4111" not in response.text


def test_a_call_gives_its_transcript_and_a_bad_one_is_refused_by_the_store(
        client, tokens, data_dir):
    qa = bearer(tokens["qa"])
    assert client.get("/api/qa/calls/c-hi", headers=qa).json()["transcript"] == TRANSCRIPT
    assert client.get("/api/qa/calls/c-mid", headers=qa).json()["transcript"] is None
    with Store(data_dir / "voiceline.db") as store:
        for bad, message in (("words", "must be a list"),
                             ([{"start_s": 0, "end_s": 1, "party": "boss", "text": "x"}],
                              "transcript.party"),
                             ([{"start_s": "soon", "end_s": 1, "party": "agent"}],
                              "transcript.start_s")):
            with pytest.raises(InvalidInputError, match=message):
                store.save_qa_result({**result("c-bad", data_dir / "rec-1.wav", "A1001", 5.0,
                                               []), "transcript": bad})
        with pytest.raises(NotFoundError):  # nothing of the refused result was kept
            store.qa_call("c-bad")


def test_the_precision_suggests_a_threshold_once_reviewers_have_judged_enough(tmp_path):
    from test_qa_tuning import judged_store

    add_users(tmp_path)
    judged_store(tmp_path, [(8.5, "dismissed")] * 6 + [(12.0, "confirmed")] * 5)
    with Store(tmp_path / "voiceline.db") as store:  # a phrase reviewers keep dismissing
        for k in range(5):
            store.save_qa_result({**result(f"p{k}", tmp_path / "p.wav", "A1001", 40.0, [{
                **flag("forbidden_phrase", 3.0, 5.0), "evidence": {"phrases": ["我也没办法"]}}])})
            store.set_flag_verdict(store.qa_call(f"p{k}")["flags"][0]["id"], "dismissed",
                                   "qa", None)
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=None, ingest_port=0,
                          password_hasher=cheap_hasher())
    with TestClient(create_app(config)) as client:
        lead = bearer(sign_in(client, "qa"))
        dead, said = client.get("/api/qa/precision", headers=lead).json()
        assert (dead["check"], dead["precision"]) == ("dead_air", 0.455)
        assert said["check"] == "forbidden_phrase" and said["suggestion"] is None
        assert said["phrases"] == [{"phrase": "我也没办法", "confirmed": 0, "dismissed": 5,
                                    "precision": 0.0, "drop": True}]
        assert "phrases" not in dead
        tip = dead["suggestion"]
        assert (tip["code"], tip["setting"], tip["suggested"], tip["precision_after"],
                tip["confirmed_lost"], tip["dismissed_removed"]) == \
            ("stricter", "min_s", 12.0, 1.0, 0, 6)
        loose = client.get("/api/qa/precision", params={"target": 0.5}, headers=lead).json()
        assert loose[0]["suggestion"]["code"] == "stricter"
        response = client.get("/api/qa/precision", params={"target": 0.3}, headers=lead)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "target"]


# -- who is reviewing what ------------------------------------------------------------------

def test_a_reviewer_claims_a_call_others_see_it_and_can_leave_it_out_of_their_queue(
        client, tokens):
    qa, admin, sup = bearer(tokens["qa"]), bearer(tokens["admin"]), bearer(tokens["sup"])
    taken = client.post("/api/qa/calls/c-hi/claim", headers=qa)
    assert taken.status_code == 200, taken.text
    claim = taken.json()["claim"]
    assert taken.json()["mine"] and claim["user"] == "qa"
    assert claim["expires_s"] - claim["claimed_s"] == pytest.approx(300, abs=1)

    # Another reviewer is told who has it; they may still read (and judge) the call.
    other = client.post("/api/qa/calls/c-hi/claim", headers=admin)
    assert other.status_code == 409
    assert other.json()["claim"]["user"] == "qa" and not other.json()["mine"]
    assert "qa is reviewing call c-hi" in other.json()["detail"]
    assert client.get("/api/qa/calls/c-hi", headers=admin).json()["claim"]["user"] == "qa"
    every = {"status": "all"}  # earlier tests judged some flags
    queue = client.get("/api/qa/queue", params=every, headers=admin).json()["calls"]
    assert {c["call_id"]: (c["claim"] or {}).get("user") for c in queue} == \
        {"c-hi": "qa", "c-mid": None, "c-gone": None}
    free = {**every, "free": "true"}
    assert ids(client.get("/api/qa/queue", params=free, headers=admin)) == ["c-mid", "c-gone"]
    # ... while the claimant's own free queue keeps it
    assert ids(client.get("/api/qa/queue", params=free, headers=qa))[0] == "c-hi"

    # Renewing keeps when it began; supervisors read but do not review; unknown calls 404.
    again = client.post("/api/qa/calls/c-hi/claim", headers=qa).json()["claim"]
    assert again["claimed_s"] == claim["claimed_s"] and again["expires_s"] >= claim["expires_s"]
    assert client.post("/api/qa/calls/c-hi/claim", headers=sup).status_code == 403
    assert client.post("/api/qa/calls/c-nope/claim", headers=qa).status_code == 404

    # Leaving the page frees it: the next reviewer takes it.
    assert client.delete("/api/qa/calls/c-hi/claim", headers=admin).json() == \
        {"released": False}  # not theirs to release
    assert client.delete("/api/qa/calls/c-hi/claim", headers=qa).json() == {"released": True}
    assert client.get("/api/qa/calls/c-hi", headers=qa).json()["claim"] is None
    assert client.post("/api/qa/calls/c-hi/claim", headers=admin).json()["mine"]
    assert client.delete("/api/qa/calls/c-hi/claim", headers=admin).json()["released"]


def test_a_claim_lapses_when_its_page_stops_renewing_it(tmp_path):
    with Store(tmp_path / "voiceline.db") as store:
        store.save_qa_result(result("c1", tmp_path / "a.wav", "A1", 50.0,
                                    [flag("dead_air", 1.0, 9.0)]), recorded_s=T0)
        held = store.claim_qa_call("c1", "li", now_s=T0)
        assert held == {"claim": {"user": "li", "claimed_s": T0, "expires_s": T0 + 300},
                        "mine": True}
        assert not store.claim_qa_call("c1", "zhao", now_s=T0 + 299)["mine"]
        assert store.qa_queue(free_for="zhao", now_s=T0 + 299)["total"] == 0
        # five minutes without a renewal (a closed laptop): the call is free again
        assert store.qa_call("c1", now_s=T0 + 300)["claim"] is None
        assert store.qa_queue(free_for="zhao", now_s=T0 + 300)["total"] == 1
        taken = store.claim_qa_call("c1", "zhao", now_s=T0 + 301)
        assert taken["mine"] and taken["claim"]["claimed_s"] == T0 + 301
        with pytest.raises(InvalidInputError, match="ttl_s"):
            store.claim_qa_call("c1", "zhao", ttl_s=0)
        # retention takes a call's claim with it
        assert store.prune_batch("qa_calls", time.time() + 1, 10) == 1
        assert store._conn.execute("SELECT COUNT(*) FROM qa_claims").fetchone()[0] == 0


def test_odd_call_ids_stale_pages_long_notes_and_paths_as_a_reviewer_meets_them(tmp_path):
    # Found by an outside audit: a call id with "/" opened nowhere (the console sends
    # %2F, which arrives decoded); a verdict on a flag a newer inspection replaced was
    # taken (counted, while the current flag stayed open); notes past 200 characters
    # were refused though the page allows 4,000; terminal escapes in a note reached the
    # export; an unreadable recording's error gave the server path; playback was not
    # audited.
    add_users(tmp_path)
    recording = tmp_path / "rec.wav"
    known_levels_wav(recording)
    odd = ["q/2025/0001", '=HYPERLINK("http://x")', "x/audio-like"]
    with Store(tmp_path / "voiceline.db") as store:
        for call_id in odd:
            store.save_qa_result(result(call_id, recording, "A1001", 60.0,
                                        [flag("dead_air", 1.0, 3.0)]), recorded_s=T0)
        stale = store.qa_call(odd[0])["flags"][0]["id"]
        store.save_qa_result(result(odd[0], recording, "A1001", 60.0,
                                    [flag("dead_air", 1.0, 3.5)]), recorded_s=T0)
        store.save_qa_error("broken", str(tmp_path / "broken.wav"),
                            f"{tmp_path / 'broken.wav'}: truncated — the header promises more")
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with TestClient(create_app(config)) as client:
        qa = bearer(sign_in(client, "qa"))
        for call_id in odd:
            quoted = quote(call_id, safe="")
            call = client.get(f"/api/qa/calls/{quoted}", headers=qa)
            assert call.status_code == 200 and call.json()["call_id"] == call_id, call.text
            timeline = client.get(f"/api/qa/calls/{quoted}/timeline", headers=qa)
            assert timeline.status_code == 200 and timeline.json()["call_id"] == call_id
            audio = client.get(call.json()["audio_url"], headers={"Range": "bytes=0-3"})
            assert audio.status_code == 206 and audio.content == b"RIFF"
            claim = client.post(f"/api/qa/calls/{quoted}/claim", headers=qa)
            assert claim.status_code == 200 and claim.json()["mine"], claim.text
        current = client.get(f"/api/qa/calls/{quote(odd[0], safe='')}", headers=qa).json()
        refused = client.post(f"/api/qa/flags/{stale}/verdict", headers=qa,
                              json={"verdict": "dismissed", "note": "stale page"})
        assert refused.status_code == 409 and "reload the call" in refused.json()["detail"]
        flag_id = current["flags"][0]["id"]
        long_note = "听到了。" * 900  # 3,600 characters
        assert client.post(f"/api/qa/flags/{flag_id}/verdict", headers=qa, json={
            "verdict": "confirmed", "note": long_note}).status_code == 200
        for bad in ("ok\x1b]0;pwned\x07\x1b[2J", "a\x00b", "\u202egnp.exe"):
            response = client.post(f"/api/qa/flags/{flag_id}/verdict", headers=qa,
                                   json={"verdict": "dismissed", "note": bad})
            assert response.status_code == 400 and "control character" in response.text
        assert client.post(f"/api/qa/flags/{flag_id}/verdict", headers=qa, json={
            "verdict": "dismissed", "note": "line one\nline two\tend"}).status_code == 200
        broken = client.get("/api/qa/calls/broken", headers=qa).json()
        assert broken["error"].startswith("broken.wav: truncated") and str(tmp_path) not in \
            broken["error"]
        # the range tests' odd edges: digits past any file, one range of several past it
        size = recording.stat().st_size
        huge = client.get(f"/api/qa/calls/{quote(odd[1], safe='')}/audio", headers={
            **qa, "Range": "bytes=1" + "0" * 5000 + "-"})
        assert huge.status_code == 416 and "starts beyond" in huge.json()["detail"]
        assert len(huge.content) < 500
        mixed = client.get(f"/api/qa/calls/{quote(odd[1], safe='')}/audio", headers={
            **qa, "Range": f"bytes=0-1,{size + 10}-"})
        assert mixed.status_code == 200 and len(mixed.content) == size
        # asking a recording's headers is not listening to it
        assert client.head("/api/qa/calls/broken/audio", headers=qa).status_code == 404
        store_call = f"/api/qa/calls/{quote(odd[2], safe='')}/audio"
        assert client.head(store_call, headers=bearer(sign_in(client, "admin"))
                           ).status_code == 200
    with Store(tmp_path / "voiceline.db") as store:
        heard = store.list_audit(action="qa_listen")
        # one entry per reviewer and recording, however many ranges the player asked for
        assert sorted(e["object"] for e in heard) == sorted(f"qa_call:{c}" for c in odd)
        assert {e["user"] for e in heard} == {"qa"}  # the admin's HEAD heard nothing
        assert store.qa_call(odd[0])["flags"][0]["verdict_note"] == "line one\nline two\tend"


# -- flags and verdicts as CSV, for QA leads' reports ----------------------------------------

def _export_store(folder):
    add_users(folder)
    recording = folder / "rec.wav"
    known_levels_wav(recording)
    with Store(folder / "voiceline.db") as store:
        store.save_qa_result(result("c-old", recording, "A1001", 80.0, [
            flag("dead_air", 2.0, 3.5, "critical", "both"), flag("clipping", 0.5, 1.0)]),
            recorded_s=T0)
        store.save_qa_result(result("c-new", recording, "A1002", 30.0, [
            flag("overtalk", 1.0, 2.0, channel="both")]), recorded_s=T0 + 3 * 86400)
        by_check = {f["check"]: f["id"] for f in store.qa_call("c-old")["flags"]}
        store.set_flag_verdict(by_check["dead_air"], "confirmed", "qa",
                               "=HYPERLINK(\"http://evil.example\")  客户无人应答", now_s=T0 + 60)
        store.set_flag_verdict(by_check["clipping"], "dismissed", "qa", now_s=T0 + 70)


def _csv_rows(text: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text)))


def test_qa_leads_export_flags_and_verdicts_as_a_spreadsheet_file(tmp_path):
    from voiceline.qa_export import COLUMNS

    _export_store(tmp_path)
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with TestClient(create_app(config)) as client:
        lead = bearer(sign_in(client, "qa"))
        every = client.get("/api/qa/export.csv", headers=lead)
        judged = client.get("/api/qa/export.csv", params={"verdict": "judged"}, headers=lead)
        later = client.get("/api/qa/export.csv", headers=lead,
                           params={"since": T0 + 86400, "verdict": "open"})
        refused = client.get("/api/qa/export.csv", headers=bearer(sign_in(client, "wang")))
        bad = client.get("/api/qa/export.csv", params={"verdict": "maybe"}, headers=lead)
    assert every.status_code == 200
    assert every.headers["content-type"] == "text/csv; charset=utf-8"
    assert every.headers["content-disposition"].startswith(
        'attachment; filename="voiceline-qa-')
    assert every.content.startswith("\ufeff".encode())  # spreadsheets then read it as UTF-8
    rows = _csv_rows(every.content.decode("utf-8-sig"))
    assert rows[0] == list(COLUMNS) and every.headers["x-rows"] == "3"
    # oldest recording first, then by flag start
    assert [(r[0], r[5], r[11]) for r in rows[1:]] == [
        ("c-old", "clipping", "dismissed"), ("c-old", "dead_air", "confirmed"),
        ("c-new", "overtalk", "")]
    dead = dict(zip(COLUMNS, rows[2], strict=True))
    assert (dead["agent_id"], dead["file"], dead["score"], dead["severity"], dead["channel"],
            dead["start_s"], dead["end_s"], dead["verdict_by"]) == \
        ("A1001", "rec.wav", "80", "critical", "both", "2.00", "3.50", "qa")
    # a reviewer's note that a spreadsheet would run as a formula stays text
    assert dead["note"] == "'=HYPERLINK(\"http://evil.example\")  客户无人应答"
    assert dead["recorded_at"].startswith(
        datetime.fromtimestamp(T0).astimezone().isoformat(timespec="seconds")[:16])
    assert [r[5] for r in _csv_rows(judged.text.lstrip("\ufeff"))[1:]] == \
        ["clipping", "dead_air"]
    assert [r[0] for r in _csv_rows(later.text.lstrip("\ufeff"))[1:]] == ["c-new"]
    assert refused.status_code == 403 and bad.status_code == 422
    with Store(tmp_path / "voiceline.db") as store:
        exports = store.list_audit(action="qa_export")
    assert [(e["user"], e["detail"]["rows"]) for e in exports][::-1] == \
        [("qa", 3), ("qa", 2), ("qa", 1)]


def test_voiceline_qa_export_writes_the_same_file_from_a_data_directory(tmp_path, capsys):
    from voiceline.cli import main

    _export_store(tmp_path)
    out = tmp_path / "verdicts.csv"
    assert main(["qa-export", "--data", str(tmp_path), "--verdict", "confirmed",
                 "--out", str(out)]) == 0
    assert "1 flag(s) written" in capsys.readouterr().err
    rows = _csv_rows(out.read_text(encoding="utf-8-sig"))
    assert [(r[0], r[5], r[11]) for r in rows[1:]] == [("c-old", "dead_air", "confirmed")]
    day = datetime.fromtimestamp(T0 + 3 * 86400).date().isoformat()
    assert main(["qa-export", "--data", str(tmp_path), "--from", day, "--to", day]) == 0
    printed = capsys.readouterr().out
    assert not printed.startswith("\ufeff")  # no byte-order mark down a pipe
    assert [r[0] for r in _csv_rows(printed)[1:]] == ["c-new"]
    assert main(["qa-export", "--data", str(tmp_path), "--from", "2026-13-01"]) == 2
    assert "--from must be a date" in capsys.readouterr().err
    assert main(["qa-export", "--data", str(tmp_path / "none")]) == 2
    with Store(tmp_path / "voiceline.db") as store:
        assert [e["user"].startswith("cli:") for e in store.list_audit(action="qa_export")] \
            == [True, True]
