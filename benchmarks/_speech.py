"""Speech material for the psychoacoustics benchmark, and the streaming-vs-reference study.

Real speech comes from ../shared/data (RAVDESS and EmoDB, read in place, never copied);
without it, the synthetic voices of ``capture.synth`` stand in and the report says so.
"""

from __future__ import annotations

import csv

import numpy as np

import _refdata
from capture.levels import active_speech_level_dbfs, load_level_profile
from capture.resample import resample
from capture.synth import pink_noise, speech_like
from capture.telephone import band_limit
from emotion import psychoacoustics as ours
from emotion.psychoacoustics.streaming import StreamingPsychoacoustics

SPEECH_LEVEL_DBFS = -26.0  # ITU-T P.56 active speech level of the line


def _normalise(x: np.ndarray, fs_hz: float) -> np.ndarray:
    level = active_speech_level_dbfs(x, fs_hz)
    return x * 10 ** ((SPEECH_LEVEL_DBFS - level) / 20)


def speech_streams(n_streams: int, seconds: float, fs_hz: int) -> np.ndarray:
    """``(n_streams, samples)`` of speech-like sound pressure (Pa) at -26 dBov.

    Sixteen synthetic voices, shifted in time per stream so no two streams are equal.
    """
    n = int(seconds * fs_hz)
    voices = np.stack([np.ravel(speech_like(seconds, fs_hz, seed=s, f0_hz=110 + 9 * s,
                                            agitated=bool(s % 4 == 3)))[:n]
                       for s in range(16)])
    profile = load_level_profile("g711-telephone" if fs_hz == 8000 else "headset")
    shifts = (np.arange(n_streams) * 997) % n
    out = np.empty((n_streams, n), dtype=np.float32)
    for i, shift in enumerate(shifts):
        out[i] = np.roll(voices[i % 16], shift)
    return profile.to_pascals(out).astype(np.float32)


