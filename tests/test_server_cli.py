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
    for table, line, words in (("server", "seat_history_s = inf", "finite"),
                               ("engine", "tick_s = inf", "finite"),
                               ("engine", 'model = "nope.onnx"', "nope.onnx: no such file")):
        bad.write_text(f"[{table}]\n{line}\n")  # each was a traceback at start-up once
        assert main(["serve", "--config", str(bad), "--data", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize("stop", ["ctrl-c", "group-sigterm", "group-sighup"])
def test_serve_starts_answers_and_stops_on_ctrl_c(tmp_path, stop):
    # "group-sigterm" as a service manager stops a unit: every process of it at once.
    # The engine process used to end first, and the server started a new one while it
    # shut down.
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "voiceline", "serve", "--port", str(port), "--data",
         str(tmp_path), "--audiosocket-port", "0", "--ingest-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
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
        assert health["engine_mode"] == "process"  # a child the group signal reaches too
    finally:
        if stop == "ctrl-c":
            server.send_signal(signal.SIGINT)
        else:  # as a service manager stops a unit, or a closed terminal (from an audit:
            # SIGHUP killed the server where it stood, live calls left open)
            os.killpg(server.pid, signal.SIGTERM if stop == "group-sigterm" else signal.SIGHUP)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "voiceline stopped" in err
    assert "Traceback" not in err, err
    assert "starting a new one" not in err and "replaces" not in err, err
    assert (tmp_path / "voiceline.db").exists()


def test_a_second_server_on_a_data_directory_or_a_port_in_use_is_one_line(tmp_path, capsys):
    # A second `serve` on the same directory once ended the running server's live calls
    # in the store at its start-up, then failed on the port (exit 3, or a traceback for
    # the ingest ports); a busy port is now said before anything is touched.
    import socket

    from voiceline.server.run import hold_data_dir

    data = tmp_path / "data"
    hold_data_dir(data)  # as the running server holds it
    with Store(data / "voiceline.db") as store:
        store.upsert_seat("S1")
        store.start_call("live-1", "S1", None, "audiofork", started_s=time.time())
    code = main(["serve", "--data", str(data), "--port", "0", "--ingest-port", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "is in use by a running server (voiceline serve, pid" in err
    with Store(data / "voiceline.db") as store:
        assert store.list_calls(active=True)[0]["call_id"] == "live-1"  # still live
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for option in ("--port", "--ingest-port"):
            args = ["serve", "--data", str(tmp_path / "other"), "--port", "0",
                    "--ingest-port", "0", option, str(port)]
            assert main(args) == 2
            err = capsys.readouterr().err
            assert f"{option} {port} on 127.0.0.1" in err and "Traceback" not in err


def test_user_commands_need_a_terminal_or_stdin_and_an_existing_store(tmp_path, monkeypatch,
                                                                       capsys):
    import getpass

    def no_terminal(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", no_terminal)
    data = tmp_path / "data"
    assert main(["user", "add", "li", "--role", "qa", "--data", str(data)]) == 2
    assert "--password-stdin" in capsys.readouterr().err
    for action in (["list"], ["tokens"], ["revoke", "1"]):  # a mistyped --data
        assert main(["user", *action, "--data", str(tmp_path / "typo")]) == 2
        assert "no store in" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()
    # a token's label is printed by `user tokens`: an ESC in it reached the terminal
    assert main(["user", "token", "--ingest", "a\x1b[31mred", "--data", str(data)]) == 2
    assert "control character" in capsys.readouterr().err
