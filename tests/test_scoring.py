"""Scoring: the ONNX model agrees with its weights, and explanations name the causes."""

from __future__ import annotations

import numpy as np
import pytest

from emotion.baseline import fit_baseline
from emotion.scoring import ModelError, VoiceModel, explain
from emotion.training import export_onnx, fit_logistic
from emotion.windows import FEATURE_NAMES


def test_logistic_regression_recovers_a_known_rule():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 3))
    p = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 2] + 0.5)))
    y = rng.uniform(size=4000) < p
    w, b = fit_logistic(x, y, l2=1e-3)
    np.testing.assert_allclose(w, [2.0, 0.0, -1.0], atol=0.2)
    assert b == pytest.approx(0.5, abs=0.15)


@pytest.fixture
def model(tmp_path):
    weights = np.zeros((3, len(FEATURE_NAMES)))  # agitation, subdued, flat
    weights[0, FEATURE_NAMES.index("loudness_mean_sone")] = 1.5
    weights[0, FEATURE_NAMES.index("speech_rate_syl_s")] = 1.0
    weights[1, FEATURE_NAMES.index("loudness_mean_sone")] = -1.2
    weights[2, FEATURE_NAMES.index("f0_movement_st")] = -1.0
    path = export_onnx(weights, np.array([-3.0, -3.0, -3.0]), FEATURE_NAMES,
                       tmp_path / "voice_scoring.onnx", {"note": "test"})
    return VoiceModel(path)


@pytest.fixture
def baseline():
    rng = np.random.default_rng(1)
    x = 5.0 + rng.standard_normal((200, len(FEATURE_NAMES)))
    return fit_baseline(x, FEATURE_NAMES, agent_id="A1001", channel_type="8k",
                        speech_s=120.0, level_profile="g711-telephone")


def test_onnx_probabilities_equal_the_logistic_formula(model, baseline):
    window = baseline.median.copy()
    window[FEATURE_NAMES.index("loudness_mean_sone")] += 3 * baseline.sigma[1]
    score = model.score(window[None], baseline)  # the model runs in float32: rel 1e-4
    assert score.agitation[0] == pytest.approx(1 / (1 + np.exp(-(1.5 * 3 - 3.0))), rel=1e-4)
    # Low energy is the larger sub-head: "subdued" reads this window as unlikely, the
    # "flat" one (pitch movement, unchanged here) sits at its bias.
    subdued, flat = 1 / (1 + np.exp(-(-1.2 * 3 - 3.0))), 1 / (1 + np.exp(3.0))
    assert score.low_energy[0] == pytest.approx(max(subdued, flat), rel=1e-4)
    ordinary = model.score(baseline.median[None], baseline)
    assert ordinary.agitation[0] < 0.05


def test_explanation_names_the_features_in_the_agents_terms(model, baseline):
    window = baseline.median.copy()
    window[FEATURE_NAMES.index("loudness_mean_sone")] += 2.6 * baseline.sigma[1]
    window[FEATURE_NAMES.index("speech_rate_syl_s")] += 1.9 * baseline.sigma[7]
    score = model.score(window[None], baseline)
    text = explain(score, 0, "A1001")
    assert text == "loudness +2.6 σ above A1001's usual, speaking rate +1.9 σ"


def test_nan_windows_score_nan_and_mismatched_baselines_are_refused(model, baseline):
    windows = np.stack([baseline.median, np.full(len(FEATURE_NAMES), np.nan)])
    score = model.score(windows, baseline)
    assert np.isfinite(score.agitation[0]) and np.isnan(score.agitation[1])
    other = fit_baseline(np.random.default_rng(2).standard_normal((50, 3)), ("a", "b", "c"),
                         agent_id="A2", channel_type="8k", speech_s=60.0, level_profile="x")
    with pytest.raises(ModelError, match="recalibrate"):
        model.score(np.zeros((1, 3)), other)


def test_missing_model_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelError, match="voiceline train-model"):
        VoiceModel(tmp_path / "nope.onnx")


def test_low_energy_is_the_larger_sub_head_and_explained_by_it(model, baseline):
    quiet = baseline.median.copy()
    quiet[FEATURE_NAMES.index("loudness_mean_sone")] -= 4 * baseline.sigma[1]
    flat = baseline.median.copy()
    i_move = FEATURE_NAMES.index("f0_movement_st")
    flat[i_move] -= 5 * baseline.sigma[i_move]
    s = model.score(np.stack([quiet, flat]), baseline)
    z_quiet = s.z[0, 1]
    z_flat = s.z[1, i_move]
    assert s.low_energy[0] == pytest.approx(1 / (1 + np.exp(3.0 + 1.2 * z_quiet)), rel=1e-5)
    assert s.low_energy[1] == pytest.approx(1 / (1 + np.exp(3.0 + z_flat)), rel=1e-5)
    assert "loudness" in explain(s, 0, "A1001", head="low_energy")
    assert explain(s, 1, "A1001", head="low_energy").startswith("pitch movement")


def test_windows_whose_level_is_a_line_fault_are_judged_without_level_bound_features(
        model, baseline):
    # A turn driven into clipping: 6 σ louder, same speaking rate +2 σ (a real change).
    hot = baseline.median.copy()
    i_loud, i_rate = FEATURE_NAMES.index("loudness_mean_sone"), FEATURE_NAMES.index(
        "speech_rate_syl_s")
    hot[i_loud] += 6 * baseline.sigma[i_loud]
    hot[i_rate] += 2 * baseline.sigma[i_rate]
    windows = np.stack([hot, hot])
    s = model.score(windows, baseline, level_unknown=np.array([True, False]))
    # the faulty window keeps its rate evidence and loses the loudness
    assert s.z[0, i_loud] == 0.0 and s.z[0, i_rate] == pytest.approx(2.0)
    assert s.agitation[0] == pytest.approx(1 / (1 + np.exp(-(1.0 * 2 - 3.0))), rel=1e-4)
    assert s.contributions[0, 0, i_loud] == 0.0
    # the other window is scored as before
    assert s.z[1, i_loud] == pytest.approx(6.0)
    assert s.agitation[1] == pytest.approx(model.score(hot[None], baseline).agitation[0])
    assert "loudness" not in explain(s, 0, "A1001")
