"""The capacity benchmark's --quick mode runs all its sections and reports sane figures.

Speed is not asserted (timing belongs in benchmarks/, and this machine may be busy);
what is asserted holds on any machine: every key is there, the loopback wire loses no
frame, every dashboard receives every alert decision, an agitated episode is caught
after it starts and before it ends, and so is a low-energy episode.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DASHBOARDS = 10
EPISODE_S = 30.0
LOW_ENERGY_EPISODE_S = 120.0


@pytest.fixture(scope="module")
def quick() -> dict:
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "capacity.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_last_line_has_every_section_key(quick):
    for key in ("engine_seats_per_core", "engine_memory_per_seat_kb", "e2e_seats_zero_drop",
                "e2e_seats_tested", "e2e_frames_lost_on_wire", "alert_delivery_p99_ms",
                "alert_deliveries", "onset_to_alert_median_s", "onset_detected",
                "false_alerts_per_agent_shift", "calm_hours", "silent_zeros_seats_per_core",
                "silent_noise_seats_per_core"):
        assert key in quick, key
    assert quick["mode"] == "quick"
    assert quick["engine_seats_per_core"] > 0
    assert quick["silent_zeros_seats_per_core"] > 0 and quick["silent_noise_seats_per_core"] > 0
    assert 0 < quick["engine_memory_per_seat_kb"] < 10_000


def test_end_to_end_loses_nothing_on_the_wire_and_reaches_every_dashboard(quick):
    assert quick["e2e_seats_tested"] > 0
    assert quick["e2e_seats_zero_drop"] in (0, quick["e2e_seats_tested"])
    assert quick["e2e_frames_lost_on_wire"] == 0
    assert quick["alert_deliveries"] % DASHBOARDS == 0
    if quick["alert_deliveries"]:
        assert quick["alert_delivery_p99_ms"] > 0
    else:
        assert quick["alert_delivery_p99_ms"] is None


def test_detection_catches_episodes_after_onset_and_counts_calm_hours(quick):
    detected, episodes = map(int, quick["onset_detected"].split("/"))
    assert episodes > 0 and detected > 0
    assert 0 < quick["onset_to_alert_median_s"] < EPISODE_S
    assert quick["calm_hours"] > 0
    assert quick["false_alerts_per_agent_shift"] >= 0


def test_detection_catches_a_tired_voice_within_its_episode(quick):
    # The quick plan has one low-energy call per simulated agent (3), episodes of 120 s.
    detected, episodes = map(int, quick["synthetic_low_energy_detected"].split("/"))
    assert episodes == 3 and detected >= 2
    assert 0 < quick["synthetic_low_energy_onset_to_alert_median_s"] < LOW_ENERGY_EPISODE_S
