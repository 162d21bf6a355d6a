"""Prosody benchmark: F0 accuracy and speed against librosa's pYIN, and syllable counts.

Usage::

    python benchmarks/prosody.py [--quick]

Prints a JSON report and, as its last line, one JSON object with the key figures.
``--quick`` (under 30 s) uses a few voices and a subset of the corpora; its numbers are
indicative only. Everything runs single-threaded (BLAS and numba pinned to one thread)
and speeds are CPU seconds of this process, with pYIN timed in the same run.

What is measured
----------------
- Synthetic voices with known F0 (``_voices.known_voice``), clean at 16 kHz and over a
  telephone line (300–3400 Hz, 8 kHz, noise at 25 dB SNR, G.711 μ-law): gross pitch
  error (frames both trackers and the truth call voiced, > 20 % off), fine error in
  cents on the other frames, voicing decision error — ours and pYIN on the same audio.
- Real speech (RAVDESS, EmoDB, read in place via manifest.csv): **pYIN on the clean
  16 kHz recording is the reference**; ours hears the telephone version. pYIN on the
  telephone version and ours on the clean one are scored against the same reference
  for context. Per utterance: median F0 and F0 range (10th–90th percentile), semitones.
- Syllable nuclei: synthetic voices with a known syllable count, and RAVDESS's two
  sentences ("Kids are talking by the door", "Dogs are sitting by the door"), which
  have 7 syllables each; clean and telephone.
- Speed: × real time per core for ours batched over many streams in 0.25 s ticks (as
  the engine runs it), and for pYIN on the real-speech files.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _voices  # noqa: E402
from _refdata import DATA  # noqa: E402
from emotion.prosody import (  # noqa: E402
    StreamingPitch,
    StreamingSpeechRate,
    pitch_track,
    speaking_rate,
)

HOP_S = 0.01
RAVDESS_SYLLABLES = 7


def pyin(x: np.ndarray, fs_hz: int):
    """librosa.pyin, 60–400 Hz, 64 ms frames every 10 ms: (f0, voiced, cpu_s)."""
    import librosa

    t0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f0, voiced, _ = librosa.pyin(x, fmin=60, fmax=400, sr=fs_hz,
                                     frame_length=fs_hz * 64 // 1000, hop_length=fs_hz // 100)
    return f0, voiced, time.process_time() - t0


def at_times(f0, voiced, time_s):
    """A 10 ms contour (frame k at k·10 ms) read at ``time_s``: voiced where both
    neighbouring frames are; F0 interpolated in log frequency."""
    pos = np.clip(np.asarray(time_s) / HOP_S, 0, f0.size - 1)
    k0 = np.floor(pos).astype(int)
    k1 = np.minimum(k0 + 1, f0.size - 1)
    w = pos - k0
    v = voiced[k0] & voiced[k1]
    with np.errstate(invalid="ignore"):
        f = np.exp((1 - w) * np.log(f0[k0]) + w * np.log(f0[k1]))
    return np.where(v, f, np.nan), v


def frame_scores(f0, voiced, ref_f0, ref_voiced) -> dict:
    """Counts for GPE, fine error and voicing error of one utterance."""
    both = voiced & ref_voiced
    ratio = f0[both] / ref_f0[both]
    gross = np.abs(ratio - 1) > 0.2
    return {"both": int(both.sum()), "gross": int(gross.sum()),
            "cents": (1200 * np.abs(np.log2(ratio[~gross]))).tolist(),
            "frames": int(voiced.size), "vde": int(np.sum(voiced != ref_voiced)),
            "false_voiced": int(np.sum(voiced & ~ref_voiced)),
            "missed": int(np.sum(~voiced & ref_voiced))}


def pool(scores: list[dict]) -> dict:
    total = {k: sum(s[k] for s in scores) for k in scores[0] if k != "cents"}
    cents = np.concatenate([s["cents"] for s in scores])
    return {
        "gross_pitch_error": round(total["gross"] / max(total["both"], 1), 4),
        "fine_error_cents_median": round(float(np.median(cents)), 1),
        "fine_error_cents_p90": round(float(np.percentile(cents, 90)), 1),
        "voicing_error": round(total["vde"] / total["frames"], 4),
        "false_voiced": round(total["false_voiced"] / total["frames"], 4),
        "missed_voiced": round(total["missed"] / total["frames"], 4),
        "frames_compared": total["both"],
    }


def semitones(f0_hz):
    return 12 * np.log2(np.asarray(f0_hz) / 100.0)


def utterance_features(f0, voiced):
    """(median F0, 10–90 % F0 range), semitones re 100 Hz; NaN under 10 voiced frames."""
    if voiced.sum() < 10:
        return np.nan, np.nan
    p10, p50, p90 = np.percentile(semitones(f0[voiced]), [10, 50, 90])
    return p50, p90 - p10


def utterance_pair(f0, voiced, ref_f0, ref_voiced):
    """Features of one utterance, ours then the reference's: over each one's own voiced
    frames (what the product sees), and over the frames both call voiced (F0 alone)."""
    both = voiced & ref_voiced
    return (*utterance_features(f0, voiced), *utterance_features(ref_f0, ref_voiced),
            *utterance_features(f0, both), *utterance_features(ref_f0, both))


def feature_agreement(pairs) -> dict:
    """Median F0 and F0 range of utterances against the reference's: |Δ| in semitones."""
    from scipy.stats import spearmanr

    a = np.array(pairs, dtype=float)
    out = {"utterances": int(np.sum(np.isfinite(a[:, :4]).all(axis=1)))}
    for name, cols in (("own_voicing", (0, 1, 2, 3)), ("common_frames", (4, 5, 6, 7))):
        rows = a[np.isfinite(a[:, cols]).all(axis=1)][:, cols]
        d_med, d_rng = np.abs(rows[:, 0] - rows[:, 2]), np.abs(rows[:, 1] - rows[:, 3])
        out[name] = {
            "median_f0_abs_diff_st_median": round(float(np.median(d_med)), 2),
            "median_f0_abs_diff_st_p90": round(float(np.percentile(d_med, 90)), 2),
            "median_f0_within_1st": round(float(np.mean(d_med <= 1)), 3),
            "range_abs_diff_st_median": round(float(np.median(d_rng)), 2),
            "range_abs_diff_st_p90": round(float(np.percentile(d_rng, 90)), 2),
            "range_within_2st": round(float(np.mean(d_rng <= 2)), 3),
            "range_spearman": round(float(spearmanr(rows[:, 1], rows[:, 3])[0]), 3),
        }
    own = a[np.isfinite(a[:, :4]).all(axis=1)]
    # A 10-90 % range over 15 st in a 2-3 s utterance means octave errors; this shows whose.
    out["range_st_p50_p90"] = [round(float(v), 1) for v in np.percentile(own[:, 1], [50, 90])]
    out["reference_range_st_p50_p90"] = [round(float(v), 1)
                                         for v in np.percentile(own[:, 3], [50, 90])]
    out["range_over_15st"] = round(float(np.mean(own[:, 1] > 15)), 3)
    out["reference_range_over_15st"] = round(float(np.mean(own[:, 3] > 15)), 3)
    return out


