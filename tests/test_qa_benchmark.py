"""The QA benchmark: its event matcher, its test calls' ground truth, and its --quick run.

The matcher is checked on hand-made spans with known precision, recall and F1; the
generated calls are checked against their own truth in the audio itself (a dead-air
span is silent on both lines, a clipped turn reaches the G.711 maximum and nothing else
does, calibration files never appear in a call).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from _qa_baselines import CALIBRATION_STREAM_S, calibration_audio, write_baselines  # noqa: E402
from _qa_calls import (  # noqa: E402
    CHECKS,
    G711_MAX,
    LOW_LEVEL_DBOV,
    Design,
    design_calls,
    plan_call,
    write_calls,
)
from _qa_corpus import FS_HZ, Speaker, Utterance, wsola  # noqa: E402
from _qa_match import match_spans, score_calls  # noqa: E402


# ---------------------------------------------------------------- matcher
def test_a_flag_within_one_second_matches_and_beyond_does_not():
    assert match_spans([(10.0, 12.0)], [(12.9, 15.0)]) == [(0, 0)]
    assert match_spans([(10.0, 12.0)], [(13.2, 15.0)]) == []
    assert match_spans([(16.0, 17.0)], [(12.9, 15.0)]) == [(0, 0)]  # flag after the event


def test_matching_is_one_to_one():
    # one long flag over two events: one hit, one missed event
    assert len(match_spans([(0.0, 30.0)], [(5.0, 8.0), (20.0, 25.0)])) == 1
    # two flags on one event: one hit, one false flag
    assert len(match_spans([(5.0, 6.0), (7.0, 8.0)], [(5.0, 8.0)])) == 1


def test_matching_is_maximal_not_greedy():
    # flag 0 is nearest to event 0 but also reaches event 1; flag 1 only reaches event 0.
    # Greedy nearest-first would pair (0, 0) and leave flag 1 alone.
    events = [(10.0, 12.0), (14.0, 16.0)]
    flags = [(12.0, 13.5), (9.0, 10.5)]
    assert match_spans(flags, events) == [(0, 1), (1, 0)]


def test_scores_have_the_known_precision_recall_and_false_alarm_rate():
    truth = {
        "a": {"duration_s": 600.0, "clean": False, "events": [
            {"check": "dead_air", "start_s": 10.0, "end_s": 20.0},
            {"check": "dead_air", "start_s": 100.0, "end_s": 110.0},
            {"check": "overtalk", "start_s": 50.0, "end_s": 52.0}]},
        "b": {"duration_s": 1800.0, "clean": True, "events": []},
    }
    flags = {
        "a": [{"check": "dead_air", "start_s": 20.5, "end_s": 21.0},  # within 1 s: hit
              {"check": "dead_air", "start_s": 300.0, "end_s": 310.0},  # false
              {"check": "overtalk", "start_s": 50.5, "end_s": 51.5}],  # hit
        "b": [{"check": "dead_air", "start_s": 5.0, "end_s": 15.0},  # false, clean call
              {"check": "long_hold", "start_s": 5.0, "end_s": 15.0}],  # not a scored check
    }
    scores, clean_hours, clean_flags = score_calls(truth, flags, ("dead_air", "overtalk"))
    dead = scores["dead_air"]
    assert (dead.events, dead.flags, dead.matched) == (2, 3, 1)
    assert dead.precision == pytest.approx(1 / 3)
    assert dead.recall == pytest.approx(1 / 2)
    assert dead.f1 == pytest.approx(2 * 1 / (2 + 3))
    assert scores["overtalk"].f1 == 1.0
    assert clean_hours == pytest.approx(0.5)
    assert dead.clean_flags / clean_hours == pytest.approx(2.0)
    assert clean_flags == {"dead_air": 1, "long_hold": 1}
    assert [m["start_s"] for m in dead.missed] == [100.0]
    assert sorted(f["start_s"] for f in dead.false) == [5.0, 300.0]


# ---------------------------------------------------------------- time compression
def test_wsola_shortens_by_the_rate_and_keeps_the_pitch():
    t = np.arange(2 * FS_HZ) / FS_HZ
    x = np.sin(2 * np.pi * 200.0 * t)
    y = wsola(x, 1.6)
    assert y.size == round(x.size / 1.6)
    spectrum = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(y.size - 2000)))
    peak_hz = np.argmax(spectrum) * FS_HZ / (y.size - 2000)
    assert peak_hz == pytest.approx(200.0, abs=2.0)


# ---------------------------------------------------------------- calibration recording
def _runs(mask: np.ndarray) -> np.ndarray:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return edges.reshape(-1, 2)


@pytest.mark.parametrize("layout, gap_s", [("turns", (2.0, 6.0)), ("stream", (0.1, 0.35))])
def test_calibration_recording_recurs_to_16_s_of_speech_with_its_layout(layout, gap_s):
    files = [Utterance(f"f{i}.wav", "neutral", "calibration", np.full(int(1.5 * FS_HZ), 0.1))
             for i in range(3)]
    agent = Speaker("test", "a", 0.0, calibration=files)
    x, reps = calibration_audio(np.random.default_rng(0), agent, layout)
    assert reps == 4  # 4.5 s of speech, recurring to >= 16 s
    speech = _runs(x != 0)
    assert np.sum(np.diff(speech, axis=1)) / FS_HZ == pytest.approx(4 * 4.5, abs=1e-3)
    assert 4 * 4.5 >= CALIBRATION_STREAM_S
    silences = (speech[1:, 0] - speech[:-1, 1]) / FS_HZ
    if layout == "turns":  # the caller's turns between the agent's, pauses inside them
        between = silences[silences >= 1.0]
        assert between.size >= 3 and between.min() >= gap_s[0] and between.max() <= gap_s[1]
    else:
        assert silences.min() >= gap_s[0] - 1e-3 and silences.max() <= gap_s[1] + 1e-3


# ---------------------------------------------------------------- generated calls
@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from conftest import shared_path

    data = shared_path("emodb").parent
    if not (data / "ravdess" / "manifest.csv").exists():
        pytest.skip(f"{data / 'ravdess'} absent")
    from _qa_corpus import load_speakers
    from qa_bench import QUICK_AGENTS, QUICK_SPEAKERS

    speakers = [s for c, n in QUICK_SPEAKERS.items() for s in load_speakers(data, c, n)]
    agents = [s for s in speakers if s.key in QUICK_AGENTS]
    work = tmp_path_factory.mktemp("qa-calls")
    plans = design_calls(Design(1, 1), agents, speakers, seed=3)
    truth = write_calls(plans, work / "calls", work / "truth.json")
    calibration = write_baselines(agents, work / "baselines", seed=3)
    return {"work": work, "truth": truth, "calibration": calibration, "data": data,
            "speakers": speakers, "agents": agents}


def _read(generated, call: dict) -> np.ndarray:
    import soundfile as sf

    pcm, fs_hz = sf.read(generated["work"] / "calls" / call["path"], dtype="int16")
    assert fs_hz == 8000 and pcm.shape[1] == 2
    return pcm.T.astype(np.int64)


def _events(generated, check: str):
    for call in generated["truth"]["calls"].values():
        for e in call["events"]:
            if e["check"] == check:
                yield call, e


def _rms_dbfs(x: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.mean((x / 32768.0) ** 2, axis=-1) + 1e-20)


def test_every_check_has_its_event_and_one_call_is_clean(generated):
    calls = generated["truth"]["calls"]
    found = sorted(e["check"] for c in calls.values() for e in c["events"])
    assert found == sorted(CHECKS)
    assert sum(c["clean"] for c in calls.values()) == 1
    with (generated["work"] / "calls" / "calls.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["call_id"] for r in rows} == set(calls)
    assert all((generated["work"] / "calls" / r["path"]).exists() for r in rows)


def test_dead_air_and_slow_reply_spans_are_silent_on_both_lines(generated):
    for check in ("dead_air", "slow_response"):
        for call, e in _events(generated, check):
            x = _read(generated, call)
            a, b = round(e["start_s"] * 8000) + 80, round(e["end_s"] * 8000) - 80
            assert np.all(_rms_dbfs(x[:, a:b]) < -50.0), (check, call["path"])
            # and speech right after it
            assert _rms_dbfs(x[:, b + 80: b + 4000]).max() > -40.0
    assert next(_events(generated, "dead_air"))[1]["end_s"] - next(
        _events(generated, "dead_air"))[1]["start_s"] >= 9.0


def test_overtalk_span_has_speech_on_both_lines(generated):
    for call, e in _events(generated, "overtalk"):
        x = _read(generated, call)
        a, b = round(e["start_s"] * 8000), round(e["end_s"] * 8000)
        assert 1.5 <= e["end_s"] - e["start_s"] <= 3.0
        assert np.all(_rms_dbfs(x[:, a:b]) > -40.0)


def test_only_the_clipped_turn_reaches_the_g711_maximum(generated):
    for call in generated["truth"]["calls"].values():
        x = _read(generated, call)
        assert np.abs(x).max() <= G711_MAX
        at_max = np.abs(x) == G711_MAX
        inside = np.zeros(x.shape[1], bool)
        for e in call["events"]:
            if e["check"] == "clipping":
                inside[round(e["start_s"] * 8000): round(e["end_s"] * 8000) + 40] = True
                assert at_max[0, inside].sum() > 50
        assert not at_max[:, ~inside].any(), call["path"]


def test_low_level_turn_sits_20_db_below_nominal(generated):
    from capture.levels import active_speech_level_dbfs

    for call, e in _events(generated, "low_level"):
        x = _read(generated, call)[0, round(e["start_s"] * 8000): round(e["end_s"] * 8000)]
        level = active_speech_level_dbfs(x / 32768.0, 8000)
        assert level == pytest.approx(LOW_LEVEL_DBOV, abs=2.0)


def test_ordinary_turns_sit_near_the_nominal_level(generated):
    from capture.levels import active_speech_level_dbfs

    levels = []
    for call in generated["truth"]["calls"].values():
        x = _read(generated, call)
        for seg in call["segments"]:
            if seg["kind"] == "neutral":
                part = x[seg["channel"], round(seg["start_s"] * 8000): round(seg["end_s"] * 8000)]
                levels.append(active_speech_level_dbfs(part / 32768.0, 8000))
    # -26 dBov, ±4 dB per turn, ±2 (agent) or ±4 (caller) per call; peaks capped at -2 dBFS
    assert len(levels) > 50
    assert -34.5 <= min(levels) and max(levels) <= -17.5
    assert np.median(levels) == pytest.approx(-26.0, abs=2.0)


def test_calibration_files_never_appear_in_a_call(generated):
    from voiceline.corpus_protocol import read_manifest

    used = {f for c in generated["truth"]["calls"].values() for s in c["segments"]
            for f in s["files"]}
    calibration = {f for v in generated["calibration"].values() for f in v["files"]}
    assert used and calibration and not used & calibration
    data = generated["data"]
    every_calibration = {str(i.path.relative_to(data)) for corpus in ("emodb", "ravdess")
                         for i in read_manifest(data, corpus) if i.role == "calibration"}
    assert calibration <= every_calibration
    assert not used & every_calibration  # callers' calibration files are kept out too


def test_agent_and_caller_are_different_speakers_with_baselines(generated):
    from emotion.baseline import load_baseline

    for call in generated["truth"]["calls"].values():
        assert call["agent_id"] != call["caller_id"]
        base = load_baseline(generated["work"] / "baselines", call["agent_id"])
        assert base.channel_type == "8k" and base.n_windows >= 10


def test_the_same_seed_gives_the_same_calls(generated):
    plans = design_calls(Design(1, 1), generated["agents"], generated["speakers"], seed=3)
    again = {p.call_id: [e.to_json() for e in plan_call(p).events] for p in plans}
    assert again == {c: v["events"] for c, v in generated["truth"]["calls"].items()}
    other = design_calls(Design(1, 1), generated["agents"], generated["speakers"], seed=4)
    assert [e.to_json() for p in other for e in plan_call(p).events] != [
        e for v in again.values() for e in v]


def test_a_crosstalk_design_puts_each_party_faintly_on_the_others_channel(generated):
    from _qa_calls import render_call

    plans = design_calls(Design(1, 1), generated["agents"], generated["speakers"], seed=3)
    plan = next(p for p in plans if "overtalk" not in p.checks and p.checks)
    plan_call(plan)
    dry = render_call(plan).astype(np.float64)
    plan.crosstalk_db = 20.0
    wet = render_call(plan).astype(np.float64)
    for own in (0, 1):
        # where only the other party speaks, this channel now carries it 20 dB down
        alone = np.zeros(dry.shape[1], bool)
        for seg in plan.segments:
            if seg.channel != own and seg.files:
                alone[round(seg.start_s * 8000): round(seg.end_s * 8000)] = True
        for seg in plan.segments:
            if seg.channel == own and seg.files:
                alone[round(seg.start_s * 8000): round(seg.end_s * 8000) + 800] = False
        leak = _rms_dbfs(wet[own, alone]) - _rms_dbfs(wet[1 - own, alone])
        assert -23.0 < leak < -17.0, (own, leak)
        assert _rms_dbfs(dry[own, alone]) < _rms_dbfs(dry[1 - own, alone]) - 30.0


def test_a_hold_design_puts_music_on_the_agents_side_and_moves_later_turns(generated):
    from _qa_calls import LONG_HOLD_S, add_hold, render_call

    def fresh():
        return [plan_call(p) for p in design_calls(Design(1, 1), generated["agents"],
                                                   generated["speakers"], seed=3)]

    plain, held = fresh(), fresh()
    for p in held:
        add_hold(p)
    pairs = [(a, b) for a, b in zip(plain, held, strict=True) if b.hold is not None]
    assert pairs  # a free turn's end in the middle of most calls
    for before, after in pairs:
        start, seconds = after.hold["start_s"], after.hold["seconds"]
        for s0, s1 in zip(before.segments, after.segments, strict=True):
            moved = s1.start_s - s0.start_s
            assert moved == (pytest.approx(seconds) if s0.start_s >= start else 0.0)
            assert s1.end_s <= start or s1.start_s >= start + seconds  # none in the hold
        holds = [e for e in after.events if e.check == "long_hold"]
        assert len(holds) == (seconds >= LONG_HOLD_S)
        assert len(after.events) == len(before.events) + len(holds)
    before, after = pairs[0]
    audio = render_call(after)
    i0, i1 = (round(t * 8000) for t in (after.hold["start_s"] + 1,
                                         after.hold["start_s"] + after.hold["seconds"] - 1))
    agent, caller = _rms_dbfs(audio[:, i0:i1].astype(np.float64))
    assert agent > -40.0 and caller < -50.0  # music on the agent's side, the caller quiet


def test_a_busy_floor_puts_other_speakers_behind_one_party_only(generated):
    from _qa_calls import NEIGHBOURS, render_call

    design = Design(1, 1, babble_db=-30.0)
    plans = design_calls(design, generated["agents"], generated["speakers"], seed=3)
    plan = next(p for p in plans if p.checks)
    plan_call(plan)
    assert len(plan.neighbours) == min(NEIGHBOURS, len(generated["speakers"]) - 2)
    assert not {s.key for s in plan.neighbours} & {plan.agent.key, plan.caller.key}
    busy = render_call(plan).astype(np.float64)
    plan.babble_db = None
    quiet = render_call(plan).astype(np.float64)
    room = busy - quiet
    # on the agent's line only, about 30 dB under the nominal -26 dBov (the line's band and
    # companding move it a little), and there the whole call long
    assert -60.0 < _rms_dbfs(room[0]) < -52.0
    assert not np.any(room[1])
    halves = np.array_split(room[0], 2)
    assert all(_rms_dbfs(h) > -66.0 for h in halves)
    # behind the caller instead (a crowded place): their line only
    plan.babble_db, plan.babble_side = -30.0, "caller"
    crowd = render_call(plan).astype(np.float64) - quiet
    assert not np.any(crowd[0]) and -60.0 < _rms_dbfs(crowd[1]) < -52.0


# ---------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def quick_kept(tmp_path_factory) -> tuple[dict, Path]:
    """qa_bench.py --quick's report, and the folder it kept."""
    kept = tmp_path_factory.mktemp("qa_quick")
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "qa_bench.py"), "--quick",
                           "--json-only", "--keep", str(kept)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if "skipped" in report:
        pytest.skip(report["skipped"])
    return report, kept


