"""The lean websocket ingest listener (``ingest_port``) against the FastAPI routes.

The real server on free ports; clients speak to the lean port exactly as they speak to
the HTTP port. One module-scoped run streams the same agitated call through both paths
at once, with malformed clients on the lean port beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from capture.ingest import Audio, ProtocolError, audiofork, twilio
from test_server_support import (
    FAST_ALERTS,
    AlertFeed,
    add_users,
    calibrate,
    cheap_hasher,
    login,
    opened_alert,
    stream_audiofork,
    stream_twilio,
    voice,
)
from voiceline.server import ServerConfig, load_config
from voiceline.server.config import ConfigError, EngineSettings
from voiceline.server.ingest import BATCH_S, IngestConnection
from voiceline.server.testing import ServerThread
from voiceline.store.values import storable

CALM_S, AGITATED_S = 4.0, 9.0
AGENTS = {"old": "A3001", "lean": "A3002", "twilio": "A3003"}


def speech() -> np.ndarray:
    return np.concatenate([voice(CALM_S, seed=3), voice(AGITATED_S, agitated=True, seed=4)])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("lean")
    ingest_token = add_users(data)
    calibrate(data, *AGENTS.values())  # one baseline, three names: the same judgement
    # The two ports must give the same decisions on the same audio. A sender that falls
    # behind (the suite runs on both cores) would have silence filled in after the
    # engine's 0.5 s jitter allowance, and then the audio differs; a 3 s allowance keeps
    # what is compared the same audio.
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher(),
                          alerts=FAST_ALERTS,
                          engine=EngineSettings(jitter_s=3.0, max_backlog_s=6.0))
    with ServerThread(config) as server:
        server.ingest_token = ingest_token
        yield server


# -- malformed clients on the lean port ------------------------------------------------------

async def closed_by_server(ws) -> tuple[int | None, str | None]:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10.0)
    return ws.close_code, ws.close_reason


def _url(server, path: str = "/ingest/audiofork", base: str | None = None) -> str:
    return f"{base or server.ingest_url}{path}?token={server.ingest_token}"


async def bad_json(server) -> tuple:
    async with connect(_url(server)) as ws:
        await ws.send('{"call_id": "lean-broken-1", "sample_rate": 8000,')
        return await closed_by_server(ws)


async def odd_bytes_mid_call(server) -> tuple:
    async with connect(_url(server)) as ws:
        await ws.send(audiofork.start_message("lean-broken-2", "S-LEAN-BAD", AGENTS["lean"]))
        for _ in range(50):
            await ws.send(audiofork.pcm_message(np.zeros(160, dtype=np.int16)))
            await asyncio.sleep(0.02)
        await ws.send(b"\x01" * 321)
        return await closed_by_server(ws)


async def not_utf8(server, base: str | None = None) -> tuple:
    seat = "S-LEAN-UTF" if base is None else "S-HTTP-UTF"
    async with connect(_url(server, base=base)) as ws:
        await ws.send(audiofork.start_message(f"broken-utf-{seat}", seat, AGENTS["lean"]))
        ws.protocol.send_text(b"\xff\xfe{}")  # past the client's own UTF-8 check
        ws.send_data()
        return await closed_by_server(ws)


async def twilio_without_start(server) -> tuple:
    async with connect(_url(server, "/ingest/twilio")) as ws:
        await ws.send(twilio.media_message("outbound", 1, 0, b"\xff" * 160, 2))
        return await closed_by_server(ws)


HUGE_DIGITS = "9" * 5000
"""More digits than Python's int() converts (4,300): its ValueError once escaped the parser."""


async def huge_sample_rate(server, base: str) -> tuple:
    async with connect(_url(server, base=base)) as ws:
        await ws.send(json.dumps({"call_id": "x", "sample_rate": HUGE_DIGITS, "channels": 1}))
        return await closed_by_server(ws)


async def huge_timestamp(server, base: str) -> tuple:
    """A JSON timestamp of 400 digits: its position in samples once overflowed a float."""
    media = twilio.media_message("outbound", 1, 0, b"\xff" * 160, 2)
    async with connect(_url(server, "/ingest/twilio", base)) as ws:
        await ws.send(twilio.start_message("CA" + "6" * 32, "MZ" + "6" * 32, seat="S-LEAN-TS"))
        await ws.send(media.replace('"timestamp": "0"', '"timestamp": 1' + "0" * 400))
        return await closed_by_server(ws)


