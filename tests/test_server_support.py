"""Helpers of the server tests: users, a calibrated synthetic agent, paced senders, a feed.

No tests here; ``test_server_api.py`` and ``test_server_e2e.py`` import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
from argon2 import PasswordHasher
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from capture.audio import AudioClip
from capture.g711 import ulaw_encode
from capture.ingest import audiofork, audiosocket, twilio
from capture.synth import speech_like
from emotion.baseline import fit_baseline, save_baseline
from emotion.voice import analyse_clips
from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR
from voiceline.auth import Auth
from voiceline.store import Store

PASSWORD = "correct horse battery"
F0_HZ = 150.0
FRAME_S = 0.02
#: Alerts open after 2 s of hot speech (default 4) so that the tests stream less audio.
FAST_ALERTS = {"agitation": {"dwell_s": 2.0, "span_s": 3.0}}


def cheap_hasher() -> PasswordHasher:
    """Argon2id at its lowest cost; the server takes it only from code (tests)."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def add_users(data_dir: Path) -> str:
    """Users admin, sup, sup2 (supervisors), qa, wang (agent A1001); returns an ingest token."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with Store(data_dir / "voiceline.db") as store:
        store.upsert_agent("A1001", "Wang Fang")
        store.upsert_agent("A1002", "Zhao Lei")
        auth = Auth(store, cheap_hasher())
        for name, role in (("admin", "admin"), ("sup", "supervisor"), ("sup2", "supervisor"),
                           ("qa", "qa")):
            auth.add_user(name, role, PASSWORD)
        auth.add_user("wang", "agent", PASSWORD, "A1001")
        return auth.issue_ingest_token("tests")


def to_pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def voice(seconds: float, *, agitated: bool = False, seed: int = 0,
          fs_hz: int = 8000) -> np.ndarray:
    """The test agent's synthetic voice, int16."""
    return to_pcm(speech_like(seconds, fs_hz, f0_hz=F0_HZ, seed=seed, agitated=agitated))


@functools.cache
def _calm_baseline():
    calm = voice(40.0, seed=1)
    clip = AudioClip(calm[np.newaxis, :] / 32768.0, 8000, "calm", "PCM_16")
    fa = analyse_clips([clip])[0]
    windows = fa.windows.features[0][fa.windows.valid[0]]
    return fit_baseline(windows, FEATURE_NAMES, agent_id="template", channel_type="8k",
                        speech_s=fa.speech_s, level_profile=fa.level_profile,
                        sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR), min_speech_s=20.0)


def calibrate(data_dir: Path, *agents: str) -> None:
    """Baselines for ``agents`` in ``data_dir/baselines``: the calm synthetic voice's."""
    for agent in agents:
        save_baseline(replace(_calm_baseline(), agent_id=agent), data_dir / "baselines")


def login(base_url: str, name: str) -> str:
    # 30 s: a sign-in hashes a password, which waits long on a machine under load
    response = httpx.post(f"{base_url}/api/login", json={"name": name, "password": PASSWORD},
                          timeout=30.0)
    response.raise_for_status()
    return response.json()["token"]


# -- paced senders (real time: the engine plays audio at the wall clock's pace) ----------

async def _pace(t0: float, sent_s: float) -> None:
    await asyncio.sleep(max(0.0, t0 + sent_s - time.monotonic()))


async def stream_audiofork(ws_url: str, token: str, call_id: str, seat: str, agent: str,
                           agent_pcm: np.ndarray, fs_hz: int = 8000, *,
                           stop: bool = True) -> None:
    """Stereo audio fork at ``fs_hz``: the agent on channel 0, a silent caller on 1."""
    headers = {"Authorization": f"Bearer {token}"}
    step = round(FRAME_S * fs_hz)
    async with connect(f"{ws_url}/ingest/audiofork", additional_headers=headers) as ws:
        await ws.send(audiofork.start_message(call_id, seat, agent, fs_hz=fs_hz, channels=2))
        t0 = time.monotonic()
        for k in range(0, agent_pcm.shape[0], step):
            chunk = agent_pcm[k : k + step]
            await ws.send(audiofork.pcm_message(np.stack([chunk, np.zeros_like(chunk)])))
            await _pace(t0, (k + step) / fs_hz)
        if stop:
            await ws.send(audiofork.stop_message("hung up"))