def test_quick_run_scores_every_check_and_reports_throughput(quick_kept):
    report, _ = quick_kept
    assert report["mode"] == "quick" and report["calls"] == 5 and report["clean_calls"] == 1
    for check in CHECKS:
        figures = report["checks"][check]
        assert figures["events"] == 1
        assert figures["f1"] is not None and 0.0 <= figures["f1"] <= 1.0
    assert report["calls_without_output"] == []
    assert report["x_realtime_per_core"] > 0 and report["peer_egemaps_x_realtime"] > 0
    # the peer ran on half the calls before the product and on the rest after it
    before, after = report["peer_egemaps_x_realtime_before_after"]
    assert before > 0 and after > 0
    assert report["ratio_to_peer"] == pytest.approx(
        report["x_realtime_per_core"] / report["peer_egemaps_x_realtime"], rel=0.01)


def test_the_peer_times_every_call_once_half_before_the_product_half_after():
    from qa_bench import peer_halves

    truth = {"calls": {f"call_{i:04d}": {"path": f"call_{i:04d}.wav"} for i in (3, 0, 4, 1, 2)}}
    before, after = peer_halves(truth)
    assert [c["path"] for c in before] == ["call_0000.wav", "call_0002.wav", "call_0004.wav"]
    assert [c["path"] for c in after] == ["call_0001.wav", "call_0003.wav"]


