"""Per-call voice summaries: the numbers against the baseline, and their life in the store."""

from __future__ import annotations

import numpy as np
import pytest

from emotion.baseline import fit_baseline
from emotion.summary import REPORT_FEATURES, SUMMARY_VERSION, in_usual_range, summarise_call
from emotion.windows import FEATURE_NAMES
from voiceline.store import Store

F = len(FEATURE_NAMES)
RATE = FEATURE_NAMES.index("speech_rate_syl_s")
LOUD = FEATURE_NAMES.index("loudness_mean_sone")
SHARP = FEATURE_NAMES.index("sharpness_acum")


def baseline():
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 1.0, (400, F))
    return fit_baseline(x, FEATURE_NAMES, agent_id="A1", channel_type="8k", speech_s=400,
                        level_profile="g711-telephone")


def test_a_summary_counts_what_left_the_usual_range_and_where():
    base = baseline()
    usual = np.full((100, F), 10.0)  # the median voice: inside every band
    usual[80:, RATE] = base.quantiles["q95"][RATE] + 1.0  # 20 windows faster than usual
    usual[90:95, LOUD] = base.quantiles["q05"][LOUD] - 1.0  # 5 quieter
    usual[95:, :] = np.nan  # 5 windows without evidence
    t = np.arange(1.0, 101.0) * 4  # 400 s: two 5-minute segments
    agit = np.where(np.arange(100) >= 80, 0.9, 0.1)
    s = summarise_call(t, usual, agit, np.zeros(100), base)
    assert s["windows"] == 95 and s["baseline"] == "agent" and s["speech_s"] == 95.0
    # In range jointly: a rate 2.6 σ fast alone is (d² ≈ 7 < χ²₇(0.9) = 12.0); fast and
    # 2.6 σ quiet at once is not (d² ≈ 14).
    assert s["in_range_share"] == pytest.approx(90 / 95, abs=1e-3)
    rate = s["features"]["speech_rate_syl_s"]
    assert rate["above"] == pytest.approx(15 / 95, abs=1e-3) and rate["below"] == 0.0
    assert s["features"]["loudness_mean_sone"]["below"] == pytest.approx(5 / 95, abs=1e-3)
    z_fast = (base.quantiles["q95"][RATE] + 1.0 - base.median[RATE]) / base.sigma[RATE]
    assert 2.0 < z_fast < 3.0  # so the fast windows fall in the [2, 3) bin
    assert sum(rate["z_hist"]) == 95 and rate["z_hist"][6] == 15 and rate["z_hist"][4] == 80
    assert s["agitated_share"] == pytest.approx(15 / 95, abs=1e-3)
    assert [seg["start_s"] for seg in s["segments"]] == [0.0, 300.0]
    assert s["segments"][0]["in_range_share"] == 1.0 and s["segments"][1]["in_range_share"] < 1
    assert set(s["features"]) == set(REPORT_FEATURES)


def correlated_baseline(rng):
    """A voice whose loudness and sharpness move together (r = 0.8), as real ones do."""
    cov = np.eye(F)
    cov[LOUD, SHARP] = cov[SHARP, LOUD] = 0.8
    x = rng.multivariate_normal(np.full(F, 10.0), cov, 4000)
    return fit_baseline(x, FEATURE_NAMES, agent_id="A1", channel_type="8k", speech_s=4000,
                        level_profile="g711-telephone"), cov


def test_a_voice_like_its_calibration_is_in_range_ninety_percent_of_the_time():
    # Version 1 asked all seven features to sit in their own 5-95 % bands at once, so a
    # voice identical to its calibration read about 0.9^7 = 48 % "within your usual range".
    rng = np.random.default_rng(1)
    base, cov = correlated_baseline(rng)
    same = rng.multivariate_normal(np.full(F, 10.0), cov, 4000)
    s = summarise_call(np.arange(1.0, 4001.0), same, np.zeros(4000), np.zeros(4000), base)
    assert s["version"] == SUMMARY_VERSION >= 2
    assert s["in_range_share"] == pytest.approx(0.90, abs=0.02)
    agitated = same + 2.5 * np.where(np.isin(np.arange(F), [LOUD, SHARP, RATE]), 1.0, 0.0)
    s = summarise_call(np.arange(1.0, 4001.0), agitated, np.zeros(4000), np.zeros(4000), base)
    assert s["in_range_share"] < 0.3


def test_the_usual_range_judges_features_together():
    rng = np.random.default_rng(2)
    base, _ = correlated_baseline(rng)
    idx = [FEATURE_NAMES.index(n) for n in REPORT_FEATURES]
    cov = base.covariance[np.ix_(idx, idx)]
    loud, sharp = REPORT_FEATURES.index("loudness_mean_sone"), REPORT_FEATURES.index(
        "sharpness_acum")
    z = np.zeros((3, len(idx)))
    z[0, [loud, sharp]] = 1.5     # louder and sharper together, each inside its band: usual
    z[1, loud], z[1, sharp] = 1.5, -1.5  # louder but duller, each inside its band: unusual
    z[2, REPORT_FEATURES.index("f0_median_st")] = 3.6  # one feature far out: unusual
    assert in_usual_range(z, cov).tolist() == [True, False, False]


def test_a_call_without_speech_has_an_empty_summary():
    s = summarise_call(np.arange(3.0), np.full((3, F), np.nan), np.full(3, np.nan),
                       np.full(3, np.nan), baseline())
    assert s["windows"] == 0 and s["in_range_share"] is None and s["segments"] == []


def test_the_store_keeps_one_summary_per_call_prefers_the_recording_and_prunes():
    with Store(":memory:") as store:
        store.save_voice_summary("c1", "live", "A1", 1000.0, 60.0, {"windows": 50})
        store.save_voice_summary("c1", "qa", "A1", 1000.0, 61.0, {"windows": 55})
        store.save_voice_summary("c2", "live", "A1", 2000.0, 30.0, {"windows": 20})
        store.save_voice_summary("c3", "live", "A2", 1500.0, 30.0, {"windows": 20})
        rows = store.list_voice_summaries(agent_id="A1")
        assert [(r["call_id"], r["source"], r["summary"]["windows"]) for r in rows] == [
            ("c1", "qa", 55), ("c2", "live", 20)]
        assert [r["call_id"] for r in store.list_voice_summaries(since_s=1500.0)] == ["c3",
                                                                                      "c2"]
        assert store.prune_voice_summaries(1600.0) == 3
        assert [r["call_id"] for r in store.list_voice_summaries()] == ["c2"]