async def unstorable_stop_reason(server) -> None:
    """A stop reason holding a lone surrogate (JSON "\\ud800"), which UTF-8 cannot encode."""
    async with connect(_url(server)) as ws:
        await ws.send(audiofork.start_message("lean-sur-1", "S-LEAN-SUR", AGENTS["lean"]))
        await ws.send(audiofork.pcm_message(np.zeros(160, dtype=np.int16)))
        await ws.send('{"event": "stop", "reason": "hung up \\ud800"}')


async def too_big(server) -> tuple:
    async with connect(_url(server), max_size=None) as ws:
        await ws.send(audiofork.start_message("lean-big-1", "S-LEAN-BIG", AGENTS["lean"]))
        await ws.send(bytes(200_000))
        return await closed_by_server(ws)


async def fragmented(server) -> int:
    """Metadata and one second of audio, each sent in fragments: the call is taken."""
    async with connect(_url(server)) as ws:
        meta = audiofork.start_message("lean-frag-1", "S-LEAN-FRAG", AGENTS["lean"])
        await ws.send([meta[:10], meta[10:30], meta[30:]])
        pcm = audiofork.pcm_message(voice(1.0, seed=7))
        await ws.send([pcm[:1000], pcm[1000:]])
        await ws.send(audiofork.stop_message("done"))
    return len(pcm)


# -- the run --------------------------------------------------------------------------------

@dataclass
class Run:
    calls: dict[str, str]
    alerts: dict[str, list[dict]]
    malformed: dict
    metrics: str
    logged: list[logging.LogRecord]


class _Records(logging.Handler):
    """Every record of the server's loggers and of those uvicorn and asyncio report to."""

    LOGGERS = ("", "uvicorn", "uvicorn.error", "asyncio")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> list[logging.LogRecord]:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self.records

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


async def _run(server) -> Run:
    token = server.ingest_token
    sup = login(server.url, "sup")
    calls = {"old": "old-call-1", "lean": "lean-call-1", "twilio": "CA" + "5" * 32}
    audio = speech()
    async with AlertFeed(server.ws_url, sup) as feed:
        streams = [
            stream_audiofork(server.ws_url, token, calls["old"], "S-OLD", AGENTS["old"], audio),
            stream_audiofork(server.ingest_url, token, calls["lean"], "S-LEAN", AGENTS["lean"],
                             audio),
            stream_twilio(server.ingest_url, token, calls["twilio"], "S-LEAN-TW",
                          AGENTS["twilio"], audio),
        ]
        checks = {"bad_json": bad_json(server), "odd_bytes": odd_bytes_mid_call(server),
                  "not_utf8": not_utf8(server), "too_big": too_big(server),
                  "not_utf8_http": not_utf8(server, server.ws_url),
                  "twilio_without_start": twilio_without_start(server),
                  "fragmented": fragmented(server),
                  "unstorable_stop": unstorable_stop_reason(server)}
        for port, base in (("lean", server.ingest_url), ("http", server.ws_url)):
            checks[f"huge_sample_rate_{port}"] = huge_sample_rate(server, base)
            checks[f"huge_timestamp_{port}"] = huge_timestamp(server, base)
        results = await asyncio.gather(*streams, *checks.values())
        malformed = dict(zip(checks, results[len(streams):], strict=True))
        for call in calls.values():
            await feed.wait_for(opened_alert(call), 10.0)
        await asyncio.sleep(1.0)
        alerts = {name: [m for m in feed.messages if m["type"] == "alert"
                         and m["alert"]["call_id"] == call] for name, call in calls.items()}
    metrics = httpx.get(f"{server.url}/metrics",
                        headers={"Authorization": f"Bearer {token}"}).text
    return Run(calls, alerts, malformed, metrics, [])


@pytest.fixture(scope="module")
def run(server) -> Run:
    with _Records() as logged:
        result = asyncio.run(_run(server))
        time.sleep(0.5)  # the server logs the last closes
    result.logged = list(logged)
    return result


def _decisions(events: list[dict]) -> list[tuple]:
    return [(m["event"], m["alert"]["kind"], m["alert"]["severity"],
             round(m["alert"]["peak_score"], 6), m["alert"]["explanation"].split(" than ")[0])
            for m in events]