def test_quick_verdict_run_judges_every_flag_and_tries_the_settings_on_new_calls(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "verdict_tuning.py"),
                           "--quick", "--keep", str(tmp_path)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if "skipped" in report:
        pytest.skip(report["skipped"])
    # every flag of the reviewed seed got a verdict in the store qa-tune read
    calls = [json.loads(p.read_text()) for p in (tmp_path / "seed1" / "out" / "calls").glob(
        "*.json")]
    raised = sum(f["check"] in CHECKS for c in calls for f in c["flags"])
    verdicts = report["verdicts"]["1"]
    assert raised > 0 and verdicts["confirmed"] + verdicts["dismissed"] == raised
    assert "qa-tune" in report["qa_tune"] and (tmp_path / "tuned.toml").exists()
    held = report["held_out"]["0"]
    for setting in ("default", "suggested"):
        assert set(held[setting]) == set(CHECKS)
    # a check whose threshold did not move flags the held-out calls exactly as before
    for check in set(CHECKS) - set(report["changed"]):
        assert held["default"][check] == held["suggested"][check]


def test_the_profile_inspects_the_kept_calls_as_the_product_did_and_compares_two_trees(
        quick_kept):
    _, kept = quick_kept
    product_flags = sorted(
        (c["call_id"], f["check"], f["start_s"], f["end_s"])
        for c in (json.loads(p.read_text()) for p in (kept / "out" / "calls").glob("*.json"))
        for f in c["flags"])
    tool = [sys.executable, str(REPO / "benchmarks" / "qa_profile.py"), str(kept)]
    done = subprocess.run(tool, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    alone = json.loads(done.stdout.strip().splitlines()[-1])
    assert alone["calls"] == 5 and alone["errors"] == 0
    assert alone["flags"] == len(product_flags) > 0 and alone["cpu_s"] > 0
    # the same tree on both sides: the same flags, and a ratio of medians
    done = subprocess.run([*tool, "--against", str(REPO / "src"), "--repeat", "1"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    ab = json.loads(done.stdout.strip().splitlines()[-1])
    assert ab["same_flags"] and ab["this"]["flags_sha256"] == [alone["flags_sha256"]]
    assert ab["cpu_ratio_this_to_other"] > 0


def test_the_profile_names_a_folder_qa_bench_did_not_write(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "qa_profile.py"),
                           str(tmp_path)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2 and "qa_bench.py --keep" in done.stderr