def real_speech_excerpts(count: int, seconds: float) -> list[tuple[str, np.ndarray, int]]:
    """Per-speaker excerpts of about ``seconds`` of real speech at 16 kHz, or []."""
    import soundfile as sf

    out = []
    for corpus in ("ravdess", "emodb"):
        manifest = _refdata.DATA / corpus / "manifest.csv"
        if not manifest.exists():
            continue
        with open(manifest, newline="") as f:
            rows = list(csv.DictReader(f))
        speakers = sorted({r["speaker"] for r in rows})
        for spk in speakers[: count // 2]:
            parts, total = [], 0.0
            for r in (r for r in rows if r["speaker"] == spk):
                x, fs = sf.read(_refdata.DATA / corpus / r["path"], dtype="float64")
                x = x if x.ndim == 1 else x[:, 0]
                x = resample(x, fs, 16000)
                parts.append(x)
                total += x.size / 16000
                if total >= seconds:
                    break
            out.append((f"{corpus}:{spk}", np.concatenate(parts), 16000))
    return out


def _windows_compare(x_pa: np.ndarray, fs_hz: int, warmup_s: float = 2.0) -> dict:
    """Per-1 s window metrics of the streaming path and the reference path."""
    engine = StreamingPsychoacoustics(1, fs_hz)
    parts = [engine.process(x_pa[None, i : i + fs_hz // 4])
             for i in range(0, x_pa.size, fs_hz // 4)]
    s_n = np.concatenate([p.loudness_sone[0] for p in parts])
    s_spec = np.concatenate([p.specific_loudness[0] for p in parts])
    s_r = np.concatenate([p.roughness_asper[0] for p in parts])
    s_f = np.concatenate([p.fluctuation_vacil[0] for p in parts])
    hop = engine.hop_s

    x48 = resample(x_pa, fs_hz, 48000)
    r_n, r_spec, _, r_t = ours.loudness_zwtv(x48, 48000)
    r_r, _, _, r_rt = ours.roughness_dw(x48, 48000, overlap=0.5)
    r_f, _, _, r_ft = ours.fluctuation_strength(x48, 48000)

    rows = []
    duration = x_pa.size / fs_hz
    for w0 in np.arange(warmup_s, np.floor(duration) - 1.0 + 1e-9, 1.0):
        w1 = w0 + 1.0
        ref = (r_t >= w0) & (r_t < w1)
        s_idx = slice(int(round(w0 / 0.01)), int(round(w1 / 0.01)))
        f_idx = slice(int(round(w0 / hop)), int(round(w1 / hop)))
        if ref.sum() < 10 or ours.loudness_n5(r_n[ref]) < 2.0:
            continue  # a pause: nothing to compare
        spec_ref = r_spec[:, ref].mean(axis=1)
        spec_str = s_spec[f_idx].mean(axis=0)
        centre_r = (np.arange(s_r.size) + 1) * hop - 0.1
        centre_f = (np.arange(s_f.size) + 1) * hop - 1.0
        rows.append({
            "n5_ref": ours.loudness_n5(r_n[ref]), "n5": ours.loudness_n5(s_n[s_idx]),
            "n_ref": r_n[ref].mean(), "n": s_n[s_idx].mean(),
            "s_ref": float(ours.sharpness_din_from_loudness(spec_ref.sum() * 0.1, spec_ref)),
            "s": float(ours.sharpness_din_from_loudness(spec_str.sum() * 0.1, spec_str)),
            "r_ref": r_r[(r_rt >= w0) & (r_rt < w1)].mean(),
            "r": s_r[(centre_r >= w0) & (centre_r < w1)].mean(),
            "f_ref": r_f[(r_ft >= w0) & (r_ft < w1)].mean() if np.any((r_ft >= w0) & (r_ft < w1))
            else np.nan,
            "f": s_f[(centre_f >= w0) & (centre_f < w1)].mean(),
        })
    return rows


def streaming_vs_reference(quick: bool) -> dict:
    """Departure of the streaming path from the reference path on speech, per 1 s window."""
    excerpts = real_speech_excerpts(2 if quick else 8, 6.0 if quick else 14.0)
    source = "RAVDESS + EmoDB speech"
    if not excerpts:
        source = "synthetic speech (capture.synth; shared data absent)"
        excerpts = [(f"synth:{s}", np.ravel(speech_like(8.0, 16000, seed=s)), 16000)
                    for s in range(2 if quick else 6)]
    out = {"speech": source, "conditions": {}}
    for condition in ("phone_8k", "wideband_16k"):
        rows = []
        for _, x, fs in excerpts:
            if condition == "phone_8k":
                y = resample(band_limit(x, fs), fs, 8000)
                y = _normalise(y, 8000)
                pa = load_level_profile("g711-telephone").to_pascals(y)
                rows += _windows_compare(pa, 8000)
            else:
                y = _normalise(x, fs)
                pa = load_level_profile("headset").to_pascals(y)
                rows += _windows_compare(pa, 16000)
        out["conditions"][condition] = _deviation_stats(rows)
    phone = out["conditions"]["phone_8k"]
    out["summary"] = {k: phone[k] for k in (
        "windows", "n5_within_5pct", "mean_n_within_5pct", "sharpness_within_0.05",
        "roughness_within_tol", "roughness_corr", "fluctuation_within_tol")}
    return out


def _deviation_stats(rows: list[dict]) -> dict:
    if not rows:
        return {"windows": 0}
    a = {k: np.array([r[k] for r in rows], dtype=float) for k in rows[0]}
    rel_n5 = np.abs(a["n5"] / a["n5_ref"] - 1)
    rel_n = np.abs(a["n"] / a["n_ref"] - 1)
    d_s = np.abs(a["s"] - a["s_ref"])
    d_r = np.abs(a["r"] - a["r_ref"])
    ok_f = np.isfinite(a["f_ref"])
    d_f = np.abs(a["f"] - a["f_ref"])[ok_f]

    def tol(d, ref, rel, abs_):
        return float(np.mean(d <= np.maximum(rel * np.abs(ref), abs_)))

    return {
        "windows": len(rows),
        "n5_rel_dev_median": round(float(np.median(rel_n5)), 4),
        "n5_rel_dev_p95": round(float(np.percentile(rel_n5, 95)), 4),
        "n5_within_5pct": round(float(np.mean(rel_n5 <= 0.05)), 3),
        "n5_within_10pct": round(float(np.mean(rel_n5 <= 0.10)), 3),
        "mean_n_rel_dev_median": round(float(np.median(rel_n)), 4),
        "mean_n_within_5pct": round(float(np.mean(rel_n <= 0.05)), 3),
        "mean_n_rel_dev_p95": round(float(np.percentile(rel_n, 95)), 4),
        "sharpness_abs_dev_median": round(float(np.median(d_s)), 4),
        "sharpness_within_0.05": round(float(np.mean(d_s <= 0.05)), 3),
        "roughness_ref_median": round(float(np.median(a["r_ref"])), 4),
        "roughness_abs_dev_median": round(float(np.median(d_r)), 4),
        "roughness_within_tol": round(tol(d_r, a["r_ref"], 0.2, 0.1), 3),
        "roughness_corr": round(float(np.corrcoef(a["r"], a["r_ref"])[0, 1]), 3),
        "roughness_ratio_median": round(float(np.median(a["r"] / np.maximum(a["r_ref"], 1e-3))), 3),
        "fluctuation_ref_median": round(float(np.median(a["f_ref"][ok_f])), 4)
        if ok_f.any() else None,
        "fluctuation_abs_dev_median": round(float(np.median(d_f)), 4) if d_f.size else None,
        "fluctuation_within_tol": round(tol(d_f, a["f_ref"][ok_f], 0.2, 0.1), 3)
        if d_f.size else None,
        "fluctuation_corr": round(float(np.corrcoef(a["f"][ok_f], a["f_ref"][ok_f])[0, 1]), 3)
        if d_f.size > 1 else None,
    }


def telephone_band_effect(quick: bool) -> dict:
    """What the 300-3400 Hz, 8 kHz line does to the reference metrics of known signals."""
    fs = 48000
    signals = {"pink_noise_60dB": pink_noise(60.0, 2.0 if quick else 5.0, fs, seed=7)}
    excerpts = real_speech_excerpts(2, 4.0)
    if excerpts:
        x = resample(excerpts[0][1], 16000, fs)
        signals["speech_16k_source"] = x * (2e-5 * 10 ** (62.35 / 20) / np.std(x))
    out = {}
    for name, x in signals.items():
        phone = resample(resample(band_limit(x, fs), fs, 8000), 8000, fs)
        full_n, full_s = ours.loudness_zwst(x, fs)[0], ours.sharpness_din_st(x, fs)
        tel_n, tel_s = ours.loudness_zwst(phone, fs)[0], ours.sharpness_din_st(phone, fs)
        out[name] = {
            "loudness_full_sone": round(float(full_n), 3),
            "loudness_phone_sone": round(float(tel_n), 3),
            "sharpness_full_acum": round(float(full_s), 3),
            "sharpness_phone_acum": round(float(tel_s), 3),
        }
    return out
