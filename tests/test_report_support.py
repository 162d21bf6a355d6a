"""A seeded store for the report tests: known calls, alerts, flags, a baseline, a team.

No tests here; ``test_report_data.py``, ``test_report_cli.py``, ``test_report_api.py``
and ``test_console_report.py`` import it. Times are local to Asia/Shanghai; the period
under test is Monday 2026-11-16 to Sunday 2026-11-22.

Agent A1001's calls in the period (windows are ~1 s of speech each):

| call | local start      | length | windows | in range | speaking rate above | shift position |
|------|------------------|--------|---------|----------|---------------------|----------------|
| c1   | Mon 16 09:00     | 5 min  | 200     | 0.90     | 0.05                | 0 h            |
| c2   | Mon 16 12:00     | 15 min | 600     | 0.60     | 0.30                | 3 h            |
| c3   | Mon 16 14:00     | 5 min  | 200     | 0.70     | 0                   | 5 h            |
| c4   | Wed 18 23:00     | 10 min | 400     | 0.50     | 0                   | 0 h (night)    |
| c5   | Thu 19 02:00     | 5 min  | 100     | 0.80     | 0                   | 3 h (night)    |

c2 has a live summary too (the recording's wins) and a fast-speech flag 2 s in (its
recording is a 5 s tone); c5 is live only, with an agitation alert 65 s in lasting 7 s.
c0 (Tue 10 Nov, 0.95 in range) is the week before; c9
(Mon 23) is after the period. Five more agents have one call each (team shares 0.95,
0.85, 0.82, 0.30, 0.55).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import soundfile as sf

from emotion.baseline import Baseline, save_baseline
from emotion.summary import REPORT_FEATURES, SUMMARY_VERSION, Z_EDGES
from emotion.windows import FEATURE_NAMES
from voiceline.store import Store

TZ = ZoneInfo("Asia/Shanghai")
FIRST, LAST = "2026-11-16", "2026-11-22"
NOW_S = datetime(2026, 11, 23, 8, 0, tzinfo=TZ).timestamp()
#: Baseline of A1001: (median, q05, q25, q75, q95) per reported feature.
BASE = {"loudness_mean_sone": (10.0, 6.0, 8.0, 12.0, 14.0),
        "sharpness_acum": (1.2, 1.0, 1.1, 1.3, 1.4),
        "roughness_asper": (0.05, 0.02, 0.04, 0.06, 0.08),
        "fluctuation_vacil": (0.5, 0.3, 0.4, 0.6, 0.7),
        "f0_median_st": (40.0, 37.0, 39.0, 41.0, 43.0),
        "f0_range_st": (6.0, 3.0, 5.0, 7.0, 9.0),
        "speech_rate_syl_s": (4.0, 3.0, 3.5, 4.5, 5.0)}
SPEECH_RATE_HIST_C2 = [0, 0, 0, 100, 200, 120, 100, 80]


def at(day: int, hour: int, month: int = 11) -> float:
    return datetime(2026, month, day, hour, 0, tzinfo=TZ).timestamp()


def summary(windows: int, in_range: float, *, rate_above: float = 0.0, rate_median=None,
            rate_hist=None, baseline: str = "agent") -> dict:
    """A voice summary as emotion.summary writes it, with chosen shares."""
    half = [0, 0, 0, windows // 2, windows - windows // 2, 0, 0, 0]
    features = {}
    for name in REPORT_FEATURES:
        med, q05, q25, q75, q95 = BASE[name]
        above = rate_above if name == "speech_rate_syl_s" else 0.0
        m = rate_median if (name == "speech_rate_syl_s" and rate_median) else med
        features[name] = {"q05": q05, "q25": q25, "median": m, "q75": q75, "q95": q95,
                          "mean": m, "above": above, "below": 0.0, "z_median": 0.0,
                          "z_hist": (rate_hist if rate_hist and name == "speech_rate_syl_s"
                                     else half)}
    assert len(half) == len(Z_EDGES) + 1
    return {"version": SUMMARY_VERSION, "windows": windows, "speech_s": float(windows),
            "baseline": baseline, "baseline_agent": "A1001", "in_range_share": in_range,
            "features": features, "agitated_share": 0.0, "low_energy_share": 0.0,
            "segments": []}


def write_baseline(directory: Path) -> None:
    idx = [FEATURE_NAMES.index(n) for n in REPORT_FEATURES]
    n = len(FEATURE_NAMES)
    median, sigma = np.ones(n), np.ones(n)
    quantiles = {q: np.ones(n) for q in ("q05", "q25", "q75", "q95")}
    for k, name in zip(idx, REPORT_FEATURES, strict=True):
        med, q05, q25, q75, q95 = BASE[name]
        median[k] = med
        sigma[k] = (q75 - q25) / 1.349
        for q, v in zip(("q05", "q25", "q75", "q95"), (q05, q25, q75, q95), strict=True):
            quantiles[q][k] = v
    save_baseline(Baseline("A1001", "8k", FEATURE_NAMES, median, sigma, quantiles, np.eye(n),
                           600, 600.0, "g711-telephone"), directory)


def seed(data_dir: Path) -> Path:
    """Fill ``data_dir`` (whose store already has users) with the report's seed; returns
    the recording of c2."""
    recording = data_dir / "c2.wav"
    t = np.arange(8000 * 5) / 8000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sf.write(recording, np.stack([tone, tone * 0.1]).T, 8000, subtype="PCM_16")
    write_baseline(data_dir / "baselines")
    with Store(data_dir / "voiceline.db") as store:
        store.upsert_agent("A1001", "Wang Fang", team="north")
        save = store.save_voice_summary
        save("c0", "qa", "A1001", at(10, 10), 300, summary(300, 0.95))
        save("c1", "qa", "A1001", at(16, 9), 300, summary(200, 0.90, rate_above=0.05))
        save("c2", "qa", "A1001", at(16, 12), 900,
             summary(600, 0.60, rate_above=0.30, rate_median=4.6,
                     rate_hist=SPEECH_RATE_HIST_C2))
        save("c2", "live", "A1001", at(16, 12), 900, summary(10, 0.0))
        save("c3", "qa", "A1001", at(16, 14), 300, summary(200, 0.70))
        save("c4", "qa", "A1001", at(18, 23), 600, summary(400, 0.50))
        save("c5", "live", "A1001", at(19, 2), 300, summary(100, 0.80))
        save("c9", "qa", "A1001", at(23, 10), 300, summary(300, 0.10))
        for k, share in enumerate((0.95, 0.85, 0.82, 0.30, 0.55)):
            agent = f"A{1002 + k}"
            store.upsert_agent(agent, f"Colleague {k}")
            save(f"t{k}", "qa", agent, at(17, 10), 300, summary(100, share))
        # The live call c5 and its alert; another agent's alert and an older one of A1001.
        store.upsert_seat("S01")
        store.start_call("c5", "S01", "A1001", "audio_fork", started_s=at(19, 2))
        alert = store.open_alert("c5", "agitation", "warning", 0.8,
                                 "louder (+2.6 σ) and faster (+1.9 σ) than A1001's usual",
                                 [{"feature": "loudness_mean_sone", "z": 2.6},
                                  {"feature": "speech_rate_syl_s", "z": 1.9}],
                                 now_s=at(19, 2) + 65)
        store.close_alert(alert["id"], "recovered", now_s=at(19, 2) + 72)
        store.end_call("c5", ended_s=at(19, 2) + 300)
        store.start_call("old", "S01", "A1001", "audio_fork", started_s=at(10, 9))
        store.open_alert("old", "low_energy", "warning", 0.7, "flatter", now_s=at(10, 9) + 5)
        store.end_call("old", ended_s=at(10, 9) + 60)
        store.start_call("other", "S01", "A1002", "audio_fork", started_s=at(17, 10))
        store.open_alert("other", "agitation", "critical", 0.9, "louder", now_s=at(17, 10) + 5)
        store.end_call("other", ended_s=at(17, 10) + 60)
        # Pre-inspection: c2 flagged for fast speech at 2.0-3.5 s (of a 5 s recording);
        # A1002's call flagged too.
        store.save_qa_result(
            {"call_id": "c2", "path": str(recording), "agent_id": "A1001", "duration_s": 900.0,
             "score": 60.0, "metrics": {}, "metadata": {},
             "flags": [{"check": "fast_speech", "start_s": 2.0, "end_s": 3.5,
                        "severity": "warning", "channel": "agent",
                        "detail": "agent speaks 5.6 syllables/s for 1.5 s",
                        "evidence": {"detail_zh": "坐席语速 5.6 音节/秒，持续 1.5 秒"}}]},
            recorded_s=at(16, 12))
        store.save_qa_result(
            {"call_id": "t0", "path": str(recording), "agent_id": "A1002", "duration_s": 300.0,
             "score": 50.0, "metrics": {}, "metadata": {},
             "flags": [{"check": "dead_air", "start_s": 10.0, "end_s": 20.0,
                        "severity": "warning", "channel": "both", "detail": "silence",
                        "evidence": {}}]}, recorded_s=at(17, 10))
    return recording
