"""The live engine: alerts from a voice leaving its baseline, calls joining and leaving in
lockstep, slots reused without a trace, exact audio accounting, and errors that touch
only the call that caused them."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from capture.synth import speech_like
from emotion.alerts import AlertConfig, KindConfig
from emotion.baseline import Baseline, fit_baseline
from emotion.engine import (
    DEFAULT_MODEL,
    ChannelError,
    LiveEngine,
    UnknownCallError,
)
from emotion.scoring import VoiceModel
from emotion.voice import StreamingVoiceAnalyzer
from emotion.windows import F0_REF_HZ, FEATURE_NAMES, FEATURE_SIGMA_FLOOR

FS_HZ = 8000
TICK = 2000  # samples per 0.25 s tick
PREFILL = 4000  # the default 0.5 s jitter buffer
F = len(FEATURE_NAMES)
LOUDNESS_OR_PITCH = {"loudness_n5_sone", "loudness_mean_sone", "f0_median_st",
                     "loudness_slope_sone_s"}


def pcm16(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Full-scale float → int16 with line noise at -60 dBFS (a line is never silent)."""
    noise = np.random.default_rng(seed).normal(0.0, 1e-3, x.size)
    return np.clip(np.rint((x + noise) * 32768.0), -32768, 32767).astype(np.int16)


def speech(seconds: float, seed: int, **kw) -> np.ndarray:
    return pcm16(speech_like(seconds, FS_HZ, seed=seed, **kw), seed)


def quiet(seconds: float, seed: int) -> np.ndarray:
    return pcm16(np.zeros(round(seconds * FS_HZ)), seed)


IDENTITY = Baseline("population", "8k", FEATURE_NAMES, np.zeros(F), np.ones(F), {}, np.eye(F),
                    10, 60.0, "g711-telephone", source="population")


@pytest.fixture(scope="module")
def model() -> VoiceModel:
    return VoiceModel(DEFAULT_MODEL)


def make(model, baselines=lambda agent: (IDENTITY, "population"), **kw) -> LiveEngine:
    kw.setdefault("group_size", 4)
    return LiveEngine(baselines=baselines, model=model, **kw)


def play(engine: LiveEngine, audio: dict, extra_ticks: int = 0) -> list:
    """Push each call's channels one tick ahead (after a jitter buffer's worth) and tick
    until all audio is played; ``audio`` maps call id → {channel: int16 samples}."""
    for call, channels in audio.items():
        for channel, x in channels.items():
            engine.push(call, channel, x[:PREFILL])
    n = max(x.size for channels in audio.values() for x in channels.values())
    results = []
    for i in range(PREFILL, n + PREFILL, TICK):
        for call, channels in audio.items():
            for channel, x in channels.items():
                if i < x.size:
                    engine.push(call, channel, x[i : i + TICK])
        results.append(engine.tick())
    return results + [engine.tick() for _ in range(extra_ticks)]


def windows_of(results, call_id: str) -> tuple[np.ndarray, np.ndarray]:
    found = [w for r in results for w in r.windows if w.call_id == call_id]
    return np.array([w.t_s for w in found]), np.array([w.features for w in found])


def alone(model, x: np.ndarray, **kw) -> tuple[np.ndarray, np.ndarray]:
    """Windows of one call played from tick 0 on a fresh engine."""
    engine = make(model, **kw)
    engine.open_call("S0", "ref", "A1")
    return windows_of(play(engine, {"ref": {"agent": x}}), "ref")


@pytest.fixture(scope="module")
def agent_baseline(model) -> Baseline:
    """Agent A1's baseline, fitted on the engine's own windows of 90 s of calm speech."""
    engine = make(model, group_size=1)
    engine.open_call("S0", "calibration", "A1")
    results = play(engine, {"calibration": {"agent": speech(90, seed=11)}})
    found = [w for r in results for w in r.windows]
    return fit_baseline(np.array([w.features for w in found]), FEATURE_NAMES, agent_id="A1",
                        channel_type="8k", speech_s=sum(w.speech_s for w in found) / 3,
                        level_profile="g711-telephone", sigma_floor=np.array(FEATURE_SIGMA_FLOOR))


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


