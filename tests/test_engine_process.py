"""The engine in a child process (``engine_mode = "process"``): same alerts as in one
process, a crashed child replaced with its calls, no child left after stop, and the real
server raising an alert through it.

One engine process serves most tests here (each costs the interpreter and numpy, numba
and onnxruntime imports, about 2 s); it ticks every 20 ms instead of every 250 ms, so
that audio pushed ahead plays faster than real time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from emotion.baseline import BaselineError
from emotion.engine_records import ChannelError, UnknownCallError
from test_server_support import (
    FAST_ALERTS,
    AlertFeed,
    add_users,
    calibrate,
    cheap_hasher,
    login,
    opened_alert,
    stream_audiofork,
    voice,
)
from voiceline.server.baselines import BaselineBook
from voiceline.server.config import ConfigError, EngineSettings, ServerConfig, load_config
from voiceline.server.engine_messages import PendingAudio, batch_message
from voiceline.server.engine_process import ProcessEngine
from voiceline.server.engine_runner import build_engine
from voiceline.server.testing import ServerThread

FS_HZ = 8000
PERIOD_S = 0.02
CALM_S, AGITATED_S = 4.0, 10.0
PIECE = 800  # 0.1 s pushes, as the ingest batches them


def speech() -> np.ndarray:
    return np.concatenate([voice(CALM_S, seed=3), voice(AGITATED_S, agitated=True, seed=4)])


def children() -> set[int]:
    """Process ids of this process's children (all threads')."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            with open(task / "children") as f:
                pids |= {int(pid) for pid in f.read().split()}
        except FileNotFoundError:  # the thread ended meanwhile (a stopping server's)
            continue
    return pids


def push_all(engine, call_id: str, pcm: np.ndarray, t0_s: float = 0.0) -> None:
    for k in range(0, pcm.shape[0], PIECE):
        engine.push(call_id, "agent", pcm[k : k + PIECE], t_s=t0_s + k / FS_HZ)


