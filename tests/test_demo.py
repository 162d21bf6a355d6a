"""``voiceline demo`` starts the server with calibrated simulated agents and the seats
streaming, prints where to log in, and stops cleanly on Ctrl-C, leaving nothing behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from voiceline.server.testing import free_port


def _get(url: str, token: str | None = None) -> dict:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _login(url: str, name: str, password: str) -> str:
    body = json.dumps({"name": name, "password": password}).encode()
    request = urllib.request.Request(f"{url}/api/login", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["token"]


def test_demo_serves_scored_seats_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "voiceline", "demo", "--seats", "3", "--port", str(port),
         "--no-browser", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)  # a process group of its own, as in a terminal
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 150
        seats: list = []
        while time.monotonic() < deadline:
            time.sleep(1.0)
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            try:
                health = _get(f"{url}/healthz")
            except OSError:
                continue
            assert health["scoring"]["enabled"], health
            assert health["scoring"]["agents_with_baselines"] == 3
            token = _login(url, "supervisor", "voiceline-demo")
            seats = _get(f"{url}/api/seats", token).get("seats", [])
            if seats:
                break
        assert seats, "no simulated seat reached the server"
        assert {s["agent_id"] for s in seats} <= {"A1001", "A1002", "A1003"}
        # the QA pages have a queue: the demo's recordings, pre-inspected
        qa = _login(url, "qa", "voiceline-demo")
        queue: list = []
        while time.monotonic() < deadline + 60 and len(queue) < 6:
            time.sleep(1.0)
            queue = _get(f"{url}/api/qa/queue?status=all", qa)["calls"]
        checks = {f["check"] for c in queue for f in c["flags"]}
        assert len(queue) == 6, queue  # seven calls, one of them clean
        assert {"agent_agitation", "dead_air", "clipping", "forbidden_phrase",
                "missing_greeting", "long_hold"} <= checks, checks
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]  # Ctrl-C stops cleanly, quietly
    # the seats stop before the server: their calls end the protocol's way, none cut off
    status = re.findall(r"(\d+) dropped .* (\d+) errors", err)
    assert status and status[-1] == ("0", "0"), err[-3000:]
    assert re.search(r"\d+ calls streamed with", err), err[-3000:]
    assert f"dashboard: {url}/" in out and "supervisor / voiceline-demo" in out
    assert f"QA review: {url}/qa.html" in out
    data_dir = Path(re.search(r"data:\s+(\S+)", out).group(1))
    assert not data_dir.exists(), "the temporary data directory was left behind"
    cached = list((tmp_path / "cache" / "voiceline" / "demo-baselines").glob("*/*.json"))
    assert len(cached) == 3  # the next demo starts without calibrating again


def test_cached_baselines_that_no_longer_read_are_fitted_again(tmp_path, monkeypatch):
    from emotion.baseline import load_baseline
    from voiceline import demo

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = demo.cache_dir(0)
    cache.mkdir(parents=True)
    stale = cache / "A1001.json"
    stale.write_text(json.dumps({"schema_version": 0, "agent_id": "A1001"}))
    out = demo.prepare_baselines(["A1001"], 0, tmp_path / "baselines", workers=1,
                                 log=lambda *_: None)
    assert load_baseline(out, "A1001").agent_id == "A1001"
    assert demo.analysis_digest() in cache.name  # changed analysis code: a new cache


def test_port_0_gives_the_seats_and_the_banner_the_port_the_system_chose():
    import socket
    from types import SimpleNamespace

    from voiceline.demo import bound_port

    with socket.socket() as sock:  # what uvicorn's started server holds
        sock.bind(("127.0.0.1", 0))
        chosen = sock.getsockname()[1]
        server = SimpleNamespace(servers=[SimpleNamespace(sockets=[sock])])
        assert bound_port(server, 0) == chosen != 0
    assert bound_port(SimpleNamespace(servers=[]), 8000) == 8000


def test_the_demo_opens_only_its_http_port(tmp_path):
    # The seats stream over the HTTP port; a PBX's ingest (8081) or AudioSocket (9092)
    # port in use on the machine must not stop the demo, nor be held by it.
    from voiceline.demo import demo_config

    config = demo_config(tmp_path, 8123)
    assert config.port == 8123
    assert config.ingest_port is None and config.audiosocket_port is None