def test_a_call_through_the_lean_port_gets_the_same_alerts_as_through_the_http_port(
        server, run):
    old, lean = run.alerts["old"], run.alerts["lean"]
    assert [e[0] for e in _decisions(lean)] == ["opened", "closed"]
    # The same decisions: events, kind, severity. The numbers agree closely but not
    # always to the last digit (1 run in 9 alone, more on a loaded machine; likely, not
    # verified: the two calls are analysed beside whatever other streams are awake in
    # their group at the time, batched transforms round a little differently by batch,
    # and a voicing or syllable decision can carry that into the third driver).
    assert [d[:3] for d in _decisions(lean)] == [d[:3] for d in _decisions(old)]
    for a, b in zip(lean, old, strict=True):
        assert a["alert"]["peak_score"] == pytest.approx(b["alert"]["peak_score"], abs=1e-3)
    def said(event: dict) -> list[str]:  # the reason's words, first to last
        reason = event["alert"]["explanation"].split(" than ")[0].replace(" and ", ", ")
        return [part.split(" (")[0] for part in reason.split(", ")]

    assert said(lean[0])[:2] == said(old[0])[:2]
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    for name in ("old", "lean"):
        call = httpx.get(f"{server.url}/api/calls", params={"seat": f"S-{name.upper()}"},
                         headers=sup).json()[0]
        alert = run.alerts[name][0]["alert"]
        assert call["protocol"] == "audiofork" and call["end_reason"] == "hung up"
        assert CALM_S < alert["opened_s"] - call["started_s"] < CALM_S + 7.0, name
    twilio_alert = run.alerts["twilio"][0]["alert"]
    assert (twilio_alert["seat_id"], twilio_alert["kind"]) == ("S-LEAN-TW", "agitation")


def test_malformed_messages_on_the_lean_port_close_only_their_connection(server, run):
    code, reason = run.malformed["bad_json"]
    assert code == 1008 and "not valid JSON" in reason
    code, reason = run.malformed["odd_bytes"]
    assert code == 1008 and "odd byte count" in reason
    code, reason = run.malformed["twilio_without_start"]
    assert code == 1008 and "before 'start'" in reason and len(reason.encode()) <= 123
    for check, seat in (("not_utf8", "S-LEAN-UTF"), ("not_utf8_http", "S-HTTP-UTF")):
        code, reason = run.malformed[check]
        assert code == 1007 and "text message is not UTF-8" in reason, (check, reason)
        call = httpx.get(f"{server.url}/api/calls", params={"seat": seat},
                         headers={"Authorization": f"Bearer {login(server.url, 'sup')}"}
                         ).json()[0]
        assert call["end_reason"].startswith("websocket error: text message is not UTF-8")
    assert run.malformed["too_big"][0] == 1009
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    broken = httpx.get(f"{server.url}/api/calls", params={"seat": "S-LEAN-BAD"},
                       headers=sup).json()
    assert broken[0]["end_reason"].startswith("protocol error: binary message of 321 bytes")
    frag = httpx.get(f"{server.url}/api/calls", params={"seat": "S-LEAN-FRAG"},
                     headers=sup).json()
    assert frag[0]["end_reason"] == "done"
    # The good calls beside them lost nothing: every Twilio frame of both tracks arrived.
    twilio_frames = round(2 * (CALM_S + AGITATED_S) / 0.02)
    assert f'voiceline_frames_received_total{{protocol="twilio"}} {twilio_frames}' \
        in run.metrics
    assert "voiceline_engine_dropped_seconds_total 0" in run.metrics


def test_absurd_numbers_close_their_connection_with_1008_and_a_reason_on_both_ports(run):
    for port in ("lean", "http"):
        for check in ("huge_sample_rate", "huge_timestamp"):
            code, reason = run.malformed[f"{check}_{port}"]
            assert code == 1008 and reason, (check, port, code)
            assert len(reason.encode()) <= 123


def test_no_malformed_message_of_the_run_logs_a_traceback(run):
    tracebacks = [r.getMessage().splitlines()[0] for r in run.logged
                  if r.exc_info or r.name == "asyncio" or r.levelno >= logging.ERROR]
    assert tracebacks == []
    closing = [r.getMessage() for r in run.logged if "protocol error, closing" in r.getMessage()]
    # One line per malformed connection: bad JSON, odd bytes, Twilio without start, and
    # the two absurd numbers on both ports.
    assert len(closing) == 7, closing


def test_a_stop_reason_the_store_cannot_encode_is_kept_escaped(server, run):
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    call = httpx.get(f"{server.url}/api/calls", params={"seat": "S-LEAN-SUR"},
                     headers=sup).json()[0]
    assert call["end_reason"] == "hung up \\ud800"
    assert storable("a\udfffb") == "a\\udfffb" and storable("ümlaut") == "ümlaut"