def wait_until(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> ServerConfig:
    data = tmp_path_factory.mktemp("engine-process")
    calibrate(data, "A1")
    # Room for a whole call pushed at once.
    return ServerConfig(data_dir=data, alerts=FAST_ALERTS,
                        engine=EngineSettings(max_backlog_s=60.0))


class Collected:
    """The results of a :class:`ProcessEngine` (called in its reader thread)."""

    def __init__(self) -> None:
        self.results: list = []

    def __call__(self, result, latency_s: float) -> None:
        self.results.append(result)

    def events(self, call_id: str) -> list:
        return [e for r in list(self.results) for e in r.events if e.call_id == call_id]

    def snapshot(self, call_id: str):
        for result in reversed(list(self.results)):
            for snap in result.snapshots:
                if snap.call_id == call_id:
                    return snap
        return None


@pytest.fixture(scope="module")
def engine(config):
    collected = Collected()
    engine = ProcessEngine(config, BaselineBook(config.baselines_dir), collected,
                           period_s=PERIOD_S)
    engine.start()
    engine.collected = collected
    yield engine
    engine.stop()


def decisions(events, until_s: float) -> list[tuple]:
    return [(e.type, e.kind, e.severity, round(e.opened_t_s, 3), round(e.t_s, 3),
             round(e.peak, 4), tuple(name for name, _ in e.drivers))
            for e in events if e.t_s <= until_s]


# -- sans-I/O parts ---------------------------------------------------------------------

def test_engine_mode_is_a_server_setting_process_by_default(tmp_path):
    path = tmp_path / "voiceline.toml"
    path.write_text('[server]\nengine_mode = "thread"\n')
    assert load_config(path).engine_mode == "thread"
    assert load_config(None).engine_mode == "process"
    path.write_text('[server]\nengine_mode = "fork"\n')
    with pytest.raises(ConfigError, match="engine_mode must be one of process, thread, got 'fork'"):
        load_config(path)


def test_pending_audio_drops_the_oldest_beyond_its_limit():
    pending = PendingAudio(max_samples=2000)
    dropped = [pending.add(k * 800, np.full(800, k, dtype=np.int16)) for k in range(5)]
    assert dropped == [0, 0, 800, 800, 800]
    assert pending.samples == 1600
    assert [start for start, _ in pending.pieces] == [3 * 800, 4 * 800]


def test_batch_joins_pieces_that_continue_each_other():
    pending = PendingAudio(max_samples=10_000)
    for start, n in ((0, 800), (800, 800), (None, 160), (4000, 800)):
        pending.add(start, np.arange(n, dtype=np.int16))
    caller = PendingAudio(max_samples=10_000)
    caller.add(None, np.ones(80, dtype=np.int16))
    message, samples = batch_message([("close", "old", "ended")],
                                     {("c1", "agent"): pending, ("c1", "caller"): caller})
    kind, ops, index, pcm = message
    assert (kind, ops) == ("batch", [("close", "old", "ended")])
    assert index == [("c1", "agent", 0, 1760), ("c1", "agent", 4000, 800),
                     ("c1", "caller", -1, 80)]
    assert samples == pcm.shape[0] == 2640
    assert pcm[1600:1602].tolist() == [0, 1] and pcm[-1] == 1


# -- one engine process ------------------------------------------------------------------

def test_same_alerts_and_windows_as_the_engine_in_one_process(engine, config):
    pcm = speech()
    until_s = pcm.shape[0] / FS_HZ - engine.tick_s
    reference = build_engine(config, BaselineBook(config.baselines_dir))
    reference.open_call("S1", "same", "A1", ("agent",))
    push_all(reference, "same", pcm)
    ref_events, ref_windows = [], []
    for _ in range(round(until_s / reference.tick_s) + 1):
        result = reference.tick()
        ref_events += result.events
        ref_windows += [(w.t_s, round(w.agitation, 6)) for w in result.windows]

    engine.open_call("S1", "same", "A1", ("agent",))
    push_all(engine, "same", pcm)
    wait_until(lambda: (snap := engine.collected.snapshot("same")) is not None
               and snap.t_s >= until_s)
    engine.close_call("same")
    windows = [(w.t_s, round(w.agitation, 6)) for r in list(engine.collected.results)
               for w in r.windows if w.call_id == "same" and w.t_s <= until_s]

    assert any(e[0] == "opened" for e in decisions(ref_events, until_s))
    assert decisions(engine.collected.events("same"), until_s) == decisions(ref_events, until_s)
    assert windows == [w for w in ref_windows if w[0] <= until_s] and len(windows) >= 8
    assert engine.stats["received_s"] >= pcm.shape[0] / FS_HZ


def test_refuses_what_the_engine_refuses(engine, tmp_path):
    with pytest.raises(ValueError, match="channels must hold 'agent'"):
        engine.open_call("S9", "bad", "A1", ("caller",))
    with pytest.raises(ValueError, match="8000 Hz"):
        engine.open_call("S9", "bad", "A1", ("agent",), fs_hz=16000)
    engine.open_call("S9", "twice", "A1", ("agent",))
    with pytest.raises(ValueError, match="already open"):
        engine.open_call("S10", "twice", "A1", ("agent",))
    with pytest.raises(ChannelError):
        engine.push("twice", "caller", np.zeros(160, dtype=np.int16))
    with pytest.raises(UnknownCallError):
        engine.push("never", "agent", np.zeros(160, dtype=np.int16))
    engine.open_call("S9", "replacing", "A1", ("agent",))  # same seat: "twice" is replaced
    with pytest.raises(UnknownCallError):
        engine.push("twice", "agent", np.zeros(160, dtype=np.int16))
    engine.close_call("replacing")
    with pytest.raises(UnknownCallError):
        engine.close_call("replacing")
    empty = ProcessEngine(ServerConfig(data_dir=tmp_path), BaselineBook(tmp_path / "none"),
                          lambda *_: None)
    empty._info = engine._info  # no process needed: the baseline check comes first
    with pytest.raises(BaselineError, match="no voice baselines"):
        empty.open_call("S9", "unscored", "A1", ("agent",))


def test_a_killed_engine_process_is_replaced_and_its_calls_go_on(engine, caplog):
    calm = voice(2.0, seed=3)
    engine.open_call("S2", "crash", "A1", ("agent", "caller"))
    push_all(engine, "crash", calm)
    wait_until(lambda: engine.collected.snapshot("crash") is not None)
    old_pid, received_s = engine.pid, engine.stats["received_s"]

    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: engine.restarts == 1 and engine.pid != old_pid)
    assert old_pid not in children()
    # The call goes on, its audio at the call times it would have had all along.
    push_all(engine, "crash", speech(), t0_s=calm.shape[0] / FS_HZ)
    wait_until(lambda: any(e.type == "opened" for e in engine.collected.events("crash")))

    snap = engine.collected.snapshot("crash")
    assert snap.underrun_s < 0.5  # the new process did not fill the call's past with silence
    assert engine.stats["received_s"] > received_s  # counters carry on across processes
    assert engine.stats["restarts"] == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"engine process {old_pid} ended" in m for m in messages)
    assert any("1 call(s) in progress opened again" in m for m in messages)
    engine.close_call("crash")


