"""``voiceline score`` and ``voiceline train-model``, driven as a user would."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from conftest import SHARED_DATA, shared_path
from emotion.scoring import VoiceModel
from emotion.training import export_onnx
from emotion.windows import FEATURE_NAMES
from voiceline.cli import main
from voiceline.corpus_protocol import auc


def _speech(path, seconds, seed, agitated=False):
    from capture.synth import speech_like

    x = np.ravel(speech_like(seconds, 8000, seed=seed, agitated=agitated))
    sf.write(path, np.clip(x, -1, 1), 8000, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A1 calibrated on calm speech; a manifest with calm, agitated, stranger, corrupt rows."""
    tmp = tmp_path_factory.mktemp("score")
    weights = np.zeros((3, len(FEATURE_NAMES)))
    for name, w in (("loudness_mean_sone", 1.0), ("f0_median_st", 1.0),
                    ("speech_rate_syl_s", 0.5)):
        weights[0, FEATURE_NAMES.index(name)] = w
    weights[1, FEATURE_NAMES.index("loudness_mean_sone")] = -1.0
    model = export_onnx(weights, np.array([-2.0, -2.0, -20.0]), FEATURE_NAMES, tmp / "m.onnx",
                        {"note": "test model"})
    calls = [str(_speech(tmp / f"cal{i}.wav", 20.0, seed=i)) for i in range(2)]
    assert main(["calibrate", "--agent", "A1", "--out", str(tmp / "agents"), *calls]) == 0
    (tmp / "calls").mkdir()
    _speech(tmp / "calls" / "calm.wav", 12.0, seed=7)
    _speech(tmp / "calls" / "angry.wav", 12.0, seed=8, agitated=True)
    (tmp / "calls" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    manifest = tmp / "calls" / "manifest.csv"
    manifest.write_text("path,agent,channel\ncalm.wav,A1,\nangry.wav,A1,\ncalm.wav,B9,\n"
                        "broken.wav,A1,\nmissing.wav,A1,\ncalm.wav,carol,\ncalm.wav,A1,²\n",
                        encoding="utf-8")
    (tmp / "agents" / "carol.json").write_text("null")  # damaged: it cost every row once
    out = tmp / "out" / "scores.csv"
    code = main(["score", "--calibration", str(tmp / "agents"), "--manifest", str(manifest),
                 "--out", str(out), "--model", str(model)])
    assert code == 0
    with out.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_score_ranks_the_agitated_call_above_the_calm_one(scored):
    calm, angry = scored[0], scored[1]
    assert calm["error"] == "" and angry["error"] == ""
    assert float(angry["score"]) > float(calm["score"]) + 0.2
    assert float(calm["score"]) < 0.5
    assert calm["baseline"] == "agent" and int(calm["windows"]) >= 5
    assert float(calm["speech_s"]) > 5.0
    assert "above A1's usual" in angry["top_deviations"]
    assert 0.0 <= float(angry["low_energy"]) < float(calm["low_energy"])


def test_unknown_agent_and_bad_files_get_an_error_and_the_rest_proceed(scored):
    assert [r["path"] for r in scored] == ["calm.wav", "angry.wav", "calm.wav", "broken.wav",
                                           "missing.wav", "calm.wav", "calm.wav"]
    stranger, broken, missing, damaged, digit = scored[2:]
    assert "carol.json: not a readable baseline" in damaged["error"]
    assert "channel must be a channel index" in digit["error"]  # "²" is no channel
    assert "no 8k baseline for agent B9" in stranger["error"] and stranger["score"] == ""
    assert broken["error"] and broken["score"] == ""
    assert "missing.wav" in missing["error"] and missing["score"] == ""


def test_a_damaged_model_is_one_line_before_any_work(tmp_path, capsys):
    from voiceline.score_cli import DEFAULT_MODEL

    junk = tmp_path / "m.onnx"
    junk.write_text("junk")
    (tmp_path / "m.json").write_text(DEFAULT_MODEL.with_suffix(".json").read_text())
    wav = _speech(tmp_path / "a.wav", 3.0, seed=1)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,agent\na.wav,A1\n")
    (tmp_path / "agents").mkdir()
    for command in (["score", "--calibration", str(tmp_path / "agents"), "--manifest",
                     str(manifest), "--out", str(tmp_path / "s.csv")],
                    ["qa", str(wav), "--no-store", "--out", str(tmp_path / "q"),
                     "--no-progress"]):
        assert main([*command, "--model", str(junk)]) == 2
        err = capsys.readouterr().err
        assert "not a readable ONNX model" in err and "Traceback" not in err, err
    (tmp_path / "m.json").write_text("{broken")
    assert main(["qa", str(wav), "--no-store", "--out", str(tmp_path / "q"),
                 "--no-progress", "--model", str(junk)]) == 2
    assert "not a readable model card" in capsys.readouterr().err
    # A model copied without its card is there: the card is what is missing.
    (tmp_path / "m.json").unlink()
    assert main(["qa", str(wav), "--no-store", "--out", str(tmp_path / "q"),
                 "--no-progress", "--model", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "has no model card beside it (m.json is missing)" in err and "not found" not in err


def test_score_refuses_a_manifest_without_the_agent_column(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path\na.wav\n")
    code = main(["score", "--calibration", str(tmp_path), "--manifest", str(manifest),
                 "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "needs columns path,agent" in capsys.readouterr().err
    manifest.write_text("path,agent,agent\na.wav,A1,B2\n")  # one of the two, silently
    code = main(["score", "--calibration", str(tmp_path), "--manifest", str(manifest),
                 "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "names agent more than once" in capsys.readouterr().err


def test_manifest_rows_without_a_path_or_agent_say_so_and_a_bom_is_read(tmp_path):
    from voiceline.score_cli import read_manifest

    manifest = tmp_path / "m.csv"
    # a spreadsheet's UTF-8 export: BOM, a short row, blanks, padded cells
    manifest.write_bytes("\ufeffpath,agent\na.wav\n,A1\n b.wav , A1 \n".encode())
    rows = read_manifest(manifest)
    assert [r.get("error", "") for r in rows] == [
        "the row names no agent (empty agent)", "the row names no recording (empty path)", ""]
    assert rows[2]["agent"] == "A1" and rows[2]["file"] == tmp_path / "b.wav"


def test_score_refuses_a_manifest_that_is_not_utf8(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(b"path,agent\n\xff\xfe.wav,A1\n")
    code = main(["score", "--calibration", str(tmp_path), "--manifest", str(manifest),
                 "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "is neither UTF-8 nor GB18030 text" in capsys.readouterr().err


def test_score_without_the_calibration_folder_says_so_once(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,agent\na.wav,A1\n")
    code = main(["score", "--calibration", str(tmp_path / "nowhere"), "--manifest",
                 str(manifest), "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "no calibration folder" in capsys.readouterr().err


def test_score_never_writes_over_its_manifest_a_baseline_or_the_model(tmp_path, capsys):
    # found by an outside audit: --out the manifest replaced it with the results, and
    # --out DIR/A1.json turned agent A1's baseline into a CSV
    from voiceline.score_cli import DEFAULT_MODEL

    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "A1.json").write_text("{}")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,agent\na.wav,A1\n")
    model = tmp_path / "model.onnx"  # a copy: a failing check must not hit the real one
    model.write_bytes(DEFAULT_MODEL.read_bytes())
    model.with_suffix(".json").write_bytes(DEFAULT_MODEL.with_suffix(".json").read_bytes())
    for target in (manifest, agents / "A1.json", agents / "new.json", model,
                   model.with_suffix(".json")):
        code = main(["score", "--calibration", str(agents), "--manifest", str(manifest),
                     "--out", str(target), "--model", str(model)])
        assert code == 2 and "will not write" in capsys.readouterr().err
    assert manifest.read_text() == "path,agent\na.wav,A1\n"
    assert (agents / "A1.json").read_text() == "{}" and not (agents / "new.json").exists()
    assert model.read_bytes() == DEFAULT_MODEL.read_bytes()


def test_train_model_checks_its_output_and_arguments_before_training(tmp_path, capsys):
    # found by an outside audit: a folder as --out failed after the whole training run,
    # and --limit-speakers 0 trained on every speaker, -3 on all but three
    (tmp_path / "emodb").mkdir()
    (tmp_path / "emodb" / "manifest.csv").write_text("path,speaker,emotion\nx.wav,1,anger\n")
    (tmp_path / "folder").mkdir()
    code = main(["train-model", "--data", str(tmp_path), "--out", str(tmp_path / "folder")])
    assert code == 2 and "is a folder" in capsys.readouterr().err
    # the corpus that is missing is named before the other one is analysed (x.wav does
    # not exist: analysing emodb first would have failed on it instead)
    code = main(["train-model", "--data", str(tmp_path), "--out", str(tmp_path / "m.onnx")])
    assert code == 2 and "ravdess" in capsys.readouterr().err
    for bad in ("0", "-3", "two"):
        with pytest.raises(SystemExit) as done:
            main(["train-model", "--data", str(tmp_path), "--limit-speakers", bad])
        assert done.value.code == 2 and "--limit-speakers" in capsys.readouterr().err


def test_train_model_refuses_a_corpus_manifest_without_its_columns(tmp_path, capsys):
    for corpus in ("emodb", "ravdess"):
        (tmp_path / corpus).mkdir()
        (tmp_path / corpus / "manifest.csv").write_text("file,label\nx.wav,anger\n")
    code = main(["train-model", "--data", str(tmp_path), "--out", str(tmp_path / "m.onnx")])
    assert code == 2 and "needs columns path,speaker,emotion" in capsys.readouterr().err


def test_auc_known_answers():
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert auc(np.array([1.0, 1.0]), np.array([0, 1])) == 0.5
    assert auc(np.array([1.0, 2.0]), np.array([1, 1])) is None


def test_train_model_on_two_speakers_per_corpus_writes_a_usable_model(tmp_path):
    shared_path("emodb", "manifest.csv")
    shared_path("ravdess", "manifest.csv")
    out = tmp_path / "voice_scoring.onnx"
    code = main(["train-model", "--data", str(SHARED_DATA), "--out", str(out),
                 "--limit-speakers", "2"])
    assert code == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["training_data"]["speakers"] == {"emodb": 2, "ravdess": 2}
    agitation = card["metrics"]["agitation"]["loso"]
    assert 0.5 < agitation["pooled"]["window_auc"] <= 1.0
    assert card["metrics"]["low_energy"]["loso"]["emodb"]["file_auc_mean"] is not None
    assert "research" in card["licence"]
    model = VoiceModel(out)
    p = model.probabilities(np.zeros((1, len(FEATURE_NAMES))))
    assert p.shape == (1, 2) and np.all((p > 0) & (p < 1))


def test_unknown_agents_can_be_judged_against_the_population(tmp_path):
    from emotion.baseline import load_all_baselines

    weights = np.zeros((3, len(FEATURE_NAMES)))
    weights[0, FEATURE_NAMES.index("loudness_mean_sone")] = 1.0
    model = export_onnx(weights, np.array([-2.0, -2.0, -20.0]), FEATURE_NAMES,
                        tmp_path / "m.onnx",
                        {"note": "test model"})
    for agent, seed in (("A1", 1), ("A2", 2)):
        calls = [str(_speech(tmp_path / f"{agent}{i}.wav", 20.0, seed=seed * 10 + i))
                 for i in range(2)]
        assert main(["calibrate", "--agent", agent, "--out", str(tmp_path / "agents"),
                     *calls]) == 0
    assert {b.agent_id for b in load_all_baselines(tmp_path / "agents", "8k")} == {"A1", "A2"}
    _speech(tmp_path / "new.wav", 10.0, seed=99)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,agent\nnew.wav,NEWCOMER\n")
    out = tmp_path / "o.csv"
    assert main(["score", "--calibration", str(tmp_path / "agents"), "--manifest",
                 str(manifest), "--out", str(out), "--model", str(model),
                 "--unknown-agents", "population"]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfpath,")  # Excel/WPS read it as UTF-8
    row = next(csv.DictReader(out.open(newline="", encoding="utf-8-sig")))
    assert row["error"] == "" and row["baseline"] == "population"
    assert float(row["score"]) >= 0.0


def test_a_recording_through_a_hotter_line_is_judged_through_it(tmp_path):
    calls = [str(_speech(tmp_path / f"cal{i}.wav", 20.0, seed=i)) for i in range(2)]
    assert main(["calibrate", "--agent", "A1", "--out", str(tmp_path / "agents"), *calls]) == 0
    from capture.synth import speech_like

    x = np.ravel(speech_like(40.0, 8000, seed=7)) * 10 ** (8.0 / 20)  # 8 dB hotter headset
    sf.write(tmp_path / "hot.wav", np.clip(x, -1, 1), 8000, subtype="PCM_16")
    _speech(tmp_path / "calm.wav", 40.0, seed=7)
    (tmp_path / "m.csv").write_text("path,agent\nhot.wav,A1\ncalm.wav,A1\n")

    def score(way):
        out = tmp_path / f"{way}.csv"
        assert main(["score", "--calibration", str(tmp_path / "agents"), "--manifest",
                     str(tmp_path / "m.csv"), "--out", str(out), "--line-correction",
                     way]) == 0
        with out.open(newline="", encoding="utf-8-sig") as fh:
            return list(csv.DictReader(fh))

    (hot, calm), (hot_off, calm_off) = score("on"), score("off")
    assert 4.5 <= float(hot["line_correction_db"]) <= 7.0  # 8 dB less the 2.5 dB dead zone
    assert calm["line_correction_db"] == "0.0" and calm["score"] == calm_off["score"]
    assert hot_off["line_correction_db"] == ""
    assert float(hot_off["score"]) > float(calm_off["score"]) + 0.3  # read as agitation
    assert float(hot["score"]) < float(hot_off["score"]) - 0.3