# --- alerts ---------------------------------------------------------------------------------


def test_agitated_stretch_raises_an_explained_alert_and_a_calm_call_none(model, agent_baseline):
    onset_s = 25.0
    agitated = np.concatenate([speech(onset_s, seed=21), speech(20, seed=121, agitated=True),
                               speech(10, seed=221)])
    clock = Clock()
    engine = make(model, baselines=lambda agent: (agent_baseline, "agent"), clock=clock)
    engine.open_call("S1", "agitated", "A1")
    engine.open_call("S2", "calm", "A1")
    results = play(engine, {"agitated": {"agent": agitated}, "calm": {"agent": speech(55, 31)}})

    events = [e for r in results for e in r.events]
    assert all(e.call_id == "agitated" for e in events)
    opened = [e for e in events if e.type == "opened"]
    assert len(opened) == 1
    alert = opened[0]
    assert (alert.kind, alert.seat_id, alert.agent_id, alert.baseline) == (
        "agitation", "S1", "A1", "agent")
    assert onset_s < alert.t_s <= onset_s + 8.0
    assert alert.opened_t_s == alert.t_s and alert.wall_s == clock.t
    assert {name for name, _ in alert.drivers} & LOUDNESS_OR_PITCH
    assert all(z > 1.5 for _, z in alert.drivers)
    assert "A1's usual" in alert.explanation and "A1平时" in alert.explanation_zh
    assert [e.type for e in events][-1] == "closed"  # recovered in the calm tail
    assert events[-1].reason == "recovered" and events[-1].t_s > onset_s + 20


def _simulated_call(seconds: float, *, agent_timbre: int, caller_dbfs: float, seed: int):
    """A simulated agent's baseline (90 s of calibration speech) and a call of theirs with
    a caller: ``(baseline, int16 (2, samples))``, agent on channel 0."""
    from capture.audio import AudioClip
    from capture.simulator import (
        AgentVoice,
        CallScript,
        calibration_audio,
        render_call,
        timbre_pool,
    )
    from emotion.voice import analyse_clips

    agent = AgentVoice("A1", timbre_pool("agent")[agent_timbre], 0, -27.0)
    caller = AgentVoice("C1", timbre_pool("caller")[0], 0, caller_dbfs)
    cal = analyse_clips([AudioClip(calibration_audio(agent, 90.0, seed=1)[None] / 32768.0,
                                   8000, "cal", "PCM_16", "WAV")])[0]
    base = fit_baseline(cal.windows.features[0][cal.windows.valid[0]], FEATURE_NAMES,
                        agent_id="A1", channel_type="8k", speech_s=cal.speech_s,
                        level_profile=cal.level_profile,
                        sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR))
    return base, render_call(CallScript(seconds, seed=seed), agent, caller).audio


def test_music_on_hold_on_the_agents_side_raises_no_alert(model):
    """A caller on hold hears music on the agent's side of the call. Music with its own
    swell passes the voice detector in bursts, and its windows read as a tired voice
    (p = 1.0; here a low-energy alert opened 65 s into the hold). Such a window has no
    voice's rhythm (no syllabic modulation, no syllables) and is not scored."""
    from capture.synth import hold_music
    from capture.telephone import telephone_channel

    base, talk = _simulated_call(40.0, agent_timbre=0, caller_dbfs=-28.0, seed=7)
    music = telephone_channel(hold_music(100.0, 16000, style="strings", dynamics=1.0, seed=1,
                                         level_dbfs=-24.0), 16000) * 32768
    hold = np.stack([music, np.random.default_rng(0).normal(0, 30, music.size)])
    x = np.concatenate([talk, hold.astype(np.int16)], axis=1)
    engine = make(model, baselines=lambda a: (base, "agent"))
    engine.open_call("S1", "held", "A1", channels=("agent", "caller"))
    results = play(engine, {"held": {"agent": x[0], "caller": x[1]}}, extra_ticks=8)
    assert [e for r in results for e in r.events] == []
    assert engine.stats["rhythmless_windows"] >= 20  # most of the hold's windows
    t_s, _ = windows_of(results, "held")
    assert (t_s < 40).sum() >= 10  # the voice before it is judged


