"""Serving over TLS, behind a proxy, and the headers every response carries.

A real server with a certificate from a throwaway CA (trustme): the console, the API,
the dashboards' socket and both websocket ingest ports speak TLS; the seat simulator
streams to it trusting that CA through ``SSL_CERT_FILE``; a certificate that cannot be
used stops ``voiceline serve`` with the reason before it binds a port. Behind a proxy
the sign-in throttle and the audit log count the client's address, not the proxy's,
and only when the proxy is trusted.
"""

from __future__ import annotations

import asyncio
import ssl
import sys

import httpx
import numpy as np
import pytest
import soundfile
import trustme
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake

from test_server_support import (
    PASSWORD,
    AlertFeed,
    add_users,
    cheap_hasher,
    login,
    stream_audiofork,
    to_pcm,
    voice,
    write_certificate,
)
from voiceline.cli import main
from voiceline.server import ServerConfig
from voiceline.server.config import ConfigError, load_config
from voiceline.server.login_guard import MAX_ADDRESS_FAILURES
from voiceline.server.testing import ServerThread
from voiceline.server.tls import CONTENT_SECURITY_POLICY
from voiceline.store import Store


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    """A throwaway CA, its PEM file, and a certificate for 127.0.0.1 signed by it."""
    return write_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, ca):
    data = tmp_path_factory.mktemp("tls-data")
    add_users(data)
    config = ServerConfig(data_dir=data, audiosocket_port=None, password_hasher=cheap_hasher(),
                          tls_certfile=str(ca["cert"]), tls_keyfile=str(ca["key"]))
    with pytest.MonkeyPatch.context() as patch:
        # what an installer does for a private CA: every client here trusts it
        patch.setenv("SSL_CERT_FILE", str(ca["ca"]))
        with ServerThread(config) as server:
            server.data = data
            yield server


def _client_context(ca) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca["ca"]))


def test_the_console_and_api_are_served_over_https_and_plain_http_is_refused(server, ca):
    assert server.url.startswith("https://")
    verify = _client_context(ca)
    health = httpx.get(f"{server.url}/healthz", verify=verify)
    assert health.status_code == 200 and health.json()["ok"]
    assert health.headers["strict-transport-security"] == "max-age=31536000"
    page = httpx.get(f"{server.url}/login.html", verify=verify)
    assert page.status_code == 200 and page.headers["content-security-policy"] == \
        CONTENT_SECURITY_POLICY
    token = httpx.post(f"{server.url}/api/login", json={"name": "sup", "password": PASSWORD},
                       verify=verify).json()["token"]
    alerts = httpx.get(f"{server.url}/api/alerts", verify=verify,
                       headers={"Authorization": f"Bearer {token}"})
    assert alerts.status_code == 200 and alerts.headers["cache-control"] == "no-store"

    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{server.url}/healthz", trust_env=False)  # a client without the CA
    plain = server.url.replace("https://", "http://")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
        httpx.get(f"{plain}/healthz", timeout=5)
    assert httpx.get(f"{server.url}/healthz", verify=verify).status_code == 200  # carries on


def test_calls_stream_over_wss_on_both_ports_and_dashboards_follow_over_wss(server):
    admin = login(server.url, "admin")
    token = httpx.post(f"{server.url}/api/ingest-tokens", json={"label": "tls"},
                       headers={"Authorization": f"Bearer {admin}"}).json()["token"]
    pcm = to_pcm(voice(4.0, seed=3))

    async def scenario():
        async with AlertFeed(server.ws_url, login(server.url, "sup")) as feed:
            assert feed.hello["user"] == "sup"
            # both calls' seats reach the dashboard over wss while they stream
            await asyncio.gather(
                stream_audiofork(server.ingest_url, token, "tls-lean", "S-TLS1", "A1001", pcm),
                stream_audiofork(server.ws_url, token, "tls-http", "S-TLS2", "A1001", pcm),
                feed.wait_for(lambda m: m.get("type") == "seats" and {"S-TLS1", "S-TLS2"}
                              <= {s["seat_id"] for s in m["seats"] if s.get("call_id")}))

    assert server.ingest_url.startswith("wss://") and server.ws_url.startswith("wss://")
    asyncio.run(scenario())
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    calls = {c["call_id"]: c for c in httpx.get(f"{server.url}/api/calls", headers=sup).json()}
    assert {"tls-lean", "tls-http"} <= set(calls)

    async def plain_ws():
        async with connect(server.ingest_url.replace("wss://", "ws://") + "/ingest/audiofork",
                           open_timeout=5):
            pass

    # the TLS listener answers a plain handshake with no HTTP (or resets the connection)
    with pytest.raises((InvalidHandshake, ConnectionError)):
        asyncio.run(plain_ws())


