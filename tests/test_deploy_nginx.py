"""The shipped nginx configuration (``deploy/nginx-voiceline.conf``), run as it is against
a real server: TLS in front of the console, the API, the dashboards' socket and the lean
ingest port; X-Forwarded-For overwritten (a client cannot pass its own into the audit
log); the scheme forwarded (so the server sends HSTS). Only the ports, the upstream
ports and the certificate paths are replaced. Skipped where nginx is not installed
(``.ci/run`` installs ``nginx-light``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

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
from voiceline.server import ServerConfig
from voiceline.server.testing import ServerThread, free_port
from voiceline.store import Store

CONF = Path(__file__).resolve().parents[1] / "deploy" / "nginx-voiceline.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                  else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed "
                                "(apt-get install nginx-light; .ci/run does)")


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nginx did not listen on {port}")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nginx")
    tls = write_certificate(folder)
    ca, chain, key = tls["ca"], tls["cert"], tls["key"]

    data = folder / "data"
    add_users(data)
    server = ServerThread(ServerConfig(data_dir=data, audiosocket_port=None,
                                       password_hasher=cheap_hasher()))
    https, wss = free_port(), free_port()
    site = CONF.read_text()
    for old, new in (("listen 443 ssl", f"listen 127.0.0.1:{https} ssl"),
                     ("listen 8444 ssl", f"listen 127.0.0.1:{wss} ssl"),
                     ("http://127.0.0.1:8080", f"http://127.0.0.1:{server.config.port}"),
                     ("http://127.0.0.1:8081", f"http://127.0.0.1:{server.config.ingest_port}"),
                     ("/etc/voiceline/tls/fullchain.pem", str(chain)),
                     ("/etc/voiceline/tls/privkey.pem", str(key)),
                     ("/var/log/nginx/voiceline.access.log", str(folder / "access.log")),
                     ("/var/log/nginx/voiceline-ingest.access.log",
                      str(folder / "ingest.log"))):
        assert old in site, old  # the shipped file still has what the test replaces
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the key here
    (folder / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
        f"error_log {folder}/error.log warn;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {folder}/body;\n"
        f"  proxy_temp_path {folder}/proxy;\n  fastcgi_temp_path {folder}/fastcgi;\n"
        f"  uwsgi_temp_path {folder}/uwsgi;\n  scgi_temp_path {folder}/scgi;\n"
        f"  include {folder}/site.conf;\n}}\n")
    server.start()
    proc = subprocess.Popen([NGINX, "-c", str(folder / "nginx.conf"), "-p", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(https, proc, folder / "error.log")
        _wait_for_port(wss, proc, folder / "error.log")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SSL_CERT_FILE", str(ca))  # the clients trust the throwaway CA
            yield {"server": server, "url": f"https://127.0.0.1:{https}",
                   "ws": f"wss://127.0.0.1:{https}", "ingest": f"wss://127.0.0.1:{wss}",
                   "data": data, "access_log": folder / "access.log"}
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()


def test_the_console_and_api_work_through_the_proxy_over_https(proxied):
    url = proxied["url"]
    health = httpx.get(f"{url}/healthz")
    assert health.status_code == 200 and health.json()["ok"]
    # the proxy said https, so the server asks browsers to keep to it
    assert health.headers["strict-transport-security"] == "max-age=31536000"
    assert "frame-ancestors 'none'" in httpx.get(f"{url}/qa.html").headers[
        "content-security-policy"]
    # a client's own X-Forwarded-For is overwritten by the proxy, not believed
    signed = httpx.post(f"{url}/api/login", json={"name": "sup", "password": PASSWORD},
                        headers={"X-Forwarded-For": "203.0.113.9"})
    assert signed.status_code == 200
    proxied["server"].settle_store()  # the login's audit entry is queued, not awaited
    with Store(proxied["data"] / "voiceline.db") as store:
        logins = store.list_audit(action="login", user="sup")
    assert logins[0]["detail"]["address"] == "127.0.0.1"


def test_dashboards_and_calls_stream_through_the_proxy_over_wss(proxied):
    url = proxied["url"]
    admin = {"Authorization": f"Bearer {login(url, 'admin')}"}
    token = httpx.post(f"{url}/api/ingest-tokens", json={"label": "nginx"},
                       headers=admin).json()["token"]
    pcm = to_pcm(voice(3.0, seed=6))

    async def scenario():
        async with AlertFeed(proxied["ws"], login(url, "sup")) as feed:
            assert feed.hello["user"] == "sup"
            await asyncio.gather(
                stream_audiofork(proxied["ingest"], token, "via-nginx", "S-NGX", "A1001",
                                 pcm),
                feed.wait_for(lambda m: m.get("type") == "seats" and "S-NGX" in {
                    s["seat_id"] for s in m["seats"]}))

    asyncio.run(scenario())
    calls = httpx.get(f"{url}/api/calls", headers=admin).json()
    assert "via-nginx" in [c["call_id"] for c in calls]


def test_the_proxys_access_log_keeps_no_token(proxied):
    # Found by an outside audit: the access log kept each recording's audio_url, whose
    # token plays it without signing in (the server's own log masks it).
    url = proxied["url"]
    httpx.get(f"{url}/api/qa/calls/c-1/audio?audio_token=SECRET-AUDIO-TOKEN")
    httpx.get(f"{url}/healthz?token=SECRET-SESSION")
    deadline = time.monotonic() + 5
    while "/healthz" not in proxied["access_log"].read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = proxied["access_log"].read_text()
    assert "/api/qa/calls/c-1/audio" in logged and "/healthz" in logged
    assert "SECRET" not in logged
