"""Psychoacoustics benchmark: validation, speed against MoSQITo, streaming capacity.

Usage::

    python benchmarks/psychoacoustics.py [--quick] [--json-only]

Prints a human-readable report and, as its last line, one JSON object with the key
figures. ``--quick`` (under a minute) uses subsets and shorter audio; its numbers are
indicative only — RESULTS.md records full runs. Everything is measured single-threaded
(BLAS and numba pinned to one thread) in CPU seconds of this process, and compared with
the peer in the same run, because the machines are shared and noisy.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _refdata  # noqa: E402
import _speech  # noqa: E402
from emotion import psychoacoustics as ours  # noqa: E402
from emotion.psychoacoustics.streaming import StreamingPsychoacoustics  # noqa: E402


def _mosqito():
    """Import the peer quietly (it prints warnings and needs matplotlib); None if absent."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import mosqito
        return mosqito
    except ImportError:
        return None


def _quiet(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def cpu_time(fn, *args, repeat: int = 1):
    """Best CPU time (s) of ``repeat`` calls, and the last result."""
    best, result = np.inf, None
    for _ in range(repeat):
        t0 = time.process_time()
        result = fn(*args)
        best = min(best, time.process_time() - t0)
    return best, result


# --- validation -----------------------------------------------------------------------

def validation(mq, quick: bool) -> dict:
    if not _refdata.available():
        return {"skipped": f"reference data not found at {_refdata.PSY}"}
    tv_numbers = [6, 10, 11, 13] if quick else list(range(6, 26))
    din_files = ({"narrowband_1000.wav", "broadband_2500.wav", "narrowband_250.wav"}
                 if quick else None)
    rough_stride = 8 if quick else 1
    rough_pts = _refdata.roughness_points(rough_stride)

    impls = {
        "voiceline": dict(
            zwst=lambda x, fs, field: ours.loudness_zwst(x, fs, field)[:2],
            zwst_third_octave=lambda lv: ours.loudness_zwst_third_octave(lv)[:2],
            zwtv=lambda x, fs, field: ours.loudness_zwtv(x, fs, field)[0],
            din=lambda x, fs: ours.sharpness_din_st(x, fs),
            rough=lambda x, fs: np.mean(ours.roughness_dw(x, fs, overlap=0.5)[0]),
        ),
    }
    if mq is not None:
        from mosqito.sq_metrics.loudness.loudness_zwst._calc_slopes import _calc_slopes
        from mosqito.sq_metrics.loudness.loudness_zwst._main_loudness import _main_loudness

        def mq_third_octave(levels):
            n, n_spec = _calc_slopes(_main_loudness(levels, "free"))
            return n, n_spec

        impls["mosqito"] = dict(
            zwst=lambda x, fs, field: _quiet(mq.loudness_zwst, x, fs, field)[:2],
            zwst_third_octave=mq_third_octave,
            zwtv=lambda x, fs, field: _quiet(mq.loudness_zwtv, x, fs, field)[0],
            din=lambda x, fs: _quiet(mq.sharpness_din_st, x, fs),
            rough=lambda x, fs: np.mean(_quiet(mq.roughness_dw, x, fs, 0.5)[0]),
        )
    out = {}
    for name, f in impls.items():
        res = {
            "iso_stationary": _refdata.check_iso_stationary(f["zwst"], f["zwst_third_octave"]),
            "iso_time_varying": _refdata.check_iso_time_varying(f["zwtv"], tv_numbers),
            "din45692": _refdata.check_din(f["din"], din_files),
            "roughness_zf": _refdata.check_roughness(f["rough"], rough_pts),
        }
        out[name] = {k: {"passed": p, "total": t, "failures": fl[:6]}
                     for k, (p, t, fl) in res.items()}
    out["voiceline"]["fluctuation"] = fluctuation_checks()
    if mq is not None:
        out["mosqito"]["fluctuation"] = "not implemented by the peer (MoSQITo issues #47, #85)"
    return out


def fluctuation_checks() -> dict:
    """1 vacil ±10 % at 4 Hz, maximum between 2 and 8 Hz, lower at 1 and 16 Hz."""
    fmods = [1.0, 2.0, 4.0, 8.0, 16.0]
    f = {fm: float(np.mean(ours.fluctuation_strength(
        _refdata.am_tone(1000, fm, 60.0, 4.0, 48000), 48000)[0])) for fm in fmods}
    checks = [
        abs(f[4.0] - 1.0) <= 0.1,
        max(f, key=f.get) in (2.0, 4.0, 8.0),
        f[1.0] < f[4.0] and f[16.0] < f[4.0],
    ]
    return {"passed": int(sum(checks)), "total": len(checks),
            "vacil_vs_fmod": {str(k): round(v, 3) for k, v in f.items()}}


# --- speed ----------------------------------------------------------------------------

def zwtv_speed(mq, quick: bool) -> dict:
    if _refdata.available():
        x, fs, _ = _refdata.iso_signal(14)
        source = "ISO 532-1 test signal 14 (propeller airplane)"
    else:
        fs = 48000
        x = _refdata.am_tone(1000, 4, 70.0, 13.0, fs)
        source = "synthetic 1 kHz AM tone"
    if quick:
        x = x[: 3 * fs]
    seconds = x.size / fs
    ours.loudness_zwtv(x[:fs], fs)  # compile
    t_ours, _ = cpu_time(ours.loudness_zwtv, x, fs, repeat=3)
    res = {"audio": source, "audio_s": round(seconds, 2),
           "voiceline_x_realtime": round(seconds / t_ours, 1)}
    if mq is not None:
        t_mq, _ = cpu_time(lambda a, b: _quiet(mq.loudness_zwtv, a, b), x, fs)
        res["mosqito_x_realtime"] = round(seconds / t_mq, 2)
        res["zwtv_speedup_vs_mosqito"] = round(t_mq / t_ours, 1)
    return res


def roughness_speed(mq, quick: bool) -> dict:
    fs = 48000
    x = _refdata.am_tone(1000, 70, 60.0, 1.0 if quick else 3.0, fs)
    seconds = x.size / fs
    ours.roughness_dw(x[: fs // 2], fs)
    t_ours, _ = cpu_time(ours.roughness_dw, x, fs, repeat=3)
    res = {"audio_s": seconds, "voiceline_x_realtime": round(seconds / t_ours, 1)}
    if mq is not None:
        t_mq, _ = cpu_time(lambda a, b: _quiet(mq.roughness_dw, a, b), x, fs)
        res["mosqito_x_realtime"] = round(seconds / t_mq, 2)
        res["roughness_speedup_vs_mosqito"] = round(t_mq / t_ours, 1)
    return res


def streaming_capacity(fs_hz: int, n_streams: int, seconds: float, tick_s: float = 0.25):
    """Concurrent streams one core keeps up with, all four metrics, live-like ticks."""
    audio = _speech.speech_streams(n_streams, seconds + 1.0, fs_hz)
    engine = StreamingPsychoacoustics(n_streams, fs_hz)
    tick = int(tick_s * fs_hz)
    engine.process(audio[:, :fs_hz])  # warm-up (1 s, also compiles kernels)
    t0 = time.process_time()
    for start in range(fs_hz, audio.shape[1] - tick + 1, tick):
        engine.process(audio[:, start : start + tick])
    cpu = time.process_time() - t0
    audio_s = (audio.shape[1] - fs_hz) // tick * tick_s
    return {"streams": n_streams, "audio_s": audio_s, "cpu_s": round(cpu, 3),
            "streams_per_core": int(n_streams * audio_s / cpu)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="subsets; under a minute")
    parser.add_argument("--no-peer", action="store_true", help="skip MoSQITo")
    args = parser.parse_args(argv)
    mq = None if args.no_peer else _mosqito()

    report = {"mode": "quick" if args.quick else "full", "peer": "mosqito " + (
        getattr(mq, "__version__", "1.2.1") if mq else "absent")}
    report["validation"] = validation(mq, args.quick)
    report["zwtv_speed"] = zwtv_speed(mq, args.quick)
    report["roughness_speed"] = roughness_speed(mq, args.quick)
    n, secs = (100, 2.0) if args.quick else (1000, 8.0)
    report["streaming_8k"] = streaming_capacity(8000, n, secs)
    report["streaming_16k"] = streaming_capacity(16000, n // 2, secs)
    report["streaming_vs_reference"] = _speech.streaming_vs_reference(quick=args.quick)
    report["telephone_band"] = _speech.telephone_band_effect(quick=args.quick)

    print(json.dumps(report, indent=1))
    summary = {
        "mode": report["mode"],
        "zwtv_speedup_vs_mosqito": report["zwtv_speed"].get("zwtv_speedup_vs_mosqito"),
        "roughness_speedup_vs_mosqito": report["roughness_speed"].get(
            "roughness_speedup_vs_mosqito"),
        "streams_per_core_8k": report["streaming_8k"]["streams_per_core"],
        "streams_per_core_16k": report["streaming_16k"]["streams_per_core"],
    }
    val = report["validation"]
    if "skipped" not in val:
        for who, res in val.items():
            for key, r in res.items():
                if isinstance(r, dict) and "passed" in r:
                    summary[f"{who}_{key}"] = f"{r['passed']}/{r['total']}"
    summary["streaming_vs_reference"] = report["streaming_vs_reference"].get("summary")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
