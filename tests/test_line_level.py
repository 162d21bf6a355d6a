"""A line's gain told apart from a voice's (emotion.line_level), in pre-inspection and live."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from capture.audio import AudioClip
from capture.simulator import AgentVoice, CallScript, calibration_audio, render_call, timbre_pool
from emotion.baseline import fit_baseline, save_baseline
from emotion.engine import DEFAULT_MODEL
from emotion.line_level import (
    DEAD_ZONE_DB,
    LEVEL_SENSITIVITY,
    LIVE_WINDOWS,
    MAX_CORRECTION_DB,
    MIN_ORDINARY_WINDOWS,
    READ_EVERY,
    CallLine,
    call_line_level,
    correction_db,
    measure,
    ordinary,
    through_line,
)
from emotion.scoring import VoiceModel
from emotion.voice import analyse_clips
from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR
from test_engine import make, play
from test_server_support import _calm_baseline, voice
from voiceline.cli import main

F = len(FEATURE_NAMES)
MEAN = FEATURE_NAMES.index("loudness_mean_sone")


@pytest.fixture(scope="module")
def model() -> VoiceModel:
    return VoiceModel(DEFAULT_MODEL)


def windows(x: np.ndarray, gain_db: float = 0.0) -> np.ndarray:
    """Valid feature windows of int16 ``x`` played ``gain_db`` louder."""
    y = np.clip(x.astype(np.float64) * 10 ** (gain_db / 20), -32768, 32767) / 32768.0
    fa = analyse_clips([AudioClip(y[np.newaxis, :], 8000, "x", "PCM_16")])[0]
    return fa.windows.features[0][fa.windows.valid[0]]


def test_a_baseline_through_a_hotter_line_scales_only_its_level_bound_features() -> None:
    rng = np.random.default_rng(0)
    base = fit_baseline(rng.uniform(1.0, 5.0, (60, F)), FEATURE_NAMES, agent_id="A1",
                        channel_type="8k", speech_s=60.0, level_profile="g711-telephone")
    assert through_line(base, 0.0) is base
    hot = through_line(base, 10.0)
    ratio = hot.median / base.median
    for i, name in enumerate(FEATURE_NAMES):
        expected = 2.0 ** LEVEL_SENSITIVITY.get(name, 0.0)  # 10 dB: one doubling of sone
        assert ratio[i] == pytest.approx(expected)
        assert hot.sigma[i] / base.sigma[i] == pytest.approx(expected)
        assert hot.quantiles["q95"][i] / base.quantiles["q95"][i] == pytest.approx(expected)
    assert ratio[MEAN] == pytest.approx(2.0) and hot.notes["line_gain_db"] == 10.0
    # the same windows read against it as the voice 10 dB quieter would against the base
    x = base.median * 1.3
    assert np.allclose(hot.z(x * 2.0 ** (np.array(
        [LEVEL_SENSITIVITY.get(n, 0.0) for n in FEATURE_NAMES]))), base.z(x))


def test_a_gain_within_the_dead_zone_is_the_voices_and_the_excess_the_lines() -> None:
    assert correction_db(0.0) == 0.0 and correction_db(DEAD_ZONE_DB) == 0.0
    assert correction_db(-DEAD_ZONE_DB + 0.1) == 0.0
    assert correction_db(8.0) == pytest.approx(8.0 - DEAD_ZONE_DB)  # beyond it: the excess
    assert correction_db(-8.0) == pytest.approx(-8.0 + DEAD_ZONE_DB)
    assert correction_db(60.0) == MAX_CORRECTION_DB
    base = _calm_baseline()
    usual = base.median[MEAN]
    loud = np.full(MIN_ORDINARY_WINDOWS, usual * 2.0 ** 0.6)  # 6 dB as loudness reads it
    level = measure(base, loud)
    assert level.measured_db == pytest.approx(6.0) and level.windows == MIN_ORDINARY_WINDOWS
    assert level.correction_db == pytest.approx(6.0 - DEAD_ZONE_DB)
    assert measure(base, loud[:-1]) is None  # too few windows to judge the call by
    assert measure(base, np.r_[loud[:-1], np.nan, 0.0]) is None  # not measured: not counted


def test_a_live_calls_line_is_judged_once_it_holds_enough_calm_windows() -> None:
    base = _calm_baseline()
    usual = base.median[MEAN]
    line = CallLine(base, correction_db=3.0)  # where this seat's last call ended
    assert line.correction_db == 3.0 and line.level is None
    hot = usual * 2.0 ** 0.7  # 7 dB as loudness reads it
    assert not line.add(np.full(MIN_ORDINARY_WINDOWS - 1, hot))  # not yet enough
    assert line.correction_db == 3.0
    assert line.add(np.array([hot]))  # now its own: 7 dB, 5 beyond the dead zone
    assert line.correction_db == pytest.approx(7.0 - DEAD_ZONE_DB)
    # read again every READ_EVERY windows; a small move is not a change
    assert not line.add(np.full(READ_EVERY - 1, hot * 1.02))
    assert line.level.windows == MIN_ORDINARY_WINDOWS
    assert not line.add(np.array([hot * 1.02, np.nan]))  # not measured: not counted
    assert line.level.windows == MIN_ORDINARY_WINDOWS + READ_EVERY
    # the level it reads is measure()'s over the same windows
    held = np.r_[np.full(MIN_ORDINARY_WINDOWS, hot), np.full(READ_EVERY, hot * 1.02)]
    assert line.level == measure(base, held)
    # a long call keeps only its latest LIVE_WINDOWS: a headset swapped mid-shift is followed
    assert line.add(np.full(LIVE_WINDOWS, usual * 2.0 ** -0.5))  # now 5 dB quieter
    assert line.correction_db == pytest.approx(-5.0 + DEAD_ZONE_DB)


def test_windows_whose_level_free_cues_push_toward_agitation_are_not_ordinary(model) -> None:
    z = np.zeros((3, F))
    z[1, FEATURE_NAMES.index("loudness_n5_sone")] = 6.0  # only louder: still ordinary
    z[2, FEATURE_NAMES.index("sharpness_acum")] = 3.0  # sharper and
    z[2, FEATURE_NAMES.index("f0_median_st")] = 3.0  # higher: a raised voice
    assert ordinary(z, model.weights[0], FEATURE_NAMES).tolist() == [True, True, False]


def test_a_calm_voice_through_a_hotter_headset_no_longer_reads_agitated(model) -> None:
    base = _calm_baseline()
    calm = voice(60.0, seed=7)
    hot = windows(calm, 8.0)
    before = model.score(hot, base).agitation
    line = call_line_level(base, hot, model.weights[0])
    assert 7.0 <= line.measured_db <= 9.0  # the headset's 8 dB, read from the calm voice
    after = model.score(hot, through_line(base, line.correction_db)).agitation
    assert np.mean(before >= 0.9) >= 0.15  # what it did before the correction
    assert np.mean(after >= 0.9) <= 0.05 and np.median(after) < np.median(before) / 2
    # and quieter: no longer reads tired
    quiet = windows(calm, -8.0)
    line = call_line_level(base, quiet, model.weights[0])
    assert -9.0 <= line.measured_db <= -7.0
    tired = model.score(quiet, base).low_energy
    rested = model.score(quiet, through_line(base, line.correction_db)).low_energy
    # (the 2.5 dB left to the voice still shows a little on this narrow synthetic baseline)
    assert np.mean(tired >= 0.8) >= 0.6 and np.mean(rested >= 0.8) <= 0.2
    assert np.median(rested) < np.median(tired) - 0.3


def test_an_agitated_voice_at_the_usual_gain_is_not_taken_for_a_hot_line(model) -> None:
    base = _calm_baseline()
    angry = windows(voice(60.0, agitated=True, seed=8))
    line = call_line_level(base, angry, model.weights[0])
    # its level-free cues are not calm, so (almost) none of it measures the line
    assert line is None or line.correction_db == 0.0
    assert np.mean(model.score(angry, base).agitation >= 0.9) >= 0.5


def test_a_live_call_follows_its_line_and_the_seats_next_call_starts_there(model) -> None:
    base = _calm_baseline()
    # A1 is judged on their own baseline; B1 on the same numbers as a population baseline,
    # which is never re-levelled: the same audio judged as calibrated, for comparison
    engine = make(model, baselines=lambda agent: (base, "agent" if agent == "A1"
                                                  else "population"))
    hot = 10 ** (8.0 / 20)

    def louder(x):
        return np.clip(x.astype(np.float64) * hot, -32768, 32767).astype(np.int16)

    engine.open_call("S1", "first", "A1")
    engine.open_call("S2", "usual", "A1")
    engine.open_call("S3", "as-is", "B1")
    assert engine.line_correction_db("first") == 0.0
    assert engine.line_correction_db("as-is") is None
    same = voice(70, seed=3)
    results = play(engine, {"first": {"agent": louder(same)}, "usual": {"agent": same},
                            "as-is": {"agent": louder(same)}})
    first = engine.line_correction_db("first")
    assert 4.0 <= first <= 6.5  # the headset's 8 dB, less the 2.5 dB left to the voice
    assert engine.line_correction_db("usual") == 0.0

    def agitation(res, call, start_s, end_s=999.0):
        return np.array([w.agitation for r in res for w in r.windows
                         if w.call_id == call and start_s <= w.t_s < end_s])

    def alerting(res, call, start_s, end_s=999.0):
        """Share of the call's ticks in [start_s, end_s) with an agitation alert open."""
        return np.mean([("agitation" in snap.open_alerts) for r in res for snap in r.snapshots
                        if snap.call_id == call and start_s <= snap.t_s < end_s])

    # judged through its line, the louder copy reads far less agitated than as calibrated
    # (the tests' synthetic voice has a narrow baseline, so the 2.5 dB left to the voice
    # still shows a little), and about as the same voice at the usual gain once corrected
    assert np.mean(agitation(results, "as-is", 30) >= 0.9) >= 0.6
    assert np.mean(agitation(results, "first", 30) >= 0.9) <= 0.25
    assert np.mean(agitation(results, "first", 30)) < np.mean(agitation(results, "as-is", 30)) - 0.3
    assert np.mean(agitation(results, "usual", 0) >= 0.9) <= 0.05
    assert alerting(results, "as-is", 30) >= 0.8 and alerting(results, "first", 30) <= 0.4
    engine.close_call("first")
    engine.close_call("usual")
    engine.close_call("as-is")
    engine.tick()
    # the same agent's next call on that seat starts from it; on another seat it does not
    engine.open_call("S1", "second", "A1")
    assert engine.line_correction_db("second") == first
    engine.open_call("S2", "elsewhere", "A1")
    assert engine.line_correction_db("elsewhere") == 0.0  # another seat, another headset
    later = louder(voice(40, seed=5))
    results = play(engine, {"second": {"agent": later}, "elsewhere": {"agent": later}})
    assert alerting(results, "elsewhere", 0, 30) > 0  # alerted before its line was read
    assert alerting(results, "second", 0, 30) == 0
    assert np.mean(agitation(results, "second", 0, 20)) < np.mean(
        agitation(results, "elsewhere", 0, 20)) - 0.3


