"""The psychoacoustics benchmark's --quick mode runs end to end and reports its figures.

Speed is not asserted here (timing belongs in benchmarks/); the validation counts it
reports are correctness, so they are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_benchmark(script: str, *args: str, timeout: float = 600) -> dict:
    """Run ``benchmarks/<script>`` with ``args``; its last line's JSON report."""
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def quick_report() -> dict:
    return run_benchmark("psychoacoustics.py", "--quick")


def test_last_line_carries_the_key_figures(quick_report):
    for key in ("zwtv_speedup_vs_mosqito", "streams_per_core_8k", "streams_per_core_16k",
                "streaming_vs_reference"):
        assert key in quick_report
    assert quick_report["mode"] == "quick"
    assert quick_report["streams_per_core_8k"] > 0


def test_quick_validation_passes_where_the_data_is(quick_report):
    if "voiceline_iso_stationary" not in quick_report:
        pytest.skip("../shared/data absent: the benchmark reports validation as skipped")
    for key in ("iso_stationary", "iso_time_varying", "din45692", "fluctuation"):
        passed, total = map(int, quick_report[f"voiceline_{key}"].split("/"))
        assert passed == total, key
    passed, total = map(int, quick_report["voiceline_roughness_zf"].split("/"))
    assert passed >= 0.85 * total


@pytest.mark.parametrize("script", ["vad.py", "prosody.py"])
def test_issue3_benchmarks_run_in_quick_mode(script):
    report = run_benchmark(script, "--quick")
    assert report["mode"] == "quick"


def test_detection_quick_reports_both_methods_on_the_same_files():
    report = run_benchmark("detection.py", "--quick", "--json-only")
    if "skipped" in report:
        pytest.skip(report["skipped"])
    phone = report["phone"]
    for method in ("voiceline", "egemaps-distance", "egemaps-svm"):
        for evaluation in ("within_emodb", "within_ravdess", "pooled",
                           "cross_emodb_to_ravdess", "cross_ravdess_to_emodb"):
            m = phone[method][evaluation]
            assert 0.0 <= m["anger_auc"] <= 1.0 and m["anger_files"] > 0
    # Even three speakers per corpus separate anger from neutral well above chance.
    assert phone["voiceline"]["pooled"]["anger_auc"] > 0.8
    assert phone["speed"]["voiceline_x_realtime_per_core"] > 0


def test_connection_flood_quick_is_contained_by_the_limits():
    report = run_benchmark("connections.py", "--quick", timeout=300)
    idle, budget = report["idle_per_port"], report["max_connections"]
    for name, port in report["ports"].items():
        # the budget refuses the excess as it arrives (the lean port also carries the
        # control seat); the deadline closes the rest; nothing is left open
        assert idle - budget <= port["refused_at_once"] <= idle - budget + 2, name
        assert port["still_open"] == 0, name
        assert port["longest_open_s"] < report["handshake_timeout_s"] + 2.0, name
        assert port["cut_handshake"] + port["cut_limit"] >= idle, name
    assert report["control_closed_by_server"] is None
    assert report["control_frames_received"] == report["control_frames_sent"] > 0
    assert report["healthz_last_ok"]


def test_retention_quick_deletes_every_old_row_in_bounded_batches():
    report = run_benchmark("retention.py", "--quick", timeout=300)
    assert report["rows_left"] == 0  # nothing older than the period survives
    for run in report["runs"]:
        calls = run["calls"]
        assert calls["rows"] == report["calls"]
        assert calls["batches"] == report["calls"] // run["batch"] + 1
        assert run["qa_calls"]["rows"] == report["calls"] // 10
        assert run["audit"]["rows"] == report["calls"]
    assert report["server_batch"] in [run["batch"] for run in report["runs"]]


def test_level_robustness_quick_scores_neutral_speech_at_two_gains():
    report = run_benchmark("level_robustness.py", "--quick", timeout=300)
    if "skipped" in report:
        pytest.skip(report["skipped"])
    usual, hot = report["corpora"]["ravdess"]
    assert (usual["gain_db"], hot["gain_db"]) == (0.0, 12.0)
    for row in (usual, hot):
        for way in ("as_is", "line"):
            r = row[way]
            assert r["files"] == 24 and r["windows"] > 0
            for key in ("agitation_alert_windows", "agitated_files",
                        "low_energy_alert_windows", "low_energy_files",
                        "angry_files_agitated"):
                assert 0.0 <= r[key] <= 1.0
    # ordinary speech at its usual level seldom reaches the live alert's level
    assert usual["as_is"]["agitation_alert_windows"] <= 0.1
    # the line's 12 dB is read from the speakers' ordinary speech, and judged through it
    # the louder neutral speech reads agitated less often than against the baseline as is
    assert 9.0 <= hot["line_read_db_median"] <= 14.0 and abs(usual["line_read_db_median"]) < 2
    assert (hot["line"]["agitation_alert_windows"]
            < hot["as_is"]["agitation_alert_windows"] / 2)
    assert usual["line"] == usual["as_is"]  # within the dead zone nothing changes
    # while angry speech still does
    assert hot["line"]["angry_files_agitated"] >= 0.5


def test_usual_range_quick_reads_a_calm_voice_in_range_and_agitation_out():
    report = run_benchmark("usual_range.py", "--quick", timeout=300)
    sim = report["simulated"]
    assert report["agents"] == 3 and all(row["windows"] > 100 for row in sim.values())
    # The joint measure holds about 90 % of the calibration speech and most other calm
    # speech; version 1's (every band at once) about half.
    assert sim["calibration"]["joint"]["mean"] >= 0.8
    assert sim["calm_other"]["joint"]["mean"] >= 0.7
    assert sim["calibration"]["every_band"]["mean"] < 0.65
    assert sim["agitated"]["joint"]["max"] < 0.1 and sim["low_energy"]["joint"]["max"] < 0.2