def synthetic(quick: bool) -> dict:
    """Known-F0 voices: ours and pYIN, clean 16 kHz and telephone 8 kHz."""
    medians = (95, 130, 180, 240) if quick else (85, 100, 115, 130, 150, 170, 190, 210,
                                                  230, 250, 275, 300)
    seconds = 6.0 if quick else 12.0
    scores = {f"{who}_{cond}": [] for who in ("ours", "pyin") for cond in ("clean", "phone")}
    syllables = {"clean": [], "phone": []}
    for seed, f0_median in enumerate(medians):
        voice = _voices.known_voice(seconds, f0_median_hz=f0_median, seed=seed,
                                    syllable_rate_hz=3.5 + 0.25 * (seed % 10))
        for cond in ("clean", "phone"):
            fs = 16000 if cond == "clean" else 8000
            x = voice.samples if cond == "clean" else _voices.telephone(
                voice.samples, 16000, seed=seed)
            ours = pitch_track(x, fs)
            truth = voice.truth_at(ours.frame_time_s)
            scores[f"ours_{cond}"].append(frame_scores(ours.f0_hz, ours.voiced, *truth))
            f0, voiced, _ = pyin(x, fs)
            truth = voice.truth_at(np.arange(f0.size) * HOP_S)
            scores[f"pyin_{cond}"].append(frame_scores(f0, voiced, *truth))
            count = int(speaking_rate(x, fs).nuclei[0])
            syllables[cond].append(count / voice.nucleus_time_s.size - 1)
    out = {k: pool(v) for k, v in scores.items()}
    out["voices"] = len(medians)
    out["seconds_each"] = seconds
    for cond, errs in syllables.items():
        errs = np.array(errs)
        out[f"syllable_count_rel_error_{cond}"] = {
            "mean_abs": round(float(np.mean(np.abs(errs))), 3),
            "max_abs": round(float(np.max(np.abs(errs))), 3),
            "within_15pct": f"{int(np.sum(np.abs(errs) <= 0.15))}/{errs.size}",
        }
    return out