def test_pre_inspection_judges_the_agent_through_the_calls_line(tmp_path) -> None:
    agent = AgentVoice("A1", timbre_pool("agent")[0], 0, -27.0)
    caller = AgentVoice("C1", timbre_pool("caller")[0], 0, -28.0)
    cal = calibration_audio(agent, 90.0, seed=1)
    fa = analyse_clips([AudioClip(cal[None] / 32768.0, 8000, "cal", "PCM_16", "WAV")])[0]
    base = fit_baseline(fa.windows.features[0][fa.windows.valid[0]], FEATURE_NAMES,
                        agent_id="A1", channel_type="8k", speech_s=fa.speech_s,
                        level_profile=fa.level_profile,
                        sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR))
    save_baseline(base, tmp_path / "cal")
    rec = tmp_path / "rec"
    rec.mkdir()
    audio = render_call(CallScript(120.0, seed=4), agent, caller).audio.astype(np.float64)
    audio[0] *= 10 ** (8.0 / 20)  # the agent's headset 8 dB hotter than at calibration
    sf.write(rec / "hot-headset.wav", np.clip(audio, -32124, 32124).astype(np.int16).T, 8000,
             subtype="PCM_16")
    (tmp_path / "off.toml").write_text("line_correction = false\n")

    def inspect(out: str, *extra: str) -> dict:
        assert main(["qa", str(rec), "--calibration", str(tmp_path / "cal"), "--out",
                     str(tmp_path / out), "--no-store", "--no-progress", *extra]) == 0
        return json.loads((tmp_path / out / "calls" / "hot-headset.json").read_text())

    (rec / "calls.csv").write_text("call_id,path,agent_id\nhot-headset,hot-headset.wav,A1\n")
    on = inspect("on", "--metadata", str(rec / "calls.csv"))
    off = inspect("off", "--metadata", str(rec / "calls.csv"), "--config",
                  str(tmp_path / "off.toml"))
    m = on["metrics"]
    assert 6.5 <= m["agent_line_level_db"] <= 9.5  # read from the calm speech
    assert m["agent_line_correction_db"] == pytest.approx(m["agent_line_level_db"] - DEAD_ZONE_DB)
    assert "agent_line_level_db" not in off["metrics"]  # the setting turns it off
    assert off["metrics"]["agent_agitation_mean"] > 2 * m["agent_agitation_mean"]
    # judged at the calibration's level the calm agent reaches the alerts' 0.9 in places;
    # through the call's line, nowhere, and no agitation flag either way
    assert off["metrics"]["agent_agitation_max"] >= 0.9 > m["agent_agitation_max"]
    assert not [f for f in on["flags"] if f["check"] == "agent_agitation"]


def test_the_setting_is_true_or_false_and_part_of_the_calls_fingerprint() -> None:
    from qa.config import QAConfig, QAConfigError

    with pytest.raises(QAConfigError, match="line_correction must be true or false"):
        QAConfig.from_dict({"line_correction": "yes"})
    off = QAConfig.from_dict({"line_correction": False})
    assert not off.line_correction and QAConfig().line_correction
    assert off.digest() != QAConfig().digest()  # a call done the other way is redone