def test_the_callers_voice_in_the_agents_headset_is_not_the_agents_voice(model):
    """A headset microphone hears the caller from the earpiece, 30 dB down and a little
    late. An agent who only listened then read as a quiet voice (a low-energy alert a
    minute into calls in which the agent said nothing). Frames of the agent's channel
    that are the caller's echo are not the agent's speech; the agent's own speech over
    the same echo is judged as before."""
    base, talk = _simulated_call(120.0, agent_timbre=1, caller_dbfs=-24.0, seed=8)
    talk = talk.astype(np.float64)
    lag = round(0.04 * FS_HZ)
    echo = np.concatenate([np.zeros(lag), talk[1, :-lag]]) * 10 ** (-30 / 20)
    line = np.random.default_rng(3).normal(0, 8, echo.size)

    def run(agent_channel, with_caller=True):
        engine = make(model, baselines=lambda a: (base, "agent"))
        channels = ("agent", "caller") if with_caller else ("agent",)
        engine.open_call("S1", "k", "A1", channels=channels)
        audio = {"agent": np.clip(agent_channel, -32768, 32767).astype(np.int16)}
        if with_caller:
            audio["caller"] = talk[1].astype(np.int16)
        results = play(engine, {"k": audio}, extra_ticks=8)
        return results, engine.stats

    listening, stats = run(echo + line)
    assert windows_of(listening, "k")[0].size == 0
    assert [e for r in listening for e in r.events] == []
    assert stats["echo_speech_s"] >= 20  # the caller spoke ~half of the 2 minutes
    from voiceline.server.metrics import Metrics

    exposition = dict(line.rsplit(" ", 1) for line in Metrics().render(stats).splitlines()
                      if not line.startswith("#"))
    assert float(exposition["voiceline_engine_echo_speech_seconds_total"]) == pytest.approx(
        stats["echo_speech_s"])  # /metrics tells the installer the headsets leak
    assert not any(s.agent_speaking for r in listening[24:] for s in r.snapshots)
    unheard, _ = run(echo + line, with_caller=False)  # no caller channel to tell it by
    assert windows_of(unheard, "k")[0].size >= 20
    # A group whose calls had no caller channel skipped its caller detector: the next
    # call with one is told apart as well.
    engine = make(model, baselines=lambda a: (base, "agent"))
    engine.open_call("S2", "mono", "A1", channels=("agent",))
    play(engine, {"mono": {"agent": talk[0, : 8 * FS_HZ].astype(np.int16)}})
    engine.close_call("mono")
    engine.open_call("S1", "k", "A1", channels=("agent", "caller"))
    after = play(engine, {"k": {"agent": np.clip(echo + line, -32768, 32767).astype(np.int16),
                                "caller": talk[1].astype(np.int16)}}, extra_ticks=8)
    assert windows_of(after, "k")[0].size == 0

    alone, _ = run(talk[0] + line)
    over, _ = run(talk[0] + echo + line)
    t_alone, f_alone = windows_of(alone, "k")
    t_over, f_over = windows_of(over, "k")
    assert t_alone.size >= 40 and t_over.size == t_alone.size
    assert np.array_equal(t_over, t_alone)
    level = FEATURE_NAMES.index("loudness_mean_sone")
    assert np.median(np.abs(f_over[:, level] / f_alone[:, level] - 1)) < 0.02


def test_snapshots_say_who_speaks_and_carry_the_latest_window(model):
    agent = np.concatenate([speech(8, seed=41), quiet(6, seed=42)])
    caller = np.concatenate([quiet(8, seed=43), speech(6, seed=44, f0_hz=120)])
    engine = make(model)
    engine.open_call("S1", "C1", "A1", ("agent", "caller"))
    results = play(engine, {"C1": {"agent": agent, "caller": caller}})
    snaps = {round(r.snapshots[0].t_s, 2): r.snapshots[0] for r in results}

    assert snaps[4.0].agent_speaking and not snaps[4.0].caller_speaking
    assert snaps[12.0].caller_speaking and not snaps[12.0].agent_speaking
    assert snaps[4.0].agitation is None and snaps[4.0].deviation is None  # not settled yet
    last = None
    for r in results:
        last = r.windows[-1] if r.windows else last
        snap = r.snapshots[0]
        if last is not None:
            assert snap.agitation == last.agitation and snap.low_energy == last.low_energy
            assert snap.deviation == pytest.approx(np.sqrt(np.mean(last.z**2)))
            assert snap.loudness_sone == last.features[FEATURE_NAMES.index("loudness_mean_sone")]
            assert snap.f0_hz == pytest.approx(
                F0_REF_HZ * 2 ** (last.features[FEATURE_NAMES.index("f0_median_st")] / 12))
    assert last is not None and last.t_s >= 5.6
    assert all(r.snapshots[0].baseline == "population" for r in results)