def test_the_lean_port_refuses_a_missing_or_unknown_token_and_unknown_paths(server):
    async def status(url: str, headers: dict | None = None) -> tuple[int, bytes]:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers or {}):
                pass
        return refused.value.response.status_code, refused.value.response.body

    base = server.ingest_url
    code, body = asyncio.run(status(f"{base}/ingest/audiofork"))
    assert code == 401 and b"an ingest token is required" in body
    assert asyncio.run(status(f"{base}/ingest/twilio?token=nope"))[0] == 401
    assert asyncio.run(status(f"{base}/ingest/twilio",
                              {"Authorization": "Bearer nope"}))[0] == 401
    code, body = asyncio.run(status(f"{base}/ws/alerts?token={server.ingest_token}"))
    assert code == 404 and b"/ingest/audiofork" in body
    response = httpx.get(f"{server.url}/healthz").json()
    assert response["ingest_port"] == server.config.ingest_port


def test_the_lean_port_counts_refusals_like_the_http_port(server):
    before = httpx.get(f"{server.url}/metrics",
                       headers={"Authorization": f"Bearer {server.ingest_token}"}).text

    async def refused() -> None:
        with pytest.raises(InvalidStatus):
            async with connect(f"{server.ingest_url}/ingest/audiofork"):
                pass

    asyncio.run(refused())
    after = httpx.get(f"{server.url}/metrics",
                      headers={"Authorization": f"Bearer {server.ingest_token}"}).text

    def count(text: str) -> int:
        line = [x for x in text.splitlines()
                if x.startswith('voiceline_ingest_refused_total{reason="token"}')]
        return int(line[0].split()[-1]) if line else 0

    assert count(after) == count(before) + 1


def test_shutdown_closes_lean_connections_with_1012_and_ends_their_calls(tmp_path):
    from voiceline.store import Store

    token = add_users(tmp_path)
    calibrate(tmp_path, "A3009")
    server = ServerThread(ServerConfig(data_dir=tmp_path, audiosocket_port=None,
                                       password_hasher=cheap_hasher())).start()

    async def call() -> tuple:
        async with connect(f"{server.ingest_url}/ingest/audiofork?token={token}") as ws:
            await ws.send(audiofork.start_message("lean-shut-1", "S-SHUT", "A3009"))
            for _ in range(25):
                await ws.send(audiofork.pcm_message(voice(0.02, seed=1)))
                await asyncio.sleep(0.02)
            with Store(tmp_path / "voiceline.db") as store:  # as the detector would
                store.open_alert("lean-shut-1", "agitation", "warning", 0.93, "louder")
            await asyncio.to_thread(server.stop)
            return await closed_by_server(ws)

    code, reason = asyncio.run(call())
    assert code == 1012 and reason == "server shutdown"
    with Store(tmp_path / "voiceline.db") as store:
        stored = store.list_calls(limit=10)
        (alert,) = store.list_alerts(call_id="lean-shut-1")
    assert [(c["call_id"], c["end_reason"]) for c in stored] == \
        [("lean-shut-1", "server shutdown")]
    # the caller did not hang up: the alert says the server stopped
    assert (alert["state"], alert["close_reason"]) == ("closed", "server stopped")


# -- settings ---------------------------------------------------------------------------

def test_ingest_port_is_a_setting_with_a_default_and_an_off_switch(tmp_path):
    assert load_config().ingest_port == 8081
    assert load_config(ingest_port=0).ingest_port is None
    path = tmp_path / "voiceline.toml"
    path.write_text("[server]\ningest_port = 9001\n")
    assert load_config(path).ingest_port == 9001
    with pytest.raises(ConfigError, match="ingest_port must be 0-65535"):
        load_config(ingest_port=70000)
    # from an audit: two listeners on one port half-started the server, then a traceback
    with pytest.raises(ConfigError, match="ingest_port 18946 is also the port"):
        load_config(port=18946, ingest_port=18946)
    with pytest.raises(ConfigError, match="audiosocket_port 9001 is also the ingest_port"):
        load_config(ingest_port=9001, audiosocket_port=9001)
    assert load_config(port=0, ingest_port=0, audiosocket_port=0).port == 0  # "any": fine
    path.write_text('[server]\ningest_port = "x"\n')
    with pytest.raises(ConfigError, match="ingest_port must be a whole number"):
        load_config(path)


# -- audio batching (both paths) -----------------------------------------------------------

class _Pushes:
    """Stands in for the service: records what reaches ``calls.push``."""

    def __init__(self) -> None:
        from voiceline.server.metrics import Metrics

        self.metrics = Metrics()
        self.ingest_holding: set = set()
        self.ingest_open: set = set()
        self.pushed: list[Audio] = []
        self.calls = self

    def push(self, call, audio: Audio) -> None:
        self.pushed.append(audio)


