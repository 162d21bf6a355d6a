"""Failed logins: a name is locked after five failures, an address after thirty, for a while."""

from __future__ import annotations

import httpx
import pytest

from test_server_support import PASSWORD, add_users, cheap_hasher
from voiceline.server import ServerConfig
from voiceline.server.login_guard import LoginGuard
from voiceline.server.testing import ServerThread
from voiceline.store import Store


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_five_failures_lock_the_name_until_the_first_leaves_the_window():
    clock = Clock()
    guard = LoginGuard(clock=clock)
    for _k in range(5):
        assert guard.retry_after_s("wang", "10.0.0.1") == 0
        guard.failed("Wang", "10.0.0.1")  # names are compared without case
        clock.t += 10
    assert guard.retry_after_s("wang", "10.0.0.9") == pytest.approx(300 - 50)
    assert guard.retry_after_s("li", "10.0.0.9") == 0  # other people are not affected
    clock.t += 251
    assert guard.retry_after_s("wang", "10.0.0.1") == 0


def test_an_address_spraying_many_names_is_locked_and_success_clears_a_name():
    clock = Clock()
    guard = LoginGuard(clock=clock)
    for k in range(30):
        guard.failed(f"user{k}", "10.0.0.66")
    assert guard.retry_after_s("someone", "10.0.0.66") > 0
    assert guard.retry_after_s("someone", "10.0.0.67") == 0
    guard.failed("zhao", None)
    guard.succeeded("ZHAO")
    assert guard.retry_after_s("zhao", None) == 0


def test_the_server_answers_429_with_retry_after_and_audits_it(tmp_path):
    add_users(tmp_path)
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=None,
                          password_hasher=cheap_hasher())
    with ServerThread(config) as server:
        url = f"{server.url}/api/login"
        for _ in range(5):
            assert httpx.post(url, json={"name": "sup", "password": "wrong-pw-1"}
                              ).status_code == 401
        locked = httpx.post(url, json={"name": "sup", "password": PASSWORD})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 200
        assert "too many failed logins" in locked.json()["detail"]
        assert httpx.post(url, json={"name": "qa", "password": PASSWORD}).status_code == 200
    with Store(tmp_path / "voiceline.db") as store:
        assert store.list_audit(action="login_throttled")[0]["detail"]["name"] == "sup"
