"""Noisy speech with clean-signal labels, for the VAD benchmark.

Calls are real utterances (RAVDESS, EmoDB; read in place from ../shared/data, never
copied) of one speaker, each set to the same active speech level (ITU-T P.56) and joined
by pauses of digital silence, so the pause structure is that of speech. Without the data,
synthetic voices (``capture.synth.speech_like``) stand in and the report says so.

A condition is the channel the call goes through: ``phone_8k`` (300-3400 Hz band-pass,
8 kHz, G.711 μ-law) or ``wide_16k`` (16 kHz, 16-bit). Noise goes through the same channel
filter as the speech and is scaled so that the P.56 active speech level minus the noise's
RMS level, both measured in the delivered band, is the SNR.

Babble is the sum of up to six speakers per corpus that are used neither for evaluation
nor for development (the full run: six RAVDESS and two EmoDB talkers), each at -26 dBov.

Labels come from the clean speech in the delivered band, on 10 ms frames: a frame is speech
when its level is within ``LABEL_RANGE_DB`` of the call's active speech level. 35 dB keeps
weak consonants and the decay of vowels while leaving out the room noise of the RAVDESS
lead-ins (mostly 40-50 dB below the utterance's active level).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from capture.g711 import ulaw_decode, ulaw_encode
from capture.levels import active_speech_level_dbfs
from capture.resample import resample
from capture.synth import speech_like

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VOICELINE_SHARED_DATA", REPO.parent / "shared" / "data"))
SOURCE_FS_HZ = 16000
TELEPHONE_BAND_HZ = (300.0, 3400.0)
LABEL_FRAME_S = 0.01
LABEL_RANGE_DB = 35.0
PAUSE_S = (0.3, 1.5)
NOISES = ("white", "pink", "brown", "babble")
CONDITIONS = ("phone_8k", "wide_16k")


@dataclass
class Condition:
    """Noisy signals of one channel, and their labels."""

    name: str
    fs_hz: int
    noisy: np.ndarray  # (signals, samples), float in ±1
    labels: np.ndarray  # (signals, 10 ms frames), bool
    keys: list[tuple]  # (noise, snr_db, speech_level_dbfs, call) per signal


def _manifest(corpus: str) -> list[dict[str, str]]:
    path = DATA / corpus / "manifest.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return sorted(csv.DictReader(f), key=lambda r: r["path"])


def _read_16k(corpus: str, rel: str) -> np.ndarray:
    x, fs = sf.read(DATA / corpus / rel, dtype="float64")
    x = x if x.ndim == 1 else x.mean(axis=1)
    return x if fs == SOURCE_FS_HZ else resample(x, fs, SOURCE_FS_HZ)


def _set_level(x: np.ndarray, fs_hz: int, level_dbfs: float) -> np.ndarray:
    return x * 10 ** ((level_dbfs - active_speech_level_dbfs(x, fs_hz)) / 20)


def _join(utterances: list[np.ndarray], seconds: float, rng) -> np.ndarray:
    """Utterances at -26 dBov with random pauses between them, cut to ``seconds``."""
    n = int(seconds * SOURCE_FS_HZ)
    parts, total, i = [], 0, 0
    while total < n:
        pause = np.zeros(int(rng.uniform(*PAUSE_S) * SOURCE_FS_HZ))
        utt = _set_level(utterances[i % len(utterances)], SOURCE_FS_HZ, -26.0)
        parts += [pause, utt]
        total += pause.size + utt.size
        i += 1
    return np.concatenate(parts)[:n]


def speech_calls(n_calls: int, seconds: float, *, dev: bool = False, seed: int = 0):
    """``(source, [(name, call at 16 kHz)], babble talkers)`` of one speaker per call.

    Evaluation calls take speakers from the front of each corpus's sorted speaker list,
    ``dev=True`` (used to choose the defaults) from the back, so the two never share one.
    """
    rng = np.random.default_rng(seed + (1000 if dev else 0))
    calls, talkers = [], []
    for corpus in ("ravdess", "emodb"):
        rows = _manifest(corpus)
        speakers = sorted({r["speaker"] for r in rows})
        if not speakers:
            continue
        chosen = speakers[::-1][: n_calls // 2] if dev else speakers[: n_calls // 2]
        for spk in chosen:
            files = [r["path"] for r in rows if r["speaker"] == spk]
            picked = [files[j] for j in rng.permutation(len(files))[:40]]
            utts, total = [], 0.0
            for rel in picked:
                utts.append(_read_16k(corpus, rel))
                total += utts[-1].size / SOURCE_FS_HZ + 1.0
                if total > seconds:
                    break
            calls.append((f"{corpus}:{spk}", _join(utts, seconds, rng)))
        # babble: up to six speakers used neither for evaluation nor for development
        free = speakers[n_calls // 2 : len(speakers) - n_calls // 2]
        for spk in free[max(0, len(free) // 2 - 3) : len(free) // 2 + 3]:
            files = [r["path"] for r in rows if r["speaker"] == spk][:12]
            talkers.append(np.concatenate([_read_16k(corpus, f) for f in files]))
    if calls:
        return "RAVDESS + EmoDB speech", calls, talkers
    synth = [(f"synth:{s}", _join([speech_like(6.0, SOURCE_FS_HZ, seed=s, f0_hz=110 + 25 * s)],
                                  seconds, rng)) for s in range(n_calls)]
    talkers = [speech_like(seconds, SOURCE_FS_HZ, seed=50 + s, f0_hz=100 + 30 * s)
               for s in range(6)]
    return "synthetic speech (capture.synth; shared data absent)", synth, talkers


def _noise(kind: str, n: int, talkers: list[np.ndarray], rng) -> np.ndarray:
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":  # Kellet's filter: -3 dB/octave
        b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
        a = [1, -2.494956002, 2.017265875, -0.522189400]
        return scipy.signal.lfilter(b, a, rng.standard_normal(n + 4000))[4000:]
    if kind == "brown":  # -6 dB/octave above ~13 Hz
        return scipy.signal.lfilter([1.0], [1.0, -0.995], rng.standard_normal(n + 4000))[4000:]
    if kind == "babble":
        out = np.zeros(n)
        for t in talkers:
            reps = np.tile(t, n // t.size + 2)
            start = rng.integers(0, t.size)
            out += _set_level(reps[start : start + n], SOURCE_FS_HZ, -26.0)
        return out
    raise ValueError(f"unknown noise {kind!r}")


def _channel(x: np.ndarray, condition: str) -> np.ndarray:
    if condition == "wide_16k":
        return x
    sos = scipy.signal.butter(6, TELEPHONE_BAND_HZ, btype="bandpass", fs=SOURCE_FS_HZ,
                              output="sos")
    return resample(scipy.signal.sosfiltfilt(sos, x, axis=-1), SOURCE_FS_HZ, 8000)


def frame_levels_db(x: np.ndarray, fs_hz: int, frame_s: float = LABEL_FRAME_S) -> np.ndarray:
    n = int(round(frame_s * fs_hz))
    t = x.shape[-1] // n
    frames = x[..., : t * n].reshape(*x.shape[:-1], t, n)
    return 10 * np.log10(np.maximum(np.mean(frames**2, axis=-1), 1e-12))


def build_condition(condition: str, calls, talkers, noises, snrs_db, levels_dbfs,
                    seed: int = 0) -> Condition:
    """Every call x noise x SNR x speech level through ``condition``'s channel."""
    fs = 8000 if condition == "phone_8k" else SOURCE_FS_HZ
    rng = np.random.default_rng(seed)
    noisy, labels, keys = [], [], []
    for ci, (_, call) in enumerate(calls):
        clean = _channel(call, condition)
        asl = active_speech_level_dbfs(clean, fs)
        label = frame_levels_db(clean, fs) >= asl - LABEL_RANGE_DB
        for kind in noises:
            noise = _channel(_noise(kind, call.size, talkers, rng), condition)[: clean.size]
            noise_db = 10 * np.log10(np.mean(noise**2))
            for snr in snrs_db:
                for level in levels_dbfs:
                    gain_db = level - asl
                    mix = (clean * 10 ** (gain_db / 20)
                           + noise * 10 ** ((level - snr - noise_db) / 20))
                    pcm = np.clip(np.round(mix * 32768), -32768, 32767).astype(np.int16)
                    if condition == "phone_8k":
                        pcm = ulaw_decode(ulaw_encode(pcm))
                    noisy.append(pcm.astype(np.float32) / np.float32(32768))
                    labels.append(label)
                    keys.append((kind, snr, level, ci))
    return Condition(condition, fs, np.stack(noisy), np.stack(labels), keys)


def bridge_gaps(labels: np.ndarray, max_gap_frames: int) -> np.ndarray:
    """Labels with non-speech gaps shorter than ``max_gap_frames`` between speech filled."""
    out = labels.copy()
    for row in out:
        edges = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for end, nxt in zip(ends[:-1], starts[1:], strict=True):
            if nxt - end < max_gap_frames:
                row[end:nxt] = True
    return out