# --- lockstep, joining and leaving ----------------------------------------------------------


def test_calls_join_and_leave_at_any_time_and_each_gets_its_windows_alone(model):
    # A from 0 s, B (loud, agitated) from 3 s until 12 s, C from 6 s, D from 15 s in B's
    # slot: each call's windows are those it gets alone on a fresh engine. E joins at
    # 9.25 s, a quarter into the analysers' second: its windows end at x.75 s of its time.
    audio = {"A": speech(20, 51), "B": speech(20, 52, agitated=True, level_dbfs=-10.0),
             "C": speech(16, 53, f0_hz=120), "D": speech(12, 54, level_dbfs=-32.0),
             "E": speech(12, 55)}
    opens, closes = {0: "A", 12: "B", 24: "C", 37: "E", 60: "D"}, {48: "B"}
    engine = make(model)
    cursor, results, slots = {}, [], {}
    for k in range(112):
        if k in closes:
            engine.close_call(closes[k])
            del cursor[closes[k]]
        if k in opens:
            call = opens[k]
            engine.open_call(f"S-{call}", call, "A1")
            slots[call] = engine.calls[call].slot
            engine.push(call, "agent", audio[call][:PREFILL])
            cursor[call] = PREFILL
        for call, i in cursor.items():
            engine.push(call, "agent", audio[call][i : i + TICK])
            cursor[call] = i + TICK
        results.append(engine.tick())
        assert results[-1].seats == len(cursor)

    assert slots["D"] == slots["B"] and len(set(slots.values())) == 4
    e_t_s, _ = windows_of(results, "E")
    np.testing.assert_array_equal(e_t_s[:5], [5.75, 6.75, 7.75, 8.75, 9.75])
    del audio["E"]
    for call, x in audio.items():
        t_s, features = windows_of(results, call)
        if call == "B":  # closed after 9 s: only its windows until then
            ref_t, ref_f = alone(model, x[: 9 * FS_HZ])
        else:
            ref_t, ref_f = alone(model, x)
        assert len(ref_t) >= 4 and t_s[0] >= 5.6
        # (A, C and D play on, in silence, after their audio runs out)
        np.testing.assert_array_equal(t_s[: len(ref_t)], ref_t)
        np.testing.assert_allclose(features[: len(ref_t)], ref_f, rtol=1e-9, atol=1e-12)
    assert {s.call_id for s in results[70].snapshots} == {"A", "C", "D", "E"}


def test_a_loud_previous_call_leaves_no_trace_in_a_reused_slot(model):
    loud = speech(12, 61, agitated=True, level_dbfs=-8.0)
    new = speech(14, 62, f0_hz=120, level_dbfs=-32.0)
    engine = make(model)
    engine.open_call("S1", "old", "A1")
    play(engine, {"old": {"agent": loud[: 9 * FS_HZ]}})  # 36 ticks: ends at 9 s
    engine.close_call("old")
    engine.open_call("S1", "new", "A1")
    assert engine.calls["new"].slot == 0
    t_s, features = windows_of(play(engine, {"new": {"agent": new}}), "new")
    ref_t, ref_f = alone(model, new)
    np.testing.assert_array_equal(t_s, ref_t)
    np.testing.assert_allclose(features, ref_f, rtol=1e-9, atol=1e-12)
    assert t_s[0] == 6.0  # the first window that starts 2.6 s into the call
    # A call that ends in loud noise the detector does not take for speech leaves the
    # slot asleep, its stages frozen on that noise; the next call's first words come
    # after 2 s of quiet line. (The call above ends mid-word: its slot is awake anyway,
    # and it could not tell whether the slot was woken for the new call.)
    noise = pcm16(np.random.default_rng(9).normal(0, 10 ** (-30 / 20), 3 * FS_HZ), 63)
    engine = make(model)
    engine.open_call("S1", "noisy", "A1")
    play(engine, {"noisy": {"agent": np.concatenate([loud[: 6 * FS_HZ], noise])}})
    engine.close_call("noisy")
    late = np.concatenate([quiet(2, 64), new])
    engine.open_call("S1", "late", "A1")
    t_s, features = windows_of(play(engine, {"late": {"agent": late}}), "late")
    ref_t, ref_f = alone(model, late)
    assert len(ref_t) >= 4
    np.testing.assert_array_equal(t_s, ref_t)
    np.testing.assert_allclose(features, ref_f, rtol=1e-9, atol=1e-12)