async def stream_twilio(ws_url: str, token: str, call_sid: str, seat: str, agent: str,
                        agent_pcm: np.ndarray) -> None:
    """Twilio Media Streams, both tracks; the agent is the outbound track (the default)."""
    step = round(FRAME_S * 8000)
    codes = ulaw_encode(agent_pcm)
    quiet = ulaw_encode(np.zeros(step, dtype=np.int16))
    sid = "MZ" + call_sid[2:]
    async with connect(f"{ws_url}/ingest/twilio?token={token}") as ws:
        await ws.send(twilio.connected_message())
        await ws.send(twilio.start_message(call_sid, sid, seat=seat, agent=agent))
        t0, seq = time.monotonic(), 1
        for chunk, k in enumerate(range(0, codes.shape[0], step), start=1):
            for track, payload in (("outbound", codes[k : k + step]), ("inbound", quiet)):
                seq += 1
                await ws.send(twilio.media_message(track, chunk, k // 8, bytes(payload), seq,
                                                   stream_sid=sid))
            await _pace(t0, (k + step) / 8000)
        await ws.send(twilio.stop_message(call_sid, seq + 1, stream_sid=sid))


async def stream_audiosocket(base_url: str, port: int, token: str, call_uuid: str,
                             seat: str | None, agent: str | None,
                             agent_pcm: np.ndarray) -> None:
    """Bind the UUID over REST (unless ``seat`` is None), then AudioSocket over TCP, 20 ms
    slin messages."""
    if seat is not None:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{base_url}/api/audiosocket/bind",
                headers={"Authorization": f"Bearer {token}"},
                json={"uuid": call_uuid, "seat": seat, "agent": agent})
            response.raise_for_status()
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(audiosocket.uuid_message(call_uuid))
    step = round(FRAME_S * 8000)
    t0 = time.monotonic()
    for k in range(0, agent_pcm.shape[0], step):
        writer.write(audiosocket.audio_message(agent_pcm[k : k + step]))
        await writer.drain()
        await _pace(t0, (k + step) / 8000)
    writer.write(audiosocket.hangup_message())
    await writer.drain()
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


# -- a dashboard --------------------------------------------------------------------------

class AlertFeed:
    """A ``/ws/alerts`` client that keeps every message it receives."""

    def __init__(self, ws_url: str, token: str, since: int = 0) -> None:
        self.url = f"{ws_url}/ws/alerts"
        self.token = token
        self.since = since
        self.messages: list[dict] = []
        self.hello: dict | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> AlertFeed:
        self.ws = await connect(self.url)
        await self.ws.send(json.dumps({"type": "auth", "token": self.token,
                                       "since": self.since}))
        self.hello = json.loads(await self.ws.recv())
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _pump(self) -> None:
        try:
            async for raw in self.ws:
                self.messages.append(json.loads(raw))
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            if self.ws.close_code is not None:
                self.close_code = self.ws.close_code
                self.close_reason = self.ws.close_reason
            self._changed.set()

    @property
    def alerts(self) -> list[dict]:
        return [m for m in self.messages if m["type"] == "alert"]

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def wait_for(self, predicate, timeout_s: float = 30.0) -> dict:
        """The first message satisfying ``predicate``, waiting for it if need be."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        while True:
            for message in self.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.messages)
            if self._task.done():
                raise AssertionError(f"the feed closed ({self.close_code} "
                                     f"{self.close_reason!r}) before the message came")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such message within {timeout_s} s; got "
                                     f"{[m for m in self.messages if m['type'] != 'seats']}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


def opened_alert(call_id: str, kind: str = "agitation"):
    """Predicate: the ``opened`` event of a ``kind`` alert on ``call_id``."""
    return lambda m: (m["type"] == "alert" and m["event"] == "opened"
                      and m["alert"]["call_id"] == call_id and m["alert"]["kind"] == kind)


def write_certificate(folder: Path) -> dict[str, Path]:
    """A throwaway CA (``ca``) and a certificate for 127.0.0.1 signed by it (``cert``:
    the chain, ``key``), as PEM files in ``folder`` (trustme)."""
    import trustme

    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": folder / "ca.pem", "cert": folder / "fullchain.pem",
             "key": folder / "privkey.pem"}
    authority.cert_pem.write_to_path(str(paths["ca"]))
    issued.private_key_pem.write_to_path(str(paths["key"]))
    for k, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(paths["cert"]), append=k > 0)
    return paths


def as_account(monkeypatch, name: str, uid: int | None = None) -> None:
    """The process runs as the account ``name`` (and as ``uid``, if given)."""
    import os
    import pwd

    real = pwd.getpwuid
    if uid is not None:
        monkeypatch.setattr(os, "geteuid", lambda: uid)

    def lookup(u: int):
        entry = list(real(os.getuid()))
        entry[0], entry[2] = name, u
        return pwd.struct_passwd(entry)

    monkeypatch.setattr(pwd, "getpwuid", lookup)