def corpus_rows(step: int) -> list[tuple[str, Path]]:
    rows = []
    for corpus in ("ravdess", "emodb"):
        manifest = DATA / corpus / "manifest.csv"
        if manifest.exists():
            with open(manifest, newline="") as f:
                listed = list(csv.DictReader(f))[::step]
            rows += [(corpus, DATA / corpus / r["path"]) for r in listed]
    return rows


def real_speech(quick: bool) -> dict:
    """pYIN on clean 16 kHz as reference; ours (and pYIN) on the telephone version."""
    import soundfile as sf

    rows = corpus_rows(40 if quick else 1)
    if not rows:
        return {"skipped": f"no RAVDESS/EmoDB manifest under {DATA}"}
    scores = {"ours_phone": [], "pyin_phone": [], "ours_clean": []}
    features = {k: [] for k in scores}
    pyin_cpu = {16000: 0.0, 8000: 0.0}
    pyin_audio = {16000: 0.0, 8000: 0.0}
    for i, (_, path) in enumerate(rows):
        x, fs = sf.read(path)
        phone = _voices.telephone(x, fs, seed=i)
        ref_f0, ref_voiced, cpu = pyin(x, fs)
        pyin_cpu[16000] += cpu
        pyin_audio[16000] += x.size / fs
        runs = {"ours_phone": pitch_track(phone, 8000), "ours_clean": pitch_track(x, fs)}
        for name, frames in runs.items():
            ref = at_times(ref_f0, ref_voiced, frames.frame_time_s)
            scores[name].append(frame_scores(frames.f0_hz, frames.voiced, *ref))
            features[name].append(utterance_pair(frames.f0_hz, frames.voiced, *ref))
        if not quick or i % 2 == 0:
            f0, voiced, cpu = pyin(phone, 8000)
            pyin_cpu[8000] += cpu
            pyin_audio[8000] += phone.size / 8000
            n = min(f0.size, ref_f0.size)
            same_frames = (f0[:n], voiced[:n], ref_f0[:n], ref_voiced[:n])
            scores["pyin_phone"].append(frame_scores(*same_frames))
            features["pyin_phone"].append(utterance_pair(*same_frames))
    out = {"files": len(rows), "reference": "librosa.pyin on the clean 16 kHz recording"}
    for name in scores:
        out[name] = {**pool(scores[name]), **feature_agreement(features[name])}
    out["pyin_x_realtime_16k"] = round(pyin_audio[16000] / pyin_cpu[16000], 1)
    out["pyin_x_realtime_8k"] = round(pyin_audio[8000] / max(pyin_cpu[8000], 1e-9), 1)
    return out


