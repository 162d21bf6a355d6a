"""Reference sets of ../shared/data/psychoacoustics and their pass criteria.

Each ``check_*`` function takes a metric implementation (ours or the peer's, adapted to
one calling convention) and returns ``(passed, total, failures)``, so the benchmark
scores both toolboxes on exactly the same signals with exactly the same criteria.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VOICELINE_SHARED_DATA", REPO.parent / "shared" / "data"))
PSY = DATA / "psychoacoustics"
ISO_FULL_SCALE_PA = 2.0 * np.sqrt(2.0)  # ISO 532-1 files: digital 1.0 = 2√2 Pa peak
DIN_FULL_SCALE_PA = 1.0  # DIN 45692 files: digital 1.0 = 1 Pa peak


def available() -> bool:
    return PSY.is_dir()


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _find(folder: Path, pattern: str) -> Path:
    hits = sorted(folder.glob(pattern))
    if not hits:
        raise FileNotFoundError(f"no file matching {pattern!r} in {folder}")
    return hits[0]


def iso_signal(number: int) -> tuple[np.ndarray, int, str]:
    """Test signal 2-25 in Pa, its rate and field type."""
    for sub in ("stationary", "time_varying_B4", "time_varying_B5"):
        hits = sorted((PSY / "iso532_1" / sub).glob(f"Test signal {number} *.wav"))
        hits = [h for h in hits if "44100" not in h.name]
        if hits:
            x, fs = sf.read(hits[0], dtype="float64")
            return x * ISO_FULL_SCALE_PA, fs, ("diffuse" if number == 15 else "free")
    raise FileNotFoundError(f"ISO 532-1 test signal {number} not found under {PSY}")


def within(value, ref, rel: float, abs_: float) -> np.ndarray:
    """ISO/DIN tolerance: within ±rel of ref or ±abs_, whichever is wider."""
    value, ref = np.asarray(value, float), np.asarray(ref, float)
    return np.abs(value - ref) <= np.maximum(rel * np.abs(ref), abs_)


# --- ISO 532-1 stationary (B.2, B.3) ---------------------------------------------------

def check_iso_stationary(zwst, zwst_third_octave=None):
    """Signals 1-5: total N and every N' bin within ±5 % or ±0.1 sone(/Bark)."""
    folder = PSY / "iso532_1" / "stationary"
    passed, failures, total = 0, [], 0
    for number, n_ref in ((1, 83.296), (2, 14.655), (3, 4.019), (4, 1.549), (5, 10.498)):
        spec_ref = np.loadtxt(folder / f"test_signal_{number}_specific_loudness_ref.csv",
                              delimiter=",", skiprows=1, usecols=-1)
        if number == 1:
            if zwst_third_octave is None:
                continue
            levels = np.loadtxt(folder / "test_signal_1_third_octave_levels_input.csv",
                                delimiter=",", skiprows=1, usecols=-1)
            n, n_spec = zwst_third_octave(levels)
        else:
            x, fs, field = iso_signal(number)
            n, n_spec = zwst(x, fs, field)
        total += 1
        ok = bool(within(n, n_ref, 0.05, 0.1)) and bool(np.all(within(n_spec, spec_ref, 0.05, 0.1)))
        passed += ok
        if not ok:
            failures.append(f"signal {number}: N={float(n):.3f} (ref {n_ref})")
    return passed, total, failures


# --- ISO 532-1 time-varying (B.4, B.5) --------------------------------------------------

def _tv_reference(number: int) -> np.ndarray:
    sub = "time_varying_B4" if number <= 13 else "time_varying_B5"
    path = PSY / "iso532_1" / sub / f"test_signal_{number}_loudness_vs_time_ref.csv"
    return np.loadtxt(path, delimiter=",", skiprows=1)


def tv_passes(n_t: np.ndarray, ref: np.ndarray) -> bool:
    """ISO 532-1 B.4/B.5: N(t) within the 5 % band allowing ±2 ms (one step) shift, and
    at most 1 % of the steps outside it but inside the 10 % band."""
    n_ref = ref.shape[0]
    n = np.full(n_ref, np.nan)
    m = min(n_ref, n_t.size)
    n[:m] = n_t[:m]
    lo5, hi5, lo10, hi10 = ref[:, 2], ref[:, 3], ref[:, 4], ref[:, 5]

    def in_band(lo, hi):
        ok = np.zeros(n_ref, bool)
        for shift in (-1, 0, 1):  # ±2 ms at the 2 ms step
            shifted = np.roll(n, shift)
            ok |= (shifted >= lo) & (shifted <= hi)
        return ok

    ok5, ok10 = in_band(lo5, hi5), in_band(lo10, hi10)
    return bool(np.all(ok5 | ok10) and np.mean(~ok5) <= 0.01)


def check_iso_time_varying(zwtv, numbers=range(6, 26)):
    passed, failures = 0, []
    numbers = list(numbers)
    for number in numbers:
        x, fs, field = iso_signal(number)
        n_t = np.asarray(zwtv(x, fs, field), dtype=float)
        ok = tv_passes(n_t, _tv_reference(number))
        passed += ok
        if not ok:
            failures.append(f"signal {number}")
    return passed, len(numbers), failures


# --- DIN 45692 sharpness --------------------------------------------------------------

def check_din(sharpness_st, files=None):
    rows = _read_csv(PSY / "din45692" / "reference_sharpness_din45692.csv")
    if files is not None:
        rows = [r for r in rows if r["file"] in files]
    passed, failures = 0, []
    for r in rows:
        x, fs = sf.read(PSY / "din45692" / r["file"], dtype="float64")
        s = float(sharpness_st(x * DIN_FULL_SCALE_PA, fs))
        ok = float(r["S_low_tol"]) <= s <= float(r["S_high_tol"])
        passed += ok
        if not ok:
            failures.append(f"{r['file']}: {s:.3f} acum (ref {float(r['S_ref_acum']):.3f})")
    return passed, len(rows), failures


# --- Roughness: Zwicker & Fastl Fig. 11.2 (100 % AM tones, 60 dB) ------------------------

def am_tone(fc_hz, fmod_hz, level_db, duration_s=1.0, fs_hz=48000, depth=1.0):
    t = np.arange(int(duration_s * fs_hz)) / fs_hz
    s = (1.0 + depth * np.sin(2 * np.pi * fmod_hz * t)) * np.sin(2 * np.pi * fc_hz * t)
    return s * (2e-5 * 10 ** (level_db / 20) / np.sqrt(np.mean(s**2)))


def roughness_points(stride: int = 1):
    name = "zwicker_fastl_1990_fig11_2_AM_tone_roughness_digitised.csv"
    rows = _read_csv(PSY / "roughness" / name)
    pts = [(float(r["fc_Hz"]), float(r["fmod_Hz"]), float(r["R_asper"])) for r in rows]
    return pts[::stride]


def check_roughness(roughness, points, rel=0.17, abs_=0.1):
    """Z&F Fig. 11.2 points within ±0.1 asper or ±17 % (the tolerances MoSQITo's and
    D&W's validations use)."""
    passed, failures = 0, []
    for fc, fm, r_ref in points:
        r = float(roughness(am_tone(fc, fm, 60.0, 0.6), 48000))
        ok = bool(within(r, r_ref, rel, abs_))
        passed += ok
        if not ok:
            failures.append(f"fc={fc:g} fm={fm:g}: {r:.3f} (ref {r_ref:.3f})")
    return passed, len(points), failures