def test_the_seat_simulator_streams_to_an_https_server_trusting_its_ca(server, tmp_path,
                                                                        capsys):
    admin = login(server.url, "admin")
    token = httpx.post(f"{server.url}/api/ingest-tokens", json={"label": "sim"},
                       headers={"Authorization": f"Bearer {admin}"}).json()["token"]
    recording = tmp_path / "call.wav"
    pcm = to_pcm(voice(2.0, seed=4))
    soundfile.write(recording, np.stack([pcm, np.zeros_like(pcm)], axis=1), 8000,
                    subtype="PCM_16")
    code = main(["simulate", "--server", server.url, "--replay", str(recording),
                 "--token", token, "--run-id", "tlsrun"])
    assert code == 0, capsys.readouterr().err
    assert "1 calls streamed" in capsys.readouterr().err
    sup = {"Authorization": f"Bearer {login(server.url, 'sup')}"}
    calls = httpx.get(f"{server.url}/api/calls", headers=sup).json()
    assert [c["call_id"] for c in calls if c["call_id"].startswith("tlsrun-")]


def test_the_ingest_port_may_stay_plain_while_the_console_is_https(ca, tmp_path):
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=None, ingest_tls=False,
                          password_hasher=cheap_hasher(), tls_certfile=str(ca["cert"]),
                          tls_keyfile=str(ca["key"]))
    add_users(tmp_path)
    with ServerThread(config) as server:
        assert server.url.startswith("https://") and server.ingest_url.startswith("ws://")
        verify = _client_context(ca)
        admin = httpx.post(f"{server.url}/api/login", verify=verify,
                           json={"name": "admin", "password": PASSWORD}).json()["token"]
        token = httpx.post(f"{server.url}/api/ingest-tokens", json={"label": "pbx"},
                           verify=verify, headers={"Authorization": f"Bearer {admin}"}
                           ).json()["token"]
        asyncio.run(stream_audiofork(server.ingest_url, token, "plain-1", "S-P1", "A1001",
                                     to_pcm(voice(1.0, seed=2))))
        calls = httpx.get(f"{server.url}/api/calls", verify=verify,
                          headers={"Authorization": f"Bearer {admin}"}).json()
        assert [c["call_id"] for c in calls] == ["plain-1"]


# -- settings -----------------------------------------------------------------------------