def test_random_packets_give_the_same_windows_as_tick_sized_pushes(model):
    x = speech(16, 71)
    y = speech(16, 72)
    ref = make(model)
    ref.open_call("S1", "C1", "A1", ("agent", "caller"))
    expected = play(ref, {"C1": {"agent": x, "caller": y}})

    for with_t_s in (True, False):
        rng = np.random.default_rng(3)
        engine = make(model)
        engine.open_call("S1", "C1", "A1", ("agent", "caller"))
        sent = {"agent": 0, "caller": 0}

        def send(until: int, sent=sent, rng=rng, engine=engine, with_t_s=with_t_s) -> None:
            for channel, signal in (("agent", x), ("caller", y)):
                while sent[channel] < min(until, signal.size):
                    n = int(rng.integers(80, 4001))  # 10-500 ms
                    part = signal[sent[channel] : sent[channel] + n]
                    engine.push("C1", channel, part,
                                sent[channel] / FS_HZ if with_t_s else None)
                    sent[channel] += part.size

        send(PREFILL)
        got = []
        for k in range(len(expected)):
            send(PREFILL + (k + 1) * TICK)
            got.append(engine.tick())
        assert [(w.t_s, w.features.tolist()) for r in got for w in r.windows] == [
            (w.t_s, w.features.tolist()) for r in expected for w in r.windows]
        assert [(s.agent_speaking, s.caller_speaking) for r in got for s in r.snapshots] == [
            (s.agent_speaking, s.caller_speaking) for r in expected for s in r.snapshots]
        stats = engine.stats
        assert stats["underrun_s"] == stats["dropped_s"] == stats["late_s"] == 0.0


# --- audio accounting -----------------------------------------------------------------------


def test_underruns_are_filled_with_silence_and_late_audio_dropped_exactly(model):
    engine = make(model)
    engine.open_call("S1", "C1", "A1")
    x = speech(4, 81)
    for _ in range(3):
        assert engine.tick().snapshots[0].state == "waiting"  # no audio yet: not late
    engine.push("C1", "agent", x[:PREFILL])
    snaps = [engine.tick().snapshots[0] for _ in range(3)]  # plays 0.5 s, then 0.25 s short
    assert [s.state for s in snaps] == ["playing"] * 3
    assert [s.underrun_s for s in snaps] == [0.0, 0.0, 0.25]
    engine.push("C1", "agent", x[PREFILL : PREFILL + 800])  # 0.1 s of the next 0.25 s
    snap = engine.tick().snapshots[0]
    assert (snap.t_s, snap.underrun_s, snap.buffered_s) == (1.0, 0.4, 0.0)
    engine.push("C1", "agent", x[4800:8800], t_s=0.6)  # 0.6-1.1 s: 0.4 s already played
    snap = engine.tick().snapshots[0]
    assert (snap.dropped_s, snap.underrun_s, snap.t_s) == (0.4, 0.55, 1.25)
    engine.push("C1", "agent", x[:4000], t_s=2.0)  # a 0.75 s gap before it is silence
    assert engine.tick().snapshots[0].underrun_s == 0.55 + 0.75