def test_stop_ends_the_engine_process(engine):
    pid = engine.pid
    assert pid in children()
    engine.stop()
    assert engine._process.returncode == 0  # it stopped when asked, not killed
    assert pid not in children()


def test_stop_kills_an_engine_process_that_does_not_answer(config):
    engine = ProcessEngine(config, BaselineBook(config.baselines_dir), lambda *_: None)
    engine.start()
    pid = engine.pid
    os.kill(pid, signal.SIGSTOP)
    started = time.monotonic()
    engine.stop(timeout_s=1.0)
    assert time.monotonic() - started < 5.0
    assert engine._process.returncode == -signal.SIGKILL
    assert pid not in children()


# -- through the server ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["process", "thread"])
def test_server_raises_an_alert_on_ws_alerts(tmp_path, mode):
    token = add_users(tmp_path)
    calibrate(tmp_path, "A1001")
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=None,
                          password_hasher=cheap_hasher(), alerts=FAST_ALERTS,
                          engine_mode=mode)
    before = children()
    with ServerThread(config) as server:
        engine_pids = children() - before
        assert len(engine_pids) == (1 if mode == "process" else 0)

        async def run() -> dict:
            async with AlertFeed(server.ws_url, login(server.url, "sup")) as feed:
                call = asyncio.create_task(stream_audiofork(
                    server.ingest_url, token, "call-1", "S1", "A1001", speech()))
                try:
                    return await feed.wait_for(opened_alert("call-1"), 20.0)
                finally:  # hang up once the alert is in
                    call.cancel()
                    await asyncio.gather(call, return_exceptions=True)

        opened = asyncio.run(run())
        health = httpx.get(f"{server.url}/healthz").json()
    assert opened["alert"]["seat_id"] == "S1" and opened["alert"]["agent_id"] == "A1001"
    assert (health["engine_mode"], health["engine_restarts"]) == (mode, 0)
    assert not (children() & engine_pids)  # the server's stop ended its engine process


def test_alerts_of_a_replaced_engine_process_close_and_the_call_goes_on(tmp_path):
    token = add_users(tmp_path)
    calibrate(tmp_path, "A1001")
    config = ServerConfig(data_dir=tmp_path, audiosocket_port=None,
                          password_hasher=cheap_hasher(), alerts=FAST_ALERTS)
    with ServerThread(config) as server:
        engine = server.service.engine

        async def run() -> tuple[dict, dict]:
            async with AlertFeed(server.ws_url, login(server.url, "sup")) as feed:
                call = asyncio.create_task(stream_audiofork(
                    server.ingest_url, token, "call-1", "S1", "A1001",
                    np.concatenate([speech()] * 6)))  # longer than any wait
                try:
                    opened = await feed.wait_for(opened_alert("call-1"), 60.0)
                    os.kill(engine.pid, signal.SIGKILL)
                    closed = await feed.wait_for(
                        lambda m: m["type"] == "alert" and m["event"] == "closed"
                        and m["alert"]["id"] == opened["alert"]["id"], 60.0)
                    # The new engine process takes the call on and judges it afresh.
                    again = await feed.wait_for(
                        lambda m: opened_alert("call-1")(m)
                        and m["alert"]["id"] != opened["alert"]["id"], 60.0)
                    return closed, again
                finally:
                    call.cancel()
                    await asyncio.gather(call, return_exceptions=True)

        closed, again = asyncio.run(run())
    assert "engine restarted" in closed["alert"]["close_reason"]
    assert again["alert"]["state"] == "open" and engine.restarts == 1