def test_a_certificate_that_cannot_be_used_is_refused_by_name_before_serving(ca, tmp_path,
                                                                              capsys):
    other = trustme.CA().issue_cert("127.0.0.1")
    wrong_key = tmp_path / "other-key.pem"
    other.private_key_pem.write_to_path(str(wrong_key))
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate\n")
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(ca["key"].read_bytes(), password=None)
    locked = {}
    for name, form in (("pkcs8", serialization.PrivateFormat.PKCS8),
                       ("traditional", serialization.PrivateFormat.TraditionalOpenSSL)):
        locked[name] = tmp_path / f"locked-{name}.pem"
        locked[name].write_bytes(key.private_bytes(
            serialization.Encoding.PEM, form, serialization.BestAvailableEncryption(b"secret")))
    cases = [
        (dict(tls_certfile=str(ca["cert"])), "tls_certfile and tls_keyfile go together"),
        (dict(tls_certfile=str(tmp_path / "missing.pem"), tls_keyfile=str(ca["key"])),
         "no such file: .*missing.pem \\(the certificate\\)"),
        # once "no such file: <the certificate>", and "Invalid argument" (or a passphrase
        # prompt on a terminal) for an encrypted key
        (dict(tls_certfile=str(ca["cert"]), tls_keyfile=str(tmp_path / "gone.pem")),
         "no such file: .*gone.pem \\(the key\\)"),
        *((dict(tls_certfile=str(ca["cert"]), tls_keyfile=str(path)),
           f"the key .*{path.name} is encrypted with a passphrase") for path in locked.values()),
        (dict(tls_certfile=str(ca["cert"]), tls_keyfile=str(wrong_key)),
         "does not belong to the certificate"),
        (dict(tls_certfile=str(not_pem), tls_keyfile=str(ca["key"])),
         "not a PEM certificate chain"),
        (dict(forwarded_allow_ips="10.0.0.1/8"), "'10.0.0.1/8' is not an IP address"),
        (dict(forwarded_allow_ips="proxy.example"), "is not an IP address or network"),
        (dict(forwarded_allow_ips="*, 10.0.0.1"), "list nothing beside it"),
    ]
    for settings, words in cases:
        with pytest.raises(ConfigError, match=words):
            ServerConfig(data_dir=tmp_path, **settings)
    assert load_config(forwarded_allow_ips=" 10.0.0.0/8, ::1 ,").forwarded_allow_ips
    assert not ServerConfig(data_dir=tmp_path).tls

    settings = tmp_path / "voiceline.toml"
    settings.write_text(f'[server]\ntls_certfile = "{ca["cert"]}"\ntls_keyfile = "{wrong_key}"\n')
    code = main(["serve", "--config", str(settings), "--data", str(tmp_path / "d"),
                 "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "does not belong to the certificate" in err and "Traceback" not in err
    code = main(["serve", "--tls-cert", str(ca["cert"]), "--data", str(tmp_path / "d")])
    assert code == 2 and "go together" in capsys.readouterr().err


# -- behind a proxy -----------------------------------------------------------------------

def _failed_logins(url: str, forwarded_for: str, n: int) -> list[int]:
    return [httpx.post(f"{url}/api/login", json={"name": f"nobody{k}", "password": "wrong!!"},
                       headers={"X-Forwarded-For": forwarded_for}).status_code
            for k in range(n)]


@pytest.mark.parametrize("trusted", [True, False])
def test_behind_a_trusted_proxy_the_throttle_and_audit_see_the_clients_address(
        tmp_path, trusted):
    add_users(tmp_path)
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher(),
                          forwarded_allow_ips="127.0.0.1" if trusted else "")
    with ServerThread(config) as server:
        assert set(_failed_logins(server.url, "203.0.113.5", MAX_ADDRESS_FAILURES)) == {401}
        throttled = httpx.post(f"{server.url}/api/login",
                               json={"name": "sup", "password": PASSWORD},
                               headers={"X-Forwarded-For": "203.0.113.5"})
        colleague = httpx.post(f"{server.url}/api/login",
                               json={"name": "sup", "password": PASSWORD},
                               headers={"X-Forwarded-For": "203.0.113.6"})
        # A forged header from a client the server does not trust changes nothing.
        assert throttled.status_code == 429
        if trusted:  # another desk behind the same proxy still signs in
            assert colleague.status_code == 200, colleague.text
        else:  # every request is the proxy's: one address, throttled together
            assert colleague.status_code == 429
    with Store(tmp_path / "voiceline.db") as store:
        refused = [e for e in store.list_audit(limit=1000) if e["action"] == "login_failed"]
    addresses = {e["detail"]["address"] for e in refused}
    assert addresses == ({"203.0.113.5"} if trusted else {"127.0.0.1"})


def test_every_response_carries_the_security_headers(tmp_path):
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with ServerThread(config) as server:
        page = httpx.get(f"{server.url}/wall.html")
        api = httpx.post(f"{server.url}/api/login", json={"name": "x", "password": "y"})
        docs = httpx.get(f"{server.url}/api/docs")
        forwarded = httpx.get(f"{server.url}/healthz", headers={"X-Forwarded-Proto": "https"})
    for response in (page, api, docs, forwarded):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "strict-transport-security" not in page.headers  # plain HTTP: no HSTS
    assert api.headers["cache-control"] == "no-store"
    assert "cache-control" not in page.headers or "no-store" not in page.headers["cache-control"]
    assert "content-security-policy" not in docs.headers  # its page loads from a CDN
    # HTTPS as a trusted proxy (here, on this machine) says it was
    assert forwarded.headers["strict-transport-security"] == "max-age=31536000"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
