"""HTTP request bodies are capped as they arrive: one huge request cannot hold the loop."""

from __future__ import annotations

import warnings

import pytest

from test_server_support import PASSWORD, add_users, cheap_hasher
from voiceline.server import ServerConfig, create_app
from voiceline.server.app import MAX_BODY_BYTES

with warnings.catch_warnings():  # starlette prefers httpx2 for its test client; httpx works
    warnings.filterwarnings("ignore", message=".*install `httpx2`")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    add_users(data)
    config = ServerConfig(data_dir=data, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with TestClient(create_app(config)) as client:
        yield client


def test_a_body_over_the_limit_is_refused_with_413_and_not_echoed(client):
    huge = b'{"name": "' + b"a" * (4 * MAX_BODY_BYTES) + b'", "password": "x"}'
    reply = client.post("/api/login", content=huge, headers={"content-type": "application/json"})
    assert reply.status_code == 413 and len(reply.content) < 200


def test_a_streamed_body_without_a_length_is_cut_off_too(client):
    def chunks():
        yield b'{"name": "'
        for _ in range(64):
            yield b"a" * 16384
        yield b'", "password": "x"}'

    reply = client.post("/api/login", content=chunks(),
                        headers={"content-type": "application/json"})
    assert reply.status_code == 413


def test_ordinary_bodies_pass(client):
    reply = client.post("/api/login", json={"name": "admin", "password": PASSWORD})
    assert reply.status_code == 200 and reply.json()["token"]