def ravdess_syllables(quick: bool) -> dict:
    import soundfile as sf

    rows = [r for c, r in corpus_rows(6 if quick else 1) if c == "ravdess"]
    if not rows:
        return {"skipped": f"no RAVDESS under {DATA}"}
    counts = {"clean": [], "phone": []}
    for i, path in enumerate(rows):
        x, fs = sf.read(path)
        counts["clean"].append(int(speaking_rate(x, fs).nuclei[0]))
        counts["phone"].append(int(speaking_rate(_voices.telephone(x, fs, seed=i), 8000)
                                   .nuclei[0]))
    out = {"files": len(rows), "true_syllables": RAVDESS_SYLLABLES}
    for cond, c in counts.items():
        c = np.array(c)
        err = c - RAVDESS_SYLLABLES
        out[cond] = {
            "mean": round(float(c.mean()), 2),
            "mean_abs_error": round(float(np.mean(np.abs(err))), 2),
            "within_1": round(float(np.mean(np.abs(err) <= 1)), 3),
            "p5_p95": [int(v) for v in np.percentile(c, [5, 95])],
            "histogram": {int(k): int(v) for k, v in zip(*np.unique(c, return_counts=True),
                                                         strict=True)},
            "mean_abs_error_if_6": round(float(np.mean(np.abs(c - 6))), 2),
        }
    return out


def speed(quick: bool) -> dict:
    """× real time per core, ours batched in 0.25 s ticks; pitch alone and with rate."""
    out = {}
    n_streams, seconds = (64, 4.0) if quick else (256, 10.0)
    for fs in (8000, 16000):
        voices = [_voices.known_voice(seconds + 1, f0_median_hz=100 + 13 * s, seed=s).samples
                  for s in range(8)]
        x16 = np.stack([np.roll(voices[i % 8], 997 * i) for i in range(n_streams)])
        x = x16 if fs == 16000 else _voices.telephone(x16.reshape(-1), 16000).reshape(
            n_streams, -1)
        for with_rate in (False, True):
            pitch = StreamingPitch(n_streams, fs)
            rate = StreamingSpeechRate(n_streams) if with_rate else None
            tick = fs // 4
            starts = range(fs, x.shape[1] - tick + 1, tick)
            t0 = 0.0
            for start in (0, *starts):  # the first second warms up (loads the kernels)
                if start == fs:
                    t0 = time.process_time()
                frames = pitch.process(x[:, start : start + (fs if start == 0 else tick)])
                if rate is not None:
                    rate.update(frames)
            cpu = time.process_time() - t0
            audio_s = n_streams * len(starts) * 0.25
            key = f"{'pitch_and_rate' if with_rate else 'pitch'}_{fs // 1000}k"
            out[f"{key}_x_realtime_per_core"] = int(audio_s / cpu)
    out["streams"] = n_streams
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="subsets; under 30 s")
    args = parser.parse_args(argv)
    report = {"mode": "quick" if args.quick else "full",
              "telephone": "300-3400 Hz Butterworth band-pass, 8 kHz, -26 dBov, "
                           "noise at 25 dB SNR, G.711 mu-law"}
    report["speed"] = speed(args.quick)
    report["synthetic"] = synthetic(args.quick)
    report["real_speech"] = real_speech(args.quick)
    report["ravdess_syllables"] = ravdess_syllables(args.quick)
    print(json.dumps(report, indent=1))

    syn, real, syl = report["synthetic"], report["real_speech"], report["ravdess_syllables"]
    summary = {
        "mode": report["mode"],
        "ours_x_realtime_8k": report["speed"]["pitch_8k_x_realtime_per_core"],
        "ours_x_realtime_16k": report["speed"]["pitch_16k_x_realtime_per_core"],
        "pyin_x_realtime_16k": real.get("pyin_x_realtime_16k"),
        "synthetic_gpe_phone": {w: syn[f"{w}_phone"]["gross_pitch_error"]
                                for w in ("ours", "pyin")},
        "synthetic_vde_phone": {w: syn[f"{w}_phone"]["voicing_error"] for w in ("ours", "pyin")},
        "synthetic_syllables_mean_abs_rel_error": {
            c: syn[f"syllable_count_rel_error_{c}"]["mean_abs"] for c in ("clean", "phone")},
    }
    if "skipped" not in real:
        summary["real_gpe_vs_pyin_clean"] = {k: real[k]["gross_pitch_error"]
                                             for k in ("ours_phone", "pyin_phone")}
        summary["real_median_f0_within_1st"] = {
            k: real[k]["own_voicing"]["median_f0_within_1st"] for k in ("ours_phone", "pyin_phone")}
    if "skipped" not in syl:
        summary["ravdess_syllable_mae"] = {c: syl[c]["mean_abs_error"]
                                           for c in ("clean", "phone")}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