def test_held_audio_reaches_the_engine_unchanged_in_fewer_larger_pushes():
    service = _Pushes()
    conn = IngestConnection(service, "audiofork", "test", "-")
    conn.call = type("Call", (), {"scored": True})()
    samples = voice(1.0, seed=2)
    events = [Audio("c", ch, k / 8000, 8000, samples[k : k + 160])
              for k in range(0, 8000, 160) for ch in ("agent", "caller")]
    # A gap the parser did not fill (it said so with a warning) starts a new piece.
    events.append(Audio("c", "agent", 3.0, 8000, samples[:160]))
    assert conn.handle_now(events) == len(events)
    conn.flush()
    agent = [a for a in service.pushed if a.channel == "agent"]
    assert len(agent) == round(1.0 / BATCH_S) + 1
    assert all(a.samples.shape[0] == round(BATCH_S * 8000) for a in agent[:-1])
    assert np.array_equal(np.concatenate([a.samples for a in agent[:-1]]), samples)
    assert [a.t_s for a in agent] == pytest.approx([k * BATCH_S for k in range(10)] + [3.0])
    assert service.ingest_holding == set()


class _FailingPushes(_Pushes):
    def push(self, call, audio: Audio) -> None:
        raise TypeError("push() got an unexpected array")


def _scored_connection(service, protocol: str = "audiofork") -> IngestConnection:
    conn = IngestConnection(service, protocol, "test", "-")
    conn.call = type("Call", (), {"scored": True})()
    return conn


def test_a_message_the_parser_raises_on_is_a_fatal_error_of_its_connection_only(caplog):
    service = _Pushes()
    conn = IngestConnection(service, "audiofork", "test", "-")
    metadata = json.dumps({"call_id": "x", "sample_rate": HUGE_DIGITS, "channels": 1})
    [error] = conn.receive_text(metadata)
    assert isinstance(error, ProtocolError) and error.fatal

    def broken(text: str) -> list:
        raise RecursionError("maximum recursion depth exceeded")

    other = IngestConnection(service, "twilio", "test", "-")
    other.parser.receive_text = broken
    [error] = other.receive_text("{}")
    assert error.fatal
    assert error.reason == "malformed twilio message (RecursionError: maximum recursion " \
        "depth exceeded)"
    with caplog.at_level(logging.INFO, "voiceline.server"):
        assert asyncio.run(other.handle([error])) == error.reason
    assert other.parser.closed and other.receive_bytes(b"\x00\x00") == []
    assert service.metrics.protocol_errors[("twilio", "true")] == 1
    assert [(r.levelname, r.exc_info) for r in caplog.records] == [("WARNING", None)]


def test_an_event_the_server_fails_on_closes_its_connection_with_one_log_line(caplog):
    service = _FailingPushes()
    conn = _scored_connection(service)
    frames = [Audio("c", "agent", k * 0.02, 8000, np.zeros(160, dtype=np.int16))
              for k in range(10)]
    with caplog.at_level(logging.INFO, "voiceline.server"):
        done = conn.handle_now(frames)  # the fifth frame fills a batch: its push fails
        reason = asyncio.run(conn.handle(frames[done:]))
    assert done == 4
    assert reason == "the server failed on this audiofork stream's Audio event"
    assert asyncio.run(conn.handle([])) == reason  # the connection takes nothing more
    assert [(r.levelname, r.exc_info) for r in caplog.records] == [("ERROR", None)]
    assert "TypeError: push() got an unexpected array" in caplog.records[0].getMessage()
    assert service.metrics.protocol_errors[("audiofork", "true")] == 1


def test_the_simulator_streams_to_the_lean_port_given_as_its_server(server):
    from voiceline.sources import Simulation

    options = dict(n_timbres=2, n_caller_timbres=2, workers=1, call_s=(1.0, 1.2),
                   idle_s=(0.01, 0.02))
    metrics = f"{server.url}/metrics"
    auth = {"Authorization": f"Bearer {server.ingest_token}"}

    def frames() -> int:
        line = [x for x in httpx.get(metrics, headers=auth).text.splitlines()
                if x.startswith('voiceline_frames_received_total{protocol="audiofork"}')]
        return int(line[0].split()[-1])

    before = frames()
    result = asyncio.run(Simulation(server.ingest_url, seats=2, token=server.ingest_token,
                                    seed=3, duration_s=2.0, run_id="lean",
                                    floor_options=options).run())
    assert result.stats.errors == 0 and result.stats.frames_sent > 0
    time.sleep(0.5)  # the last frames reach the server
    assert frames() - before == result.stats.frames_sent
