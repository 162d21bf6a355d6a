"""The ``voiceline`` command line, driven as a user would: real files, real output."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from capture.synth import am_tone, tone
from voiceline.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_example_then_features_prints_the_time_series(tmp_path, capsys):
    wav = tmp_path / "example.wav"
    code, _, err = run_cli(capsys, "example", str(wav), "--seconds", "6")
    assert code == 0 and "calm first half" in err
    code, out, _ = run_cli(capsys, "features", str(wav))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["time_s", "loudness_sone", "loudness_n5_sone", "sharpness_acum",
                             "roughness_asper", "fluctuation_vacil"]
    assert len(rows) == 60  # 6 s at the default 0.1 s step
    loud = np.array([float(r["loudness_sone"]) for r in rows])
    # The agitated half is louder than the calm half.
    assert np.median(loud[35:]) > 1.3 * np.median(loud[5:30])


def test_features_of_a_calibrated_tone_reads_its_loudness(tmp_path, capsys):
    # 1 kHz at 40 dB SPL through the iso532-test profile: 1 sone by definition.
    wav = tmp_path / "tone.wav"
    sf.write(wav, tone(1000, 40, 3.0, 16000) / (2 * np.sqrt(2)), 16000, subtype="FLOAT")
    code, out, _ = run_cli(capsys, "features", str(wav), "--level-profile", "iso532-test",
                           "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["level_profile"] == "iso532-test" and doc["fs_hz"] == 16000
    loud = np.array([row[1] for row in doc["rows"]])
    assert np.mean(loud[10:]) == pytest.approx(1.0, rel=0.05)


def test_features_selects_the_channel_and_resamples(tmp_path, capsys):
    wav = tmp_path / "stereo.wav"
    fs = 44100
    agent = am_tone(1000, 70, 60, 2.0, fs) / (2 * np.sqrt(2))
    caller = np.zeros_like(agent)
    sf.write(wav, np.stack([caller, agent], axis=1), fs, subtype="FLOAT")
    _, out0, _ = run_cli(capsys, "features", str(wav), "--channel", "0",
                         "--level-profile", "iso532-test", "--format", "json")
    _, out1, _ = run_cli(capsys, "features", str(wav), "--channel", "1",
                         "--level-profile", "iso532-test", "--format", "json")
    rough0 = [row[4] for row in json.loads(out0)["rows"]]
    doc1 = json.loads(out1)
    rough1 = [row[4] for row in doc1["rows"]]
    assert doc1["fs_hz"] == 16000  # 44.1 kHz is analysed at 16 kHz
    assert max(rough0) == 0.0
    assert np.mean(rough1[5:]) == pytest.approx(1.0, rel=0.1)


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (None, ["features", "missing.wav"], "no such audio file"),
        ("empty", ["features", "{path}"], "{path}"),
        ("mono", ["features", "{path}", "--channel", "3"], "channel"),
        ("mono", ["features", "{path}", "--level-profile", "nope"], "iso532-test"),
    ],
)
def test_user_errors_exit_2_with_one_clear_line(tmp_path, capsys, make, args, message):
    path = tmp_path / "in.wav"
    if make == "empty":
        path.write_bytes(b"")
    elif make == "mono":
        sf.write(path, np.zeros(8000), 8000)
    args = [a.format(path=path) for a in args]
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("voiceline features: error:")
    assert message.format(path=path) in err
    assert "Traceback" not in err


@pytest.mark.parametrize("hop", ["0.25", "0", "-1", "nan", "1e9", "0.01", "0.05"])
def test_a_hop_the_streaming_path_cannot_keep_is_a_usage_error(tmp_path, capsys, hop):
    # each was a traceback from deep inside the engine
    path = tmp_path / "in.wav"
    sf.write(path, np.zeros(8000), 8000)
    with pytest.raises(SystemExit) as done:
        main(["features", str(path), "--hop", hop])
    err = capsys.readouterr().err
    assert done.value.code == 2 and "Traceback" not in err
    assert "argument --hop: invalid choice" in err and "choose from 0.02, 0.1" in err


@pytest.mark.parametrize("hop", ["0.02", "0.1"])
def test_every_hop_offered_gives_rows_at_that_step(tmp_path, capsys, hop):
    # 0.01 and 0.05 were offered once and failed inside the engine (a division by zero,
    # clocks that drifted apart); the engine now refuses them itself
    path = tmp_path / "in.wav"
    run_cli(capsys, "example", str(path), "--seconds", "3")
    code, out, _ = run_cli(capsys, "features", str(path), "--hop", hop, "--format", "json")
    times = [row[0] for row in json.loads(out)["rows"]]
    assert code == 0 and np.allclose(np.diff(times), float(hop))
    from emotion.psychoacoustics.streaming import StreamingPsychoacoustics

    for bad in (0.01, 0.05):
        with pytest.raises(ValueError, match=r"multiple of 0\.02 s"):
            StreamingPsychoacoustics(1, 8000, hop_s=bad)


def test_levels_lists_the_profiles(capsys):
    code, out, _ = run_cli(capsys, "levels")
    assert code == 0
    for name in ("iso532-test", "din45692-test", "g711-telephone", "headset"):
        assert name in out


def test_python_dash_m_runs_the_same_cli():
    done = subprocess.run([sys.executable, "-m", "voiceline", "--version"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("voiceline ")


def _speech_file(path, seconds, seed, fs_hz=8000, gain=1.0):
    from capture.synth import speech_like

    x = np.ravel(speech_like(seconds, fs_hz, seed=seed)) * gain
    sf.write(path, np.clip(x, -1, 1), fs_hz, subtype="PCM_16")
    return str(path)


def test_calibrate_writes_a_baseline_from_enough_speech(tmp_path, capsys):
    files = [_speech_file(tmp_path / f"call{i}.wav", 25.0, seed=i) for i in range(2)]
    code, out, err = run_cli(capsys, "calibrate", "--agent", "A1001", "--out",
                             str(tmp_path / "agents"), *files)
    assert code == 0, err
    doc = json.loads((tmp_path / "agents" / "A1001.json").read_text())
    assert doc["agent_id"] == "A1001" and doc["channel_type"] == "8k"
    assert doc["speech_s"] >= 30.0 and doc["n_windows"] >= 30
    assert doc["level_profile"] == "g711-telephone"
    assert "speech_rate_syl_s" in doc["feature_names"] and "wrote" in out


def test_calibrate_counts_a_recording_once_and_refuses_a_file_for_a_folder(tmp_path, capsys):
    # the same 20 s of speech given three times once made "60 s" and passed the 30 s rule
    once = _speech_file(tmp_path / "s.wav", 25.0, seed=1)
    os.link(once, tmp_path / "hard.wav")  # the same file under another name
    code, _, err = run_cli(capsys, "calibrate", "--agent", "D1", "--out",
                           str(tmp_path / "agents"), once, once, str(tmp_path / "." / "s.wav"),
                           str(tmp_path / "hard.wav"))
    assert code == 2 and err.count("left out: the same file as") == 3
    assert "too little speech" in err or "at least 30" in err, err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "calibrate", "--agent", "D1", "--out", str(blocker), once)
    assert code == 2 and "is a file, not a folder" in err and "s.wav:" not in err
    code, _, err = run_cli(capsys, "calibrate", "--agent", "D1", "--out",
                           str(blocker / "sub"), once)
    assert code == 2 and "Not a directory" in err and "s.wav:" not in err


def test_qa_workers_are_bounded_and_export_dates_checked(tmp_path, capsys):
    wav = tmp_path / "in.wav"
    sf.write(wav, np.zeros(8000), 8000)
    code, _, err = run_cli(capsys, "qa", str(wav), "--workers", "100000", "--no-store",
                           "--out", str(tmp_path / "o"))
    assert code == 2 and "--workers must be from 1 to" in err
    from voiceline.store import Store

    (tmp_path / "d").mkdir()
    Store(tmp_path / "d" / "voiceline.db").close()
    code, _, err = run_cli(capsys, "qa-export", "--from", "0001-01-01", "--data",
                           str(tmp_path / "d"))
    assert code == 2 and "out of range" in err and "Traceback" not in err
    from voiceline.qa_export import _when

    # a time stored before times were checked prints as the number, not a failed export
    assert _when(1735725600000.0) == "1.73573e+12" and _when(-1e20) == "-1e+20"


def test_calibrate_refuses_a_bad_agent_id_before_reading_anything(tmp_path, capsys):
    code, _, err = run_cli(capsys, "calibrate", "--agent", "../x", "--out",
                           str(tmp_path / "agents"), str(tmp_path / "not-read.wav"))
    assert code == 2 and "agent id '../x' must be letters" in err


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    wav = tmp_path / "in.wav"
    sf.write(wav, np.zeros(8000), 8000)
    code, _, err = run_cli(capsys, "qa", str(wav), "--out", str(blocker / "out"),
                             "--workers", "1", "--no-progress", "--data", str(tmp_path / "d"))
    assert code == 2 and "Traceback" not in err
    assert err.startswith("voiceline qa: error:") and str(blocker / "out") in err


@pytest.mark.parametrize("command", [["qa", "{wav}", "--out", "{tmp}/o", "--no-progress"],
                                     ["report", "--agent", "A1", "--out", "{tmp}/r.html"],
                                     ["serve", "--port", "0"]])
def test_a_damaged_store_is_one_line_for_every_command(tmp_path, capsys, command):
    data = tmp_path / "data"
    data.mkdir()
    (data / "voiceline.db").write_text("not a database")
    wav = tmp_path / "in.wav"
    sf.write(wav, np.zeros(8000), 8000)
    args = [a.format(wav=wav, tmp=tmp_path) for a in command] + ["--data", str(data)]
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and "Traceback" not in err
    assert f"voiceline {command[0]}: error: cannot open" in err and "as a Voiceline store" in err


def test_calibrate_refuses_too_little_speech_and_skips_clipped_files(tmp_path, capsys):
    short = _speech_file(tmp_path / "short.wav", 12.0, seed=3)
    code, _, err = run_cli(capsys, "calibrate", "--agent", "A2", "--out", str(tmp_path), short)
    assert code == 2 and "at least 30 s" in err
    clipped = _speech_file(tmp_path / "loud.wav", 10.0, seed=4, gain=30.0)
    code, _, err = run_cli(capsys, "calibrate", "--agent", "A2", "--out", str(tmp_path),
                           clipped)
    assert code == 2 and "clipped" in err and "no usable recording" in err
    assert not (tmp_path / "A2.json").exists()


def test_ctrl_c_ends_a_command_with_one_line_and_status_130(tmp_path, capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("voiceline.qa_tune_cli.run_qa_tune", interrupted)
    assert main(["qa-tune", "--data", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "voiceline qa-tune: interrupted\n"


#: A numpy that says it is being imported, then takes as long as the test wants: Ctrl-C
#: then lands in a command's first imports every time, however loaded the machine.
SLOW_NUMPY = """
import os, pathlib, time
pathlib.Path(os.environ["IMPORTING_MARK"]).touch()
time.sleep(120)
"""


@pytest.mark.parametrize("command", [["qa", "calls/"], ["report", "--agent", "A1"]])
def test_ctrl_c_during_the_first_imports_is_one_line_and_status_130(tmp_path, command):
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "numpy.py").write_text(SLOW_NUMPY)
    started = tmp_path / "importing"
    path = os.pathsep.join(filter(None, [str(tmp_path / "slow"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "IMPORTING_MARK": str(started)}
    # As a shell starts it: SIGINT at its default (the test's own process may have set it
    # to be ignored, which a child inherits; the clean-clone CI then timed out here).
    proc = subprocess.Popen([sys.executable, "-m", "voiceline", *command, "--out",
                             str(tmp_path / "out")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for _ in range(600):
            if started.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert started.exists(), proc.communicate(timeout=60)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (130, "", f"voiceline {command[0]}: interrupted\n")


def test_calibrate_update_follows_ordinary_speech_and_never_an_agitated_stretch(tmp_path,
                                                                                 capsys):
    from capture.simulator import (
        AgentVoice,
        CallScript,
        calibration_audio,
        render_call,
        timbre_pool,
    )
    from emotion.baseline import load_baseline, update_baseline
    from emotion.voice import analyse_files
    from voiceline.calibrate_cli import history_stamp

    agent = AgentVoice("A1", timbre_pool("agent")[0], 0, -27.0)
    caller = AgentVoice("C1", timbre_pool("caller")[1], 0, -28.0)
    sf.write(tmp_path / "cal.wav", calibration_audio(agent, 90.0, seed=1), 8000,
             subtype="PCM_16")
    hot = render_call(CallScript(120.0, episodes=[(30.0, 110.0, "agitated")], seed=3),
                      agent, caller)
    sf.write(tmp_path / "hot.wav", hot.audio.T, 8000, subtype="PCM_16")
    out = tmp_path / "agents"
    code, _, err = run_cli(capsys, "calibrate", "--agent", "A2", "--out", str(out), "--update",
                           str(tmp_path / "hot.wav"))
    assert code == 2 and "no baseline of agent A2" in err and "without --update" in err
    assert run_cli(capsys, "calibrate", "--agent", "A1", "--out", str(out),
                   str(tmp_path / "cal.wav"))[0] == 0
    before = load_baseline(out, "A1")
    code, text, err = run_cli(capsys, "calibrate", "--agent", "A1", "--out", str(out),
                              "--update", str(tmp_path / "hot.wav"), "--channel", "0")
    assert code == 0, err
    after = load_baseline(out, "A1")
    (kept,) = (out / "history").glob("A1.*.json")
    # the history keeps the baseline as it was (by content: "updated" has whole seconds,
    # and on a fast machine the calibration and the update share one)
    kept_doc = json.loads(kept.read_text())
    assert kept_doc["median"] == before.median.tolist() and "updates" not in kept_doc["notes"]
    assert after.updated >= before.updated and not np.array_equal(after.median, before.median)
    assert after.notes["updates"] == 1 and "left out as the checks would flag them" in text
    step = (after.median - before.median) / before.sigma
    assert np.all(np.abs(step) <= 0.1 + 1e-9)  # bounded, every feature
    n5 = before.feature_names.index("loudness_n5_sone")
    # The agitated stretch is not learnt from; learnt from, it would pull loudness up.
    fa = analyse_files([str(tmp_path / "hot.wav")], channel=0)[0]
    naive = update_baseline(before, fa.windows.features[0][fa.windows.valid[0]])
    assert (naive.median[n5] - before.median[n5]) / before.sigma[n5] > 0.09
    assert abs(step[n5]) < 0.03
    # The bands move with the median and the spread.
    q95 = after.quantiles["q95"] - after.median
    np.testing.assert_allclose(q95, (before.quantiles["q95"] - before.median)
                               * after.sigma / before.sigma, rtol=1e-9)
    code, _, err = run_cli(capsys, "calibrate", "--agent", "A1", "--out", str(out), "--update",
                           "--level-profile", "headset", str(tmp_path / "hot.wav"))
    assert code == 2 and "level profile g711-telephone" in err
    # as if an update had kept one within the same second: neither is lost. (On a fast
    # machine the calibration, the first update and this one share a second: the file
    # kept by the first update has that name already, and is the collision itself.)
    same_second = kept.parent / f"A1.{history_stamp(after.updated)}.json"
    planted = not same_second.exists()
    if planted:
        same_second.write_text("{}")
    assert run_cli(capsys, "calibrate", "--agent", "A1", "--out", str(out), "--update",
                   str(tmp_path / "hot.wav"), "--channel", "0")[0] == 0
    assert len(list((out / "history").glob("A1.*.json"))) == 2 + planted


def test_recalibrating_keeps_the_previous_baseline_and_says_when_it_is_another_voice(
        tmp_path, capsys):
    # Found by an audit: a recalibration (a new headset, or someone else's recording by
    # mistake) replaced the baseline with no copy kept and no word.
    from capture.simulator import AgentVoice, calibration_audio, timbre_pool
    from emotion.baseline import load_baseline

    female, male = timbre_pool("agent")[0], timbre_pool("agent")[1]
    for name, timbre in (("her", female), ("him", male)):
        pcm = calibration_audio(AgentVoice("A1", timbre, 0, -27.0), 80.0, seed=1)
        sf.write(tmp_path / f"{name}.wav", pcm, 8000, subtype="PCM_16")
    stereo = np.stack([np.zeros(80 * 8000, np.int16),
                       sf.read(tmp_path / "her.wav", dtype="int16")[0]], axis=1)
    sf.write(tmp_path / "call.wav", stereo, 8000, subtype="PCM_16")
    out = tmp_path / "agents"
    code, _, err = run_cli(capsys, "calibrate", "--agent", "A1", "--out", str(out),
                           str(tmp_path / "call.wav"), "--channel", "1")
    assert code == 0, err
    assert "call.wav: channel 1 of 2 (--channel)" in err  # which side was taken, said
    first = load_baseline(out, "A1")
    code, text, err = run_cli(capsys, "calibrate", "--agent", "A1", "--out", str(out),
                              str(tmp_path / "him.wav"))
    assert code == 0, err
    (kept,) = (out / "history").glob("A1.*.json")
    assert json.loads(kept.read_text())["median"] == first.median.tolist()
    assert f"the previous baseline is in {kept}" in text
    assert "may be someone else's" in err and "him.wav: 80.0 s" in err
    # ... and an update from the other voice is refused, the baseline unchanged
    now = load_baseline(out, "A1")
    code, _, err = run_cli(capsys, "calibrate", "--agent", "A1", "--out", str(out),
                           "--update", str(tmp_path / "her.wav"))
    assert code == 2 and "the baseline is unchanged" in err, err
    assert load_baseline(out, "A1").median.tolist() == now.median.tolist()


def test_calibration_audio_with_noise_close_under_the_speech_is_called_noisy(tmp_path,
                                                                             capsys):
    # Found by an audit: noise 10 dB under the speech was taken in silence (the baseline's
    # loudness 62 % up), and at 4 dB the only word was "too little speech".
    from capture.simulator import AgentVoice, calibration_audio, timbre_pool

    pcm = calibration_audio(AgentVoice("A1", timbre_pool("agent")[0], 0, -27.0), 80.0,
                            seed=1).astype(float)
    speech_rms = np.sqrt(np.mean(pcm[np.abs(pcm) > 300] ** 2))
    noise = np.random.default_rng(0).standard_normal(pcm.size) * speech_rms * 10 ** (-10 / 20)
    sf.write(tmp_path / "clean.wav", pcm.astype(np.int16), 8000, subtype="PCM_16")
    sf.write(tmp_path / "noisy.wav", np.clip(pcm + noise, -32768, 32767).astype(np.int16),
             8000, subtype="PCM_16")
    code, _, err = run_cli(capsys, "calibrate", "--agent", "A1", "--out",
                           str(tmp_path / "agents"), str(tmp_path / "clean.wav"),
                           str(tmp_path / "noisy.wav"))
    assert code == 0, err
    (noisy,) = [line for line in err.splitlines() if "noisy.wav" in line]
    (clean,) = [line for line in err.splitlines() if "clean.wav" in line]
    assert "warning: noisy, the speech only ~" in noisy and "noisy" not in clean.split(":", 1)[1]


def test_a_wideband_calibration_says_live_calls_need_an_8k_one(tmp_path, capsys):
    files = [_speech_file(tmp_path / f"w{i}.wav", 25.0, seed=i, fs_hz=16000) for i in range(2)]
    code, _, err = run_cli(capsys, "calibrate", "--agent", "A3", "--out",
                           str(tmp_path / "agents"), *files)
    assert code == 0, err
    assert "a wideband baseline" in err and "until an 8 kHz one exists" in err
    # an update from telephone recordings has no 8 kHz baseline to follow: said as such
    # (it read "... or use the population baseline", which calibrate cannot do)
    phone = _speech_file(tmp_path / "p.wav", 40.0, seed=5)
    code, _, err = run_cli(capsys, "calibrate", "--agent", "A3", "--out",
                           str(tmp_path / "agents"), "--update", phone)
    assert code == 2 and "telephone (8 kHz), and A3 has no 8k baseline to update" in err
    assert "population" not in err


def test_seat_and_simulate_refuse_ids_the_server_would_refuse_before_connecting(capsys):
    # the server refuses such a call for good; the seat client retried it forever
    for args in (["seat", "--agent", "a/b"], ["seat", "--agent", "A1", "--seat", "S\n2"],
                 ["simulate", "--agents", "A1,a/b"]):
        code, _, err = run_cli(capsys, *args, "--server", "http://127.0.0.1:9")
        assert code == 2 and "Traceback" not in err
        assert "letters, digits" in err or "control character" in err, err


@pytest.mark.parametrize("args", [["--agitation-every", "-5"], ["--agitation-every", "nan"],
                                  ["--low-energy-every", "-5"], ["--duration", "inf"]])
def test_simulate_refuses_times_that_are_no_time_before_preparing_voices(capsys, args):
    # each was a traceback after ~15 s of preparing the voices
    with pytest.raises(SystemExit) as done:
        main(["simulate", "--server", "http://127.0.0.1:9", *args])
    err = capsys.readouterr().err
    assert done.value.code == 2 and "finite number of seconds" in err and "Traceback" not in err


def test_simulate_says_when_nothing_reached_the_server(capsys):
    # it printed "1 calls streamed" and exited 0 with the server down
    code, _, err = run_cli(capsys, "simulate", "--server", "http://127.0.0.1:9", "--seats", "1",
                           "--duration", "4", "--token", "vl_test", "--status-every", "60")
    assert code == 2 and "nothing reached http://127.0.0.1:9" in err and "Traceback" not in err


def test_simulate_stopped_with_its_process_group_while_preparing_says_so(tmp_path):
    # a service manager's SIGTERM reaches the voice-rendering workers too; the parent
    # then printed a 30-line BrokenProcessPool traceback
    import signal
    import time

    exe = os.path.join(os.path.dirname(sys.executable), "voiceline")
    proc = subprocess.Popen([exe, "simulate", "--server", "http://127.0.0.1:9", "--seats", "40",
                             "--duration", "3"], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        seen = []
        while not any("preparing" in line for line in seen):
            line = proc.stderr.readline()
            assert line, "".join(seen)
            seen.append(line)
        time.sleep(1.0)  # the rendering processes start
        os.killpg(proc.pid, signal.SIGTERM)
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "Traceback" not in err, err
    if code == 1:  # the workers died first (the usual case)
        assert "ended before the voices were ready" in err
    else:  # the parent's own handler stopped the run first
        assert code == 0 and "stopping" in err, (code, err)