def test_a_call_with_little_audio_starts_after_the_jitter_allowance(model):
    engine = make(model)
    engine.open_call("S1", "C1", "A1")
    engine.push("C1", "agent", speech(1, 82)[:800])  # 0.1 s, less than the 0.5 s buffer
    states = [engine.tick().snapshots[0] for _ in range(4)]
    assert [s.state for s in states] == ["waiting", "waiting", "playing", "playing"]
    assert (states[-1].underrun_s, states[-1].t_s) == (0.4, 0.5)


def test_backlog_beyond_the_limit_drops_the_oldest_audio(model):
    engine = make(model, max_backlog_s=2.0)
    engine.open_call("S1", "C1", "A1", ("agent", "caller"))
    engine.push("C1", "agent", speech(3, 83))  # 3 s at once: the first second goes
    snap = engine.tick().snapshots[0]
    assert (snap.dropped_s, snap.buffered_s, snap.t_s) == (1.0, 1.75, 1.25)
    assert engine.stats["dropped_s"] == 1.0 and engine.stats["received_s"] == 3.0


def test_audio_accounting_holds_with_pushes_from_another_thread(model):
    engine = make(model)
    audio = {f"C{i}": speech(6, 90 + i) for i in range(3)}
    for i, call in enumerate(audio):
        engine.open_call(f"S{i}", call, "A1")

    def pusher() -> None:
        for start in range(0, 6 * FS_HZ, 160):  # 20 ms packets
            for call, x in audio.items():
                engine.push(call, "agent", x[start : start + 160])

    thread = threading.Thread(target=pusher)
    thread.start()
    results = []
    while thread.is_alive() or len(results) < 4:
        results.append(engine.tick())
    thread.join()
    results.append(engine.tick())
    for snap in results[-1].snapshots:  # the timeline: played or dropped, or buffered
        assert snap.t_s - snap.underrun_s + snap.buffered_s == pytest.approx(6.0, abs=1e-9)
    assert engine.stats["received_s"] == 18.0


# --- errors ---------------------------------------------------------------------------------


def test_bad_requests_fail_alone_and_leave_the_other_calls_untouched(model):
    x = speech(10, 101)
    ref_t, ref_f = alone(model, x)
    engine = make(model)
    engine.open_call("S1", "good", "A1")
    with pytest.raises(UnknownCallError, match="no call 'ghost' in progress") as error:
        engine.push("ghost", "agent", x[:160])
    assert isinstance(error.value, KeyError) and "open_call" in str(error.value)
    with pytest.raises(UnknownCallError):
        engine.close_call("ghost")
    with pytest.raises(ChannelError, match="caller"):
        engine.push("good", "caller", x[:160])
    with pytest.raises(ValueError, match="one channel"):
        engine.push("good", "agent", np.zeros((2, 160), np.int16))
    with pytest.raises(ValueError, match="resample"):
        engine.open_call("S2", "wideband", "A2", fs_hz=16000)
    with pytest.raises(ValueError, match="'agent'"):
        engine.open_call("S2", "callers-only", "A2", ("caller",))
    with pytest.raises(ValueError, match="already open"):
        engine.open_call("S3", "good", "A1")
    t_s, features = windows_of(play(engine, {"good": {"agent": x}}), "good")
    np.testing.assert_array_equal(t_s, ref_t)
    np.testing.assert_allclose(features, ref_f, rtol=1e-9, atol=1e-12)
    assert set(engine.calls) == {"good"}


def test_wideband_engine_runs_at_16_khz_with_wideband_baselines(model):
    wide = Baseline("population", "16k", FEATURE_NAMES, np.zeros(F), np.ones(F), {},
                    np.eye(F), 10, 60.0, "headset", source="population")
    engine = make(model, baselines=lambda agent: (wide, "population"), fs_hz=16000)
    engine.open_call("S1", "C1", "A1", fs_hz=16000)
    x = pcm16(speech_like(8, 16000, seed=131))
    engine.push("C1", "agent", x[:8000])
    results = [engine.tick() for _ in range(2)]
    for i in range(8000, x.size, 4000):
        engine.push("C1", "agent", x[i : i + 4000])
        results.append(engine.tick())
    t_s, _ = windows_of(results, "C1")
    assert t_s[0] == 6.0 and results[-1].snapshots[0].t_s == 8.0
    with pytest.raises(ValueError, match="16k audio, this engine analyses 8k"):
        make(model, baselines=lambda agent: (wide, "population")).open_call("S1", "C2", "A1")


