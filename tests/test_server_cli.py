"""``voiceline user`` and ``voiceline serve`` from the command line."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from voiceline.auth import Auth, IngestClient
from voiceline.cli import main
from voiceline.server.testing import free_port
from voiceline.store import Store


def test_user_add_then_token_work_on_the_data_dir(tmp_path, monkeypatch, capsys):
    data = str(tmp_path / "data")
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-enough\n"))
    assert main(["user", "add", "li", "--role", "supervisor", "--password-stdin",
                 "--data", data]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("another-secret\n"))
    assert main(["user", "add", "wang", "--role", "agent", "--agent", "A1001",
                 "--password-stdin", "--data", data]) == 0
    assert main(["user", "token", "--ingest", "freeswitch-1", "--data", data]) == 0
    out = capsys.readouterr()
    assert "added user li (supervisor)" in out.out
    assert "added user wang (agent, agent A1001)" in out.out
    assert "registered agent A1001" in out.err
    token = out.out.strip().splitlines()[-1]
    with Store(tmp_path / "data" / "voiceline.db") as store:
        auth = Auth(store)
        assert auth.authenticate("li", "s3cret-enough").role == "supervisor"
        assert auth.check_token(token, "ingest") == IngestClient(1, "freeswitch-1")
        assert [e["action"] for e in store.list_audit()] == [
            "issue_ingest_token", "add_user", "add_user"]


def test_user_errors_are_one_line_and_change_nothing(tmp_path, monkeypatch, capsys):
    data = str(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["user", "add", "li", "--role", "qa", "--password-stdin", "--data", data]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("long enough\n"))
    assert main(["user", "add", "li", "--role", "qa", "--agent", "A1", "--password-stdin",
                 "--data", data]) == 2
    assert "takes no agent_id" in capsys.readouterr().err
    with Store(tmp_path / "voiceline.db") as store:
        assert store.list_users() == [] and store.list_agents() == []


def test_serve_refuses_a_bad_config_before_binding(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[alerts.agitation]\nwarning = 0.95\ncritical = 0.9\n")
    assert main(["serve", "--config", str(bad), "--data", str(tmp_path)]) == 2
    assert "warning <= critical" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_serve_starts_answers_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "voiceline", "serve", "--port", str(port), "--data",
         str(tmp_path), "--audiosocket-port", "0", "--ingest-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30.0
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "voiceline serve did not come up"
                time.sleep(0.1)
        assert health["ok"] is True and health["audiosocket_port"] is None
        assert health["scoring"]["enabled"] is False  # no baselines in a fresh data dir
        assert "voiceline calibrate" in health["scoring"]["reason"]
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "voiceline stopped" in err
    assert "Traceback" not in err, err
    assert (tmp_path / "voiceline.db").exists()