HAIR_TRIGGER = AlertConfig(agitation=KindConfig(warning=0.001, critical=1.0, close=0.0,
                                                dwell_s=2.0, span_s=2.0, cooldown_s=0.0))


def test_a_new_call_on_a_busy_seat_closes_the_old_one_and_its_alerts(model):
    provided = []

    def provider(agent):
        provided.append(agent)
        return IDENTITY, "population"

    engine = make(model, baselines=provider, alert_config=HAIR_TRIGGER)
    engine.open_call("S1", "first", "A1")
    results = play(engine, {"first": {"agent": speech(10, 111)}})
    assert [e.type for r in results for e in r.events] == ["opened"]
    engine.open_call("S1", "second", None)
    assert set(engine.calls) == {"second"} and provided == ["A1", None]
    with pytest.raises(UnknownCallError):
        engine.push("first", "agent", np.zeros(160, np.int16))
    (closed,) = engine.tick().events
    assert (closed.type, closed.call_id, closed.reason) == (
        "closed", "first", "replaced by a new call")
    assert (closed.t_s, closed.duration_s) == (10.0, 5.0)  # windows ending 6-10 s
    # judged against the population: said so, as the console says it
    assert closed.explanation.endswith("than the agents' usual (no personal baseline yet), "
                                       "for 5 s")
    assert closed.explanation_zh.startswith("与坐席群体平时（尚无个人基线）相比：")


def test_closing_a_call_closes_its_alerts_on_the_next_tick(model):
    engine = make(model, alert_config=HAIR_TRIGGER)
    engine.open_call("S1", "C1", "A7")
    play(engine, {"C1": {"agent": speech(8, 112)}})
    engine.close_call("C1", reason="agent hung up")
    result = engine.tick()
    assert [(e.type, e.call_id, e.reason) for e in result.events] == [
        ("closed", "C1", "agent hung up")]
    assert result.snapshots == [] and result.seats == 0


# --- cost -----------------------------------------------------------------------------------


def test_groups_without_a_playing_call_are_not_processed(model, monkeypatch):
    calls = []
    original = StreamingVoiceAnalyzer.process

    def counting(self, block, other=None):
        calls.append(self.n_streams)
        return original(self, block, other)

    monkeypatch.setattr(StreamingVoiceAnalyzer, "process", counting)
    engine = make(model, group_size=2)
    engine.tick()
    assert calls == []  # nothing open: nothing processed
    for i in range(3):
        engine.open_call(f"S{i}", f"C{i}", "A1")
        engine.push(f"C{i}", "agent", speech(1, 120 + i)[:PREFILL])
    engine.tick()
    assert len(calls) == 2 and engine.stats["groups_processed_last_tick"] == 2
    engine.close_call("C0")
    engine.close_call("C1")
    calls.clear()
    for _ in range(3):
        engine.tick()
    assert len(calls) == 3  # group 1 only, once per tick
    assert engine.stats["groups"] == 2 and engine.stats["groups_processed_last_tick"] == 1


def test_warm_up_loads_every_kernel_a_tick_needs_and_leaves_the_engine_as_it_was(tmp_path):
    """In a fresh interpreter (no kernel loaded yet), warm_up leaves the caller VAD's
    kernel specialised for a tick's strided int16 channel and the analyser's for float
    blocks, and opens nothing."""
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from emotion.engine import LiveEngine\n"
        "from emotion import vad\n"
        "engine = LiveEngine(baselines=lambda agent: None)\n"
        "assert not vad._prepare_kernel.signatures\n"
        "engine.warm_up()\n"
        "kinds = {(str(s[0].dtype), s[0].layout) for s in vad._prepare_kernel.signatures}\n"
        "print(sorted(kinds))\n"
        "assert ('int16', 'A') in kinds and ('float64', 'C') in kinds, kinds\n"
        "stats = engine.stats\n"
        "assert stats['pushes'] == 0 and stats['slots'] == 0 and not engine.calls\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
